//! Run windows: when a schedule may fire, in its time zone (docs/safety.md#run-windows). Pure: no database, no clock.
//!
//! A fire is allowed when its local wall-clock time falls in one of the windows (`from` inclusive, `to` exclusive;
//! a window whose `to` is not after its `from` crosses midnight and belongs to the day it starts on) and its local
//! date is not excluded. Times are compared on the wall clock, the rule cron itself follows: in the repeated hour of
//! a fall-back night both passes are inside a window that covers the hour, and a window that opens in the skipped
//! hour of a spring-forward night opens at the first valid time after the gap.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cron::Recurrence;
use crate::error::{Error, Result};

/// At most this many windows and exclusions per schedule.
pub const MAX_WINDOWS: usize = 50;
pub const MAX_EXCLUSIONS: usize = 500;
/// How far ahead the next allowed instant is looked for: beyond it, the schedule is taken never to fire.
const HORIZON_DAYS: i64 = 800;

/// When a schedule may fire, and what becomes of a fire that falls outside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}],
    "exclusions": ["2026-12-24", {"from": "2026-12-28", "to": "2027-01-01"}], "outside": "skip"}))]
pub struct RunWindows {
    /// The allowed times; at least one.
    pub windows: Vec<Window>,
    /// Local dates on which nothing fires (holidays): a day `"2026-12-24"`, or a range `{"from", "to"}`, both
    /// days included.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    /// A fire outside the allowed times is `skip`ped and counted in `skipped_fires` (the default), or `defer`red to
    /// the start of the next allowed time (several deferred fires make one trial).
    #[serde(default)]
    pub outside: OutsidePolicy,
}

/// Allowed weekdays and hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The days it starts on (`mon` … `sun`); every day when left out.
    #[serde(default = "every_day")]
    #[schema(value_type = Vec<String>, example = json!(["mon", "fri"]))]
    pub days: Vec<Day>,
    /// Local time it opens, `HH:MM`.
    #[schema(value_type = String, example = "09:00")]
    pub from: ClockTime,
    /// Local time it closes, `HH:MM`; not after `from`: it closes the next day (`22:00` to `06:00`, or `00:00` to
    /// `00:00` for the whole day).
    #[schema(value_type = String, example = "17:00")]
    pub to: ClockTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(weekday: Weekday) -> Self {
        match weekday {
            Weekday::Mon => Self::Mon,
            Weekday::Tue => Self::Tue,
            Weekday::Wed => Self::Wed,
            Weekday::Thu => Self::Thu,
            Weekday::Fri => Self::Fri,
            Weekday::Sat => Self::Sat,
            Weekday::Sun => Self::Sun,
        }
    }
}

fn every_day() -> Vec<Day> {
    vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun]
}

/// A local time of day, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.format("%H:%M").to_string())
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map(ClockTime)
            .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a time of day HH:MM (00:00 to 23:59)")))
    }
}

/// A local date, or a range of them, both ends included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Exclusion {
    #[schema(value_type = String, example = "2026-12-24")]
    Day(NaiveDate),
    Range {
        #[schema(value_type = String)]
        from: NaiveDate,
        #[schema(value_type = String)]
        to: NaiveDate,
    },
}

