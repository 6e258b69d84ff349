//! Trials: runs of an experiment, kept for audit. The API queues and stops them; nothing edits or deletes them.

pub mod events;
pub mod figures;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::page::{Page, PageRequest};
use crate::db::trials::TrialFilter;
use crate::db::{self, Db, DbConnection, TrialRow, write_transaction};
use crate::error::{Error, Result};
use crate::experiments::{self, Definition, JsonObject, parse_id};
use crate::json::{from_optional_text, from_text, to_text};
use crate::redact::{self, SecretTexts, redact};
use crate::research::regression::Regression;
use crate::research::score::Score;
use crate::time;
use crate::trial_status::TrialStatus;
use crate::webhooks::delivery::{self, WebhookConfig};
use crate::webhooks::{Event, TrialNotice};

const MAX_INITIATED_FROM_CHARS: usize = 100;

/// A trial as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Trial {
    pub id: Uuid,
    /// The experiment's id.
    pub experiment: Uuid,
    /// The schedule that created the trial; null for a trial run through `POST /trial`.
    pub schedule_id: Option<Uuid>,
    /// The experiment's revision when the trial was queued.
    pub experiment_revision: i64,
    /// The experiment's definition at that revision: what the trial runs (values under secret-looking keys masked).
    pub experiment_snapshot: Definition,
    /// The experiment's metadata with the trial's own on top (values under secret-looking keys masked).
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    /// The trial's own parameters (values under secret-looking keys masked).
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    /// The change ticket (values under secret-looking keys masked).
    #[schema(value_type = Object)]
    pub ticket: JsonObject,
    pub status: TrialStatus,
    /// Why the trial has its status (which step failed, who stopped it, …); null while nothing is to be said.
    /// Secret values of the trial that appear in it are masked.
    pub status_reason: Option<String>,
    /// When the trial was due: the cron instant for a scheduled trial, the request time otherwise.
    pub scheduled_for: DateTime<Utc>,
    /// When the trial was queued.
    pub created_at: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub initiated_by: String,
    pub initiated_from: String,
    /// Per-phase step logs (`pre_steps`, `steps`, `post_steps`, `result`), saved as the trial runs; secrets masked.
    #[schema(value_type = Object)]
    pub trial_record: Value,
    /// Measured workload statistics (MiSArch trials); null until measured.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    /// The goals the trial was checked against; null until evaluated.
    #[schema(value_type = Option<Vec<Object>>)]
    pub goals: Option<Value>,
    /// The goals that were not met, `[{metric, threshold, actual}]`; null until evaluated.
    #[schema(value_type = Option<Vec<Object>>)]
    pub violations: Option<Value>,
    pub grafana_url: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    /// The sweep that queued the trial, and the trial's place in it; null for other trials.
    pub sweep: Option<SweepPlace>,
    /// The resilience score, 0 to 100, from the checks the trial made (docs/research.md); null until it ended
    /// measured (Succeeded or Failed), and for a trial that checked nothing.
    pub score: Option<Score>,
    /// The metrics in which the trial was worse than the comparable trials before it, judged when it ended
    /// (the experiment's `analysis.regression`); null until then, or when it was not compared.
    pub regressions: Option<Vec<Regression>>,
    /// On hold: no retention policy removes it (`PUT /trial/{id}/hold`).
    pub held: bool,
    /// A dry run: it checked and changed nothing; its record says what would have run.
    pub dry_run: bool,
    /// Where to see more of it.
    pub links: TrialLinks,
    /// The webhook deliveries of the trial's events, with their attempts and outcome.
    pub notifications: Vec<Notification>,
}

/// Where to see more of a trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrialLinks {
    /// Its report page: HTML with charts of the workload, the timeline and the goals (docs/research.md).
    pub page: String,
    /// Its report as JSON, or JUnit XML (`GET /trial/{id}/report`).
    pub report: String,
}

impl TrialLinks {
    fn of(id: Uuid) -> Self {
        Self { page: format!("/api/v1/trial/{id}/page"), report: format!("/api/v1/trial/{id}/report") }
    }
}

