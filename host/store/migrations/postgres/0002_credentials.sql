-- Connected accounts and what the vault keeps for them. Mirrors
-- migrations/sqlite/0002 with native types; `substr(x, 2, 4)` of a sealed
-- bytea is the master key version it is wrapped under.

CREATE TABLE vault_canary (
    singleton  integer     NOT NULL PRIMARY KEY CHECK (singleton = 1),
    sealed     bytea       NOT NULL,
    created_at timestamptz NOT NULL
);

ALTER TABLE integrations ADD COLUMN client_secret bytea;
ALTER TABLE integrations ADD COLUMN misconfigured text;
-- Where the app may send users back after connecting (exact URLs only).
ALTER TABLE projects ADD COLUMN connect_return_urls jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(connect_return_urls) = 'array');
ALTER TABLE environment_secrets ADD COLUMN value bytea;

CREATE TABLE credentials (
    id                    uuid        NOT NULL PRIMARY KEY,
    project_id            uuid        NOT NULL,
    integration_id        uuid        NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    user_id               text        NOT NULL,
    status                text        NOT NULL CHECK (status IN ('VALID', 'INVALID')),
    invalid_reason        text,
    provider_id           text,
    provider_data         jsonb       NOT NULL DEFAULT '{}',
    config                jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    connection_config     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(connection_config) = 'object'),
    secrets               bytea       NOT NULL,
    version               bigint      NOT NULL,
    expires_at            timestamptz,
    refreshed_at          timestamptz,
    refresh_failure_count bigint      NOT NULL DEFAULT 0,
    failure_days          bigint      NOT NULL DEFAULT 0,
    last_failure_day      bigint,
    retry_at              timestamptz,
    lease_token           uuid,
    lease_until           timestamptz,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    FOREIGN KEY (project_id, user_id) REFERENCES connected_users (project_id, user_id) ON DELETE CASCADE
);
CREATE INDEX credentials_by_user ON credentials (project_id, user_id, created_at);
CREATE INDEX credentials_by_integration ON credentials (integration_id);
CREATE INDEX credentials_by_expiry ON credentials (expires_at) WHERE status = 'VALID';

CREATE TABLE connect_states (
    state_hash     text        NOT NULL PRIMARY KEY,
    project_id     uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_id uuid        NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    user_id        text        NOT NULL,
    sealed         bytea       NOT NULL,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX connect_states_by_expiry ON connect_states (expires_at);

CREATE TABLE project_events (
    id         uuid        NOT NULL PRIMARY KEY,
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event_type text        NOT NULL,
    payload    jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    created_at timestamptz NOT NULL
);
CREATE INDEX project_events_by_time ON project_events (project_id, created_at);
