-- Workflow executions and their steps. One table is both the queue and the
-- task history: a step row is queued, claimed under a lease, and completed
-- with its input and output, and stays as the record of what ran.
--
-- No foreign key to the workflow: an execution outlives its workflow's
-- deletion for as long as history is kept.
CREATE TABLE executions (
    id            BLOB    NOT NULL PRIMARY KEY,
    project_id    BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    workflow_id   BLOB    NOT NULL,
    version       INTEGER NOT NULL,
    integration   TEXT    NOT NULL,
    user_id       TEXT,
    credential_id BLOB,
    trigger_kind  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    response      TEXT,
    queued        INTEGER NOT NULL DEFAULT 0,
    tasks         INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    ended_at      INTEGER
) STRICT;
CREATE INDEX executions_by_time ON executions (project_id, created_at);

-- One row per run of a step (a fan-out's body runs once per instance,
-- `instance` naming it, '' outside fan-outs). The unique key is what makes
-- queuing idempotent: a successor queued twice (a completion retried after
-- a crash) is one row. `pending` counts a fan-out's unfinished instances.
-- `restarts` counts leases that expired (crashed or frozen workers);
-- `attempt` counts retries after a failure. `seq` numbers an execution's
-- steps in the order they were queued (the execution's `queued` counts
-- them), which is the history's order; `prev` is the step run whose
-- completion queued it; `kind` is the step's type as the history shows it
-- (`ACTION/REQUEST`). An execution's `tasks` counts what it is billed.
CREATE TABLE steps (
    id              BLOB    NOT NULL PRIMARY KEY,
    project_id      BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    execution_id    BLOB    NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    step            TEXT    NOT NULL,
    instance        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    prev            BLOB,
    state           TEXT    NOT NULL,
    run_after       INTEGER NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    restarts        INTEGER NOT NULL DEFAULT 0,
    lease_token     BLOB,
    lease_until     INTEGER,
    deadline        INTEGER,
    pending         INTEGER,
    idempotency_key TEXT    NOT NULL,
    input           TEXT,
    output          TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER,
    UNIQUE (execution_id, step, instance)
) STRICT;
-- What the claim reads: queued steps by when they may run.
CREATE INDEX steps_runnable ON steps (run_after) WHERE state = 'queued';
-- What the reaper reads: leases by expiry.
CREATE INDEX steps_leased ON steps (lease_until) WHERE state = 'running';
