-- The scheduler's bookkeeping on schedules, the worker's on trials, and the lease that makes one worker run at a
-- time across every eris process sharing the database. Same text for both backends.

-- Fire instants that passed without a trial on time (eris or its database was down).
ALTER TABLE schedules ADD COLUMN missed_fires BIGINT NOT NULL DEFAULT 0;
-- Fires skipped because the schedule's previous trial was still queued or running (concurrency_policy forbid).
ALTER TABLE schedules ADD COLUMN skipped_fires BIGINT NOT NULL DEFAULT 0;
-- Why the last fire failed, and when the scheduler tries again; both null while all is well.
ALTER TABLE schedules ADD COLUMN fire_error TEXT;
ALTER TABLE schedules ADD COLUMN fire_retry_at TIMESTAMP;

-- The worker that runs the trial (the lease holder's id).
ALTER TABLE trials ADD COLUMN claimed_by TEXT;

CREATE TABLE worker_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT,
    expires_at TIMESTAMP
);
INSERT INTO worker_leases (name, holder, expires_at) VALUES ('trial-worker', NULL, NULL);