/// Where a trial stands in the sweep that queued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SweepPlace {
    /// The sweep's id.
    pub id: Uuid,
    /// The index of the trial's point in the sweep's `points`, from 0.
    pub point: i64,
    /// Which run of that point, from 1 to the sweep's `repeat`.
    pub repetition: i64,
}

impl SweepPlace {
    fn of_row(row: &TrialRow) -> Result<Option<Self>> {
        match (&row.sweep_id, row.sweep_point, row.sweep_repetition) {
            (Some(id), Some(point), Some(repetition)) => Ok(Some(Self { id: parse_id(id)?, point, repetition })),
            _ => Ok(None),
        }
    }
}

/// The score weights of a trial's snapshot, read without the rest of it.
#[derive(Deserialize)]
struct SnapshotAnalysis {
    #[serde(default)]
    analysis: crate::research::Analysis,
}

/// The resilience score of a stored trial.
pub(crate) fn score_of(
    row: &TrialRow,
    record: &Value,
    goals: Option<&Value>,
    violations: Option<&Value>,
) -> Result<Option<Score>> {
    if row.dry_run {
        // It checked the system, not its resilience.
        return Ok(None);
    }
    let weights = from_text::<SnapshotAnalysis>(&row.experiment_snapshot)?.analysis.score;
    Ok(crate::research::score::score(TrialStatus::parse(&row.status)?, record, goals, violations, weights))
}

/// One webhook delivery of a trial event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// `started`, `succeeded`, `failed`, `aborted`, `stopped` or `invalid`.
    pub event: String,
    /// The receiver, with its path hidden (a Slack webhook's path is its secret).
    pub url: String,
    /// `json` or `slack`.
    pub format: String,
    /// `pending` (being retried), `delivered` or `failed` (gave up).
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<crate::db::DeliveryRow> for Notification {
    fn from(row: crate::db::DeliveryRow) -> Self {
        Self {
            event: row.event,
            url: crate::webhooks::display_url(&row.url),
            format: row.format,
            status: row.status,
            attempts: row.attempts,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            next_attempt_at: row.next_attempt_at.map(time::from_db),
        }
    }
}

/// Fills in the trials' webhook deliveries, with one query for all of them.
fn with_notifications(conn: &mut DbConnection, mut trials: Vec<Trial>) -> Result<Vec<Trial>> {
    let ids: Vec<String> = trials.iter().map(|t| t.id.to_string()).collect();
    for delivery in db::webhooks::of_trials(conn, &ids)? {
        if let Some(trial) = trials.iter_mut().find(|t| t.id.to_string() == delivery.trial_id) {
            trial.notifications.push(delivery.into());
        }
    }
    Ok(trials)
}

/// The body of `POST /trial`: run an experiment now.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"experiment": "9992d74d-89c7-4ab8-a1c7-f9cef55ff5ef", "parameters": {"health_url": "http://127.0.0.1:9000/health"},
    "metadata": {"run": "manual"}, "initiated_from": "curl"}))]
pub struct TrialInput {
    /// The id of the experiment to run.
    pub experiment: Uuid,
    /// Override the experiment's parameters for this trial.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub ticket: JsonObject,
    /// Where the request came from (a tool or pipeline name). Default `api`.
    #[serde(default = "api")]
    pub initiated_from: String,
    /// A dry run: render and validate everything, run the pre-flight, the read-only health gates and the guards'
    /// gates, and inject, load or change nothing; the record says what would have run (docs/safety.md#dry-runs).
    #[serde(default)]
    pub dry_run: bool,
}

fn api() -> String {
    "api".to_owned()
}

/// A JSON object with the values under secret-looking keys masked.
fn redacted_object(value: &Value) -> Result<JsonObject> {
    match redact(value) {
        Value::Object(object) => Ok(object),
        _ => Err(Error::internal("a stored JSON object is not an object")),
    }
}

/// The secret values a trial's free text (its status reason, the messages and logs of its record) may show: those
/// under secret-looking keys of its snapshot, parameters, metadata and ticket. A templated URL such as
/// `{{ base }}/x?key={{ api_token }}` puts a parameter's value into an error message, where no key marks it.
fn secret_texts(snapshot: &Value, parameters: &Value, metadata: &Value, ticket: &Value) -> SecretTexts {
    SecretTexts::of(&[snapshot, parameters, metadata, ticket])
}

