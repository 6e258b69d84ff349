-- An experiment's guards (docs/safety.md#guards), a JSON list; experiments written before have none. Same text for
-- both backends.
ALTER TABLE experiments ADD COLUMN guards TEXT NOT NULL DEFAULT '[]';
