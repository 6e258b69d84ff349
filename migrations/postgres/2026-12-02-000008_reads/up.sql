-- Reads at scale (the same as SQLite's but for the storage lines, which only PostgreSQL has).
--
-- The API's view of a trial that has ended (its JSON with secrets masked, without its notifications), made once by
-- the first read after the end: an ended trial never changes, so a read serves this text instead of parsing,
-- masking and serialising the record again. Null until then.
ALTER TABLE trials ADD COLUMN api_view TEXT;

-- The API's view of an experiment (secrets masked), made whenever it is written; null for an archived one and for
-- one written before this migration (those are built on every read until their next change).
ALTER TABLE experiments ADD COLUMN api_view TEXT;

-- Kept out of line but not compressed: a read sends the text as it is, and PostgreSQL need not inflate the view of
-- a MiSArch trial (about 90 KB of metrics) for every read.
ALTER TABLE trials ALTER COLUMN api_view SET STORAGE EXTERNAL;
ALTER TABLE experiments ALTER COLUMN api_view SET STORAGE EXTERNAL;

-- The filtered pages of GET /trial (experiment and status, status alone, schedule) in keyset order, and a
-- schedule's latest trials (`schedule.trials`), without reading the trials of other experiments or statuses.
CREATE INDEX trials_experiment_status ON trials (experiment_id, status, created_at, id);
CREATE INDEX trials_status_page ON trials (status, created_at, id);
CREATE INDEX trials_schedule_page ON trials (schedule_id, created_at, id);
CREATE INDEX trials_schedule_latest ON trials (schedule_id, scheduled_for);

-- The filtered pages of GET /audit by actor and by action.
CREATE INDEX audit_log_actor ON audit_log (actor, created_at, id);
CREATE INDEX audit_log_action ON audit_log (action, created_at, id);