/// The secret values of a stored trial (see [`secret_texts`]); the worker masks its log lines with them.
pub fn secret_texts_of(row: &TrialRow) -> Result<SecretTexts> {
    let read = |text: &str| from_text::<Value>(text);
    Ok(secret_texts(
        &read(&row.experiment_snapshot)?,
        &read(&row.parameters)?,
        &read(&row.metadata)?,
        &read(&row.ticket)?,
    ))
}

/// The API's view of a stored trial (also what webhooks and event streams are made from): secrets masked. The
/// worker runs the stored row, never this view.
impl TryFrom<TrialRow> for Trial {
    type Error = Error;

    fn try_from(row: TrialRow) -> Result<Self> {
        let snapshot: Value = from_text(&row.experiment_snapshot)?;
        let parameters: Value = from_text(&row.parameters)?;
        let metadata: Value = from_text(&row.metadata)?;
        let ticket: Value = from_text(&row.ticket)?;
        let texts = secret_texts(&snapshot, &parameters, &metadata, &ticket);
        let record: Value = from_text(&row.trial_record)?;
        let goals: Option<Value> = from_optional_text(row.goals.as_deref())?;
        let violations: Option<Value> = from_optional_text(row.violations.as_deref())?;
        let score = score_of(&row, &record, goals.as_ref(), violations.as_ref())?;
        let sweep = SweepPlace::of_row(&row)?;
        let mut trial_record = redact(&record);
        texts.redact_strings(&mut trial_record);
        let id = parse_id(&row.id)?;
        Ok(Self {
            id,
            experiment: parse_id(&row.experiment_id)?,
            schedule_id: row.schedule_id.as_deref().map(parse_id).transpose()?,
            experiment_revision: row.experiment_revision,
            experiment_snapshot: serde_json::from_value(redact(&snapshot))?,
            metadata: redacted_object(&metadata)?,
            parameters: redacted_object(&parameters)?,
            ticket: redacted_object(&ticket)?,
            status: TrialStatus::parse(&row.status)?,
            status_reason: row.status_reason.map(|reason| texts.redact(&reason)),
            scheduled_for: time::from_db(row.scheduled_for),
            created_at: time::from_db(row.created_at),
            executed_at: row.executed_at.map(time::from_db),
            completed_at: row.completed_at.map(time::from_db),
            initiated_by: row.initiated_by,
            initiated_from: row.initiated_from,
            trial_record,
            metrics: from_optional_text(row.metrics.as_deref())?,
            goals,
            violations,
            grafana_url: row.grafana_url,
            report: from_optional_text(row.report.as_deref())?,
            sweep,
            score,
            regressions: from_optional_text(row.regressions.as_deref())?,
            held: row.held,
            dry_run: row.dry_run,
            links: TrialLinks::of(id),
            notifications: Vec::new(),
        })
    }
}

/// What webhooks tell about a stored trial: made from the API's view, so secrets are masked as there.
pub fn notice(row: &TrialRow) -> Result<TrialNotice> {
    let trial = Trial::try_from(row.clone())?;
    Ok(TrialNotice {
        id: trial.id,
        experiment: trial.experiment,
        experiment_name: trial.experiment_snapshot.name,
        schedule_id: trial.schedule_id,
        status: trial.status,
        status_reason: trial.status_reason,
        scheduled_for: trial.scheduled_for,
        executed_at: trial.executed_at,
        completed_at: trial.completed_at,
        violations: trial.violations,
        grafana_url: trial.grafana_url,
        score: trial.score.map(|score| score.value),
        regressions: trial.regressions.unwrap_or_default(),
        notify: trial.experiment_snapshot.notify,
    })
}

