-- Event destinations and the outbox of their deliveries (see
-- src/destinations.rs). Mirrors migrations/sqlite with native types.
ALTER TABLE project_events ADD COLUMN dispatched_at timestamptz;
CREATE INDEX project_events_pending ON project_events (created_at) WHERE dispatched_at IS NULL;

CREATE TABLE event_destinations (
    id                   uuid        NOT NULL PRIMARY KEY,
    project_id           uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind                 text        NOT NULL CHECK (kind IN ('webhook')),
    url                  text        NOT NULL,
    headers              jsonb       NOT NULL CHECK (jsonb_typeof(headers) = 'object'),
    payload              jsonb,
    events               jsonb       NOT NULL CHECK (jsonb_typeof(events) = 'array'),
    enabled              boolean     NOT NULL,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    disabled_reason      text,
    disabled_at          timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
CREATE INDEX event_destinations_by_project ON event_destinations (project_id, created_at);

CREATE TABLE event_deliveries (
    id              uuid        NOT NULL PRIMARY KEY,
    project_id      uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    destination_id  uuid        NOT NULL REFERENCES event_destinations (id) ON DELETE CASCADE,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    event           jsonb       NOT NULL,
    state           text        NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_token     uuid,
    lease_until     timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (event_id, destination_id)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX event_deliveries_by_destination ON event_deliveries (destination_id, created_at);
