DROP INDEX audit_log_action;
DROP INDEX audit_log_actor;
DROP INDEX trials_schedule_latest;
DROP INDEX trials_schedule_page;
DROP INDEX trials_status_page;
DROP INDEX trials_experiment_status;
ALTER TABLE experiments DROP COLUMN api_view;
ALTER TABLE trials DROP COLUMN api_view;
