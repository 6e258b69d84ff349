ALTER TABLE experiments DROP COLUMN analysis;
ALTER TABLE trials DROP COLUMN regressions;
DROP INDEX trials_sweep;
ALTER TABLE trials DROP COLUMN sweep_repetition;
ALTER TABLE trials DROP COLUMN sweep_point;
ALTER TABLE trials DROP COLUMN sweep_id;
DROP INDEX sweeps_page;
DROP TABLE sweeps;
