DROP TABLE webhook_deliveries;
ALTER TABLE experiments DROP COLUMN notify;
