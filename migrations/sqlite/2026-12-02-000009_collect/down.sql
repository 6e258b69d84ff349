ALTER TABLE experiments DROP COLUMN collect;