/// What a new trial is made of, whoever queues it (the API or a schedule).
pub struct NewTrial {
    pub experiment_id: Uuid,
    pub schedule_id: Option<Uuid>,
    pub parameters: JsonObject,
    pub metadata: JsonObject,
    pub ticket: JsonObject,
    /// The cron instant for a scheduled trial; None means now, when the trial is queued.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub initiated_by: String,
    pub initiated_from: String,
    /// The sweep that queues it, and where in it.
    pub sweep: Option<SweepPlace>,
    /// When it is queued; None means now. A sweep queues its trials a microsecond apart, so that the worker (oldest
    /// first) takes them in the sweep's order.
    pub queued_at: Option<DateTime<Utc>>,
    /// Only through `POST /trial`: schedules and sweeps never queue dry runs.
    pub dry_run: bool,
}

/// Queues a trial of an active experiment: status `Scheduled`, with a snapshot of the experiment's definition.
pub fn queue(conn: &mut DbConnection, new: NewTrial) -> Result<TrialRow> {
    queue_definition(conn, new, None)
}

/// Queues a trial like [`queue`], of `definition` instead of the experiment's present one when it is given (a
/// MiSArch executor start with the configuration in its body). The trial's snapshot is what it runs.
pub fn queue_definition(conn: &mut DbConnection, new: NewTrial, definition: Option<Definition>) -> Result<TrialRow> {
    let experiment = experiments::load_active(conn, new.experiment_id)?;
    let definition = match definition {
        Some(definition) => definition,
        None => experiment.definition()?,
    };
    queue_of(conn, &experiment, &definition, new)
}

/// Queues a trial of `experiment` (loaded and active) running `definition`: what [`queue_definition`] does once it
/// has them, and what a sweep does for each of its trials.
pub fn queue_of(
    conn: &mut DbConnection,
    experiment: &db::ExperimentRow,
    definition: &Definition,
    new: NewTrial,
) -> Result<TrialRow> {
    // The emergency stop (crate::safety) lets nothing start while it holds.
    if let Some(stop) = db::safety::active(conn)? {
        return Err(Error::conflict(
            "emergency_stop_engaged",
            format!(
                "an emergency stop is engaged (by {} at {}: {}); no trial starts until it is released",
                stop.engaged_by,
                time::from_db(stop.engaged_at).to_rfc3339(),
                stop.reason
            ),
        ));
    }
    // Nor does a blackout (crate::blackouts) while it is in force.
    if let Some(blackout) = crate::blackouts::active_at(conn, time::now())? {
        return Err(Error::conflict(
            "blackout_active",
            format!("{} is in force; no trial starts until it ends", crate::blackouts::describe(&blackout)),
        ));
    }
    // Kallisti's rule: the experiment's metadata lies underneath the trial's own.
    let mut metadata = definition.metadata.clone();
    metadata.extend(new.metadata);
    let now = new.queued_at.unwrap_or_else(time::now);
    let row = TrialRow {
        id: Uuid::new_v4().to_string(),
        experiment_id: experiment.id.clone(),
        schedule_id: new.schedule_id.map(|id| id.to_string()),
        experiment_revision: experiment.revision,
        experiment_snapshot: to_text(definition),
        metadata: to_text(&metadata),
        parameters: to_text(&new.parameters),
        ticket: to_text(&new.ticket),
        status: TrialStatus::Scheduled.as_str().to_owned(),
        status_reason: None,
        scheduled_for: time::to_db(new.scheduled_for.unwrap_or(now)),
        created_at: time::to_db(now),
        executed_at: None,
        completed_at: None,
        heartbeat_at: None,
        initiated_by: new.initiated_by,
        initiated_from: new.initiated_from,
        trial_record: "{}".to_owned(),
        metrics: None,
        goals: None,
        violations: None,
        grafana_url: None,
        report: None,
        claimed_by: None,
        sweep_id: new.sweep.as_ref().map(|place| place.id.to_string()),
        sweep_point: new.sweep.as_ref().map(|place| place.point),
        sweep_repetition: new.sweep.as_ref().map(|place| place.repetition),
        regressions: None,
        held: false,
        dry_run: new.dry_run,
    };
    db::trials::insert(conn, &row)?;
    Ok(row)
}

