//! Safety levers of the whole deployment (docs/safety.md). Today: the emergency stop.
//!
//! Engaging the emergency stop, in one transaction: records who engaged it and why, stops every queued trial
//! (`Stopped`, with its `stopped` webhook) and asks every running one to stop (`Stop Initiated`: the worker that runs
//! it, on whichever replica, sees that at its next heartbeat and stops it with its clean-up: post_steps run, MiSArch
//! failures are reset). Until it is released, nothing starts: `POST /trial`, sweeps and the MiSArch executor's
//! starts are refused with 409 `emergency_stop_engaged` (in [`crate::trials::queue_of`]), schedule fires are
//! skipped and counted (`skipped_fires`), and a worker that finds a queued trial (one queued in the instant of the
//! engagement) stops it instead of running it. It holds in the database, so every replica, and `eris safety`
//! when the API does not answer, sees the same.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{self, Db, DbConnection, EmergencyStopRow, write_transaction};
use crate::error::{DUPLICATE, Error, Result};
use crate::time;
use crate::trials::{self, StopReasons, Stopped};
use crate::webhooks::delivery::WebhookConfig;

/// The longest reason kept, in characters.
pub const MAX_REASON: usize = 1000;

/// The emergency stop as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EmergencyStop {
    /// Whether it holds now: no trial starts while it does.
    pub engaged: bool,
    /// The engagement that holds now, or the last one (released); null when it was never engaged.
    pub latest: Option<Engagement>,
}

/// One engagement of the emergency stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Engagement {
    pub id: Uuid,
    pub reason: String,
    pub engaged_by: String,
    pub engaged_at: DateTime<Utc>,
    pub released_by: Option<String>,
    pub released_at: Option<DateTime<Utc>>,
    /// How many trials engaging it stopped, queued and running.
    pub trials_stopped: i64,
}

impl Engagement {
    fn of_row(row: EmergencyStopRow) -> Result<Self> {
        Ok(Self {
            id: crate::experiments::parse_id(&row.id)?,
            reason: row.reason,
            engaged_by: row.engaged_by,
            engaged_at: time::from_db(row.engaged_at),
            released_by: row.released_by,
            released_at: row.released_at.map(time::from_db),
            trials_stopped: row.trials_stopped,
        })
    }
}

fn state(conn: &mut DbConnection) -> Result<EmergencyStop> {
    let latest = db::safety::latest(conn)?;
    let engaged = latest.as_ref().is_some_and(|row| row.active.is_some());
    Ok(EmergencyStop { engaged, latest: latest.map(Engagement::of_row).transpose()? })
}

pub async fn find(db: &Db) -> Result<EmergencyStop> {
    db.run(state).await
}

/// The reasons a trial stopped by `stop` gives.
fn stop_reasons(stop: &EmergencyStopRow) -> (String, String) {
    let by = format!("emergency stop engaged by {}: {}", stop.engaged_by, stop.reason);
    (format!("stopped before it started: {by}"), trials::stop_requested_because(&by))
}

/// Stops every unfinished trial (or only the queued ones) for `stop`.
fn stop_trials(
    conn: &mut DbConnection,
    stop: &EmergencyStopRow,
    webhooks: &WebhookConfig,
    only_queued: bool,
) -> Result<Stopped> {
    let (queued, running) = stop_reasons(stop);
    trials::stop_unfinished(conn, webhooks, StopReasons { queued: &queued, running: &running }, only_queued)
}

/// Engages the emergency stop for `reason`, by `actor`, and stops every trial; returns what it stopped, or `None`
/// when it already held (then nothing changed, and the state shows the engagement that holds).
pub async fn engage(
    db: &Db,
    actor: &str,
    reason: &str,
    webhooks: std::sync::Arc<WebhookConfig>,
) -> Result<(EmergencyStop, Option<Stopped>)> {
    let reason = reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(Error::invalid(
            "invalid_reason",
            "reason",
            format!("reason must say why, in 1 to {MAX_REASON} characters"),
        ));
    }
    let actor = actor.to_owned();
    let engaged = db
        .run(move |conn| {
            let attempt: Result<Option<Stopped>> = write_transaction(conn, |conn| {
                if db::safety::active(conn)?.is_some() {
                    return Ok(None);
                }
                let mut row = EmergencyStopRow {
                    id: Uuid::new_v4().to_string(),
                    reason,
                    engaged_by: actor,
                    engaged_at: time::to_db(time::now()),
                    released_by: None,
                    released_at: None,
                    active: Some(1),
                    trials_stopped: 0,
                };
                db::safety::insert(conn, &row)?;
                let stopped = stop_trials(conn, &row, &webhooks, false)?;
                row.trials_stopped = stopped.queued + stopped.running;
                db::safety::set_trials_stopped(conn, &row.id, row.trials_stopped)?;
                Ok(Some(stopped))
            });
            match attempt {
                // Another replica engaged it in the same instant: it holds, which is what was asked.
                Err(error) if error.code == DUPLICATE => Ok(None),
                other => other,
            }
        })
        .await?;
    Ok((find(db).await?, engaged))
}

/// Releases the emergency stop: trials may start again. Releasing it when it does not hold changes nothing.
pub async fn release(db: &Db, actor: &str) -> Result<(EmergencyStop, bool)> {
    let actor = actor.to_owned();
    let released = db.run(move |conn| db::safety::release(conn, &actor, time::to_db(time::now()))).await?;
    Ok((find(db).await?, released))
}

/// For the worker: when the emergency stop holds or a blackout is in force, stops the trials still queued (one
/// queued in the instant the stop was engaged, or queued before the blackout began) and returns how many; `None`
/// when trials may start. The worker then claims nothing.
pub fn holds(conn: &mut DbConnection, webhooks: &WebhookConfig) -> Result<Option<i64>> {
    if let Some(stop) = db::safety::active(conn)? {
        let stopped = write_transaction(conn, |conn| stop_trials(conn, &stop, webhooks, true))?;
        return Ok(Some(stopped.queued));
    }
    let Some(blackout) = crate::blackouts::active_at(conn, time::now())? else { return Ok(None) };
    let queued = format!("stopped before it started: {} is in force", crate::blackouts::describe(&blackout));
    let reasons = StopReasons { queued: &queued, running: &queued };
    let stopped = write_transaction(conn, |conn| trials::stop_unfinished(conn, webhooks, reasons, true))?;
    Ok(Some(stopped.queued))
}

/// For the scheduler: whether the emergency stop holds (a fire is then skipped).
pub fn engaged(conn: &mut DbConnection) -> Result<bool> {
    Ok(db::safety::active(conn)?.is_some())
}
