//! Queries on the callback state of MiSArch trials (see `MisarchRunRow`). The components' callbacks may reach any
//! replica, and the worker that runs the trial reads what they changed, so every change is one conditional statement
//! (or a compare-and-set) that is safe with several processes on one database.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{gatling_reports, misarch_runs, trials};
use super::{DbConnection, GatlingReportRow, MisarchRunRow};
use crate::error::Result;
use crate::json::{from_text, to_text};
use crate::trial_status::TrialStatus;

pub const INITIALIZING: &str = "initializing";
pub const STARTED: &str = "started";
pub const COMPLETED: &str = "completed";

pub fn insert(conn: &mut DbConnection, row: &MisarchRunRow) -> Result<()> {
    diesel::insert_into(misarch_runs::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, trial_id: &str) -> Result<Option<MisarchRunRow>> {
    Ok(misarch_runs::table.find(trial_id).select(MisarchRunRow::as_select()).first(conn).optional()?)
}

/// The run of `testUUID`/`testVersion`, only while its trial is `In Progress`: the callbacks of any other trial
/// (finished, stopping, never run, unknown) change nothing.
pub fn find_running(conn: &mut DbConnection, test_uuid: &str, test_version: &str) -> Result<Option<MisarchRunRow>> {
    Ok(misarch_runs::table
        .inner_join(trials::table)
        .filter(misarch_runs::test_uuid.eq(test_uuid))
        .filter(misarch_runs::test_version.eq(test_version))
        .filter(trials::status.eq(TrialStatus::InProgress.as_str()))
        .select(MisarchRunRow::as_select())
        .first(conn)
        .optional()?)
}

/// Adds `client` to the registered clients of a run; releases the barrier (state `started`, T0 = `now`) when every
/// expected client has registered. A compare-and-set on the list, retried, so concurrent registrations on
/// different replicas are never lost.
pub fn register_client(conn: &mut DbConnection, run: MisarchRunRow, client: &str, now: NaiveDateTime) -> Result<()> {
    let mut run = run;
    loop {
        let mut registered: Vec<String> = from_text(&run.registered_clients)?;
        if !registered.iter().any(|name| name == client) {
            registered.push(client.to_owned());
        }
        let expected: Vec<String> = from_text(&run.expected_clients)?;
        let release = run.state == INITIALIZING && expected.iter().all(|name| registered.contains(name));
        let state = if release { STARTED } else { run.state.as_str() };
        let started_at = if release { Some(now) } else { run.started_at };
        let updated = diesel::update(misarch_runs::table.find(&run.trial_id))
            .filter(misarch_runs::registered_clients.eq(&run.registered_clients))
            .filter(misarch_runs::state.eq(&run.state))
            .set((
                misarch_runs::registered_clients.eq(to_text(&registered)),
                misarch_runs::state.eq(state),
                misarch_runs::started_at.eq(started_at),
                misarch_runs::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 1 {
            return Ok(());
        }
        match find(conn, &run.trial_id)? {
            Some(current) => run = current,
            None => return Ok(()),
        }
    }
}

/// Keeps the steady-state metrics (JSON of `GatlingMetrics`).
pub fn store_steady_state(conn: &mut DbConnection, trial_id: &str, metrics: &str, now: NaiveDateTime) -> Result<()> {
    diesel::update(misarch_runs::table.find(trial_id))
        .set((
            misarch_runs::steady_state_metrics.eq(metrics),
            misarch_runs::steady_state_received_at.eq(now),
            misarch_runs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores the run's metrics on the trial and ends the run (the trigger answers `false` from now on). One
/// transaction, so the worker never sees the run completed without its metrics.
/// Stores the final metrics, and the report they were read from when it is kept (`report`), and ends the workload.
pub fn store_metrics(
    conn: &mut DbConnection,
    trial_id: &str,
    metrics: &str,
    report: Option<&GatlingReportRow>,
    now: NaiveDateTime,
) -> Result<()> {
    super::write_transaction(conn, |conn| {
        diesel::update(trials::table.find(trial_id)).set(trials::metrics.eq(metrics)).execute(conn)?;
        if let Some(report) = report {
            // A repeated upload replaces the report, as it replaces the metrics.
            diesel::delete(gatling_reports::table.find(trial_id)).execute(conn)?;
            diesel::insert_into(gatling_reports::table).values(report).execute(conn)?;
        }
        diesel::update(misarch_runs::table.find(trial_id))
            .set((
                misarch_runs::state.eq(COMPLETED),
                misarch_runs::metrics_received_at.eq(now),
                misarch_runs::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Records why an upload could not be used, so the worker fails the trial at once instead of waiting for its deadline.
pub fn store_upload_error(conn: &mut DbConnection, trial_id: &str, error: &str, now: NaiveDateTime) -> Result<()> {
    diesel::update(misarch_runs::table.find(trial_id))
        .set((misarch_runs::upload_error.eq(error), misarch_runs::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Ends the run: the trigger answers `false`, so components still waiting give up.
pub fn complete(conn: &mut DbConnection, trial_id: &str, now: NaiveDateTime) -> Result<()> {
    diesel::update(misarch_runs::table.find(trial_id))
        .set((misarch_runs::state.eq(COMPLETED), misarch_runs::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// The kept Gatling report of a trial, if there is one.
pub fn gatling_report(conn: &mut DbConnection, trial_id: &str) -> Result<Option<GatlingReportRow>> {
    Ok(gatling_reports::table.find(trial_id).select(GatlingReportRow::as_select()).first(conn).optional()?)
}
