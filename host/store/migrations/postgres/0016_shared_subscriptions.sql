-- Subscriptions that no one workflow owns; see migrations/sqlite for the
-- meaning of `scope` and `persisted`. Existing rows are one workflow's.
ALTER TABLE trigger_subscriptions ALTER COLUMN workflow_id DROP NOT NULL;
ALTER TABLE trigger_subscriptions ADD COLUMN scope text NOT NULL DEFAULT 'workflow'
    CHECK (scope IN ('workflow', 'account', 'app'));
ALTER TABLE trigger_subscriptions ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE trigger_subscriptions ADD COLUMN persisted bytea;
ALTER TABLE trigger_subscriptions ADD CONSTRAINT trigger_subscriptions_scope_workflow
    CHECK ((scope = 'workflow') = (workflow_id IS NOT NULL));
CREATE UNIQUE INDEX trigger_subscriptions_per_account ON trigger_subscriptions (credential_id, trigger_key)
    WHERE scope = 'account';
CREATE UNIQUE INDEX trigger_subscriptions_per_app ON trigger_subscriptions (integration_id, trigger_key)
    WHERE scope = 'app';
