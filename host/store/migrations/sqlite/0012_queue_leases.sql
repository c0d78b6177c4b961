-- The reaper's index keyed on the lease itself, as on PostgreSQL (see
-- migrations/postgres/0012_queue_leases.sql for why): a running step always
-- has a lease, never expiring after its deadline.
DROP INDEX steps_leased;
CREATE INDEX steps_leased ON steps (lease_until) WHERE lease_until IS NOT NULL;
