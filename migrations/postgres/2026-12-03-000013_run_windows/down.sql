ALTER TABLE schedules DROP COLUMN run_windows;
