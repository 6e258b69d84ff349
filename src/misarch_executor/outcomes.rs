//! What the executor's event stream (`GET …/events`) tells: one unnamed message per outcome of a version, in the
//! executor's two forms. A trial that ran (its metrics arrived) tells the dashboard link
//! `<eris>/d/<testUUID>-<testVersion>`, the form the frontend recognises as success, whatever its goals say; one
//! that could not run, or a start that was refused, tells `Error occurred during experiment execution: <why>`; a
//! stopped trial tells nothing (the frontend has said "stopped" already).
//!
//! Every outcome is read from the record, so a subscriber that comes late or reconnects is told what it missed:
//! with `Last-Event-ID` (each message's id is the outcome's time in microseconds), everything after it; without
//! (the frontend's way), the newest outcome of a start through this API that no stream has told yet, so a run that
//! ended before the frontend's subscription arrived still stops its spinner, a reconnect does not repeat an alert
//! already shown, and a scheduled run nobody watched is not taken for the one the frontend just started.

use chrono::{DateTime, Utc};

use super::VersionKey;
use crate::db::{self, Db, misarch_versions as versions_db};
use crate::error::Result;
use crate::time;
use crate::trial_status::TrialStatus;
use crate::trials::Trial;

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub at: DateTime<Utc>,
    pub message: String,
    /// Whether it is the end of a run started through this API (or a start it refused): only such an outcome is
    /// told to a subscriber without `Last-Event-ID` that came after it, since only such a run has a frontend
    /// waiting for its end. A scheduled run's end is told to those subscribed when it ends.
    pub asked_here: bool,
}

impl Outcome {
    /// The message's `id:`: its time in microseconds since 1970.
    pub fn id(&self) -> String {
        self.at.timestamp_micros().to_string()
    }
}

/// The executor's error form.
pub fn error_message(why: &str) -> String {
    format!("Error occurred during experiment execution: {why}")
}

/// The success form: eris's own link for the version's newest dashboard (`GET /d/{testUUID}-{testVersion}`).
pub fn dashboard_link(base: &str, key: &VersionKey) -> String {
    format!("{}/d/{}-{}", base.trim_end_matches('/'), key.test_uuid, key.test_version)
}

/// A `Last-Event-ID` as this stream writes it.
pub fn parse_id(text: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(text.trim().parse().ok()?)
}

/// What one ended trial tells, if anything.
fn of_trial(trial: &Trial, link: &str) -> Option<Outcome> {
    let at = trial.completed_at?;
    let message = match trial.status {
        TrialStatus::Stopped => return None,
        _ if trial.metrics.is_some() => link.to_owned(),
        status => {
            let why = trial.status_reason.clone().unwrap_or_else(|| format!("the trial ended {}", status.as_str()));
            error_message(&why)
        }
    };
    Some(Outcome { at, message, asked_here: trial.initiated_from == super::INITIATED_FROM })
}

/// The outcomes after `after` (all when None), oldest first, at most 100.
pub async fn since(db: &Db, key: &VersionKey, after: Option<DateTime<Utc>>, link: &str) -> Result<Vec<Outcome>> {
    let key = key.clone();
    let (row, ended) = db
        .run(move |conn| {
            let row = versions_db::find(conn, &key.test_uuid.to_string(), &key.test_version)?;
            let Some(row) = row else { return Ok((None, Vec::new())) };
            let ended = versions_db::ended_trials(conn, &row.experiment_id, after.map(time::to_db), 100)?;
            Ok((Some(row), ended))
        })
        .await?;
    let Some(row) = row else { return Ok(Vec::new()) };
    let mut outcomes = Vec::new();
    for trial in ended {
        outcomes.extend(of_trial(&Trial::try_from(trial)?, link));
    }
    if let (Some(message), Some(at)) = (row.start_error, row.start_error_at.map(time::from_db))
        && after.is_none_or(|after| at > after)
    {
        outcomes.push(Outcome { at, message, asked_here: true });
    }
    outcomes.sort_by_key(|outcome| outcome.at);
    Ok(outcomes)
}

/// Where a subscriber without `Last-Event-ID` starts: after what some stream has told already.
pub async fn told_through(db: &Db, key: &VersionKey) -> Result<Option<DateTime<Utc>>> {
    let key = key.clone();
    let row = db.run(move |conn| versions_db::find(conn, &key.test_uuid.to_string(), &key.test_version)).await?;
    Ok(row.and_then(|row| row.told_through).map(time::from_db))
}

/// Notes that the outcomes up to `at` were told.
pub async fn mark_told(db: &Db, key: &VersionKey, at: DateTime<Utc>) -> Result<()> {
    let key = key.clone();
    db.run(move |conn| versions_db::told(conn, &key.test_uuid.to_string(), &key.test_version, time::to_db(at))).await
}

/// The trial behind `/d/{testUUID}-{testVersion}`: the version's newest trial that ran (has metrics).
pub async fn newest_run(db: &Db, key: &VersionKey) -> Result<Option<Trial>> {
    let key = key.clone();
    let rows = db
        .run(move |conn| {
            let Some(row) = versions_db::find(conn, &key.test_uuid.to_string(), &key.test_version)? else {
                return Ok(Vec::new());
            };
            db::misarch_versions::newest_with_metrics(conn, &row.experiment_id)
        })
        .await?;
    rows.into_iter().next().map(Trial::try_from).transpose()
}
