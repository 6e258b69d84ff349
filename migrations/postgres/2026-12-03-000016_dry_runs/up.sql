-- Dry runs (docs/safety.md#dry-runs): a trial that checks everything and changes nothing. Same text for both
-- backends.
ALTER TABLE trials ADD COLUMN dry_run BOOLEAN NOT NULL DEFAULT FALSE;