/// `POST /trial`: runs an experiment now (Kallisti's "execute"). Never touches any schedule. A `*****` under a
/// secret-looking key is refused: it is the mask of a secret, which this trial would send as its value.
pub async fn create(db: &Db, mut input: TrialInput, actor: &str) -> Result<Trial> {
    redact::restore_object(&mut input.parameters, None, "parameters")?;
    redact::restore_object(&mut input.metadata, None, "metadata")?;
    redact::restore_object(&mut input.ticket, None, "ticket")?;
    if input.initiated_from.chars().count() > MAX_INITIATED_FROM_CHARS {
        return Err(Error::invalid(
            "invalid_initiated_from",
            "initiated_from",
            format!("initiated_from is longer than {MAX_INITIATED_FROM_CHARS} characters"),
        ));
    }
    let new = NewTrial {
        experiment_id: input.experiment,
        schedule_id: None,
        parameters: input.parameters,
        metadata: input.metadata,
        ticket: input.ticket,
        scheduled_for: None,
        initiated_by: actor.to_owned(),
        initiated_from: input.initiated_from,
        sweep: None,
        queued_at: None,
        dry_run: input.dry_run,
    };
    db.run(move |conn| {
        let row = queue(conn, new).map_err(|e| match e.code {
            // The experiment is named in the body, not in the path: point at the field.
            "experiment_not_found" => Error::invalid("experiment_not_found", "experiment", e.message),
            // Not about the experiment: nothing starts.
            "emergency_stop_engaged" | "blackout_active" => e,
            _ => e.with_field("experiment"),
        })?;
        Trial::try_from(row)
    })
    .await
}

fn trial_not_found(id: Uuid) -> Error {
    Error::not_found("trial_not_found", format!("trial {id} does not exist"))
}

/// Puts a trial on hold, so that no retention policy removes it, or takes it off hold.
pub async fn set_held(db: &Db, id: Uuid, held: bool) -> Result<Trial> {
    let found = db.run(move |conn| db::trials::set_held(conn, &id.to_string(), held)).await?;
    if !found {
        return Err(trial_not_found(id));
    }
    find(db, id).await
}

pub async fn find(db: &Db, id: Uuid) -> Result<Trial> {
    db.run(move |conn| {
        let trial = db::trials::find(conn, &id.to_string())?.ok_or_else(|| trial_not_found(id))?.try_into()?;
        Ok(with_notifications(conn, vec![trial])?.remove(0))
    })
    .await
}

/// The end of a view without notifications, as serde writes a [`Trial`] whose `notifications` is empty.
const NO_NOTIFICATIONS: &str = ",\"notifications\":[]}";

/// `GET /trial/{id}`: the trial as JSON text, the same text `Trial`'s serialisation gives. An ended trial never
/// changes, so its masked view is made once, by the first read after its end, and kept in the row
/// (`api_view`); later reads send that text with the trial's notifications, which change as webhooks are
/// delivered, read anew each time. The webhooks of a trial's events are queued with the events, so an ended trial
/// that had none when its view was made never has any: its view is kept whole and sent without a second query.
/// Nothing is cached in the process: every replica reads the same answer. On PostgreSQL the view is read over a
/// pipelined connection ([`crate::db::Db::trial_api_view`]).
pub async fn find_json(db: &Db, id: Uuid) -> Result<bytes::Bytes> {
    let key = id.to_string();
    let stored = db.trial_api_view(&key).await?.ok_or_else(|| trial_not_found(id))?;
    match stored.as_deref().and_then(crate::json::open_view).and_then(KeptView::open) {
        // Most reads: the whole answer, sent without another query.
        Some(KeptView::Whole(view)) => {
            // A slice of the kept text past its prefix, rather than a copy of the view (a MiSArch trial's is 140 KB).
            let prefix = stored.as_ref().map_or(0, String::len) - view.len();
            Ok(bytes::Bytes::from(stored.unwrap_or_default()).slice(prefix..))
        }
        Some(KeptView::WithoutNotifications(view)) => {
            let view = view.to_owned();
            let notifications = db.run(move |conn| notifications_of(conn, &key)).await?;
            Ok(format!("{view},\"notifications\":{}}}", serde_json::to_string(&notifications)?).into())
        }
        // None yet, or one of an earlier format.
        None => Ok(db.run(move |conn| make_view(conn, id)).await?.into()),
    }
}

