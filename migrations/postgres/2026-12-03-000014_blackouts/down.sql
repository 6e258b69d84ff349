DROP INDEX blackouts_page;
DROP TABLE blackouts;
