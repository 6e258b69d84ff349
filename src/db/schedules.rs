//! Queries on schedules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Page, PageRequest, keyset_page};
use super::schema::schedules;
use super::{DbConnection, ScheduleRow};
use crate::error::Result;

pub fn insert(conn: &mut DbConnection, row: &ScheduleRow) -> Result<()> {
    diesel::insert_into(schedules::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, experiment_id: &str, id: &str) -> Result<Option<ScheduleRow>> {
    Ok(schedules::table
        .find(id)
        .filter(schedules::experiment_id.eq(experiment_id))
        .select(ScheduleRow::as_select())
        .first(conn)
        .optional()?)
}

/// The schedules of one experiment, oldest first.
pub fn list(conn: &mut DbConnection, experiment_id: &str, page: &PageRequest) -> Result<Page<ScheduleRow>> {
    let query = schedules::table
        .select(ScheduleRow::as_select())
        .filter(schedules::experiment_id.eq(experiment_id))
        .into_boxed();
    Ok(keyset_page!(query, schedules, page, conn, ScheduleRow))
}

/// Stores `row` if nobody changed the schedule since it was read (its `updated_at` is still `read_at`); returns
/// whether it did.
pub fn update(conn: &mut DbConnection, row: &ScheduleRow, read_at: NaiveDateTime) -> Result<bool> {
    let updated = diesel::update(schedules::table)
        .filter(schedules::id.eq(&row.id))
        .filter(schedules::updated_at.eq(read_at))
        .set(row)
        .execute(conn)?;
    Ok(updated == 1)
}

pub fn delete(conn: &mut DbConnection, experiment_id: &str, id: &str) -> Result<bool> {
    let deleted =
        diesel::delete(schedules::table.find(id).filter(schedules::experiment_id.eq(experiment_id))).execute(conn)?;
    Ok(deleted == 1)
}

/// Schedules whose next fire is due at `now` (and that are not waiting to retry a failed fire), earliest first.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, limit: i64) -> Result<Vec<ScheduleRow>> {
    Ok(schedules::table
        .select(ScheduleRow::as_select())
        .filter(schedules::paused.eq(false))
        .filter(schedules::next_run_at.le(now))
        .filter(schedules::fire_retry_at.is_null().or(schedules::fire_retry_at.le(now)))
        .order((schedules::next_run_at.asc(), schedules::id.asc()))
        .limit(limit)
        .load(conn)?)
}

/// When the scheduler has something to do next: the earliest next fire, or the earliest retry of a failed one.
pub fn earliest_wake(conn: &mut DbConnection) -> Result<Option<NaiveDateTime>> {
    let next_fire: Option<NaiveDateTime> = schedules::table
        .filter(schedules::paused.eq(false))
        .filter(schedules::fire_retry_at.is_null())
        .select(diesel::dsl::min(schedules::next_run_at))
        .first(conn)?;
    let next_retry: Option<NaiveDateTime> = schedules::table
        .filter(schedules::paused.eq(false))
        .filter(schedules::next_run_at.is_not_null())
        .select(diesel::dsl::min(schedules::fire_retry_at))
        .first(conn)?;
    Ok(next_fire.into_iter().chain(next_retry).min())
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> Result<Option<ScheduleRow>> {
    Ok(schedules::table.find(id).select(ScheduleRow::as_select()).first(conn).optional()?)
}

/// Records why a fire failed and when to try again. Does not touch `updated_at`: nothing a user set changed.
pub fn set_fire_error(conn: &mut DbConnection, id: &str, error: &str, retry_at: NaiveDateTime) -> Result<()> {
    diesel::update(schedules::table.find(id))
        .set((schedules::fire_error.eq(error), schedules::fire_retry_at.eq(retry_at)))
        .execute(conn)?;
    Ok(())
}

/// Inserts many schedules (the benchmark's 100,000); call it inside a transaction. One statement per row: diesel's
/// multi-row insert does not exist for the two-backend connection.
pub fn insert_many(conn: &mut DbConnection, rows: &[ScheduleRow]) -> Result<()> {
    for row in rows {
        insert(conn, row)?;
    }
    Ok(())
}
