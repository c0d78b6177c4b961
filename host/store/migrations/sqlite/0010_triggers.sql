-- Integration triggers: the routing keys accounts reported, the
-- subscriptions of workflows to plugin triggers, and the events the
-- triggers produced (see src/triggers.rs).

-- What an app-wide webhook event names its account by (a Slack team...).
CREATE TABLE credential_routing_keys (
    project_id     BLOB NOT NULL,
    integration_id BLOB NOT NULL,
    routing_key    TEXT NOT NULL,
    credential_id  BLOB NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, integration_id, routing_key, credential_id)
) STRICT;
CREATE INDEX credential_routing_keys_by_credential ON credential_routing_keys (credential_id);

-- One per workflow and account it listens for. `kind`: webhook (a provider
-- hook per subscription), appWebhook (the app-wide webhook) or polling.
-- `next_run_at`: the next poll, or the next subscribe attempt of a failed
-- webhook subscription. `lease`: the token of the poll in flight.
CREATE TABLE trigger_subscriptions (
    id             BLOB    NOT NULL PRIMARY KEY,
    project_id     BLOB    NOT NULL,
    integration_id BLOB    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    workflow_id    BLOB    NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    credential_id  BLOB    NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL,
    trigger_key    TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('webhook', 'appWebhook', 'polling')),
    config         TEXT    NOT NULL CHECK (json_type(config) = 'object'),
    state          TEXT    CHECK (state IS NULL OR json_valid(state)),
    status         TEXT    NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'FAILED')),
    last_error     TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    cursor         TEXT,
    interval_secs  INTEGER,
    next_run_at    INTEGER,
    lease          BLOB,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (workflow_id, credential_id)
) STRICT;
CREATE INDEX trigger_subscriptions_by_user ON trigger_subscriptions (project_id, user_id);
CREATE INDEX trigger_subscriptions_by_trigger ON trigger_subscriptions (project_id, integration_id, trigger_key);
CREATE INDEX trigger_subscriptions_due ON trigger_subscriptions (next_run_at) WHERE next_run_at IS NOT NULL;

-- Events, kept before the provider is answered. `scope`: the subscription
-- id for per-subscription URLs and polls, '' for the app-wide webhook; the
-- provider's event id is unique within (integration, scope).
CREATE TABLE trigger_events (
    id              BLOB    NOT NULL PRIMARY KEY,
    project_id      BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_id  BLOB    NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    scope           TEXT    NOT NULL,
    subscription_id BLOB,
    trigger_key     TEXT    NOT NULL,
    routing_key     TEXT,
    dedupe_key      TEXT,
    payload         TEXT    NOT NULL,
    occurred_at     INTEGER,
    received_at     INTEGER NOT NULL,
    routed_at       INTEGER
) STRICT;
CREATE UNIQUE INDEX trigger_events_dedupe ON trigger_events (project_id, integration_id, scope, dedupe_key)
    WHERE dedupe_key IS NOT NULL;
CREATE INDEX trigger_events_unrouted ON trigger_events (received_at) WHERE routed_at IS NULL;
CREATE INDEX trigger_events_by_age ON trigger_events (received_at);
