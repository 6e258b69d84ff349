-- eris schema, PostgreSQL dialect. Keep in lock-step with migrations/sqlite (same tables, columns and indexes).
-- Portable types only: ids are text UUIDs, JSON is text, timestamps are UTC without time zone (microseconds).

CREATE TABLE experiments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    parameters  TEXT NOT NULL,
    pre_steps   TEXT NOT NULL,
    steps       TEXT NOT NULL,
    post_steps  TEXT NOT NULL,
    misarch     TEXT,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    revision    BIGINT NOT NULL,
    archived_at TIMESTAMP
);
CREATE INDEX experiments_page ON experiments (created_at, id);

CREATE TABLE schedules (
    id                 TEXT PRIMARY KEY,
    experiment_id      TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    metadata           TEXT NOT NULL,
    parameters         TEXT NOT NULL,
    ticket             TEXT NOT NULL,
    recurrence_pattern TEXT NOT NULL,
    timezone           TEXT NOT NULL,
    recurrence_count   BIGINT,
    recurrence_left    BIGINT,
    paused             BOOLEAN NOT NULL,
    misfire_policy     TEXT NOT NULL,
    concurrency_policy TEXT NOT NULL,
    next_run_at        TIMESTAMP,
    last_run_at        TIMESTAMP,
    created_by         TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX schedules_page ON schedules (experiment_id, created_at, id);
CREATE INDEX schedules_due ON schedules (next_run_at);

-- Trials keep schedule_id without a foreign key: deleting a schedule never deletes or rewrites its trials.
CREATE TABLE trials (
    id                  TEXT PRIMARY KEY,
    experiment_id       TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    schedule_id         TEXT,
    experiment_revision BIGINT NOT NULL,
    experiment_snapshot TEXT NOT NULL,
    metadata            TEXT NOT NULL,
    parameters          TEXT NOT NULL,
    ticket              TEXT NOT NULL,
    status              TEXT NOT NULL,
    status_reason       TEXT,
    scheduled_for       TIMESTAMP NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    executed_at         TIMESTAMP,
    completed_at        TIMESTAMP,
    heartbeat_at        TIMESTAMP,
    initiated_by        TEXT NOT NULL,
    initiated_from      TEXT NOT NULL,
    trial_record        TEXT NOT NULL,
    metrics             TEXT,
    goals               TEXT,
    violations          TEXT,
    grafana_url         TEXT,
    report              TEXT,
    -- One trial per schedule and cron instant: the scheduler's "never twice" guarantee.
    CONSTRAINT trials_one_per_fire UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX trials_page ON trials (created_at, id);
CREATE INDEX trials_experiment ON trials (experiment_id, created_at, id);
CREATE INDEX trials_queue ON trials (status, scheduled_for, created_at);
