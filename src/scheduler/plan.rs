//! What one fire of a due schedule does: which instant gets a trial, how many instants were missed, and when the
//! schedule fires next. Pure: no database, no clock.

use chrono::{DateTime, Duration, Utc};

use crate::cron::Recurrence;
use crate::schedules::MisfirePolicy;

/// An instant fired this long after it was due still counts as on time. Normal fires are milliseconds late; this
/// absorbs a slow database or a paused process without calling it a misfire.
pub const ON_TIME_GRACE: Duration = Duration::seconds(60);

/// Missed instants are counted up to this many per fire (a per-second schedule over a long outage stops there).
const MAX_COUNTED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirePlan {
    /// The cron instant to create a trial for, if any.
    pub fire_at: Option<DateTime<Utc>>,
    /// Whether that trial catches up a missed instant (`misfire_policy` run_once).
    pub catch_up: bool,
    /// Instants that passed without a trial on time.
    pub missed: i64,
    /// The first instant after `now`.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Plans the fire of a schedule whose `next_run_at` is due (`<= now`).
///
/// Only the latest due instant can get a trial: it does when it is at most [`ON_TIME_GRACE`] late, or, with
/// `run_once`, as a catch-up when it is within `misfire_deadline`. Every other due instant is missed.
pub fn plan(
    recurrence: &Recurrence,
    next_run_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: MisfirePolicy,
    misfire_deadline: Duration,
) -> FirePlan {
    let (count, latest) = recurrence.instants_between(next_run_at - Duration::microseconds(1), now, MAX_COUNTED);
    // `next_run_at` is always one of the recurrence's instants; should it not be (a hand-edited row), it is still
    // the instant that is due.
    let (count, latest) = match latest {
        Some(latest) => (count, latest),
        None => (1, next_run_at),
    };
    let mut missed = i64::try_from(count).unwrap_or(i64::MAX) - 1;
    let late = now - latest;
    let (fire_at, catch_up) = if late <= ON_TIME_GRACE {
        (Some(latest), false)
    } else {
        missed += 1;
        let catch_up = policy == MisfirePolicy::RunOnce && late <= misfire_deadline;
        (catch_up.then_some(latest), catch_up)
    };
    FirePlan { fire_at, catch_up, missed, next_run_at: recurrence.next_after(now) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn every_minute() -> Recurrence {
        Recurrence::parse("* * * * *", "UTC", at("2026-01-01T00:00:00Z")).unwrap()
    }

    const HOUR: Duration = Duration::hours(1);

    #[test]
    fn an_on_time_fire_creates_one_trial() {
        let plan = plan(
            &every_minute(),
            at("2026-01-01T10:00:00Z"),
            at("2026-01-01T10:00:00.003Z"),
            MisfirePolicy::Skip,
            HOUR,
        );
        assert_eq!(plan.fire_at, Some(at("2026-01-01T10:00:00Z")));
        assert!(!plan.catch_up);
        assert_eq!(plan.missed, 0);
        assert_eq!(plan.next_run_at, Some(at("2026-01-01T10:01:00Z")));
    }

    #[test]
    fn after_downtime_run_once_catches_up_the_latest_instant() {
        // Down from 10:00 to 10:30:30: 31 instants passed, the latest (10:30) 30 s ago, so it is still on time.
        let recent =
            plan(&every_minute(), at("2026-01-01T10:00:00Z"), at("2026-01-01T10:30:30Z"), MisfirePolicy::RunOnce, HOUR);
        assert_eq!((recent.fire_at, recent.catch_up, recent.missed), (Some(at("2026-01-01T10:30:00Z")), false, 30));

        let daily = Recurrence::parse("0 2 * * *", "UTC", at("2026-01-01T00:00:00Z")).unwrap();
        // Back at 02:40 on the third day: the instants of day 1, 2 and 3 passed; day 3's is 40 min old.
        let late = plan(&daily, at("2026-01-01T02:00:00Z"), at("2026-01-03T02:40:00Z"), MisfirePolicy::RunOnce, HOUR);
        assert_eq!((late.fire_at, late.catch_up, late.missed), (Some(at("2026-01-03T02:00:00Z")), true, 3));
        assert_eq!(late.next_run_at, Some(at("2026-01-04T02:00:00Z")));

        let too_late =
            plan(&daily, at("2026-01-01T02:00:00Z"), at("2026-01-03T03:30:00Z"), MisfirePolicy::RunOnce, HOUR);
        assert_eq!((too_late.fire_at, too_late.missed), (None, 3), "beyond the deadline nothing runs");
    }

    #[test]
    fn skip_never_runs_a_missed_instant() {
        let daily = Recurrence::parse("0 2 * * *", "UTC", at("2026-01-01T00:00:00Z")).unwrap();
        let plan = plan(&daily, at("2026-01-01T02:00:00Z"), at("2026-01-01T02:05:00Z"), MisfirePolicy::Skip, HOUR);
        assert_eq!((plan.fire_at, plan.catch_up, plan.missed), (None, false, 1));
        assert_eq!(plan.next_run_at, Some(at("2026-01-02T02:00:00Z")));
    }

    #[test]
    fn never_plans_an_instant_after_now() {
        let every_second = Recurrence::parse("* * * * * *", "UTC", at("2026-01-01T00:00:00Z")).unwrap();
        let now = at("2026-01-01T10:00:05.999Z");
        let plan = plan(&every_second, at("2026-01-01T10:00:00Z"), now, MisfirePolicy::RunOnce, HOUR);
        assert_eq!((plan.fire_at, plan.missed), (Some(at("2026-01-01T10:00:05Z")), 5));
        assert!(plan.next_run_at.unwrap() > now);
    }
}
