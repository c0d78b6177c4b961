-- One row per task: today a Proxy API call (workflow steps will add theirs).
-- Written in batches off the request path; no foreign keys, so a batch never
-- fails because a project was deleted meanwhile.
CREATE TABLE task_records (
    id             uuid        NOT NULL PRIMARY KEY,
    project_id     uuid        NOT NULL,
    kind           text        NOT NULL,
    user_id        text        NOT NULL,
    integration_id uuid,
    credential_id  uuid,
    request_id     text        NOT NULL,
    method         text        NOT NULL,
    target         text        NOT NULL,
    status         integer     NOT NULL,
    outcome        text        NOT NULL,
    duration_us    bigint      NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX task_records_by_time ON task_records (project_id, created_at);
