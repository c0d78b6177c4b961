-- Subscriptions that no one workflow owns (see src/triggers.rs): `scope`
-- says whose a subscription is. 'workflow': one workflow's, for one account
-- (a plugin's trigger, whose config the workflow gives), as every row was
-- before; 'account': one per account and trigger, shared by all of its
-- user's workflows on the trigger (a definition's webhook); 'app': one per
-- integration and trigger, the provider hook of an app-level webhook set up
-- programmatically, sent as `credential_id`'s account. `persisted`: values a
-- webhook handshake kept, sealed by weft-vault (owner: the subscription).
-- SQLite cannot drop NOT NULL in place: the table is rebuilt.
CREATE TABLE trigger_subscriptions_v2 (
    id             BLOB    NOT NULL PRIMARY KEY,
    project_id     BLOB    NOT NULL,
    integration_id BLOB    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    workflow_id    BLOB    REFERENCES workflows (id) ON DELETE CASCADE,
    credential_id  BLOB    NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL,
    trigger_key    TEXT    NOT NULL,
    scope          TEXT    NOT NULL CHECK (scope IN ('workflow', 'account', 'app')),
    kind           TEXT    NOT NULL CHECK (kind IN ('webhook', 'appWebhook', 'polling')),
    config         TEXT    NOT NULL CHECK (json_type(config) = 'object'),
    state          TEXT    CHECK (state IS NULL OR json_valid(state)),
    persisted      BLOB,
    status         TEXT    NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'FAILED')),
    last_error     TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    cursor         TEXT,
    interval_secs  INTEGER,
    next_run_at    INTEGER,
    lease          BLOB,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK ((scope = 'workflow') = (workflow_id IS NOT NULL)),
    UNIQUE (workflow_id, credential_id)
) STRICT;
INSERT INTO trigger_subscriptions_v2 (id, project_id, integration_id, workflow_id, credential_id, user_id,
    trigger_key, scope, kind, config, state, persisted, status, last_error, attempts, cursor, interval_secs,
    next_run_at, lease, created_at, updated_at)
SELECT id, project_id, integration_id, workflow_id, credential_id, user_id, trigger_key, 'workflow', kind,
    config, state, NULL, status, last_error, attempts, cursor, interval_secs, next_run_at, lease, created_at,
    updated_at FROM trigger_subscriptions;
DROP TABLE trigger_subscriptions;
ALTER TABLE trigger_subscriptions_v2 RENAME TO trigger_subscriptions;
CREATE INDEX trigger_subscriptions_by_user ON trigger_subscriptions (project_id, user_id);
CREATE INDEX trigger_subscriptions_by_trigger ON trigger_subscriptions (project_id, integration_id, trigger_key);
CREATE INDEX trigger_subscriptions_due ON trigger_subscriptions (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE UNIQUE INDEX trigger_subscriptions_per_account ON trigger_subscriptions (credential_id, trigger_key)
    WHERE scope = 'account';
CREATE UNIQUE INDEX trigger_subscriptions_per_app ON trigger_subscriptions (integration_id, trigger_key)
    WHERE scope = 'app';
