-- Projects and what belongs to them: signing keys, API keys, connected
-- users, integrations, environment secret names and app events; plus the
-- operator key.
--
-- Types (mirrored by migrations/postgres): ids are 16-byte UUID BLOBs,
-- timestamps INTEGER microseconds since the Unix epoch, JSON is TEXT,
-- booleans are 0/1. STRICT tables make SQLite enforce them.

CREATE TABLE projects (
    id               BLOB    NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL,
    environment      TEXT    NOT NULL CHECK (environment IN ('development', 'staging', 'production')),
    release_group_id BLOB,
    created_at       INTEGER NOT NULL,
    -- A release group holds at most one project per environment.
    UNIQUE (release_group_id, environment)
) STRICT;

CREATE TABLE signing_keys (
    id             BLOB    NOT NULL PRIMARY KEY,
    project_id     BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL CHECK (kind IN ('generated', 'uploaded', 'jwks')),
    kid            TEXT,
    public_key_pem TEXT,
    jwks_url       TEXT,
    created_at     INTEGER NOT NULL,
    CHECK ((kind = 'jwks') = (jwks_url IS NOT NULL)),
    CHECK ((kind = 'jwks') = (public_key_pem IS NULL)),
    UNIQUE (project_id, kid)
) STRICT;

CREATE TABLE api_keys (
    id           BLOB    NOT NULL PRIMARY KEY,
    project_id   BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'member', 'support')),
    key_prefix   TEXT    NOT NULL,
    -- Lowercase hex SHA-256 of the key; looked up on every admin request.
    key_hash     TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX api_keys_by_project ON api_keys (project_id, created_at);

CREATE TABLE operator_key (
    singleton  INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    key_hash   TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE connected_users (
    project_id   BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id      TEXT    NOT NULL,
    metadata     TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(metadata) = 'object'),
    disabled     INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
) STRICT;
-- The Users API lists by creation time.
CREATE INDEX connected_users_by_created ON connected_users (project_id, created_at, user_id);

CREATE TABLE integrations (
    id                 BLOB    NOT NULL PRIMARY KEY,
    project_id         BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_type   TEXT    NOT NULL,
    active             INTEGER NOT NULL CHECK (active IN (0, 1)),
    client_id          TEXT,
    scopes             TEXT    NOT NULL DEFAULT '[]' CHECK (json_type(scopes) = 'array'),
    base_url           TEXT,
    endpoint_overrides TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(endpoint_overrides) = 'object'),
    portal_texts       TEXT    NOT NULL DEFAULT '{}' CHECK (json_type(portal_texts) = 'object'),
    accent_color       TEXT,
    created_at         INTEGER NOT NULL,
    UNIQUE (project_id, integration_type)
) STRICT;

-- Names only: the values are the vault's.
CREATE TABLE environment_secrets (
    project_id BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
) STRICT;

CREATE TABLE app_events (
    project_id      BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    example_payload TEXT    NOT NULL CHECK (json_valid(example_payload)),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
) STRICT;