/// A trial's JSON made from its row, kept as its view when the trial has ended.
fn make_view(conn: &mut DbConnection, id: Uuid) -> Result<String> {
    let key = id.to_string();
    let notifications = notifications_of(conn, &key)?;
    let row = db::trials::find(conn, &key)?.ok_or_else(|| trial_not_found(id))?;
    let ended = TrialStatus::parse(&row.status)?.is_final();
    let text = serde_json::to_string(&Trial::try_from(row)?)?;
    let view = text
        .strip_suffix(NO_NOTIFICATIONS)
        .ok_or_else(|| Error::internal("a trial's JSON does not end with its notifications"))?;
    let kept = if notifications.is_empty() { KeptView::Whole(&text) } else { KeptView::WithoutNotifications(view) };
    if ended {
        let sealed = crate::json::seal_view(&kept.seal());
        db::trials::store_api_view(conn, &key, &sealed, crate::json::VIEW_FORMAT)?;
    }
    Ok(format!("{view},\"notifications\":{}}}", serde_json::to_string(&notifications)?))
}

/// What a trial's kept view holds, marked by its first character.
enum KeptView<'a> {
    /// `=`: the whole JSON; the trial has no notifications and never will.
    Whole(&'a str),
    /// `+`: the JSON without its notifications, which are read anew.
    WithoutNotifications(&'a str),
}

impl<'a> KeptView<'a> {
    fn open(text: &'a str) -> Option<Self> {
        if let Some(view) = text.strip_prefix('=') {
            Some(Self::Whole(view))
        } else {
            text.strip_prefix('+').map(Self::WithoutNotifications)
        }
    }

    fn seal(&self) -> String {
        match self {
            Self::Whole(view) => format!("={view}"),
            Self::WithoutNotifications(view) => format!("+{view}"),
        }
    }
}

fn notifications_of(conn: &mut DbConnection, trial_id: &str) -> Result<Vec<Notification>> {
    let deliveries = db::webhooks::of_trials(conn, &[trial_id.to_owned()])?;
    Ok(deliveries.into_iter().map(Notification::from).collect())
}

/// A trial's report (MiSArch trials, once their goals were evaluated), with the trial's status and reason.
pub async fn report(db: &Db, id: Uuid) -> Result<(crate::misarch::report::Report, TrialStatus, Option<String>)> {
    let row = db.run(move |conn| db::trials::find(conn, &id.to_string())).await?.ok_or_else(|| trial_not_found(id))?;
    let Some(report) = row.report.as_deref() else {
        return Err(Error::conflict(
            "report_unavailable",
            format!(
                "trial {id} has no report: only MiSArch trials have one, once their metrics arrived and their goals \
                 were evaluated (status now: {})",
                row.status
            ),
        ));
    };
    let reason = row.status_reason.as_deref().map(|reason| secret_texts_of(&row).map(|texts| texts.redact(reason)));
    Ok((from_text(report)?, TrialStatus::parse(&row.status)?, reason.transpose()?))
}

/// The Gatling report of a MiSArch trial as the Gatling executor uploaded it: its `index.html` and `js/stats.js`,
/// with the trial's secret values masked where they appear in them, as everywhere else.
pub async fn gatling_report(db: &Db, id: Uuid) -> Result<db::GatlingReportRow> {
    let key = id.to_string();
    let (row, report) =
        db.run(move |conn| Ok((db::trials::find(conn, &key)?, db::misarch_runs::gatling_report(conn, &key)?))).await?;
    let row = row.ok_or_else(|| trial_not_found(id))?;
    let Some(mut report) = report else {
        return Err(Error::not_found(
            "gatling_report_unavailable",
            format!(
                "trial {id} has no Gatling report: only MiSArch trials have one, once the Gatling executor uploaded                  it, and one larger than {} MiB is not kept (status now: {})",
                crate::misarch::callbacks::MAX_KEPT_REPORT_BYTES / (1024 * 1024),
                row.status
            ),
        ));
    };
    let secrets = secret_texts_of(&row)?;
    report.index_html = secrets.redact(&report.index_html);
    report.stats_js = secrets.redact(&report.stats_js);
    Ok(report)
}

/// What `GET /trial` shows of each trial: when it ran, how it ended, which experiment and schedule, who asked, and
/// the goals it missed. The record, the definition it ran, its results and the reason of its status (which may
/// quote a parameter's value) are in `GET /trial/{id}`, or in a page of `?view=full` (100 a page at most).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrialSummary {
    pub id: Uuid,
    /// The experiment's id.
    pub experiment: Uuid,
    pub schedule_id: Option<Uuid>,
    pub experiment_revision: i64,
    pub status: TrialStatus,
    // Written by hand (`time::rfc3339`, what chrono writes), as pages hold a hundred of them.
    #[serde(serialize_with = "time::rfc3339")]
    pub scheduled_for: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339_option")]
    pub executed_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "time::rfc3339_option")]
    pub completed_at: Option<DateTime<Utc>>,
    pub initiated_by: String,
    pub initiated_from: String,
    /// The goals that were not met, `[{metric, threshold, actual}]`; null until evaluated.
    #[schema(value_type = Option<Vec<Object>>)]
    pub violations: Option<Value>,
    pub grafana_url: Option<String>,
}

