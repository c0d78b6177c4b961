-- Workflow executions and their steps. One table is both the queue and the
-- task history: a step row is queued, claimed under a lease, and completed
-- with its input and output, and stays as the record of what ran.
-- Mirrors migrations/sqlite with native types.
CREATE TABLE executions (
    id            uuid        NOT NULL PRIMARY KEY,
    project_id    uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    workflow_id   uuid        NOT NULL,
    version       integer     NOT NULL,
    integration   text        NOT NULL,
    user_id       text,
    credential_id uuid,
    trigger_kind  text        NOT NULL,
    status        text        NOT NULL,
    response      jsonb,
    queued        bigint      NOT NULL DEFAULT 0,
    tasks         bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    ended_at      timestamptz
);
CREATE INDEX executions_by_time ON executions (project_id, created_at);

CREATE TABLE steps (
    id              uuid        NOT NULL PRIMARY KEY,
    project_id      uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    execution_id    uuid        NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    step            text        NOT NULL,
    instance        text        NOT NULL,
    kind            text        NOT NULL,
    prev            uuid,
    state           text        NOT NULL,
    run_after       timestamptz NOT NULL,
    attempt         integer     NOT NULL DEFAULT 0,
    restarts        integer     NOT NULL DEFAULT 0,
    lease_token     uuid,
    lease_until     timestamptz,
    deadline        timestamptz,
    pending         integer,
    idempotency_key text        NOT NULL,
    input           jsonb,
    output          jsonb,
    error           jsonb,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    ended_at        timestamptz,
    UNIQUE (execution_id, step, instance)
);
CREATE INDEX steps_runnable ON steps (run_after) WHERE state = 'queued';
CREATE INDEX steps_leased ON steps (lease_until) WHERE state = 'running';
