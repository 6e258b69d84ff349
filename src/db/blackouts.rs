//! Queries on blackouts (see [`crate::blackouts`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Page, PageRequest, keyset_page};
use super::schema::blackouts;
use super::{BlackoutRow, DbConnection};
use crate::error::Result;

pub fn insert(conn: &mut DbConnection, row: &BlackoutRow) -> Result<()> {
    diesel::insert_into(blackouts::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<BlackoutRow>> {
    Ok(blackouts::table.find(id).select(BlackoutRow::as_select()).first(conn).optional()?)
}

/// Blackouts oldest first.
pub fn list(conn: &mut DbConnection, page: &PageRequest) -> Result<Page<BlackoutRow>> {
    let query = blackouts::table.select(BlackoutRow::as_select()).into_boxed();
    Ok(keyset_page!(query, blackouts, page, conn, BlackoutRow))
}

/// The recurring blackouts and the one-off ones not over at `now`, oldest first.
pub fn not_over(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Vec<BlackoutRow>> {
    Ok(blackouts::table
        .filter(blackouts::ends_at.is_null().or(blackouts::ends_at.gt(now)))
        .order((blackouts::created_at.asc(), blackouts::id.asc()))
        .select(BlackoutRow::as_select())
        .load(conn)?)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool> {
    Ok(diesel::delete(blackouts::table.find(id)).execute(conn)? == 1)
}
