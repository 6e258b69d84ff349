//! Retention (docs/safety.md#retention): a periodic job, on one replica at a time, that removes the ended trials a
//! policy no longer keeps, by age and/or beyond the last N of each schedule. A trial on hold is never removed. Every
//! removal is an entry of the audit log, written in the same transaction, saying what was removed and why; the audit
//! log itself is never pruned. Without a policy (the default) nothing is removed and the job does not run.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;

use crate::db::{self, AuditRow, Db, write_transaction};
use crate::error::Result;
use crate::time;

/// The lease that makes one replica at a time run the job.
const LEASE: &str = "retention";
/// Trials removed per transaction.
const BATCH: i64 = 200;

/// What the policy keeps. Both unset: everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Ended trials older than this (by `completed_at`) are removed.
    pub max_age: Option<Duration>,
    /// Of each schedule's ended trials, the latest this many are kept; older ones are removed.
    pub keep_per_schedule: Option<i64>,
    /// How often the job looks.
    pub every: StdDuration,
}

impl Policy {
    pub fn removes_anything(&self) -> bool {
        self.max_age.is_some() || self.keep_per_schedule.is_some()
    }
}

/// One trial removed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub trial: String,
    pub why: String,
}

/// Removes, at `now`, every trial the policy no longer keeps; returns them.
pub async fn run_once(db: &Db, policy: &Policy, now: DateTime<Utc>) -> Result<Vec<Removed>> {
    let mut removed = Vec::new();
    loop {
        let policy = policy.clone();
        let batch = db.run(move |conn| write_transaction(conn, |conn| remove_batch(conn, &policy, now))).await?;
        let done = (batch.len() as i64) < BATCH;
        removed.extend(batch);
        if done {
            return Ok(removed);
        }
    }
}

fn remove_batch(conn: &mut db::DbConnection, policy: &Policy, now: DateTime<Utc>) -> Result<Vec<Removed>> {
    let mut doomed: Vec<(db::trials::RetentionCandidate, String)> = Vec::new();
    if let Some(max_age) = policy.max_age {
        let before = time::to_db(now - max_age);
        for trial in db::trials::ended_before(conn, before, BATCH)? {
            let why = format!("older than {} day(s)", max_age.num_days());
            doomed.push((trial, why));
        }
    }
    if let Some(keep) = policy.keep_per_schedule {
        for schedule in db::trials::schedules_with_more_ended_than(conn, keep)? {
            for trial in db::trials::ended_beyond_latest(conn, &schedule, keep, BATCH * 10)? {
                if doomed.len() as i64 >= BATCH {
                    break;
                }
                if !trial.held && !doomed.iter().any(|(known, _)| known.id == trial.id) {
                    doomed.push((trial, format!("beyond the latest {keep} of schedule {schedule}")));
                }
            }
        }
    }
    doomed.truncate(BATCH as usize);
    let mut removed = Vec::new();
    for (trial, why) in doomed {
        if !db::trials::delete_ended(conn, &trial.id)? {
            continue;
        }
        let what = format!(
            "retention removed trial {} of experiment {}{} ({}, ended {}): {why}",
            trial.id,
            trial.experiment_id,
            trial.schedule_id.as_deref().map(|s| format!(", schedule {s}")).unwrap_or_default(),
            trial.status,
            trial.completed_at.map(|at| time::from_db(at).to_rfc3339()).unwrap_or_default(),
        );
        db::audit::insert(
            conn,
            &AuditRow {
                id: uuid::Uuid::new_v4().to_string(),
                created_at: time::to_db(time::now()),
                actor: "retention".to_owned(),
                action: "trial.remove".to_owned(),
                method: "RETENTION".to_owned(),
                path: what,
                target_id: Some(trial.id.clone()),
                body_sha256: None,
                status: 200,
                outcome: crate::audit::Outcome::Succeeded.as_str().to_owned(),
                request_id: None,
            },
        )?;
        removed.push(Removed { trial: trial.id, why });
    }
    Ok(removed)
}

/// Runs the job every `policy.every` on the replica that holds its lease, until `shutdown`.
pub async fn run(db: Db, policy: Policy, shutdown: CancellationToken) {
    if !policy.removes_anything() {
        return;
    }
    let holder = crate::process::id("retention");
    loop {
        let (db_for_lease, me) = (db.clone(), holder.clone());
        let ttl = Duration::from_std(policy.every * 2).unwrap_or(Duration::hours(2));
        let now = time::now();
        let holds = db_for_lease
            .run(move |conn| db::lease::acquire(conn, LEASE, &me, time::to_db(now), time::to_db(now + ttl)))
            .await;
        match holds {
            Ok(true) => match run_once(&db, &policy, time::now()).await {
                Ok(removed) if removed.is_empty() => tracing::debug!("retention: nothing to remove"),
                Ok(removed) => {
                    tracing::info!(removed = removed.len(), "retention removed trials (each in the audit log)")
                }
                Err(error) => tracing::warn!("retention failed, tried again later: {}", error.message),
            },
            Ok(false) => {}
            Err(error) => tracing::warn!("retention cannot take its lease: {}", error.message),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(policy.every) => {}
        }
    }
}
