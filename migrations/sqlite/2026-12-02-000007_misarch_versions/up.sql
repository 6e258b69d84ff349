-- The experiments and versions made through the MiSArch Experiment Executor's own API (docs/misarch.md, "Coming
-- from the MiSArch Experiment Executor"). One row per version: its four parts exactly as last saved (they may be
-- incomplete until a start checks them, as in the executor) and the eris experiment the version is. Same text for
-- both backends.

CREATE TABLE misarch_versions (
    test_uuid            TEXT NOT NULL,
    test_version         TEXT NOT NULL,
    -- The number of the version (`v3` is 3), for ordering and for the next version's number.
    version_number       BIGINT NOT NULL,
    experiment_id        TEXT NOT NULL UNIQUE REFERENCES experiments (id) ON DELETE CASCADE,
    -- execution.json, gatlingConfig, chaosToolkitConfig and misarchExperimentConfig, as saved.
    execution_config     TEXT NOT NULL,
    gatling_config       TEXT NOT NULL,
    chaos_toolkit_config TEXT NOT NULL,
    misarch_config       TEXT NOT NULL,
    -- The last start that was refused, and when: the event stream tells it in the executor's error form.
    start_error          TEXT,
    start_error_at       TIMESTAMP,
    -- The newest outcome (a trial's end or a refused start) some event stream has sent: a later subscriber gets
    -- only what no one was told (the frontend subscribes without Last-Event-ID).
    told_through         TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL,
    PRIMARY KEY (test_uuid, test_version)
);

CREATE INDEX misarch_versions_created ON misarch_versions (created_at, test_uuid);
