//! The scheduler: turns due schedules into queued trials. The database is the truth (each schedule's
//! `next_run_at`); this loop sleeps until the earliest one, or until a schedule changes, and fires each due
//! schedule in a transaction of its own: create the trial, count down `recurrence_left`, advance `next_run_at`.
//!
//! Never early: a schedule fires only once `now >= next_run_at`. Never twice: a trial is unique per schedule and
//! instant, and `next_run_at` advances in the same transaction, so several schedulers (replicas) can run at once.
//! Never silently lost: instants that pass while eris or its database is down are counted as `missed_fires`, and
//! one of them is caught up under `misfire_policy` run_once. A schedule whose fire fails is retried later and never
//! holds up the others.

pub mod plan;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::cron::Recurrence;
use crate::db::{self, Db, DbConnection, write_transaction};
use crate::error::{DUPLICATE, Error, Result};
use crate::json::{from_optional_text, from_text};
use crate::schedules::windows::Verdict;
use crate::schedules::{ConcurrencyPolicy, MisfirePolicy, RunWindows};
use crate::telemetry;
use crate::time;
use crate::transient::{self, Retrier};
use crate::trials::{self, NewTrial};
use crate::wakeups::Wakeups;

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How late a missed instant may be and still get its catch-up trial (`misfire_policy` run_once).
    pub misfire_deadline: Duration,
    /// How long the scheduler sleeps at most; bounds how soon it notices changes made through another replica.
    pub poll_interval: StdDuration,
    /// How long a schedule whose fire failed waits before the next try.
    pub retry_after: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            misfire_deadline: Duration::hours(1),
            poll_interval: StdDuration::from_secs(10),
            retry_after: Duration::seconds(30),
        }
    }
}

/// What one fire did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// A trial was queued.
    Created { trial_id: String, scheduled_for: DateTime<Utc>, catch_up: bool, missed: i64 },
    /// No trial: the instant was skipped (`forbid` while a trial of the schedule was active) or missed.
    NoTrial { skipped: bool, missed: i64 },
    /// Nothing was due any more (the schedule changed, or another replica fired it).
    NotDue,
}

#[derive(Clone)]
pub struct Scheduler {
    db: Db,
    wakeups: Wakeups,
    config: SchedulerConfig,
}

/// Due schedules fired per query; more are fetched at once when a batch is full.
const BATCH: i64 = 100;
/// Fires made at once on PostgreSQL; leaves connections of the pool (10) to the API and the worker.
const PARALLEL_FIRES: usize = 6;

impl Scheduler {
    pub fn new(db: Db, wakeups: Wakeups, config: SchedulerConfig) -> Self {
        Self { db, wakeups, config }
    }

