-- Connected accounts and what the vault keeps for them: credentials,
-- pending OAuth authorizations, the integration's client secret, values of
-- environment secrets, the vault's start-up canary; plus the project event
-- outbox that event destinations will deliver.
--
-- Every BLOB named `sealed`, `secrets`, `client_secret` or `value` is a
-- weft-vault envelope (format byte, then the 4-byte big-endian master key
-- version, ...): `substr(x, 2, 4)` is the key version it is wrapped under,
-- which is how a rotation finds the rows it still has to re-wrap.

CREATE TABLE vault_canary (
    singleton  INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

ALTER TABLE integrations ADD COLUMN client_secret BLOB;
-- Set when the provider refused the app's own client (invalid_client): an
-- operator has to fix the integration; users' credentials are untouched.
ALTER TABLE integrations ADD COLUMN misconfigured TEXT;
-- Where the app may send users back after connecting (exact URLs only).
ALTER TABLE projects ADD COLUMN connect_return_urls TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(connect_return_urls) = 'array');
ALTER TABLE environment_secrets ADD COLUMN value BLOB;

CREATE TABLE credentials (
    id                    BLOB    NOT NULL PRIMARY KEY,
    project_id            BLOB    NOT NULL,
    integration_id        BLOB    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    user_id               TEXT    NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('VALID', 'INVALID')),
    invalid_reason        TEXT,
    provider_id           TEXT,
    provider_data         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(provider_data)),
    config                TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(config) = 'object'),
    connection_config     TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(connection_config) = 'object'),
    secrets               BLOB    NOT NULL,
    -- Bumped by every change of `secrets`: the refresh compare-and-swap.
    version               INTEGER NOT NULL,
    expires_at            INTEGER,
    refreshed_at          INTEGER,
    refresh_failure_count INTEGER NOT NULL DEFAULT 0,
    -- Distinct UTC days (days since the epoch) with a failed refresh since
    -- the last success, and the latest of them.
    failure_days          INTEGER NOT NULL DEFAULT 0,
    last_failure_day      INTEGER,
    -- No refresh attempt before this (backoff, Retry-After).
    retry_at              INTEGER,
    -- The refresh lease: one process refreshes, the others wait.
    lease_token           BLOB,
    lease_until           INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    FOREIGN KEY (project_id, user_id) REFERENCES connected_users (project_id, user_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX credentials_by_user ON credentials (project_id, user_id, created_at);
CREATE INDEX credentials_by_integration ON credentials (integration_id);
CREATE INDEX credentials_by_expiry ON credentials (expires_at) WHERE status = 'VALID';

-- One row per authorization the user was sent to; taken (deleted) by the
-- callback, so a state works once.
CREATE TABLE connect_states (
    state_hash     TEXT    NOT NULL PRIMARY KEY,
    project_id     BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_id BLOB    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL,
    sealed         BLOB    NOT NULL,
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX connect_states_by_expiry ON connect_states (expires_at);

CREATE TABLE project_events (
    id         BLOB    NOT NULL PRIMARY KEY,
    project_id BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event_type TEXT    NOT NULL,
    payload    TEXT    NOT NULL CHECK (json_type(payload) = 'object'),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX project_events_by_time ON project_events (project_id, created_at);
