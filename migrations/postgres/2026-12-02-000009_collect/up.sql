-- An experiment's `collect` list: Prometheus queries whose series over each trial are kept in its record
-- (same text for both backends). Experiments written before it collect nothing.
ALTER TABLE experiments ADD COLUMN collect TEXT NOT NULL DEFAULT '[]';
