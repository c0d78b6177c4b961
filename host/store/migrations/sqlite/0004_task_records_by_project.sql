-- Task records are written many per second and read per project, newest
-- first: one B-tree keyed by (project, time, id) serves both, where the first
-- layout kept three (the rowid table, the id index and the time index).
CREATE TABLE task_records_v2 (
    project_id     BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    id             BLOB    NOT NULL,
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
    PRIMARY KEY (project_id, created_at, id)
) STRICT, WITHOUT ROWID;
INSERT INTO task_records_v2 (project_id, created_at, id, kind, user_id, integration_id, credential_id,
    request_id, method, target, status, outcome, duration_us)
SELECT project_id, created_at, id, kind, user_id, integration_id, credential_id,
    request_id, method, target, status, outcome, duration_us FROM task_records;
DROP TABLE task_records;
ALTER TABLE task_records_v2 RENAME TO task_records;
