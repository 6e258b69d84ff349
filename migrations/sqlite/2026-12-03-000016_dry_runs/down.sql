ALTER TABLE trials DROP COLUMN dry_run;
