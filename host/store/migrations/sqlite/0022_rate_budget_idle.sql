-- When a rate budget's row stops mattering (issue 18): past every grant's
-- lease plus its rule's window, and past its pause. Idle rows are purged
-- then, with their grants. Rows from before this column carry none and are
-- purged a month after they were last touched.
ALTER TABLE rate_budgets ADD COLUMN idle_after INTEGER;
CREATE INDEX rate_budgets_idle ON rate_budgets (idle_after);
