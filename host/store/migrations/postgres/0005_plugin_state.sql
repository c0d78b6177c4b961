-- Durable key-value state of plugins (the plugin host's `state` import),
-- scoped to (project, plugin, connection); connection_id '' is the
-- plugin-wide scope of a project. A value whose expires_at has passed reads
-- as absent; its row is deleted by the next new key of its scope or by the
-- purge, which finds it through plugin_state_expiry. Mirrors
-- migrations/sqlite with native types.
CREATE TABLE plugin_state (
    project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    plugin_id     text        NOT NULL,
    connection_id text        NOT NULL,
    key           text        NOT NULL,
    value         bytea       NOT NULL,
    expires_at    timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (project_id, plugin_id, connection_id, key)
);
CREATE INDEX plugin_state_expiry ON plugin_state (expires_at) WHERE expires_at IS NOT NULL;