impl Exclusion {
    fn covers(&self, date: NaiveDate) -> bool {
        match self {
            Self::Day(day) => *day == date,
            Self::Range { from, to } => (*from..=*to).contains(&date),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutsidePolicy {
    #[default]
    Skip,
    Defer,
}

/// What to do with a fire at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Fire,
    Skip,
    /// Fire at this later instant instead (the next allowed time).
    DeferTo(DateTime<Utc>),
}

impl RunWindows {
    pub fn validate(&self) -> Result<()> {
        let invalid = |field: String, message: String| Err(Error::invalid("invalid_run_windows", field, message));
        if self.windows.is_empty() || self.windows.len() > MAX_WINDOWS {
            return invalid(
                "run_windows.windows".into(),
                format!("give 1 to {MAX_WINDOWS} windows, not {}", self.windows.len()),
            );
        }
        for (index, window) in self.windows.iter().enumerate() {
            if window.days.is_empty() {
                return invalid(format!("run_windows.windows[{index}].days"), "name at least one day".into());
            }
        }
        if self.exclusions.len() > MAX_EXCLUSIONS {
            return invalid("run_windows.exclusions".into(), format!("at most {MAX_EXCLUSIONS} exclusions"));
        }
        for (index, exclusion) in self.exclusions.iter().enumerate() {
            if let Exclusion::Range { from, to } = exclusion
                && to < from
            {
                return invalid(
                    format!("run_windows.exclusions[{index}]"),
                    format!("the range ends ({to}) before it starts ({from})"),
                );
            }
        }
        Ok(())
    }

    /// Whether a fire at `at` is allowed.
    pub fn allows(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz).naive_local();
        let (date, time) = (local.date(), ClockTime(local.time()));
        if self.exclusions.iter().any(|exclusion| exclusion.covers(date)) {
            return false;
        }
        let starts_on = |day: NaiveDate, window: &Window| window.days.contains(&Day::of(day.weekday()));
        self.windows.iter().any(|window| {
            if window.from < window.to {
                starts_on(date, window) && window.from <= time && time < window.to
            } else {
                // Crosses midnight: the part after `from` on its day, the part before `to` on the next.
                let yesterday = date.pred_opt();
                (starts_on(date, window) && time >= window.from)
                    || (yesterday.is_some_and(|d| starts_on(d, window)) && time < window.to)
            }
        })
    }

    /// The first allowed instant at or after `at`, within the horizon.
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        if self.allows(at, tz) {
            return Some(at);
        }
        // An allowed stretch begins at a window's opening or at a midnight (where an exclusion ends).
        let first = at.with_timezone(&tz).date_naive().pred_opt()?;
        for offset in 0..HORIZON_DAYS {
            let date = first + Duration::days(offset);
            let mut openings: Vec<DateTime<Utc>> = self
                .windows
                .iter()
                .map(|window| window.from.0)
                .chain([NaiveTime::MIN])
                .filter_map(|time| instant_of(date.and_time(time), tz))
                .filter(|opening| *opening >= at)
                .collect();
            openings.sort();
            if let Some(opening) = openings.into_iter().find(|opening| self.allows(*opening, tz)) {
                return Some(opening);
            }
        }
        None
    }

    /// What becomes of a fire at `at`.
    pub fn verdict(&self, at: DateTime<Utc>, tz: Tz) -> Verdict {
        if self.allows(at, tz) {
            return Verdict::Fire;
        }
        match (self.outside, self.next_allowed(at, tz)) {
            (OutsidePolicy::Defer, Some(later)) => Verdict::DeferTo(later),
            _ => Verdict::Skip,
        }
    }

    /// The instant a schedule whose next cron instant is `next` really fires at: `next` itself when it is allowed;
    /// otherwise, skipping, the next allowed cron instant, or deferring, the next allowed time.
    pub fn real_next(&self, recurrence: &Recurrence, next: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = recurrence.timezone();
        let mut instant = next;
        // Each turn moves to a later allowed stretch; a pattern that never meets a window gives up.
        for _ in 0..1000 {
            match self.verdict(instant, tz) {
                Verdict::Fire => return Some(instant),
                Verdict::DeferTo(later) => return Some(later),
                Verdict::Skip => instant = recurrence.next_from(self.next_allowed(instant, tz)?)?,
            }
        }
        None
    }
}