impl TryFrom<db::TrialSummaryRow> for TrialSummary {
    type Error = Error;

    fn try_from(row: db::TrialSummaryRow) -> Result<Self> {
        Ok(Self {
            id: parse_id(&row.id)?,
            experiment: parse_id(&row.experiment_id)?,
            schedule_id: row.schedule_id.as_deref().map(parse_id).transpose()?,
            experiment_revision: row.experiment_revision,
            status: TrialStatus::parse(&row.status)?,
            scheduled_for: time::from_db(row.scheduled_for),
            created_at: time::from_db(row.created_at),
            executed_at: row.executed_at.map(time::from_db),
            completed_at: row.completed_at.map(time::from_db),
            initiated_by: row.initiated_by,
            initiated_from: row.initiated_from,
            violations: from_optional_text(row.violations.as_deref())?,
            grafana_url: row.grafana_url,
        })
    }
}

/// A page of `GET /trial`, as summaries.
pub async fn list_summaries(db: &Db, filter: TrialFilter, page: PageRequest) -> Result<Page<TrialSummary>> {
    db.run(move |conn| db::trials::list_summaries(conn, &filter, &page)?.map(TrialSummary::try_from)).await
}

/// A page of whole trials (`GET /trial?view=full`, and the benchmarks).
pub async fn list(db: &Db, filter: TrialFilter, page: PageRequest) -> Result<Page<Trial>> {
    db.run(move |conn| {
        let page = db::trials::list(conn, &filter, &page)?.map(Trial::try_from)?;
        Ok(Page { items: with_notifications(conn, page.items)?, next: page.next })
    })
    .await
}

/// `PUT /trial/{id}/stop`. A `Scheduled` trial becomes `Stopped` without running; an `In Progress` one becomes
/// `Stop Initiated` and the worker stops it. Stopping a trial that is already stopping changes nothing; a
/// finished trial cannot be stopped.
pub async fn stop(db: &Db, id: Uuid, webhooks: std::sync::Arc<WebhookConfig>) -> Result<Trial> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let key = id.to_string();
            let row = db::trials::find(conn, &key)?.ok_or_else(|| trial_not_found(id))?;
            let reasons = StopReasons { queued: "stopped before it started", running: STOP_REQUESTED };
            match stop_row(conn, &row, &webhooks, reasons)? {
                Some(_) => {}
                None => {
                    return Err(Error::conflict(
                        "trial_already_finished",
                        format!("trial {id} already ended with status '{}'; it cannot be stopped", row.status),
                    ));
                }
            }
            let row = db::trials::find(conn, &key)?.ok_or_else(|| trial_not_found(id))?;
            let trial = row.try_into()?;
            Ok(with_notifications(conn, vec![trial])?.remove(0))
        })
    })
    .await
}

