-- A project's concurrency limit (issue 18): at most this many of its steps
-- run at once (leased), across every process; NULL: no limit. Steps over
-- the limit wait in the queue and show as "Not Started".
ALTER TABLE projects ADD COLUMN concurrency_limit INTEGER CHECK (concurrency_limit IS NULL OR concurrency_limit > 0);
