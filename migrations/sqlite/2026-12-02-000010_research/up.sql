-- Experiments as research (docs/research.md). Same text for both backends.

-- A sweep: one experiment run over a grid of parameter sets, `repeat` trials a point, queued back to back. Its
-- trials are ordinary trials that name it; its progress and results are read from them.
CREATE TABLE sweeps (
    id             TEXT PRIMARY KEY,
    experiment_id  TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    -- The axes as given (JSON object of lists), or null when the points were listed.
    axes           TEXT,
    -- Every point, JSON list of parameter objects, in the order they were expanded.
    points         TEXT NOT NULL,
    repetitions    BIGINT NOT NULL,
    run_order      TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    initiated_from TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    stopped_at     TIMESTAMP,
    stopped_by     TEXT
);
CREATE INDEX sweeps_page ON sweeps (created_at, id);

-- A sweep's trial names its sweep, the point (index into `points`) and the repetition (from 1). No foreign key:
-- SQLite cannot drop such a column again, and a sweep goes only with its experiment, whose trials go with it.
ALTER TABLE trials ADD COLUMN sweep_id TEXT;
ALTER TABLE trials ADD COLUMN sweep_point BIGINT;
ALTER TABLE trials ADD COLUMN sweep_repetition BIGINT;
CREATE INDEX trials_sweep ON trials (sweep_id, created_at, id);

-- The metrics in which an ended trial was worse than the trials before it (JSON list), set when it ended; null when
-- nothing was compared.
ALTER TABLE trials ADD COLUMN regressions TEXT;

-- An experiment's `analysis` settings: score weights and the regression rule (JSON). '{}' is the defaults.
ALTER TABLE experiments ADD COLUMN analysis TEXT NOT NULL DEFAULT '{}';
