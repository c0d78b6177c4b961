-- Rate-limit pauses of a step (a parked step that waits for a provider's
-- window; not a retry): counted to bound them.
ALTER TABLE steps ADD COLUMN pauses INTEGER NOT NULL DEFAULT 0;
