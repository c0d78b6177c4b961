-- Workflows, their immutable versions and users' enablements. Mirrors
-- migrations/sqlite with native types.
CREATE TABLE workflows (
    id               uuid        NOT NULL PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    integration      text        NOT NULL,
    definition       jsonb       NOT NULL,
    versions         integer     NOT NULL DEFAULT 0,
    deployed_version integer,
    trigger_kind     text,
    trigger_key      text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX workflows_by_project ON workflows (project_id, created_at);
CREATE INDEX workflows_by_trigger ON workflows (project_id, trigger_kind, trigger_key)
    WHERE deployed_version IS NOT NULL;

CREATE TABLE workflow_versions (
    workflow_id uuid        NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     integer     NOT NULL,
    project_id  uuid        NOT NULL,
    kind        text        NOT NULL,
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE workflow_enablements (
    workflow_id    uuid        NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    user_id        text        NOT NULL,
    credential_key text        NOT NULL,
    project_id     uuid        NOT NULL,
    enabled_at     timestamptz NOT NULL,
    PRIMARY KEY (workflow_id, user_id, credential_key)
);
CREATE INDEX workflow_enablements_by_user ON workflow_enablements (project_id, user_id);
