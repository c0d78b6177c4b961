-- One row per task: today a Proxy API call (workflow steps will add theirs).
-- Written in batches off the request path; no foreign keys, so a batch never
-- fails because a project was deleted meanwhile.
CREATE TABLE task_records (
    id             BLOB    NOT NULL PRIMARY KEY,
    project_id     BLOB    NOT NULL,
    kind           TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    integration_id BLOB,
    credential_id  BLOB,
    request_id     TEXT    NOT NULL,
    method         TEXT    NOT NULL,
    target         TEXT    NOT NULL,
    status         INTEGER NOT NULL,
    outcome        TEXT    NOT NULL,
    duration_us    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX task_records_by_time ON task_records (project_id, created_at);
