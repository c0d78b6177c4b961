-- Workflows: a project's workflow with its draft definition, its versions
-- (immutable once written), which version new executions run, and which
-- users enabled it. The store keeps definitions as given (JSON documents):
-- reading them is the engine's business. What triggers the deployed version
-- is copied out of it at deploy time (`trigger_kind`, `trigger_key`, e.g.
-- an app event's name), so a trigger finds its workflows with an index.
CREATE TABLE workflows (
    id               BLOB    NOT NULL PRIMARY KEY,
    project_id       BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    integration      TEXT    NOT NULL,
    definition       TEXT    NOT NULL,
    versions         INTEGER NOT NULL DEFAULT 0,
    deployed_version INTEGER,
    trigger_kind     TEXT,
    trigger_key      TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX workflows_by_project ON workflows (project_id, created_at);
CREATE INDEX workflows_by_trigger ON workflows (project_id, trigger_kind, trigger_key)
    WHERE deployed_version IS NOT NULL;

-- `kind`: saved, deployed or restored.
CREATE TABLE workflow_versions (
    workflow_id BLOB    NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    project_id  BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, version)
) STRICT;

-- A user's enablement of a workflow, for one of their accounts or (empty
-- `credential_key`) for the user's only or first account.
CREATE TABLE workflow_enablements (
    workflow_id    BLOB    NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL,
    credential_key TEXT    NOT NULL,
    project_id     BLOB    NOT NULL,
    enabled_at     INTEGER NOT NULL,
    PRIMARY KEY (workflow_id, user_id, credential_key)
) STRICT;
CREATE INDEX workflow_enablements_by_user ON workflow_enablements (project_id, user_id);
