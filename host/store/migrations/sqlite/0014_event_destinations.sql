-- Event destinations: where a project's monitoring events (workflow_failure,
-- credentials_failure) are sent, and the durable outbox of their deliveries
-- (see src/destinations.rs).
--
-- `project_events` (0002) is the outbox of events; `dispatched_at` marks an
-- event once its deliveries are queued, so a restart re-dispatches the rest.
ALTER TABLE project_events ADD COLUMN dispatched_at INTEGER;
CREATE INDEX project_events_pending ON project_events (created_at) WHERE dispatched_at IS NULL;

CREATE TABLE event_destinations (
    id                   BLOB    NOT NULL PRIMARY KEY,
    project_id           BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind                 TEXT    NOT NULL CHECK (kind IN ('webhook')),
    url                  TEXT    NOT NULL,
    headers              TEXT    NOT NULL CHECK (json_type(headers) = 'object'),
    payload              TEXT    CHECK (payload IS NULL OR json_valid(payload)),
    events               TEXT    NOT NULL CHECK (json_type(events) = 'array'),
    enabled              INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_reason      TEXT,
    disabled_at          INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX event_destinations_by_project ON event_destinations (project_id, created_at);

-- One row per (event, destination): attempted until a 2xx, the attempts
-- run out, or the destination is disabled (then `dropped`).
CREATE TABLE event_deliveries (
    id              BLOB    NOT NULL PRIMARY KEY,
    project_id      BLOB    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    destination_id  BLOB    NOT NULL REFERENCES event_destinations (id) ON DELETE CASCADE,
    event_id        BLOB    NOT NULL,
    event_type      TEXT    NOT NULL,
    event           TEXT    NOT NULL CHECK (json_valid(event)),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_token     BLOB,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (event_id, destination_id)
) STRICT;
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX event_deliveries_by_destination ON event_deliveries (destination_id, created_at);
