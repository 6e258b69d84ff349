//! Queries on the emergency stop (see [`crate::safety`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::emergency_stops;
use super::{DbConnection, EmergencyStopRow};
use crate::error::Result;

/// Records an engagement. Fails on the unique `active` index when another one already holds.
pub fn insert(conn: &mut DbConnection, row: &EmergencyStopRow) -> Result<()> {
    diesel::insert_into(emergency_stops::table).values(row).execute(conn)?;
    Ok(())
}

/// The emergency stop that holds now, if one does.
pub fn active(conn: &mut DbConnection) -> Result<Option<EmergencyStopRow>> {
    Ok(emergency_stops::table
        .filter(emergency_stops::active.is_not_null())
        .select(EmergencyStopRow::as_select())
        .first(conn)
        .optional()?)
}

/// The latest engagement, holding or released.
pub fn latest(conn: &mut DbConnection) -> Result<Option<EmergencyStopRow>> {
    Ok(emergency_stops::table
        .order((emergency_stops::engaged_at.desc(), emergency_stops::id.desc()))
        .select(EmergencyStopRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn set_trials_stopped(conn: &mut DbConnection, id: &str, count: i64) -> Result<()> {
    diesel::update(emergency_stops::table.find(id)).set(emergency_stops::trials_stopped.eq(count)).execute(conn)?;
    Ok(())
}

/// Releases the stop that holds; returns whether one did.
pub fn release(conn: &mut DbConnection, by: &str, at: NaiveDateTime) -> Result<bool> {
    let updated = diesel::update(emergency_stops::table.filter(emergency_stops::active.is_not_null()))
        .set((
            emergency_stops::active.eq(None::<i64>),
            emergency_stops::released_by.eq(by),
            emergency_stops::released_at.eq(at),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}
