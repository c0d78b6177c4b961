-- ActionKit logs: one row per ActionKit call (see src/action_logs.rs).
-- Written in batches off the request path; no foreign keys, so a batch never
-- fails because a project was deleted meanwhile. Read per project, newest
-- first, and deleted by age: keyed by (project, time, id) like task records.
-- `parameters` is kept on error entries only.
CREATE TABLE action_logs (
    project_id    BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    id            BLOB    NOT NULL,
    trace_id      TEXT    NOT NULL,
    request_id    TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('list', 'run')),
    source        TEXT    NOT NULL CHECK (source IN ('api', 'sdk', 'mcp')),
    integration   TEXT,
    action        TEXT,
    status        TEXT    NOT NULL CHECK (status IN ('success', 'error')),
    http_status   INTEGER NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    duration_us   INTEGER NOT NULL,
    parameters    TEXT    CHECK (parameters IS NULL OR json_valid(parameters)),
    PRIMARY KEY (project_id, created_at, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX action_logs_by_trace ON action_logs (project_id, trace_id);
CREATE INDEX action_logs_by_request ON action_logs (project_id, request_id);
CREATE INDEX action_logs_by_user ON action_logs (project_id, user_id, created_at);
-- The retention sweep deletes across projects, oldest first.
CREATE INDEX action_logs_by_age ON action_logs (created_at);
