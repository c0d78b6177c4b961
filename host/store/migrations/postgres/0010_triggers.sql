-- Integration triggers: the routing keys accounts reported, the
-- subscriptions of workflows to plugin triggers, and the events the
-- triggers produced (see src/triggers.rs). Mirrors migrations/sqlite with
-- native types.

CREATE TABLE credential_routing_keys (
    project_id     uuid NOT NULL,
    integration_id uuid NOT NULL,
    routing_key    text NOT NULL,
    credential_id  uuid NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    PRIMARY KEY (project_id, integration_id, routing_key, credential_id)
);
CREATE INDEX credential_routing_keys_by_credential ON credential_routing_keys (credential_id);

CREATE TABLE trigger_subscriptions (
    id             uuid        NOT NULL PRIMARY KEY,
    project_id     uuid        NOT NULL,
    integration_id uuid        NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    workflow_id    uuid        NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    credential_id  uuid        NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    user_id        text        NOT NULL,
    trigger_key    text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('webhook', 'appWebhook', 'polling')),
    config         jsonb       NOT NULL CHECK (jsonb_typeof(config) = 'object'),
    state          jsonb,
    status         text        NOT NULL CHECK (status IN ('PENDING', 'ACTIVE', 'FAILED')),
    last_error     text,
    attempts       integer     NOT NULL DEFAULT 0,
    cursor         text,
    interval_secs  integer,
    next_run_at    timestamptz,
    lease          uuid,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (workflow_id, credential_id)
);
CREATE INDEX trigger_subscriptions_by_user ON trigger_subscriptions (project_id, user_id);
CREATE INDEX trigger_subscriptions_by_trigger ON trigger_subscriptions (project_id, integration_id, trigger_key);
CREATE INDEX trigger_subscriptions_due ON trigger_subscriptions (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE trigger_events (
    id              uuid        NOT NULL PRIMARY KEY,
    project_id      uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_id  uuid        NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    scope           text        NOT NULL,
    subscription_id uuid,
    trigger_key     text        NOT NULL,
    routing_key     text,
    dedupe_key      text,
    payload         jsonb       NOT NULL,
    occurred_at     timestamptz,
    received_at     timestamptz NOT NULL,
    routed_at       timestamptz
);
CREATE UNIQUE INDEX trigger_events_dedupe ON trigger_events (project_id, integration_id, scope, dedupe_key)
    WHERE dedupe_key IS NOT NULL;
CREATE INDEX trigger_events_unrouted ON trigger_events (received_at) WHERE routed_at IS NULL;
CREATE INDEX trigger_events_by_age ON trigger_events (received_at);
