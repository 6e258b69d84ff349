//! Queries on sweeps. A sweep's trials are ordinary trials (see [`super::trials::of_sweep`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::page::{Page, PageRequest, keyset_page};
use super::schema::sweeps;
use super::{DbConnection, SweepRow};
use crate::error::Result;

pub fn insert(conn: &mut DbConnection, row: &SweepRow) -> Result<()> {
    diesel::insert_into(sweeps::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<SweepRow>> {
    Ok(sweeps::table.find(id).select(SweepRow::as_select()).first(conn).optional()?)
}

/// Sweeps in the order they were created, oldest first, of one experiment when it is given.
pub fn list(conn: &mut DbConnection, experiment_id: Option<&str>, page: &PageRequest) -> Result<Page<SweepRow>> {
    let mut query = sweeps::table.select(SweepRow::as_select()).into_boxed();
    if let Some(experiment_id) = experiment_id {
        query = query.filter(sweeps::experiment_id.eq(experiment_id.to_owned()));
    }
    Ok(keyset_page!(query, sweeps, page, conn, SweepRow))
}

/// Marks a sweep stopped, unless it already is; returns whether it did.
pub fn set_stopped(conn: &mut DbConnection, id: &str, by: &str, at: NaiveDateTime) -> Result<bool> {
    let updated = diesel::update(sweeps::table.find(id).filter(sweeps::stopped_at.is_null()))
        .set((sweeps::stopped_at.eq(at), sweeps::stopped_by.eq(by)))
        .execute(conn)?;
    Ok(updated == 1)
}
