-- The state of a trial's MiSArch run that the components' callbacks read and change: the readiness barrier
-- (who registered, when T0 was) and the metrics uploads. It lives in the database, not in a process, because the
-- components may call any replica. One row per MiSArch trial; the trial id is the testUUID. Same text for both
-- backends.

CREATE TABLE misarch_runs (
    trial_id                 TEXT PRIMARY KEY REFERENCES trials (id) ON DELETE CASCADE,
    test_uuid                TEXT NOT NULL,
    test_version             TEXT NOT NULL,
    expected_clients         TEXT NOT NULL,
    registered_clients       TEXT NOT NULL,
    state                    TEXT NOT NULL,
    started_at               TIMESTAMP,
    steady_state_metrics     TEXT,
    steady_state_received_at TIMESTAMP,
    metrics_received_at      TIMESTAMP,
    upload_error             TEXT,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX misarch_runs_test ON misarch_runs (test_uuid, test_version);
