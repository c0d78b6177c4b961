-- Task records are written many per second and read per project, newest
-- first: one index on (project, time, id) serves both, where the first
-- layout kept two (the id key and the time index).
ALTER TABLE task_records DROP CONSTRAINT task_records_pkey;
DROP INDEX task_records_by_time;
ALTER TABLE task_records ADD PRIMARY KEY (project_id, created_at, id);
