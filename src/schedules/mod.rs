//! Schedules: when an experiment runs by itself. The write-time rules live here; firing is the scheduler's job.

pub mod windows;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cron::Recurrence;
use crate::db::page::{Page, PageRequest};
use crate::db::{self, Db, DbConnection, ScheduleRow, TrialBrief, write_transaction};
use crate::error::{Error, Result};
use crate::experiments::{self, JsonObject, parse_id};
use crate::json::{apply_patch, from_optional_text, from_text, to_text};
use crate::redact;
use crate::time;
use crate::transient;
use crate::trial_status::TrialStatus;
pub use windows::RunWindows;

/// How many of its trials a schedule lists; `GET /trial?schedule=` has them all.
pub const TRIALS_SHOWN: i64 = 100;

/// What to do about fire instants missed while eris (or its database) was down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    /// One catch-up trial if the latest missed instant is recent enough.
    #[default]
    RunOnce,
    /// Missed instants are counted, not run.
    Skip,
}

/// What to do when a fire comes while a trial of the same schedule is queued or running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyPolicy {
    /// Queue the new trial; it runs after the others.
    #[default]
    Queue,
    /// Skip (and count) the fire.
    Forbid,
}

macro_rules! text_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Result<Self> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(Error::internal(format!("stored {} '{other}' is unknown", stringify!($name)))),
                }
            }
        }
    };
}
text_enum!(MisfirePolicy { RunOnce => "run_once", Skip => "skip" });
text_enum!(ConcurrencyPolicy { Queue => "queue", Forbid => "forbid" });

/// A trial as listed on its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleTrial {
    pub id: Uuid,
    #[schema(value_type = String, example = "Succeeded")]
    pub status: TrialStatus,
    pub executed_at: Option<DateTime<Utc>>,
}

/// A schedule as the API returns it: values under secret-looking keys of `metadata`, `parameters` and `ticket` are
/// shown as `*****`. Sending `*****` back under such a key in a PUT or PATCH keeps the stored value at that place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    pub id: Uuid,
    pub experiment_id: Uuid,
    /// Copied into each trial the schedule creates.
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    /// Override the experiment's parameters in each trial the schedule creates.
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    /// A change ticket, copied into each trial.
    #[schema(value_type = Object)]
    pub ticket: JsonObject,
    /// A cron pattern: 5 fields, an optional leading seconds field, or a macro such as `@daily`.
    pub recurrence_pattern: String,
    /// The IANA time zone the pattern is read in.
    pub timezone: String,
    /// How many trials the schedule creates in all; null means forever.
    pub recurrence_count: Option<i64>,
    /// How many trials it still creates; null means forever.
    pub recurrence_left: Option<i64>,
    pub paused: bool,
    pub misfire_policy: MisfirePolicy,
    pub concurrency_policy: ConcurrencyPolicy,
    /// When it may fire, in its time zone, and what becomes of a fire outside (docs/safety.md#run-windows); null:
    /// at any time.
    pub run_windows: Option<RunWindows>,
    /// The next instant the schedule really fires at (within its run windows); null when paused or used up.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The cron instant of the last trial it created.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Fire instants that passed without a trial on time, because eris or its database was down.
    pub missed_fires: i64,
    /// Fires skipped: a trial of the schedule was still queued or running (`concurrency_policy` forbid), the fire
    /// fell outside the run windows (`outside` skip), or the emergency stop held.
    pub skipped_fires: i64,
    /// Why the last fire failed, while it keeps failing (eris retries it); null when all is well.
    pub fire_error: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its most recent trials (at most 100), oldest first.
    pub trials: Vec<ScheduleTrial>,
}

/// The body of `POST /experiment/{id}/schedule` and `PUT …/schedule/{schedule_id}`. PUT replaces the schedule:
/// a field left out takes its default (so a PUT without `recurrence_count` makes the schedule run forever).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"recurrence_pattern": "0 2 * * *", "timezone": "Europe/Berlin", "recurrence_count": 30,
    "parameters": {"health_url": "http://127.0.0.1:9000/health"}}))]
pub struct ScheduleInput {
    pub recurrence_pattern: String,
    #[serde(default = "utc")]
    pub timezone: String,
    #[serde(default)]
    pub recurrence_count: Option<i64>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub ticket: JsonObject,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub misfire_policy: MisfirePolicy,
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// When it may fire: `{"windows": [{"days", "from", "to"}], "exclusions": [...], "outside": "skip" | "defer"}`.
    #[serde(default)]
    pub run_windows: Option<RunWindows>,
}

