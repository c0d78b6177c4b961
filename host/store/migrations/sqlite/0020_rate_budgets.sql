-- The rate-limit governor's budgets shared by every process of a deployment
-- (issue 18). `rate_budgets` has one row per key: a declared rule of one
-- project's integration (or connection), locked while a slice of its budget
-- is granted, and an account's or app's learned pause (`paused_until`).
CREATE TABLE rate_budgets (
    key          TEXT    NOT NULL PRIMARY KEY,
    touched      INTEGER NOT NULL,
    paused_until INTEGER
);
CREATE INDEX rate_budgets_paused ON rate_budgets (paused_until) WHERE paused_until IS NOT NULL;

-- Slices of a rule's budget: `n` calls a process may make until
-- `expires_at`, counted against the rule until `expires_at` plus its window
-- (then deleted). A process shrinks `n` to the calls it made.
CREATE TABLE rate_grants (
    key        TEXT    NOT NULL REFERENCES rate_budgets (key) ON DELETE CASCADE,
    id         BLOB    NOT NULL,
    expires_at INTEGER NOT NULL,
    n          INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (key, id)
);
CREATE INDEX rate_grants_expiry ON rate_grants (key, expires_at);
