-- Webhooks: per-experiment notification targets, and one row per delivery of a trial event, kept so that the
-- attempts and the outcome are visible on the trial and a restart loses no pending delivery. Same text for both
-- backends.

ALTER TABLE experiments ADD COLUMN notify TEXT NOT NULL DEFAULT '[]';

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    trial_id         TEXT NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    url              TEXT NOT NULL,
    format           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    last_status_code BIGINT,
    last_error       TEXT,
    next_attempt_at  TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_trial ON webhook_deliveries (trial_id, created_at);