fn utc() -> String {
    "UTC".to_owned()
}

/// The body of `PATCH …/schedule/{schedule_id}`: each field given replaces that field; others stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"paused": true}))]
pub struct SchedulePatch {
    pub recurrence_pattern: Option<String>,
    pub timezone: Option<String>,
    /// A number sets the count (and resets `recurrence_left` to it), `null` makes the schedule run forever.
    #[serde(default, deserialize_with = "crate::json::double_option")]
    #[schema(value_type = Option<i64>)]
    pub recurrence_count: Option<Option<i64>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonObject>,
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<JsonObject>,
    #[schema(value_type = Option<Object>)]
    pub ticket: Option<JsonObject>,
    pub paused: Option<bool>,
    pub misfire_policy: Option<MisfirePolicy>,
    pub concurrency_policy: Option<ConcurrencyPolicy>,
    /// An object sets the run windows, `null` removes them.
    #[serde(default, deserialize_with = "crate::json::double_option")]
    #[schema(value_type = Option<RunWindows>)]
    pub run_windows: Option<Option<RunWindows>>,
}

/// The user-settable part of a schedule.
#[derive(Debug, Clone)]
struct Settings {
    recurrence_pattern: String,
    timezone: String,
    recurrence_count: Option<i64>,
    metadata: JsonObject,
    parameters: JsonObject,
    ticket: JsonObject,
    paused: bool,
    misfire_policy: MisfirePolicy,
    concurrency_policy: ConcurrencyPolicy,
    run_windows: Option<RunWindows>,
}

impl From<ScheduleInput> for Settings {
    fn from(input: ScheduleInput) -> Self {
        Self {
            recurrence_pattern: input.recurrence_pattern,
            timezone: input.timezone,
            recurrence_count: input.recurrence_count,
            metadata: input.metadata,
            parameters: input.parameters,
            ticket: input.ticket,
            paused: input.paused,
            misfire_policy: input.misfire_policy,
            concurrency_policy: input.concurrency_policy,
            run_windows: input.run_windows,
        }
    }
}

impl Settings {
    fn of(row: &ScheduleRow) -> Result<Self> {
        Ok(Self {
            recurrence_pattern: row.recurrence_pattern.clone(),
            timezone: row.timezone.clone(),
            recurrence_count: row.recurrence_count,
            metadata: from_text(&row.metadata)?,
            parameters: from_text(&row.parameters)?,
            ticket: from_text(&row.ticket)?,
            paused: row.paused,
            misfire_policy: MisfirePolicy::parse(&row.misfire_policy)?,
            concurrency_policy: ConcurrencyPolicy::parse(&row.concurrency_policy)?,
            run_windows: from_optional_text(row.run_windows.as_deref())?,
        })
    }

    /// Puts the stored values back where the request sent `*****` under a secret-looking key (see
    /// [`redact::restore`]); with nothing stored (a new schedule), such a `*****` is refused.
    fn restore_secrets(&mut self, stored: Option<&Self>) -> Result<()> {
        redact::restore_object(&mut self.metadata, stored.map(|s| &s.metadata), "metadata")?;
        redact::restore_object(&mut self.parameters, stored.map(|s| &s.parameters), "parameters")?;
        redact::restore_object(&mut self.ticket, stored.map(|s| &s.ticket), "ticket")
    }

    fn merge(mut self, patch: SchedulePatch) -> Self {
        apply_patch!(patch => self; SchedulePatch {
            recurrence_pattern, timezone, recurrence_count, metadata, parameters, ticket, paused, misfire_policy,
            concurrency_policy, run_windows,
        });
        self
    }

    /// Checks the settings; returns the parsed recurrence.
    fn validate(&self, now: DateTime<Utc>) -> Result<Recurrence> {
        if let Some(count) = self.recurrence_count
            && count < 0
        {
            return Err(Error::invalid(
                "invalid_recurrence_count",
                "recurrence_count",
                format!("recurrence_count must be 0 or more (null means forever), not {count}"),
            ));
        }
        let recurrence = Recurrence::parse(&self.recurrence_pattern, &self.timezone, now).map_err(|e| {
            let code = match e.field() {
                "timezone" => "invalid_timezone",
                _ => "invalid_recurrence_pattern",
            };
            Error::invalid(code, e.field(), e.to_string())
        })?;
        if let Some(windows) = &self.run_windows {
            windows.validate()?;
            let first = recurrence.next_after(now).and_then(|next| windows.real_next(&recurrence, next));
            if first.is_none() {
                return Err(Error::invalid(
                    "invalid_run_windows",
                    "run_windows",
                    "the pattern never fires inside these run windows (looked two years ahead)",
                ));
            }
        }
        Ok(recurrence)
    }

