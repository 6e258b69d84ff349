//! Blackouts: stretches of time in which no trial of the whole deployment starts, and a trial that runs when one
//! begins is stopped with its clean-up (docs/safety.md#blackouts). A blackout is one-off (`from` … `to`, instants)
//! or recurring (windows of weekdays and local hours in a time zone, as a schedule's run windows are written).
//!
//! While one is active: `POST /trial`, sweeps and MiSArch starts are refused (409 `blackout_active`, in
//! [`crate::trials::queue_of`]); schedule fires are skipped and counted (`skipped_fires`); the worker stops the
//! trials still queued and claims none; and the worker running a trial stops it at its next heartbeat. Each of
//! them names the blackout and its reason.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cron::parse_timezone;
use crate::db::page::{Page, PageRequest};
use crate::db::{self, BlackoutRow, Db, DbConnection};
use crate::error::{Error, Result};
use crate::experiments::parse_id;
use crate::json::{from_optional_text, to_text};
use crate::schedules::windows::{OutsidePolicy, RunWindows, Window};
use crate::time;

/// At most this many blackouts that are not over yet.
pub const MAX_BLACKOUTS: i64 = 200;

/// A blackout as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Blackout {
    pub id: Uuid,
    /// Why: shown on every trial it stops and every start it refuses.
    pub reason: String,
    /// A one-off blackout's start and end (end excluded); null for a recurring one.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// A recurring blackout's time zone and windows; null for a one-off one.
    pub timezone: Option<String>,
    pub windows: Option<Vec<Window>>,
    /// Whether it is in force now.
    pub active: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// The body of `POST /blackout`: `reason` with either `from` and `to`, or `timezone` and `windows`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Christmas freeze", "timezone": "Europe/Berlin",
    "windows": [{"days": ["fri"], "from": "16:00", "to": "09:00"}]}))]
pub struct BlackoutInput {
    pub reason: String,
    /// A one-off blackout: from this instant (RFC 3339)…
    pub from: Option<DateTime<Utc>>,
    /// …to this one, excluded.
    pub to: Option<DateTime<Utc>>,
    /// A recurring blackout: the IANA time zone of its windows (default UTC).
    pub timezone: Option<String>,
    /// A recurring blackout: its windows (days, `from`, `to` in local `HH:MM`; across midnight as for run windows).
    pub windows: Option<Vec<Window>>,
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::invalid("invalid_blackout", field, message)
}

/// When a blackout is in force.
enum Span {
    OneOff { from: DateTime<Utc>, to: DateTime<Utc> },
    Recurring { timezone: chrono_tz::Tz, windows: RunWindows },
}

impl Span {
    fn of(row: &BlackoutRow) -> Result<Self> {
        match (row.starts_at, row.ends_at, &row.timezone, &row.windows) {
            (Some(from), Some(to), _, _) => Ok(Self::OneOff { from: time::from_db(from), to: time::from_db(to) }),
            (_, _, Some(timezone), Some(windows)) => Ok(Self::Recurring {
                timezone: parse_timezone(timezone).map_err(|e| Error::internal(e.to_string()))?,
                windows: RunWindows {
                    windows: from_optional_text(Some(windows))?.unwrap_or_default(),
                    exclusions: Vec::new(),
                    outside: OutsidePolicy::Skip,
                },
            }),
            _ => Err(Error::internal(format!("stored blackout {} has neither a range nor windows", row.id))),
        }
    }

    fn covers(&self, at: DateTime<Utc>) -> bool {
        match self {
            Self::OneOff { from, to } => *from <= at && at < *to,
            Self::Recurring { timezone, windows } => windows.allows(at, *timezone),
        }
    }
}

fn view(row: BlackoutRow, now: DateTime<Utc>) -> Result<Blackout> {
    let active = Span::of(&row)?.covers(now);
    Ok(Blackout {
        id: parse_id(&row.id)?,
        reason: row.reason,
        from: row.starts_at.map(time::from_db),
        to: row.ends_at.map(time::from_db),
        timezone: row.timezone,
        windows: from_optional_text(row.windows.as_deref())?,
        active,
        created_by: row.created_by,
        created_at: time::from_db(row.created_at),
    })
}

/// The blackout in force at `now`, if one is (the oldest, when several are).
pub fn active_at(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Option<BlackoutRow>> {
    for row in db::blackouts::not_over(conn, time::to_db(now))? {
        if Span::of(&row)?.covers(now) {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// How a blackout is named where it refuses or stops something.
pub fn describe(row: &BlackoutRow) -> String {
    format!("blackout {} ({})", row.id, row.reason)
}

pub async fn create(db: &Db, input: BlackoutInput, actor: &str) -> Result<Blackout> {
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(invalid("reason", "reason must say why, in 1 to 1000 characters"));
    }
    let now = time::now();
    let mut row = BlackoutRow {
        id: Uuid::new_v4().to_string(),
        reason,
        starts_at: None,
        ends_at: None,
        timezone: None,
        windows: None,
        created_by: actor.to_owned(),
        created_at: time::to_db(now),
    };
    match (input.from, input.to, input.timezone, input.windows) {
        (Some(from), Some(to), None, None) => {
            if to <= from {
                return Err(invalid("to", format!("to ({to}) must be after from ({from})")));
            }
            if to <= now {
                return Err(invalid("to", "the blackout would be over before it is made"));
            }
            (row.starts_at, row.ends_at) = (Some(time::to_db(from)), Some(time::to_db(to)));
        }
        (None, None, timezone, Some(windows)) => {
            let timezone = timezone.unwrap_or_else(|| "UTC".to_owned());
            parse_timezone(&timezone).map_err(|e| invalid("timezone", e.to_string()))?;
            let checked = RunWindows { windows, exclusions: Vec::new(), outside: OutsidePolicy::Skip };
            checked.validate().map_err(|e| {
                let field = e.field.as_deref().unwrap_or("windows").trim_start_matches("run_windows.").to_owned();
                invalid(&field, e.message)
            })?;
            row.timezone = Some(timezone);
            row.windows = Some(to_text(&checked.windows));
        }
        _ => {
            return Err(invalid(
                "from",
                "give either from and to (a one-off blackout) or windows with a timezone (a recurring one)",
            ));
        }
    }
    db.run(move |conn| {
        if db::blackouts::not_over(conn, row.created_at)?.len() as i64 >= MAX_BLACKOUTS {
            return Err(Error::conflict(
                "too_many_blackouts",
                format!("at most {MAX_BLACKOUTS} blackouts that are not over"),
            ));
        }
        db::blackouts::insert(conn, &row)?;
        view(row, now)
    })
    .await
}

fn not_found(id: Uuid) -> Error {
    Error::not_found("blackout_not_found", format!("blackout {id} does not exist"))
}

pub async fn find(db: &Db, id: Uuid) -> Result<Blackout> {
    let row = db.run(move |conn| db::blackouts::find(conn, &id.to_string())).await?.ok_or_else(|| not_found(id))?;
    view(row, time::now())
}

pub async fn list(db: &Db, page: PageRequest) -> Result<Page<Blackout>> {
    let now = time::now();
    db.run(move |conn| db::blackouts::list(conn, &page)).await?.map(|row| view(row, now))
}

/// Ends a blackout early, or removes a planned one.
pub async fn delete(db: &Db, id: Uuid) -> Result<()> {
    if !db.run(move |conn| db::blackouts::delete(conn, &id.to_string())).await? {
        return Err(not_found(id));
    }
    Ok(())
}
