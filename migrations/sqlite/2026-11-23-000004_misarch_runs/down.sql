DROP TABLE misarch_runs;
