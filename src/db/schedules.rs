//! Queries on schedules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Cursor, Page, PageRequest, keyset};
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
    let rows = keyset!(query, schedules, page).load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |row: &ScheduleRow| Cursor { created_at: row.created_at, id: row.id.clone() }))
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
