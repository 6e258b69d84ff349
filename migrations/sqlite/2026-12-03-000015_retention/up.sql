-- Retention (docs/safety.md#retention). Same text for both backends. A trial on hold is never removed by the policy;
-- the job that applies it runs on the replica that holds its lease.
ALTER TABLE trials ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
INSERT INTO worker_leases (name, holder, expires_at) VALUES ('retention', NULL, NULL);
