-- Leadership of a deployment-wide duty (the scheduler): one row per duty,
-- held by one process until `until` unless it renews. `mark` is the
-- holder's progress (the scheduler: the instant through which it ran every
-- firing), kept when another process takes over so it can go on from there;
-- `lapsed` is when the previous holder's lease ran out (a takeover soon
-- after it is a failover, long after it follows downtime).
CREATE TABLE leaders (
    name   text        NOT NULL PRIMARY KEY,
    holder uuid        NOT NULL,
    until  timestamptz NOT NULL,
    mark   timestamptz,
    lapsed timestamptz
);
