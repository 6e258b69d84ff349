//! Queries on webhook deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::webhook_deliveries as deliveries;
use super::{DbConnection, DeliveryRow};
use crate::error::Result;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

pub fn insert(conn: &mut DbConnection, row: &DeliveryRow) -> Result<()> {
    diesel::insert_into(deliveries::table).values(row).execute(conn)?;
    Ok(())
}

/// Claims the oldest pending delivery that is due: counts the attempt and hides the delivery from other senders
/// until `claimed_until` (after which, if this process died while sending, another sends it again).
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    claimed_until: NaiveDateTime,
) -> Result<Option<DeliveryRow>> {
    let due = diesel::alias!(deliveries as due);
    let oldest = due
        .select(due.field(deliveries::id))
        .filter(due.field(deliveries::status).eq(PENDING))
        .filter(due.field(deliveries::next_attempt_at).le(now))
        .order((due.field(deliveries::next_attempt_at).asc(), due.field(deliveries::created_at).asc()))
        .limit(1)
        .single_value();
    let claimed: Option<String> = diesel::update(deliveries::table)
        .filter(deliveries::id.nullable().eq(oldest))
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::next_attempt_at.le(now))
        .set((
            deliveries::next_attempt_at.eq(claimed_until),
            deliveries::attempts.eq(deliveries::attempts + 1),
            deliveries::updated_at.eq(now),
        ))
        .returning(deliveries::id)
        .get_result(conn)
        .optional()?;
    match claimed {
        Some(id) => Ok(deliveries::table.find(id).select(DeliveryRow::as_select()).first(conn).optional()?),
        None => Ok(None),
    }
}

/// Records an attempt's outcome: delivered, failed for good, or pending again from `next_attempt_at`.
pub fn record_attempt(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    status_code: Option<i64>,
    error: Option<&str>,
    next_attempt_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<()> {
    diesel::update(deliveries::table.find(id))
        .set((
            deliveries::status.eq(status),
            deliveries::last_status_code.eq(status_code),
            deliveries::last_error.eq(error),
            deliveries::next_attempt_at.eq(next_attempt_at),
            deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn of_trial(conn: &mut DbConnection, trial_id: &str) -> Result<Vec<DeliveryRow>> {
    Ok(deliveries::table
        .filter(deliveries::trial_id.eq(trial_id))
        .select(DeliveryRow::as_select())
        .order((deliveries::created_at.asc(), deliveries::id.asc()))
        .load(conn)?)
}

/// When the next pending delivery is due, to sleep until then.
pub fn next_due(conn: &mut DbConnection) -> Result<Option<NaiveDateTime>> {
    Ok(deliveries::table
        .filter(deliveries::status.eq(PENDING))
        .select(diesel::dsl::min(deliveries::next_attempt_at))
        .first(conn)?)
}

/// The deliveries of several trials (a page of them), in one query.
pub fn of_trials(conn: &mut DbConnection, trial_ids: &[String]) -> Result<Vec<DeliveryRow>> {
    // One trial (a trial read) by `=`: a statement diesel prepares once per connection. An `IN` list is built anew
    // for each length, and parsed anew each time.
    if let [trial_id] = trial_ids {
        return Ok(deliveries::table
            .filter(deliveries::trial_id.eq(trial_id))
            .select(DeliveryRow::as_select())
            .order((deliveries::created_at.asc(), deliveries::id.asc()))
            .load(conn)?);
    }
    Ok(deliveries::table
        .filter(deliveries::trial_id.eq_any(trial_ids))
        .select(DeliveryRow::as_select())
        .order((deliveries::created_at.asc(), deliveries::id.asc()))
        .load(conn)?)
}
