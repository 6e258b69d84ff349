//! Rows as they are stored. JSON columns are text here; the rule modules turn rows into resources.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    api_tokens, audit_log, blackouts, emergency_stops, experiments, gatling_reports, misarch_runs, misarch_versions,
    schedules, sweeps, trials, webhook_deliveries,
};
use super::stored_time::{MaybeStoredTime, StoredTime};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = experiments)]
#[diesel(treat_none_as_null = true)]
pub struct ExperimentRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub metadata: String,
    pub parameters: String,
    pub pre_steps: String,
    pub steps: String,
    pub post_steps: String,
    pub misarch: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub revision: i64,
    pub archived_at: Option<NaiveDateTime>,
    pub notify: String,
    /// The API's JSON of the experiment, secrets masked, made when it was written (see `migrations/*/…_reads`).
    pub api_view: Option<String>,
    /// The `collect` list, JSON (see `migrations/*/…_collect`).
    pub collect: String,
    /// The `analysis` settings, JSON (see `migrations/*/…_research`).
    pub analysis: String,
    /// The guards, JSON (see `migrations/*/…_guards`).
    pub guards: String,
}

/// What `GET /experiment` needs of a row whose kept view is current: the view and the page's key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = experiments)]
pub struct ExperimentViewRow {
    pub id: String,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    pub api_view: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = schedules)]
#[diesel(treat_none_as_null = true)]
pub struct ScheduleRow {
    pub id: String,
    pub experiment_id: String,
    pub metadata: String,
    pub parameters: String,
    pub ticket: String,
    pub recurrence_pattern: String,
    pub timezone: String,
    pub recurrence_count: Option<i64>,
    pub recurrence_left: Option<i64>,
    pub paused: bool,
    pub misfire_policy: String,
    pub concurrency_policy: String,
    pub next_run_at: Option<NaiveDateTime>,
    pub last_run_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub missed_fires: i64,
    pub skipped_fires: i64,
    pub fire_error: Option<String>,
    pub fire_retry_at: Option<NaiveDateTime>,
    /// The run windows, JSON (see `migrations/*/…_run_windows`); null: any time.
    pub run_windows: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = trials)]
// `None` is NULL, as a nullable column without a default gets anyway; it lets SQLite insert many rows in one
// statement ([`super::trials::insert_many`]).
#[diesel(treat_none_as_default_value = false)]
pub struct TrialRow {
    pub id: String,
    pub experiment_id: String,
    pub schedule_id: Option<String>,
    pub experiment_revision: i64,
    pub experiment_snapshot: String,
    pub metadata: String,
    pub parameters: String,
    pub ticket: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub scheduled_for: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub executed_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub heartbeat_at: Option<NaiveDateTime>,
    pub initiated_by: String,
    pub initiated_from: String,
    pub trial_record: String,
    pub metrics: Option<String>,
    pub goals: Option<String>,
    pub violations: Option<String>,
    pub grafana_url: Option<String>,
    pub report: Option<String>,
    pub claimed_by: Option<String>,
    /// The sweep that queued the trial, the point's index in it and the repetition, from 1 (see
    /// `migrations/*/…_research`).
    pub sweep_id: Option<String>,
    pub sweep_point: Option<i64>,
    pub sweep_repetition: Option<i64>,
    /// The metrics in which the trial was worse than the ones before it, JSON; set when it ended.
    pub regressions: Option<String>,
    /// On hold: no retention policy removes it (see `migrations/*/…_retention`).
    pub held: bool,
    /// A dry run: it checks and changes nothing (see `migrations/*/…_dry_runs`).
    pub dry_run: bool,
}

/// What a page of `GET /trial` shows of a trial: no JSON column but the violations (the full record is one request
/// away).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = trials)]
pub struct TrialSummaryRow {
    pub id: String,
    pub experiment_id: String,
    pub schedule_id: Option<String>,
    pub experiment_revision: i64,
    pub status: String,
    #[diesel(deserialize_as = StoredTime)]
    pub scheduled_for: NaiveDateTime,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStoredTime)]
    pub executed_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = MaybeStoredTime)]
    pub completed_at: Option<NaiveDateTime>,
    pub initiated_by: String,
    pub initiated_from: String,
    pub violations: Option<String>,
    pub grafana_url: Option<String>,
}

/// A schedule's view of one of its trials (`schedule.trials[]`).
#[derive(Debug, Clone, Queryable)]
pub struct TrialBrief {
    pub id: String,
    pub schedule_id: Option<String>,
    pub status: String,
    pub executed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub trial_id: String,
    pub event: String,
    pub url: String,
    pub format: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The Gatling report of a MiSArch trial as uploaded (`migrations/*/…_gatling_reports`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = gatling_reports)]
pub struct GatlingReportRow {
    pub trial_id: String,
    pub index_html: String,
    pub stats_js: String,
    pub created_at: NaiveDateTime,
}

/// The callback state of a MiSArch trial (`migrations/*/…_misarch_runs`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = misarch_runs)]
pub struct MisarchRunRow {
    pub trial_id: String,
    pub test_uuid: String,
    pub test_version: String,
    /// JSON array of the client names the barrier waits for.
    pub expected_clients: String,
    /// JSON array of the client names that registered.
    pub registered_clients: String,
    /// `initializing`, `started` (from T0) or `completed`.
    pub state: String,
    /// T0: when the barrier released.
    pub started_at: Option<NaiveDateTime>,
    pub steady_state_metrics: Option<String>,
    pub steady_state_received_at: Option<NaiveDateTime>,
    pub metrics_received_at: Option<NaiveDateTime>,
    /// Why an upload could not be used.
    pub upload_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A version made through the MiSArch Experiment Executor's API (`migrations/*/…_misarch_versions`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = misarch_versions)]
pub struct MisarchVersionRow {
    pub test_uuid: String,
    pub test_version: String,
    pub version_number: i64,
    pub experiment_id: String,
    pub execution_config: String,
    pub gatling_config: String,
    pub chaos_toolkit_config: String,
    pub misarch_config: String,
    pub start_error: Option<String>,
    pub start_error_at: Option<NaiveDateTime>,
    pub told_through: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An API token; only the SHA-256 of its text is stored (`migrations/*/…_tokens_and_audit`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// Hex SHA-256 of the token's text.
    pub token_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<String>,
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    #[diesel(deserialize_as = StoredTime)]
    pub created_at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub method: String,
    pub path: String,
    pub target_id: Option<String>,
    pub body_sha256: Option<String>,
    pub status: i64,
    pub outcome: String,
    pub request_id: Option<String>,
}

/// A sweep as stored (`migrations/*/…_research`): the points and settings it was asked for. Its progress is read
/// from its trials.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sweeps)]
pub struct SweepRow {
    pub id: String,
    pub experiment_id: String,
    pub axes: Option<String>,
    pub points: String,
    pub repetitions: i64,
    pub run_order: String,
    pub metadata: String,
    pub initiated_from: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub stopped_by: Option<String>,
}

/// One engagement of the emergency stop; `active` is `Some(1)` while it holds.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = emergency_stops)]
pub struct EmergencyStopRow {
    pub id: String,
    pub reason: String,
    pub engaged_by: String,
    pub engaged_at: NaiveDateTime,
    pub released_by: Option<String>,
    pub released_at: Option<NaiveDateTime>,
    pub active: Option<i64>,
    pub trials_stopped: i64,
}

/// A blackout: a one-off range (`starts_at`, `ends_at`) or recurring windows (`timezone`, `windows` JSON).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = blackouts)]
pub struct BlackoutRow {
    pub id: String,
    pub reason: String,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub timezone: Option<String>,
    pub windows: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}
