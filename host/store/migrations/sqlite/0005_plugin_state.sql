-- Durable key-value state of plugins (the plugin host's `state` import),
-- scoped to (project, plugin, connection); connection_id '' is the
-- plugin-wide scope of a project. A value whose expires_at has passed reads
-- as absent; its row is deleted by the next new key of its scope or by the
-- purge, which finds it through plugin_state_expiry.
--
-- A rowid table, not WITHOUT ROWID: values run up to 1 MiB, and SQLite
-- keeps WITHOUT ROWID rows in the key's B-tree, where large rows are slow.
CREATE TABLE plugin_state (
    project_id    BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    plugin_id     TEXT    NOT NULL,
    connection_id TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    value         BLOB    NOT NULL,
    expires_at    INTEGER,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (project_id, plugin_id, connection_id, key)
) STRICT;
CREATE INDEX plugin_state_expiry ON plugin_state (expires_at) WHERE expires_at IS NOT NULL;