    fn write_into(&self, row: &mut ScheduleRow) {
        row.recurrence_pattern = self.recurrence_pattern.trim_ascii().to_owned();
        row.timezone = self.timezone.clone();
        row.recurrence_count = self.recurrence_count;
        row.metadata = to_text(&self.metadata);
        row.parameters = to_text(&self.parameters);
        row.ticket = to_text(&self.ticket);
        row.paused = self.paused;
        row.misfire_policy = self.misfire_policy.as_str().to_owned();
        row.concurrency_policy = self.concurrency_policy.as_str().to_owned();
        row.run_windows = self.run_windows.as_ref().map(to_text);
    }

    /// Whether a change to these settings moves the schedule's timing (and so its `next_run_at`).
    fn timing_differs(&self, other: &Self) -> bool {
        self.recurrence_pattern.trim_ascii() != other.recurrence_pattern.trim_ascii()
            || self.timezone != other.timezone
            || self.paused != other.paused
            || self.recurrence_count != other.recurrence_count
            || self.run_windows != other.run_windows
    }
}

/// The next instant a schedule fires after `now`, or None when it is paused or has no runs left.
pub fn next_run(
    recurrence: &Recurrence,
    paused: bool,
    recurrence_left: Option<i64>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if paused || recurrence_left.is_some_and(|left| left <= 0) {
        return None;
    }
    recurrence.next_after(now)
}

/// A JSON object with the values under its secret-looking keys masked.
fn masked(mut object: JsonObject) -> JsonObject {
    redact::redact_object(&mut object);
    object
}

