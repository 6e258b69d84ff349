DROP TABLE gatling_reports;