    /// SQLite has one writer at a time: fires in parallel would only wait for each other in SQLite's busy handler,
    /// which sleeps in growing steps, so there they go one after another.
    fn parallel_fires(&self) -> usize {
        if self.db.backend() == "sqlite" { 1 } else { PARALLEL_FIRES }
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("scheduler started");
        let notify = self.wakeups.scheduler.clone();
        while !shutdown.is_cancelled() {
            // Registered before looking at the database, so a change made meanwhile still wakes us.
            let changed = notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let sleep_for = match self.tick().await {
                Ok(Some(wake_at)) => (wake_at - Utc::now()).to_std().unwrap_or_default().min(self.config.poll_interval),
                Ok(None) => self.config.poll_interval,
                Err(error) => {
                    tracing::error!("scheduler: {}", error.message);
                    self.config.poll_interval
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep_for) => {}
                () = changed => {}
                () = shutdown.cancelled() => {}
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// Fires every due schedule; returns when something is due next.
    pub async fn tick(&self) -> Result<Option<DateTime<Utc>>> {
        loop {
            let now = time::to_db(time::now());
            let due = self.db.run(move |conn| db::schedules::due(conn, now, BATCH)).await?;
            // Schedules due at the same instant fire side by side (each in its own transaction), so the last of
            // many does not wait for all the others.
            futures_util::stream::iter(&due)
                .for_each_concurrent(self.parallel_fires(), |schedule| self.fire_isolated(&schedule.id))
                .await;
            if (due.len() as i64) < BATCH {
                break;
            }
        }
        Ok(self.db.run(db::schedules::earliest_wake).await?.map(time::from_db))
    }

    /// Fires one schedule; a failure is recorded on that schedule and retried later, and never stops the tick.
    async fn fire_isolated(&self, id: &str) {
        // A busy moment is tried again within milliseconds; only a lasting failure takes the slow path below.
        match transient::retry(Retrier::Scheduler, || self.fire(id, time::now())).await {
            Ok(FireOutcome::Created { trial_id, scheduled_for, catch_up, missed }) => {
                telemetry::schedule_fires("created", 1);
                telemetry::schedule_fires("missed", missed.unsigned_abs());
                if !catch_up {
                    telemetry::fire_latency(seconds(time::now() - scheduled_for));
                }
                tracing::info!(schedule = id, trial = %trial_id, %scheduled_for, catch_up, missed, "schedule fired");
                self.wakeups.trial_queued();
            }
            Ok(FireOutcome::NoTrial { skipped, missed }) => {
                telemetry::schedule_fires("skipped", u64::from(skipped));
                telemetry::schedule_fires("missed", missed.unsigned_abs());
                tracing::warn!(schedule = id, skipped, missed, "schedule fire made no trial");
            }
            Ok(FireOutcome::NotDue) => {}
            Err(error) => {
                telemetry::schedule_fires("failed", 1);
                tracing::error!(schedule = id, code = error.code, "schedule fire failed: {}", error.message);
                let retry_at = time::to_db(time::now() + self.config.retry_after);
                let (key, message) = (id.to_owned(), error.message);
                let recorded =
                    self.db.run(move |conn| db::schedules::set_fire_error(conn, &key, &message, retry_at)).await;
                if let Err(error) = recorded {
                    tracing::error!(schedule = id, "cannot record the failed fire: {}", error.message);
                }
            }
        }
    }

    /// Fires one schedule if it is due at `now`, in one transaction. (`now` is a parameter so that tests can
    /// play out downtimes.)
    pub async fn fire(&self, id: &str, now: DateTime<Utc>) -> Result<FireOutcome> {
        let (key, deadline) = (id.to_owned(), self.config.misfire_deadline);
        let outcome = self
            .db
            .run(move |conn| write_transaction(conn, |conn| fire_in_transaction(conn, &key, deadline, now)))
            .await;
        match outcome {
            // Another scheduler created this instant's trial first, or a request changed the schedule meanwhile:
            // the transaction was rolled back and the next tick sees the new state.
            Err(error) if error.code == DUPLICATE || error.code == crate::error::CONCURRENT_UPDATE => {
                Ok(FireOutcome::NotDue)
            }
            other => other,
        }
    }
}

fn fire_in_transaction(
    conn: &mut DbConnection,
    id: &str,
    misfire_deadline: Duration,
    now: DateTime<Utc>,
) -> Result<FireOutcome> {
    let Some(mut row) = db::schedules::find_by_id(conn, id)? else { return Ok(FireOutcome::NotDue) };
    let Some(next_run_at) = row.next_run_at.map(time::from_db) else { return Ok(FireOutcome::NotDue) };
    if row.paused || next_run_at > now {
        return Ok(FireOutcome::NotDue);
    }
    let recurrence = Recurrence::parse(&row.recurrence_pattern, &row.timezone, now)
        .map_err(|e| Error::internal(format!("stored schedule cannot be read: {e}")))?;
    let misfire_policy = MisfirePolicy::parse(&row.misfire_policy)?;
    let plan = plan::plan(&recurrence, next_run_at, now, misfire_policy, misfire_deadline);

    let windows: Option<RunWindows> = from_optional_text(row.run_windows.as_deref())?;
    let mut created = None;
    let mut skipped = false;
    let mut deferred = None;
    if let Some(instant) = plan.fire_at {
        let forbid = ConcurrencyPolicy::parse(&row.concurrency_policy)? == ConcurrencyPolicy::Forbid;
        let verdict = windows.as_ref().map_or(Verdict::Fire, |windows| windows.verdict(instant, recurrence.timezone()));
        if crate::safety::engaged(conn)? {
            tracing::warn!(schedule = id, %instant, "fire skipped: the emergency stop is engaged");
            skipped = true;
        } else if let Some(blackout) = crate::blackouts::active_at(conn, now)? {
            let blackout = crate::blackouts::describe(&blackout);
            tracing::warn!(schedule = id, %instant, %blackout, "fire skipped: a blackout is in force");
            skipped = true;
        } else if verdict == Verdict::Skip {
            tracing::info!(schedule = id, %instant, "fire skipped: outside the schedule's run windows");
            skipped = true;
        } else if let Verdict::DeferTo(later) = verdict {
            // Fired at the next allowed time instead; the instants until then make no trials of their own.
            tracing::info!(schedule = id, %instant, %later, "fire deferred: outside the schedule's run windows");
            deferred = Some(later);
        } else if forbid && db::trials::schedule_has_active_trial(conn, id)? {
            skipped = true;
        } else {
            let trial = trials::queue(
                conn,
                NewTrial {
                    experiment_id: crate::experiments::parse_id(&row.experiment_id)?,
                    schedule_id: Some(crate::experiments::parse_id(&row.id)?),
                    parameters: from_text(&row.parameters)?,
                    metadata: from_text(&row.metadata)?,
                    ticket: from_text(&row.ticket)?,
                    scheduled_for: Some(instant),
                    initiated_by: format!("schedule {} (created by {})", row.id, row.created_by),
                    initiated_from: if plan.catch_up { "scheduler (catch-up)" } else { "scheduler" }.to_owned(),
                    sweep: None,
                    queued_at: None,
                    dry_run: false,
                },
            )?;
            row.recurrence_left = row.recurrence_left.map(|left| left - 1);
            row.last_run_at = Some(time::to_db(instant));
            created = Some((trial.id, instant));
        }
    }
    row.missed_fires += plan.missed;
    row.skipped_fires += i64::from(skipped);
    row.next_run_at = match row.recurrence_left {
        Some(left) if left <= 0 => None,
        _ => deferred.or(plan.next_run_at).map(time::to_db),
    };
    row.fire_error = None;
    row.fire_retry_at = None;
    let read_at = row.updated_at;
    row.updated_at = time::to_db(now);
    if !db::schedules::update(conn, &row, read_at)? {
        return Err(Error::conflict(crate::error::CONCURRENT_UPDATE, format!("schedule {id} changed while it fired")));
    }
    Ok(match created {
        Some((trial_id, scheduled_for)) => {
            FireOutcome::Created { trial_id, scheduled_for, catch_up: plan.catch_up, missed: plan.missed }
        }
        None => FireOutcome::NoTrial { skipped, missed: plan.missed },
    })
}

fn seconds(duration: Duration) -> f64 {
    duration.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}
