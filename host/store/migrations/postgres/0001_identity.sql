-- Projects and what belongs to them: signing keys, API keys, connected
-- users, integrations, environment secret names and app events; plus the
-- operator key. Mirrors migrations/sqlite with native types.

CREATE TABLE projects (
    id               uuid        NOT NULL PRIMARY KEY,
    name             text        NOT NULL,
    environment      text        NOT NULL CHECK (environment IN ('development', 'staging', 'production')),
    release_group_id uuid,
    created_at       timestamptz NOT NULL,
    -- A release group holds at most one project per environment.
    UNIQUE (release_group_id, environment)
);

CREATE TABLE signing_keys (
    id             uuid        NOT NULL PRIMARY KEY,
    project_id     uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind           text        NOT NULL CHECK (kind IN ('generated', 'uploaded', 'jwks')),
    kid            text,
    public_key_pem text,
    jwks_url       text,
    created_at     timestamptz NOT NULL,
    CHECK ((kind = 'jwks') = (jwks_url IS NOT NULL)),
    CHECK ((kind = 'jwks') = (public_key_pem IS NULL)),
    UNIQUE (project_id, kid)
);

CREATE TABLE api_keys (
    id           uuid        NOT NULL PRIMARY KEY,
    project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('admin', 'member', 'support')),
    key_prefix   text        NOT NULL,
    -- Lowercase hex SHA-256 of the key; looked up on every admin request.
    key_hash     text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at);

CREATE TABLE operator_key (
    singleton  integer     NOT NULL PRIMARY KEY CHECK (singleton = 1),
    key_hash   text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE connected_users (
    project_id   uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id      text        NOT NULL,
    metadata     jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    disabled     boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
-- The Users API lists by creation time.
CREATE INDEX connected_users_by_created ON connected_users (project_id, created_at, user_id);

CREATE TABLE integrations (
    id                 uuid        NOT NULL PRIMARY KEY,
    project_id         uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_type   text        NOT NULL,
    active             boolean     NOT NULL,
    client_id          text,
    scopes             jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(scopes) = 'array'),
    base_url           text,
    endpoint_overrides jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(endpoint_overrides) = 'object'),
    portal_texts       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(portal_texts) = 'object'),
    accent_color       text,
    created_at         timestamptz NOT NULL,
    UNIQUE (project_id, integration_type)
);

-- Names only: the values are the vault's.
CREATE TABLE environment_secrets (
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE app_events (
    project_id      uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    example_payload jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (project_id, name)
);
