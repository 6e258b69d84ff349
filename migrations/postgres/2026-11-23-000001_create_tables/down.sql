DROP TABLE trials;
DROP TABLE schedules;
DROP TABLE experiments;
