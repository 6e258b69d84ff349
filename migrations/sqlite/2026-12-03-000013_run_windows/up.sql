-- A schedule's run windows (docs/safety.md#run-windows), JSON; null: it may fire at any time. Same text for both
-- backends.
ALTER TABLE schedules ADD COLUMN run_windows TEXT;
