//! Queries on experiments.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::MultiBackend;
use super::page::{Page, PageRequest, keyset_page};
use super::schema::{experiments, misarch_versions, schedules, trials};
use super::{DbConnection, ExperimentRow, ExperimentViewRow};
use crate::error::Result;
use crate::trial_status::TrialStatus;

/// Filters of `GET /experiment`.
#[derive(Debug, Clone, Default)]
pub struct ExperimentFilter {
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, row: &ExperimentRow) -> Result<()> {
    diesel::insert_into(experiments::table).values(row).execute(conn)?;
    Ok(())
}

/// Any experiment, archived or not: trials and audits refer to archived ones too.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<ExperimentRow>> {
    Ok(experiments::table.find(id).select(ExperimentRow::as_select()).first(conn).optional()?)
}

/// Experiments that are not archived, oldest first.
pub fn list(conn: &mut DbConnection, filter: &ExperimentFilter, page: &PageRequest) -> Result<Page<ExperimentRow>> {
    let query = filtered(experiments::table.select(ExperimentRow::as_select()).into_boxed(), filter);
    Ok(keyset_page!(query, experiments, page, conn, ExperimentRow))
}

/// [`list`], with only the kept views: a page of `GET /experiment` reads no definition column of a row whose view
/// is current (the view holds it all, and is as large again).
pub fn list_views(
    conn: &mut DbConnection,
    filter: &ExperimentFilter,
    page: &PageRequest,
) -> Result<Page<ExperimentViewRow>> {
    let query = filtered(experiments::table.select(ExperimentViewRow::as_select()).into_boxed(), filter);
    Ok(keyset_page!(query, experiments, page, conn, ExperimentViewRow))
}

/// The filters of `GET /experiment` on a query of experiments, whatever it selects: active ones only.
fn filtered<'a, Selection: 'a>(
    mut query: experiments::BoxedQuery<'a, MultiBackend, Selection>,
    filter: &ExperimentFilter,
) -> experiments::BoxedQuery<'a, MultiBackend, Selection> {
    query = query.filter(experiments::archived_at.is_null());
    if let Some(from) = filter.created_from {
        query = query.filter(experiments::created_at.ge(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(experiments::created_at.lt(to));
    }
    query
}

/// Stores `row` if the stored revision is still `expected_revision`; returns whether it did. The check makes
/// concurrent updates safe on both backends without row locks.
pub fn update(conn: &mut DbConnection, row: &ExperimentRow, expected_revision: i64) -> Result<bool> {
    let updated = diesel::update(experiments::table)
        .filter(experiments::id.eq(&row.id))
        .filter(experiments::revision.eq(expected_revision))
        // An experiment archived since it was read stays archived.
        .filter(experiments::archived_at.is_null())
        .set(row)
        .execute(conn)?;
    Ok(updated == 1)
}

/// Keeps the API view of an experiment at `revision`, unless it was changed or archived meanwhile.
pub fn store_api_view(conn: &mut DbConnection, id: &str, revision: i64, view: &str) -> Result<()> {
    diesel::update(experiments::table.find(id))
        .filter(experiments::revision.eq(revision))
        .filter(experiments::archived_at.is_null())
        .set(experiments::api_view.eq(view))
        .execute(conn)?;
    Ok(())
}

/// What archiving an experiment changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archived {
    pub schedules_deleted: usize,
    pub trials_stopped: usize,
}

/// Archives an experiment: it leaves the lists, its schedules are deleted, its queued trials are stopped, and the
/// MiSArch executor version it is (if any) is forgotten. Its trials stay. Call inside a transaction.
pub fn archive(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<Archived> {
    diesel::update(experiments::table.find(id))
        // The view showed it active: built anew when read.
        .set((
            experiments::archived_at.eq(now),
            experiments::updated_at.eq(now),
            experiments::api_view.eq(None::<String>),
        ))
        .execute(conn)?;
    let schedules_deleted = diesel::delete(schedules::table.filter(schedules::experiment_id.eq(id))).execute(conn)?;
    // A MiSArch executor version that is this experiment goes with it, however it was archived.
    diesel::delete(misarch_versions::table.filter(misarch_versions::experiment_id.eq(id))).execute(conn)?;
    let trials_stopped = diesel::update(
        trials::table.filter(trials::experiment_id.eq(id)).filter(trials::status.eq(TrialStatus::Scheduled.as_str())),
    )
    .set((
        trials::status.eq(TrialStatus::Stopped.as_str()),
        trials::status_reason.eq("stopped before it started: its experiment was archived"),
        trials::completed_at.eq(now),
    ))
    .execute(conn)?;
    Ok(Archived { schedules_deleted, trials_stopped })
}

/// Deletes an experiment for good; the database cascades to its schedules and trials.
pub fn purge(conn: &mut DbConnection, id: &str) -> Result<bool> {
    Ok(diesel::delete(experiments::table.find(id)).execute(conn)? == 1)
}
