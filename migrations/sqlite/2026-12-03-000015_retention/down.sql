DELETE FROM worker_leases WHERE name = 'retention';
ALTER TABLE trials DROP COLUMN held;
