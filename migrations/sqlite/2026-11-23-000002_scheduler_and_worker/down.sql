DROP TABLE worker_leases;
ALTER TABLE trials DROP COLUMN claimed_by;
ALTER TABLE schedules DROP COLUMN fire_retry_at;
ALTER TABLE schedules DROP COLUMN fire_error;
ALTER TABLE schedules DROP COLUMN skipped_fires;
ALTER TABLE schedules DROP COLUMN missed_fires;
