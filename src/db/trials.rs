//! Queries on trials. Trials are never updated through the API except by a stop; nothing here deletes one.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::connection::MultiBackend;
use super::page::{Page, PageRequest, keyset_page};
use super::schema::trials;
use super::{DbConnection, TrialBrief, TrialRow, TrialSummaryRow};
use crate::error::Result;
use crate::trial_status::TrialStatus;

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

/// Inserts `rows` in one statement, for bulk loads (the read benchmark's million trials). Diesel's multi-row insert
/// needs the backend's own connection. Both backends bound the parameters of a statement (SQLite 32,766,
/// PostgreSQL 65,535): a few hundred rows at a time.
pub fn insert_many(conn: &mut DbConnection, rows: &[TrialRow]) -> Result<()> {
    let insert = diesel::insert_into(trials::table).values(rows);
    match conn {
        DbConnection::Postgres(postgres) => insert.execute(postgres)?,
        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<TrialRow>> {
    Ok(trials::table.find(id).select(TrialRow::as_select()).first(conn).optional()?)
}

/// A trial's stored API view: None when there is no such trial, Some(None) while it has none (see
/// `migrations/*/…_trial_api_view`).
pub fn api_view(conn: &mut DbConnection, id: &str) -> Result<Option<Option<String>>> {
    Ok(api_view_query(id).first(conn).optional()?)
}

fn api_view_query(id: &str) -> diesel::dsl::Select<diesel::dsl::Find<trials::table, &str>, trials::api_view> {
    trials::table.find(id).select(trials::api_view)
}

/// The SQL of [`api_view`] on PostgreSQL, its id a parameter, for [`super::pipelined`].
pub(super) fn api_view_sql() -> String {
    use diesel::query_builder::{QueryBuilder as _, QueryFragment};
    let mut sql = diesel::pg::PgQueryBuilder::default();
    QueryFragment::<diesel::pg::Pg>::to_sql(&api_view_query(""), &mut sql, &diesel::pg::Pg)
        .expect("a select of one column by key always has SQL");
    sql.finish()
}

/// Keeps the API view of an ended trial, unless it has one that starts with `current` (the present format): one of
/// an earlier format is replaced. A trial that has not ended is left as it is. Of readers that race, the first
/// writes; the others find its text.
pub fn store_api_view(conn: &mut DbConnection, id: &str, view: &str, current: &str) -> Result<()> {
    let ended: Vec<&str> = TrialStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
    diesel::update(trials::table.find(id))
        .filter(trials::status.eq_any(ended))
        .filter(trials::api_view.is_null().or(trials::api_view.not_like(format!("{current}%"))))
        .set(trials::api_view.eq(view))
        .execute(conn)?;
    Ok(())
}

/// Trials in the order they were queued, oldest first.
pub fn list(conn: &mut DbConnection, filter: &TrialFilter, page: &PageRequest) -> Result<Page<TrialRow>> {
    let query = filtered(trials::table.select(TrialRow::as_select()).into_boxed(), filter);
    Ok(keyset_page!(query, trials, page, conn, TrialRow))
}

/// [`list`], with what a list shows of each trial.
pub fn list_summaries(
    conn: &mut DbConnection,
    filter: &TrialFilter,
    page: &PageRequest,
) -> Result<Page<TrialSummaryRow>> {
    let query = filtered(trials::table.select(TrialSummaryRow::as_select()).into_boxed(), filter);
    Ok(keyset_page!(query, trials, page, conn, TrialSummaryRow))
}

/// The filters of `GET /trial` on a query of trials, whatever it selects.
fn filtered<'a, Selection: 'a>(
    mut query: trials::BoxedQuery<'a, MultiBackend, Selection>,
    filter: &TrialFilter,
) -> trials::BoxedQuery<'a, MultiBackend, Selection> {
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
    query
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

const RUNNING: [&str; 2] = ["In Progress", "Stop Initiated"];

/// Whether the schedule has a trial queued or running (`concurrency_policy` forbid).
pub fn schedule_has_active_trial(conn: &mut DbConnection, schedule_id: &str) -> Result<bool> {
    let active = [TrialStatus::Scheduled.as_str(), RUNNING[0], RUNNING[1]];
    let count: i64 = trials::table
        .filter(trials::schedule_id.eq(schedule_id))
        .filter(trials::status.eq_any(active))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Claims the oldest queued trial (by `scheduled_for`, then creation) for `worker`: `In Progress`, with
/// `executed_at` and a first heartbeat. One conditional statement, so a claim and a stop never both win; it claims
/// nothing while another trial runs.
pub fn claim_next(conn: &mut DbConnection, worker: &str, now: NaiveDateTime) -> Result<Option<TrialRow>> {
    let queued = diesel::alias!(trials as queued);
    let running = diesel::alias!(trials as running);
    let oldest = queued
        .select(queued.field(trials::id))
        .filter(queued.field(trials::status).eq(TrialStatus::Scheduled.as_str()))
        .order((queued.field(trials::scheduled_for).asc(), queued.field(trials::created_at).asc()))
        .limit(1)
        .single_value();
    let none_running =
        diesel::dsl::not(diesel::dsl::exists(running.filter(running.field(trials::status).eq_any(RUNNING))));
    let claimed: Option<String> = diesel::update(trials::table)
        .filter(trials::id.nullable().eq(oldest))
        .filter(trials::status.eq(TrialStatus::Scheduled.as_str()))
        .filter(none_running)
        .set((
            trials::status.eq(TrialStatus::InProgress.as_str()),
            trials::executed_at.eq(now),
            trials::heartbeat_at.eq(now),
            trials::claimed_by.eq(worker),
        ))
        .returning(trials::id)
        .get_result(conn)
        .optional()?;
    match claimed {
        Some(id) => find(conn, &id),
        None => Ok(None),
    }
}

/// Renews the heartbeat of a trial `worker` runs and returns its status (a stop may have been requested), or None
/// when the trial is no longer this worker's.
pub fn heartbeat(conn: &mut DbConnection, id: &str, worker: &str, now: NaiveDateTime) -> Result<Option<TrialStatus>> {
    let updated = diesel::update(trials::table.find(id))
        .filter(trials::claimed_by.eq(worker))
        .filter(trials::status.eq_any(RUNNING))
        .set(trials::heartbeat_at.eq(now))
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    let status: String = trials::table.find(id).select(trials::status).first(conn)?;
    Ok(Some(TrialStatus::parse(&status)?))
}

/// Saves the trial record while the trial runs, so readers see its progress.
pub fn save_record(conn: &mut DbConnection, id: &str, worker: &str, record: &str) -> Result<()> {
    diesel::update(trials::table.find(id))
        .filter(trials::claimed_by.eq(worker))
        .set(trials::trial_record.eq(record))
        .execute(conn)?;
    Ok(())
}

/// Ends a trial `worker` runs: its final status, reason and record. Returns whether it did.
pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    status: TrialStatus,
    reason: &str,
    record: &str,
    now: NaiveDateTime,
) -> Result<bool> {
    let updated = diesel::update(trials::table.find(id))
        .filter(trials::claimed_by.eq(worker))
        .filter(trials::status.eq_any(RUNNING))
        .set((
            trials::status.eq(status.as_str()),
            trials::status_reason.eq(reason),
            trials::trial_record.eq(record),
            trials::completed_at.eq(now),
            trials::heartbeat_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// What a trial's goals, its exports and its report produced; `None` leaves a column as it is.
#[derive(diesel::AsChangeset)]
#[diesel(table_name = trials)]
pub struct TrialResults<'a> {
    /// A `load.http` step's figures; a MiSArch run's came with its upload ([`super::misarch_runs::store_metrics`]).
    pub metrics: Option<&'a str>,
    pub goals: &'a str,
    pub violations: &'a str,
    /// The dashboard's link, when one was made.
    pub grafana_url: Option<&'a str>,
    pub report: &'a str,
}

/// Stores what the goal evaluation and the export produced on the trial, in one statement, as soon as they exist,
/// so that a crash afterwards loses none of it.
pub fn store_results(conn: &mut DbConnection, trial_id: &str, results: &TrialResults<'_>) -> Result<()> {
    diesel::update(trials::table.find(trial_id)).set(results).execute(conn)?;
    Ok(())
}

/// Running trials whose heartbeat is older than `stale_before`: their worker died or lost the database.
pub fn stale(conn: &mut DbConnection, stale_before: NaiveDateTime) -> Result<Vec<TrialRow>> {
    Ok(trials::table
        .select(TrialRow::as_select())
        .filter(trials::status.eq_any(RUNNING))
        .filter(trials::heartbeat_at.is_null().or(trials::heartbeat_at.lt(stale_before)))
        .order(trials::executed_at.asc())
        .load(conn)?)
}

/// Takes over a stale trial for recovery; returns whether this worker got it (another may have been faster).
pub fn adopt(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    stale_before: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool> {
    let updated = diesel::update(trials::table.find(id))
        .filter(trials::status.eq_any(RUNNING))
        .filter(trials::heartbeat_at.is_null().or(trials::heartbeat_at.lt(stale_before)))
        .set((trials::claimed_by.eq(worker), trials::heartbeat_at.eq(now)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Every trial not yet ended (queued, running, stopping), in the whole database: what the emergency stop stops.
pub fn unfinished(conn: &mut DbConnection, only_queued: bool) -> Result<Vec<TrialRow>> {
    let statuses: Vec<&str> = if only_queued {
        vec![TrialStatus::Scheduled.as_str()]
    } else {
        vec![TrialStatus::Scheduled.as_str(), RUNNING[0], RUNNING[1]]
    };
    Ok(trials::table
        .filter(trials::status.eq_any(statuses))
        .select(TrialRow::as_select())
        .order((trials::scheduled_for.asc(), trials::created_at.asc()))
        .load(conn)?)
}

/// How many trials are queued, and how many run, in the whole database.
pub fn count_active(conn: &mut DbConnection) -> Result<(i64, i64)> {
    let queued: i64 =
        trials::table.filter(trials::status.eq(TrialStatus::Scheduled.as_str())).count().get_result(conn)?;
    let running: i64 = trials::table.filter(trials::status.eq_any(RUNNING)).count().get_result(conn)?;
    Ok((queued, running))
}

/// The trials with these ids, in no particular order (a missing id is left out).
pub fn find_many(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<TrialRow>> {
    Ok(trials::table.filter(trials::id.eq_any(ids)).select(TrialRow::as_select()).load(conn)?)
}

/// A sweep's trials in the order they run.
pub fn of_sweep(conn: &mut DbConnection, sweep_id: &str) -> Result<Vec<TrialRow>> {
    Ok(trials::table
        .filter(trials::sweep_id.eq(sweep_id))
        .select(TrialRow::as_select())
        .order((trials::scheduled_for.asc(), trials::created_at.asc()))
        .load(conn)?)
}

/// The statuses of a trial that has ended measured: what scores, trends and regressions compare.
const MEASURED: [&str; 2] = ["Succeeded", "Failed"];

/// The latest `limit` ended trials of an experiment (not of a sweep) or of a schedule, newest first; not dry runs.
pub fn ended_latest(
    conn: &mut DbConnection,
    experiment_id: Option<&str>,
    schedule_id: Option<&str>,
    limit: i64,
) -> Result<Vec<TrialRow>> {
    let ended: Vec<&str> = TrialStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
    let mut query = trials::table
        .select(TrialRow::as_select())
        .filter(trials::status.eq_any(ended))
        .filter(trials::dry_run.eq(false))
        .into_boxed::<MultiBackend>();
    if let Some(experiment_id) = experiment_id {
        query = query.filter(trials::experiment_id.eq(experiment_id.to_owned())).filter(trials::sweep_id.is_null());
    }
    if let Some(schedule_id) = schedule_id {
        query = query.filter(trials::schedule_id.eq(schedule_id.to_owned()));
    }
    Ok(query.order((trials::scheduled_for.desc(), trials::created_at.desc())).limit(limit).load(conn)?)
}

/// The trials `row` is compared with when it ends, newest first, at most `limit`: of the same experiment and the
/// same schedule (or, for a trial run by hand, others run by hand), not of a sweep, ended measured before it.
pub fn comparable_before(conn: &mut DbConnection, row: &TrialRow, limit: i64) -> Result<Vec<TrialRow>> {
    let mut query = trials::table
        .select(TrialRow::as_select())
        .filter(trials::experiment_id.eq(row.experiment_id.clone()))
        .filter(trials::id.ne(row.id.clone()))
        .filter(trials::sweep_id.is_null())
        .filter(trials::dry_run.eq(false))
        .filter(trials::status.eq_any(MEASURED))
        .into_boxed::<MultiBackend>();
    query = match &row.schedule_id {
        Some(schedule_id) => query.filter(trials::schedule_id.eq(schedule_id.clone())),
        None => query.filter(trials::schedule_id.is_null()),
    };
    if let Some(completed_at) = row.completed_at {
        query = query.filter(trials::completed_at.le(completed_at));
    }
    Ok(query.order((trials::completed_at.desc(), trials::id.desc())).limit(limit).load(conn)?)
}

pub fn store_regressions(conn: &mut DbConnection, id: &str, regressions: &str) -> Result<()> {
    diesel::update(trials::table.find(id)).set(trials::regressions.eq(regressions)).execute(conn)?;
    Ok(())
}

/// How many trials of each sweep are in each status: `(sweep_id, status, count)`.
pub fn sweep_progress(conn: &mut DbConnection, sweep_ids: &[String]) -> Result<Vec<(String, String, i64)>> {
    let rows: Vec<(Option<String>, String, i64)> = trials::table
        .filter(trials::sweep_id.eq_any(sweep_ids))
        .group_by((trials::sweep_id, trials::status))
        .select((trials::sweep_id, trials::status, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(id, status, count)| Some((id?, status, count))).collect())
}

/// How many sweeps have a trial queued or running.
pub fn active_sweeps(conn: &mut DbConnection) -> Result<i64> {
    let active = [TrialStatus::Scheduled.as_str(), RUNNING[0], RUNNING[1]];
    Ok(trials::table
        .filter(trials::sweep_id.is_not_null())
        .filter(trials::status.eq_any(active))
        .select(diesel::dsl::count(trials::sweep_id).aggregate_distinct())
        .get_result(conn)?)
}

/// The statuses of an ended trial.
const ENDED: [&str; 5] = ["Succeeded", "Failed", "Aborted", "Invalid", "Stopped"];

/// What retention needs to know of a trial it may remove.
#[derive(Debug, Clone, Queryable)]
pub struct RetentionCandidate {
    pub id: String,
    pub experiment_id: String,
    pub schedule_id: Option<String>,
    pub status: String,
    pub completed_at: Option<NaiveDateTime>,
    pub held: bool,
}

type CandidateColumns =
    (trials::id, trials::experiment_id, trials::schedule_id, trials::status, trials::completed_at, trials::held);
const CANDIDATE: CandidateColumns =
    (trials::id, trials::experiment_id, trials::schedule_id, trials::status, trials::completed_at, trials::held);

/// Ended trials not on hold that ended before `before`, oldest first, at most `limit`.
pub fn ended_before(conn: &mut DbConnection, before: NaiveDateTime, limit: i64) -> Result<Vec<RetentionCandidate>> {
    Ok(trials::table
        .filter(trials::status.eq_any(ENDED))
        .filter(trials::held.eq(false))
        .filter(trials::completed_at.lt(before))
        .order((trials::completed_at.asc(), trials::id.asc()))
        .limit(limit)
        .select(CANDIDATE)
        .load(conn)?)
}

/// The schedules with more than `keep` ended trials.
pub fn schedules_with_more_ended_than(conn: &mut DbConnection, keep: i64) -> Result<Vec<String>> {
    let rows: Vec<Option<String>> = trials::table
        .filter(trials::status.eq_any(ENDED))
        .filter(trials::schedule_id.is_not_null())
        .group_by(trials::schedule_id)
        .having(diesel::dsl::count_star().gt(keep))
        .select(trials::schedule_id)
        .load(conn)?;
    Ok(rows.into_iter().flatten().collect())
}

/// A schedule's ended trials older than its latest `keep` ended ones (held ones count among those kept, and are
/// listed too: the caller leaves them), at most `limit`.
pub fn ended_beyond_latest(
    conn: &mut DbConnection,
    schedule_id: &str,
    keep: i64,
    limit: i64,
) -> Result<Vec<RetentionCandidate>> {
    Ok(trials::table
        .filter(trials::schedule_id.eq(schedule_id))
        .filter(trials::status.eq_any(ENDED))
        .order((trials::completed_at.desc(), trials::id.desc()))
        .offset(keep)
        .limit(limit)
        .select(CANDIDATE)
        .load(conn)?)
}

/// Deletes an ended trial not on hold (with its webhooks, MiSArch run and Gatling report); whether it did.
pub fn delete_ended(conn: &mut DbConnection, id: &str) -> Result<bool> {
    let deleted =
        diesel::delete(trials::table.find(id).filter(trials::status.eq_any(ENDED)).filter(trials::held.eq(false)))
            .execute(conn)?;
    Ok(deleted == 1)
}

/// Puts a trial on hold, or takes it off; its kept view is made again. Whether the trial exists.
pub fn set_held(conn: &mut DbConnection, id: &str, held: bool) -> Result<bool> {
    let updated = diesel::update(trials::table.find(id))
        .set((trials::held.eq(held), trials::api_view.eq(None::<String>)))
        .execute(conn)?;
    Ok(updated == 1)
}
