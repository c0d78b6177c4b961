-- Executions a trigger starts at most once (an Integration Enabled
-- workflow once per account): the trigger's key for it, unique per
-- workflow, so two processes that see the same account become VALID start
-- one execution between them.
ALTER TABLE executions ADD COLUMN once_key TEXT;
CREATE UNIQUE INDEX executions_once ON executions (project_id, workflow_id, once_key) WHERE once_key IS NOT NULL;

-- Ended executions by age, for the history's retention sweep.
CREATE INDEX executions_by_end ON executions (ended_at) WHERE ended_at IS NOT NULL;