/// The reason of a running trial asked to stop; one asked with a reason of its own is `stop requested: <why>`
/// ([`stop_requested_because`]), and keeps the why in its final reason ([`final_stop_reason`]).
pub const STOP_REQUESTED: &str = "stop requested";

/// The reason of a running trial asked to stop because of `why` (its sweep was stopped, the emergency stop).
pub fn stop_requested_because(why: &str) -> String {
    format!("{STOP_REQUESTED}: {why}")
}

/// The final reason of a trial a requested stop ended: the executor's `ending`, with the why of the request, if it
/// gave one (`asked` is the reason the trial had while it stopped).
pub fn final_stop_reason(asked: Option<&str>, ending: &str) -> String {
    match asked.and_then(|asked| asked.strip_prefix(STOP_REQUESTED)).and_then(|rest| rest.strip_prefix(": ")) {
        Some(why) => format!("{ending}: {why}"),
        None => ending.to_owned(),
    }
}

#[cfg(test)]
mod stop_reason_tests {
    use super::*;

    #[test]
    fn a_requested_stop_keeps_the_why_of_its_request() {
        let asked = stop_requested_because("its sweep s was stopped");
        assert_eq!(
            final_stop_reason(Some(&asked), "stopped on request"),
            "stopped on request: its sweep s was stopped"
        );
        assert_eq!(final_stop_reason(Some(STOP_REQUESTED), "stopped on request"), "stopped on request");
        assert_eq!(final_stop_reason(None, "stopped on request"), "stopped on request");
    }
}

/// The reasons a stop gives a queued and a running trial.
#[derive(Debug, Clone, Copy)]
pub struct StopReasons<'a> {
    pub queued: &'a str,
    pub running: &'a str,
}

/// The trials a deployment-wide stop (the emergency stop, a blackout) stopped: queued ones (now `Stopped`) and
/// running ones (now `Stop Initiated`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped {
    pub queued: i64,
    pub running: i64,
}

/// Stops every unfinished trial of the deployment (or only the queued ones) inside the caller's transaction.
pub fn stop_unfinished(
    conn: &mut DbConnection,
    webhooks: &WebhookConfig,
    reasons: StopReasons<'_>,
    only_queued: bool,
) -> Result<Stopped> {
    let mut stopped = Stopped::default();
    for row in db::trials::unfinished(conn, only_queued)? {
        match stop_row(conn, &row, webhooks, reasons)? {
            Some(TrialStatus::Scheduled) => stopped.queued += 1,
            Some(TrialStatus::InProgress) => stopped.running += 1,
            _ => {}
        }
    }
    Ok(stopped)
}

/// Stops a trial inside the caller's transaction (a trial's stop, a sweep's): returns the status it had, or None
/// when it had already ended. A queued trial's 'stopped' event is queued here: it never reaches the worker.
pub fn stop_row(
    conn: &mut DbConnection,
    row: &TrialRow,
    webhooks: &WebhookConfig,
    reasons: StopReasons<'_>,
) -> Result<Option<TrialStatus>> {
    let now = time::to_db(time::now());
    let status = TrialStatus::parse(&row.status)?;
    let moved = match status {
        TrialStatus::Scheduled => {
            db::trials::transition(conn, &row.id, status, TrialStatus::Stopped, reasons.queued, now)?
        }
        TrialStatus::InProgress => {
            db::trials::transition(conn, &row.id, status, TrialStatus::StopInitiated, reasons.running, now)?
        }
        TrialStatus::StopInitiated => true,
        _ => return Ok(None),
    };
    if !moved {
        // The worker changed the status between our read and our write (PostgreSQL only: SQLite's write
        // transaction excludes that). The caller may retry and will see the new state.
        return Err(Error::conflict(
            crate::error::CONCURRENT_UPDATE,
            format!("trial {} changed status meanwhile; retry", row.id),
        ));
    }
    if status == TrialStatus::Scheduled {
        let stopped = db::trials::find(conn, &row.id)?.ok_or_else(|| Error::internal("a stopped trial vanished"))?;
        delivery::enqueue(conn, webhooks, &notice(&stopped)?, Event::Ended(TrialStatus::Stopped))?;
    }
    Ok(Some(status))
}
