//! Queries on the versions made through the MiSArch Experiment Executor's API (see `MisarchVersionRow`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{misarch_versions, trials};
use super::{DbConnection, MisarchVersionRow, TrialRow};
use crate::error::Result;
use crate::trial_status::TrialStatus;

/// One of the four parts of a version, each saved on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `execution.json` (`…/config`).
    Execution,
    /// The Gatling scenarios (`…/gatlingConfig`).
    Gatling,
    /// The Chaos Toolkit experiment (`…/chaosToolkitConfig`).
    ChaosToolkit,
    /// The MiSArch failure sets (`…/misarchExperimentConfig`).
    Misarch,
}

pub fn insert(conn: &mut DbConnection, row: &MisarchVersionRow) -> Result<()> {
    diesel::insert_into(misarch_versions::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, test_uuid: &str, test_version: &str) -> Result<Option<MisarchVersionRow>> {
    Ok(misarch_versions::table
        .find((test_uuid, test_version))
        .select(MisarchVersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every version of one experiment, by number.
pub fn versions(conn: &mut DbConnection, test_uuid: &str) -> Result<Vec<MisarchVersionRow>> {
    Ok(misarch_versions::table
        .filter(misarch_versions::test_uuid.eq(test_uuid))
        .order((misarch_versions::version_number.asc(), misarch_versions::test_version.asc()))
        .select(MisarchVersionRow::as_select())
        .load(conn)?)
}

/// Every experiment that has a version, in the order the first of its versions was made.
pub fn experiments(conn: &mut DbConnection) -> Result<Vec<String>> {
    let rows: Vec<String> = misarch_versions::table
        .order((misarch_versions::created_at.asc(), misarch_versions::test_uuid.asc()))
        .select(misarch_versions::test_uuid)
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows.into_iter().filter(|uuid| seen.insert(uuid.clone())).collect())
}

/// Saves one part as it is; false when the version does not exist.
pub fn save_part(
    conn: &mut DbConnection,
    test_uuid: &str,
    test_version: &str,
    part: Part,
    text: &str,
    now: NaiveDateTime,
) -> Result<bool> {
    let target = misarch_versions::table.find((test_uuid, test_version));
    let touched = misarch_versions::updated_at.eq(now);
    let updated = match part {
        Part::Execution => {
            diesel::update(target).set((misarch_versions::execution_config.eq(text), touched)).execute(conn)?
        }
        Part::Gatling => {
            diesel::update(target).set((misarch_versions::gatling_config.eq(text), touched)).execute(conn)?
        }
        Part::ChaosToolkit => {
            diesel::update(target).set((misarch_versions::chaos_toolkit_config.eq(text), touched)).execute(conn)?
        }
        Part::Misarch => {
            diesel::update(target).set((misarch_versions::misarch_config.eq(text), touched)).execute(conn)?
        }
    };
    Ok(updated == 1)
}

/// Keeps why a start was refused, for the event stream.
pub fn record_start_error(
    conn: &mut DbConnection,
    test_uuid: &str,
    test_version: &str,
    message: &str,
    at: NaiveDateTime,
) -> Result<()> {
    diesel::update(misarch_versions::table.find((test_uuid, test_version)))
        .set((misarch_versions::start_error.eq(message), misarch_versions::start_error_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

/// Notes that a stream has told the outcomes up to `through` (never moves back).
pub fn told(conn: &mut DbConnection, test_uuid: &str, test_version: &str, through: NaiveDateTime) -> Result<()> {
    diesel::update(misarch_versions::table.find((test_uuid, test_version)))
        .filter(misarch_versions::told_through.is_null().or(misarch_versions::told_through.lt(through)))
        .set(misarch_versions::told_through.eq(through))
        .execute(conn)?;
    Ok(())
}

/// The trials of `experiment_id` that ended after `after` (all that ended when None), oldest end first, at most
/// `limit`: the outcomes an event stream tells.
pub fn ended_trials(
    conn: &mut DbConnection,
    experiment_id: &str,
    after: Option<NaiveDateTime>,
    limit: i64,
) -> Result<Vec<TrialRow>> {
    let finals: Vec<&str> = TrialStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
    let mut query = trials::table
        .filter(trials::experiment_id.eq(experiment_id))
        .filter(trials::status.eq_any(finals))
        .filter(trials::completed_at.is_not_null())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(trials::completed_at.gt(after));
    }
    Ok(query.order(trials::completed_at.asc()).limit(limit).select(TrialRow::as_select()).load(conn)?)
}

/// The trials of `experiment_id` that are queued or running.
pub fn active_trials(conn: &mut DbConnection, experiment_id: &str) -> Result<Vec<String>> {
    let active =
        [TrialStatus::Scheduled.as_str(), TrialStatus::InProgress.as_str(), TrialStatus::StopInitiated.as_str()];
    Ok(trials::table
        .filter(trials::experiment_id.eq(experiment_id))
        .filter(trials::status.eq_any(active))
        .order(trials::created_at.asc())
        .select(trials::id)
        .load(conn)?)
}

/// How many trials the worker takes before the trial queued at `scheduled_for`/`created_at`: those running and
/// those queued earlier.
pub fn ahead_of(conn: &mut DbConnection, scheduled_for: NaiveDateTime, created_at: NaiveDateTime) -> Result<i64> {
    let running = [TrialStatus::InProgress.as_str(), TrialStatus::StopInitiated.as_str()];
    let running: i64 = trials::table.filter(trials::status.eq_any(running)).count().get_result(conn)?;
    let earlier: i64 = trials::table
        .filter(trials::status.eq(TrialStatus::Scheduled.as_str()))
        .filter(
            trials::scheduled_for
                .lt(scheduled_for)
                .or(trials::scheduled_for.eq(scheduled_for).and(trials::created_at.lt(created_at))),
        )
        .count()
        .get_result(conn)?;
    Ok(running + earlier)
}

/// The newest trial of `experiment_id` whose metrics arrived, if any (as a list of at most one).
pub fn newest_with_metrics(conn: &mut DbConnection, experiment_id: &str) -> Result<Vec<TrialRow>> {
    Ok(trials::table
        .filter(trials::experiment_id.eq(experiment_id))
        .filter(trials::metrics.is_not_null())
        .filter(trials::completed_at.is_not_null())
        .order((trials::completed_at.desc(), trials::id.desc()))
        .limit(1)
        .select(TrialRow::as_select())
        .load(conn)?)
}