/// The instant of a local wall-clock time: the first pass of a repeated time; for a time in a spring-forward gap,
/// the first valid time after the gap (cron's rule).
fn instant_of(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let mut probe = local;
    for _ in 0..=180 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => return Some(first.with_timezone(&Utc)),
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn windows(json: serde_json::Value) -> RunWindows {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn working_hours_on_working_days_except_holidays() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let office = windows(serde_json::json!({
            "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}],
            "exclusions": ["2026-12-24", {"from": "2026-12-28", "to": "2027-01-01"}]
        }));
        // Thursday 3 December 2026, 10:00 CET = 09:00 UTC.
        assert!(office.allows(at("2026-12-03T09:00:00Z"), berlin));
        assert!(!office.allows(at("2026-12-03T16:00:00Z"), berlin), "17:00 local: closed");
        assert!(!office.allows(at("2026-12-05T09:00:00Z"), berlin), "a Saturday");
        assert!(!office.allows(at("2026-12-24T09:00:00Z"), berlin), "a holiday");
        assert!(!office.allows(at("2026-12-30T09:00:00Z"), berlin), "in the range");
        // From Wednesday 23 December 17:00 the next allowed time is Friday 25th 09:00 (the 24th is excluded).
        assert_eq!(office.next_allowed(at("2026-12-23T16:30:00Z"), berlin), Some(at("2026-12-25T08:00:00Z")));
        assert_eq!(office.next_allowed(at("2026-12-31T12:00:00Z"), berlin), Some(at("2027-01-04T08:00:00Z")));
    }

    #[test]
    fn a_window_across_midnight_belongs_to_its_start_day() {
        let utc: Tz = "UTC".parse().unwrap();
        let nights = windows(serde_json::json!({"windows": [{"days": ["fri"], "from": "22:00", "to": "02:00"}]}));
        assert!(nights.allows(at("2026-12-04T23:00:00Z"), utc), "Friday 23:00");
        assert!(nights.allows(at("2026-12-05T01:59:00Z"), utc), "Saturday 01:59, Friday's night");
        assert!(!nights.allows(at("2026-12-05T02:00:00Z"), utc));
        assert!(!nights.allows(at("2026-12-05T23:00:00Z"), utc), "Saturday night is not Friday's");
        assert!(!nights.allows(at("2026-12-04T01:00:00Z"), utc), "Friday 01:00 is Thursday's night");
        assert_eq!(nights.next_allowed(at("2026-12-05T03:00:00Z"), utc), Some(at("2026-12-11T22:00:00Z")));
    }

    #[test]
    fn defer_moves_a_fire_to_the_next_opening_and_skip_to_the_next_allowed_cron_instant() {
        let utc: Tz = "UTC".parse().unwrap();
        let mut day = windows(serde_json::json!({"windows": [{"from": "09:00", "to": "17:00"}]}));
        let hourly = Recurrence::parse("30 * * * *", "UTC", at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(day.verdict(at("2026-12-03T20:30:00Z"), utc), Verdict::Skip);
        assert_eq!(day.real_next(&hourly, at("2026-12-03T20:30:00Z")), Some(at("2026-12-04T09:30:00Z")));
        day.outside = OutsidePolicy::Defer;
        assert_eq!(day.verdict(at("2026-12-03T20:30:00Z"), utc), Verdict::DeferTo(at("2026-12-04T09:00:00Z")));
        assert_eq!(day.real_next(&hourly, at("2026-12-03T20:30:00Z")), Some(at("2026-12-04T09:00:00Z")));
        assert_eq!(day.real_next(&hourly, at("2026-12-04T10:30:00Z")), Some(at("2026-12-04T10:30:00Z")));
    }

    #[test]
    fn a_window_opening_in_the_skipped_hour_opens_after_the_gap() {
        // Sunday 8 March 2026 in New York: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that night.
        let new_york: Tz = "America/New_York".parse().unwrap();
        let early = windows(serde_json::json!({"windows": [{"from": "02:30", "to": "04:00"}]}));
        assert_eq!(early.next_allowed(at("2026-03-08T05:00:00Z"), new_york), Some(at("2026-03-08T07:00:00Z")));
        assert!(early.allows(at("2026-03-08T07:00:00Z"), new_york), "03:00 EDT is inside");
        // The next night it opens at 02:30 EDT again.
        assert_eq!(early.next_allowed(at("2026-03-08T09:00:00Z"), new_york), Some(at("2026-03-09T06:30:00Z")));
    }

    #[test]
    fn bad_windows_name_the_field() {
        let empty = windows(serde_json::json!({"windows": []}));
        assert_eq!(empty.validate().unwrap_err().field.as_deref(), Some("run_windows.windows"));
        let backwards = windows(serde_json::json!({"windows": [{"from": "09:00", "to": "17:00"}],
            "exclusions": [{"from": "2026-12-31", "to": "2026-12-01"}]}));
        assert_eq!(backwards.validate().unwrap_err().field.as_deref(), Some("run_windows.exclusions[0]"));
        let no_days = windows(serde_json::json!({"windows": [{"days": [], "from": "09:00", "to": "17:00"}]}));
        assert_eq!(no_days.validate().unwrap_err().field.as_deref(), Some("run_windows.windows[0].days"));
        assert!(
            serde_json::from_value::<RunWindows>(serde_json::json!({"windows": [{"from": "25:00", "to": "17:00"}]}))
                .is_err()
        );
    }
}
