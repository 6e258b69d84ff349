//! What research reads of stored trials ([`TrialFigures`]): for comparisons, sweeps' results, trends, and the
//! regression check when a trial ends. The rules themselves are in [`crate::research`].

use serde_json::Value;
use uuid::Uuid;

use super::{SnapshotAnalysis, score_of, trial_not_found};
use crate::db::{self, Db, DbConnection, TrialRow};
use crate::error::{Error, Result};
use crate::experiments::parse_id;
use crate::json::{from_optional_text, from_text, to_text};
use crate::redact::redact;
use crate::research::compare::{self, Comparison};
use crate::research::metrics::KeyMetrics;
use crate::research::regression::{self, Regression};
use crate::research::trend::{self, Trend};
use crate::research::{KeyMetric, TrialFigures};
use crate::time;
use crate::trial_status::TrialStatus;

/// The most trials one comparison takes, and one trend shows.
pub const MAX_COMPARED: usize = 500;
pub const MAX_TREND: i64 = 1000;

/// The figures of a stored trial, secrets masked.
pub fn of_row(row: &TrialRow) -> Result<TrialFigures> {
    let record: Value = from_text(&row.trial_record)?;
    let goals: Option<Value> = from_optional_text(row.goals.as_deref())?;
    let violations: Option<Value> = from_optional_text(row.violations.as_deref())?;
    let metrics: Option<Value> = from_optional_text(row.metrics.as_deref())?;
    let score = score_of(row, &record, goals.as_ref(), violations.as_ref())?;
    let (executed_at, completed_at) = (row.executed_at.map(time::from_db), row.completed_at.map(time::from_db));
    let duration = match (executed_at, completed_at) {
        (Some(start), Some(end)) => Some((end - start).num_milliseconds() as f64 / 1000.0),
        _ => None,
    };
    let parameters = match redact(&from_text::<Value>(&row.parameters)?) {
        Value::Object(parameters) => parameters,
        _ => return Err(Error::internal("a trial's stored parameters are not an object")),
    };
    Ok(TrialFigures {
        trial: parse_id(&row.id)?,
        experiment: parse_id(&row.experiment_id)?,
        schedule_id: row.schedule_id.as_deref().map(parse_id).transpose()?,
        sweep_id: row.sweep_id.as_deref().map(parse_id).transpose()?,
        sweep_point: row.sweep_point,
        sweep_repetition: row.sweep_repetition,
        status: TrialStatus::parse(&row.status)?,
        parameters,
        scheduled_for: time::from_db(row.scheduled_for),
        executed_at,
        completed_at,
        metrics: KeyMetrics::new(metrics.as_ref(), duration, score.map(|score| score.value)),
        violations: violations.as_ref().and_then(Value::as_array).map_or(0, |items| items.len() as u64),
        regressions: from_optional_text::<Vec<Regression>>(row.regressions.as_deref())?.unwrap_or_default(),
    })
}

/// `GET /compare`: the trials named, in that order, against `baseline` (default: the first).
pub async fn compare(db: &Db, ids: Vec<Uuid>, baseline: Option<Uuid>) -> Result<Comparison> {
    if ids.is_empty() || ids.len() > MAX_COMPARED {
        return Err(Error::invalid(
            "invalid_trials",
            "trials",
            format!("name 1 to {MAX_COMPARED} trials to compare, not {}", ids.len()),
        ));
    }
    let figures = db
        .run(move |conn| {
            let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
            let rows = db::trials::find_many(conn, &keys)?;
            ids.iter()
                .map(|id| {
                    let row = rows.iter().find(|row| row.id == id.to_string()).ok_or_else(|| trial_not_found(*id))?;
                    of_row(row)
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    compare::compare(figures, baseline)
}

/// The figures of a sweep's trials, in the order they run.
pub fn of_sweep(conn: &mut DbConnection, sweep_id: &str) -> Result<Vec<TrialFigures>> {
    db::trials::of_sweep(conn, sweep_id)?.iter().map(of_row).collect()
}

/// Whose trials a trend follows.
#[derive(Debug, Clone, Copy)]
pub enum TrendOf {
    /// An experiment's trials, except those of sweeps (their points differ on purpose).
    Experiment(Uuid),
    /// A schedule's trials (the schedule of that experiment).
    Schedule { experiment: Uuid, schedule: Uuid },
}

/// The trend of `metric` over the last `limit` ended trials, oldest first.
pub async fn trend(db: &Db, of: TrendOf, metric: KeyMetric, limit: i64) -> Result<Trend> {
    let rows = db
        .run(move |conn| {
            match of {
                TrendOf::Experiment(id) => {
                    crate::experiments::load(conn, id)?;
                }
                TrendOf::Schedule { experiment, schedule } => {
                    db::schedules::find(conn, &experiment.to_string(), &schedule.to_string())?.ok_or_else(|| {
                        Error::not_found(
                            "schedule_not_found",
                            format!("schedule {schedule} of experiment {experiment} does not exist"),
                        )
                    })?;
                }
            }
            let (experiment, schedule) = match of {
                TrendOf::Experiment(id) => (Some(id.to_string()), None),
                TrendOf::Schedule { schedule, .. } => (None, Some(schedule.to_string())),
            };
            let mut rows = db::trials::ended_latest(conn, experiment.as_deref(), schedule.as_deref(), limit)?;
            rows.reverse();
            rows.iter().map(of_row).collect::<Result<Vec<_>>>()
        })
        .await?;
    Ok(trend::trend(metric, rows))
}

/// When a trial has ended: judges whether it is worse than the comparable trials before it (same experiment and
/// schedule, not of a sweep, ended measured) by its snapshot's `analysis.regression`, and stores the verdict on it
/// (`[]` when it was compared and nothing was worse). Trials that were not measured, sweeps' trials and dry runs are
/// not judged. Returns the regressions found.
pub fn judge_regressions(conn: &mut DbConnection, row: &TrialRow) -> Result<Vec<Regression>> {
    let status = TrialStatus::parse(&row.status)?;
    if !matches!(status, TrialStatus::Succeeded | TrialStatus::Failed) || row.sweep_id.is_some() || row.dry_run {
        return Ok(Vec::new());
    }
    let rule = from_text::<SnapshotAnalysis>(&row.experiment_snapshot)?.analysis.regression;
    if !rule.enabled {
        return Ok(Vec::new());
    }
    let earlier = db::trials::comparable_before(conn, row, i64::from(rule.window))?;
    let earlier: Vec<KeyMetrics> = earlier.iter().map(|row| of_row(row).map(|f| f.metrics)).collect::<Result<_>>()?;
    let current = of_row(row)?.metrics;
    let found = regression::judge(&rule, &current, &earlier);
    db::trials::store_regressions(conn, &row.id, &to_text(&found))?;
    Ok(found)
}
