ALTER TABLE experiments DROP COLUMN guards;
