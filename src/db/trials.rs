//! Queries on trials. Trials are never updated through the API except by a stop; nothing here deletes one.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Cursor, Page, PageRequest, keyset};
use super::schema::trials;
use super::{DbConnection, TrialBrief, TrialRow};
use crate::error::Result;
use crate::trials::TrialStatus;

/// Filters of `GET /trial`.
#[derive(Debug, Clone, Default)]
pub struct TrialFilter {
    pub experiment_id: Option<String>,
    pub schedule_id: Option<String>,
    pub status: Option<TrialStatus>,
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &TrialRow) -> Result<()> {
    diesel::insert_into(trials::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<TrialRow>> {
    Ok(trials::table.find(id).select(TrialRow::as_select()).first(conn).optional()?)
}

/// Trials in the order they were queued, oldest first.
pub fn list(conn: &mut DbConnection, filter: &TrialFilter, page: &PageRequest) -> Result<Page<TrialRow>> {
    let mut query = trials::table.select(TrialRow::as_select()).into_boxed();
    if let Some(experiment_id) = &filter.experiment_id {
        query = query.filter(trials::experiment_id.eq(experiment_id.clone()));
    }
    if let Some(schedule_id) = &filter.schedule_id {
        query = query.filter(trials::schedule_id.eq(schedule_id.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(trials::status.eq(status.as_str()));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(trials::created_at.ge(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(trials::created_at.lt(to));
    }
    let rows = keyset!(query, trials, page).load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |row: &TrialRow| Cursor { created_at: row.created_at, id: row.id.clone() }))
}

/// The most recent `limit` trials of a schedule, oldest of them first (`schedule.trials`).
pub fn briefs_of_schedule(conn: &mut DbConnection, schedule_id: &str, limit: i64) -> Result<Vec<TrialBrief>> {
    let mut briefs: Vec<TrialBrief> = trials::table
        .filter(trials::schedule_id.eq(schedule_id))
        .select((trials::id, trials::schedule_id, trials::status, trials::executed_at))
        .order((trials::scheduled_for.desc(), trials::created_at.desc(), trials::id.desc()))
        .limit(limit)
        .load(conn)?;
    briefs.reverse();
    Ok(briefs)
}

/// Moves a trial from `from` to `to` if it is still in `from`; returns whether it did. A single conditional
/// statement, so a stop and the worker's claim can never both win.
pub fn transition(
    conn: &mut DbConnection,
    id: &str,
    from: TrialStatus,
    to: TrialStatus,
    reason: &str,
    now: NaiveDateTime,
) -> Result<bool> {
    let completed_at = to.is_final().then_some(now);
    let updated = diesel::update(trials::table.find(id).filter(trials::status.eq(from.as_str())))
        .set((trials::status.eq(to.as_str()), trials::status_reason.eq(reason), trials::completed_at.eq(completed_at)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Whether any trial of the experiment is running (a purge must wait for it).
pub fn experiment_has_running_trial(conn: &mut DbConnection, experiment_id: &str) -> Result<bool> {
    let running = [TrialStatus::InProgress.as_str(), TrialStatus::StopInitiated.as_str()];
    let count: i64 = trials::table
        .filter(trials::experiment_id.eq(experiment_id))
        .filter(trials::status.eq_any(running))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}