impl Schedule {
    /// The API's view of a stored schedule, secrets masked. The scheduler reads the row itself, never this view.
    fn from_row(row: ScheduleRow, trials: Vec<TrialBrief>) -> Result<Self> {
        let settings = Settings::of(&row)?;
        let stored_next = row.next_run_at.map(time::from_db);
        let next_run_at = match (&settings.run_windows, stored_next) {
            // The stored instant is the scheduler's next look; the windows say when that really fires.
            (Some(windows), Some(next)) => {
                match Recurrence::parse(&settings.recurrence_pattern, &settings.timezone, next) {
                    Ok(recurrence) => windows.real_next(&recurrence, next),
                    Err(_) => stored_next,
                }
            }
            _ => stored_next,
        };
        Ok(Self {
            id: parse_id(&row.id)?,
            experiment_id: parse_id(&row.experiment_id)?,
            metadata: masked(settings.metadata),
            parameters: masked(settings.parameters),
            ticket: masked(settings.ticket),
            recurrence_pattern: settings.recurrence_pattern,
            timezone: settings.timezone,
            recurrence_count: settings.recurrence_count,
            recurrence_left: row.recurrence_left,
            paused: settings.paused,
            misfire_policy: settings.misfire_policy,
            concurrency_policy: settings.concurrency_policy,
            run_windows: settings.run_windows,
            next_run_at,
            last_run_at: row.last_run_at.map(time::from_db),
            missed_fires: row.missed_fires,
            skipped_fires: row.skipped_fires,
            fire_error: row.fire_error,
            created_by: row.created_by,
            created_at: time::from_db(row.created_at),
            updated_at: time::from_db(row.updated_at),
            trials: trials
                .into_iter()
                .map(|brief| {
                    Ok(ScheduleTrial {
                        id: parse_id(&brief.id)?,
                        status: TrialStatus::parse(&brief.status)?,
                        executed_at: brief.executed_at.map(time::from_db),
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    fn load(conn: &mut DbConnection, row: ScheduleRow) -> Result<Self> {
        let trials = db::trials::briefs_of_schedule(conn, &row.id, TRIALS_SHOWN)?;
        Self::from_row(row, trials)
    }
}

fn schedule_not_found(experiment_id: Uuid, id: Uuid) -> Error {
    Error::not_found("schedule_not_found", format!("experiment {experiment_id} has no schedule {id}"))
}

pub async fn create(db: &Db, experiment_id: Uuid, input: ScheduleInput, actor: &str) -> Result<Schedule> {
    let mut settings = Settings::from(input);
    settings.restore_secrets(None)?;
    let now = time::now();
    let recurrence = settings.validate(now)?;
    let mut row = ScheduleRow {
        id: Uuid::new_v4().to_string(),
        experiment_id: experiment_id.to_string(),
        metadata: String::new(),
        parameters: String::new(),
        ticket: String::new(),
        recurrence_pattern: String::new(),
        timezone: String::new(),
        recurrence_count: None,
        recurrence_left: settings.recurrence_count,
        paused: false,
        misfire_policy: String::new(),
        concurrency_policy: String::new(),
        next_run_at: next_run(&recurrence, settings.paused, settings.recurrence_count, now).map(time::to_db),
        last_run_at: None,
        created_by: actor.to_owned(),
        created_at: time::to_db(now),
        updated_at: time::to_db(now),
        missed_fires: 0,
        skipped_fires: 0,
        fire_error: None,
        fire_retry_at: None,
        run_windows: None,
    };
    settings.write_into(&mut row);
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            experiments::load_active(conn, experiment_id)?;
            db::schedules::insert(conn, &row)?;
            Schedule::from_row(row, Vec::new())
        })
    })
    .await
}

pub async fn find(db: &Db, experiment_id: Uuid, id: Uuid) -> Result<Schedule> {
    db.run(move |conn| {
        experiments::load(conn, experiment_id)?;
        let row = db::schedules::find(conn, &experiment_id.to_string(), &id.to_string())?
            .ok_or_else(|| schedule_not_found(experiment_id, id))?;
        Schedule::load(conn, row)
    })
    .await
}

pub async fn list(db: &Db, experiment_id: Uuid, page: PageRequest) -> Result<Page<Schedule>> {
    db.run(move |conn| {
        experiments::load(conn, experiment_id)?;
        db::schedules::list(conn, &experiment_id.to_string(), &page)?.map(|row| Schedule::load(conn, row))
    })
    .await
}

/// How an update changes a schedule.
#[derive(Clone)]
pub enum Change {
    Replace(ScheduleInput),
    Merge(SchedulePatch),
}

/// Applies a PUT or PATCH. Whenever the request changes `recurrence_count`, `recurrence_left` is reset to it
/// (Kallisti's rule). `next_run_at` is recomputed from now when the timing changes (pattern, zone, pause,
/// count), and kept otherwise so that a due fire is not lost. A `*****` under a secret-looking key keeps the stored
/// value at that place.
///
/// The change is checked between a read and a write, not inside a transaction: no connection, and on SQLite no
/// write lock, is held while a pattern is checked. The write happens only if nobody changed the schedule since the
/// read; otherwise the update starts over from a new read.
pub async fn update(db: &Db, experiment_id: Uuid, id: Uuid, change: Change) -> Result<Schedule> {
    transient::retry_concurrent_update(|| update_once(db, experiment_id, id, change.clone())).await
}

async fn update_once(db: &Db, experiment_id: Uuid, id: Uuid, change: Change) -> Result<Schedule> {
    let mut row = db
        .run(move |conn| {
            experiments::load_active(conn, experiment_id)?;
            db::schedules::find(conn, &experiment_id.to_string(), &id.to_string())?
                .ok_or_else(|| schedule_not_found(experiment_id, id))
        })
        .await?;
    let old = Settings::of(&row)?;
    let mut new = match change {
        Change::Replace(input) => Settings::from(input),
        Change::Merge(patch) => old.clone().merge(patch),
    };
    new.restore_secrets(Some(&old))?;
    let now = time::now();
    let recurrence = new.validate(now)?;
    if new.recurrence_count != old.recurrence_count {
        row.recurrence_left = new.recurrence_count;
    }
    if new.timing_differs(&old) {
        row.next_run_at = next_run(&recurrence, new.paused, row.recurrence_left, now).map(time::to_db);
    }
    new.write_into(&mut row);
    // A changed schedule gets a fresh start: a fire that failed is tried again at once.
    row.fire_error = None;
    row.fire_retry_at = None;
    let read_at = row.updated_at;
    row.updated_at = time::to_db(now);
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            experiments::load_active(conn, experiment_id)?;
            if !db::schedules::update(conn, &row, read_at)? {
                return Err(Error::conflict(
                    crate::error::CONCURRENT_UPDATE,
                    format!("schedule {id} was changed meanwhile; retry"),
                ));
            }
            Schedule::load(conn, row)
        })
    })
    .await
}

/// Deletes a schedule. Its trials stay, and keep its id.
pub async fn delete(db: &Db, experiment_id: Uuid, id: Uuid) -> Result<()> {
    db.run(move |conn| {
        experiments::load(conn, experiment_id)?;
        if !db::schedules::delete(conn, &experiment_id.to_string(), &id.to_string())? {
            return Err(schedule_not_found(experiment_id, id));
        }
        Ok(())
    })
    .await
}
