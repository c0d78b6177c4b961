-- ActionKit logs: one row per ActionKit call (see src/action_logs.rs).
-- Mirrors migrations/sqlite with native types.
CREATE TABLE action_logs (
    project_id    uuid        NOT NULL,
    created_at    timestamptz NOT NULL,
    id            uuid        NOT NULL,
    trace_id      text        NOT NULL,
    request_id    text        NOT NULL,
    user_id       text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('list', 'run')),
    source        text        NOT NULL CHECK (source IN ('api', 'sdk', 'mcp')),
    integration   text,
    action        text,
    status        text        NOT NULL CHECK (status IN ('success', 'error')),
    http_status   integer     NOT NULL,
    error_code    text,
    error_message text,
    duration_us   bigint      NOT NULL,
    parameters    jsonb,
    PRIMARY KEY (project_id, created_at, id)
);
CREATE INDEX action_logs_by_trace ON action_logs (project_id, trace_id);
CREATE INDEX action_logs_by_request ON action_logs (project_id, request_id);
CREATE INDEX action_logs_by_user ON action_logs (project_id, user_id, created_at);
CREATE INDEX action_logs_by_age ON action_logs (created_at);
