-- The reaper's index keyed on the lease itself rather than on the state.
-- A running step always has a lease (set by the claim, cleared by every
-- change out of `running`) whose expiry is never after its deadline, so
-- "leases that expired" is `lease_until < now` alone.
--
-- Why: with the index's predicate `state = 'running'`, PostgreSQL's planner
-- answered a completion's fence (`state = 'running' AND id = … AND
-- lease_token = …`) with a bitmap scan of every running step's index entry
-- instead of a primary-key lookup. Under churn that index is mostly dead
-- entries, which a bitmap scan never marks dead, so each completion read
-- them all again: most of PostgreSQL's CPU in the `queue` benchmark.
DROP INDEX steps_leased;
CREATE INDEX steps_leased ON steps (lease_until) WHERE lease_until IS NOT NULL;
