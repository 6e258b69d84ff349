//! Cron recurrences: write-time validation of `recurrence_pattern` + `timezone`, and the fire
//! instants the scheduler creates trials for.
//!
//! croner 4.0.3 does the matching: it is the one Rust cron crate that reads 5 fields as written and
//! follows the Vixie DST rule (croner 3 double-fired on spring-forward days). This module narrows
//! what croner accepts to what eris documents (docs/scheduling.md) and hardens the edges the
//! scheduler relies on: sub-second instants, "strictly after", and impossible dates.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

const MAX_PATTERN_CHARS: usize = 100;
const FIELDS: [&str; 6] = ["second", "minute", "hour", "day-of-month", "month", "day-of-week"];
const BOUNDS: [(u32, u32); 6] = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
// Expanded here, not by croner: croner lacks @midnight, and its own expansion would bypass the
// field checks below.
const MACROS: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Why a `recurrence_pattern` or `timezone` was refused. Each message names the field and says
/// what is wrong, so the API can return it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("recurrence_pattern is empty: give a cron pattern such as '*/5 * * * *' or a macro such as '@daily'")]
    Empty,
    #[error("recurrence_pattern is {length} characters long; at most 100 are allowed")]
    TooLong { length: usize },
    #[error(
        "recurrence_pattern '{pattern}' has {count} fields; expected 5 (minute hour day-of-month month day-of-week) or 6 with a leading seconds field"
    )]
    FieldCount { pattern: String, count: usize },
    #[error(
        "recurrence_pattern '@reboot': @reboot is not supported; a schedule fires at times of day, not when eris starts"
    )]
    Reboot,
    #[error(
        "recurrence_pattern '{pattern}' is not a supported macro; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
    )]
    UnknownMacro { pattern: String },
    /// `problem` names the field, e.g. "minute value 61 is out of range 0-59".
    #[error("recurrence_pattern '{pattern}': {problem}")]
    InvalidField { pattern: String, field: &'static str, problem: FieldProblem },
    #[error("recurrence_pattern '{pattern}' is invalid: {reason}")]
    Invalid { pattern: String, reason: String },
    #[error("recurrence_pattern '{pattern}' never fires: there is no such date")]
    NeverFires { pattern: String },
    #[error("timezone '{name}': not an IANA time zone name (e.g. 'UTC', 'Europe/Berlin')")]
    UnknownTimezone { name: String },
}

impl CronError {
    /// The request field the error is about, for the API's error body.
    pub fn field(&self) -> &'static str {
        match self {
            CronError::UnknownTimezone { .. } => "timezone",
            _ => "recurrence_pattern",
        }
    }
}

/// What is wrong with one field of a pattern; each message names the field and quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    #[error(
        "{field} field '{text}': the '+' prefix (day-of-month AND day-of-week) is not supported; the two fields combine with OR"
    )]
    PlusPrefix { field: &'static str, text: String },
    #[error("{field} field '{text}' contains '{character}', which a cron pattern does not allow")]
    Character { field: &'static str, text: String, character: char },
    #[error("{field} field '{text}' contains '{word}': {hint}")]
    Word { field: &'static str, text: String, word: String, hint: &'static str },
    #[error("{field} field '{text}' has an empty list item: a comma must stand between two values")]
    EmptyItem { field: &'static str, text: String },
    #[error("{field} field '{text}': the step '{step}' must be a whole number from 1 to {largest}")]
    Step { field: &'static str, text: String, step: String, largest: u32 },
    #[error("{field} value {value} is out of range {min}-{max}")]
    OutOfRange { field: &'static str, value: u32, min: u32, max: u32 },
    /// croner's own reason, attributed to the field by parsing each field alone.
    #[error("{field} field '{text}' is invalid: {reason}")]
    Croner { field: &'static str, text: String, reason: String },
}

/// An IANA name as chrono-tz spells it (case-sensitive, no trimming: `utc` is refused).
pub fn parse_timezone(name: &str) -> Result<Tz, CronError> {
    name.parse::<Tz>().map_err(|_| CronError::UnknownTimezone { name: name.to_string() })
}

/// A validated recurrence: a cron pattern evaluated in an IANA time zone.
#[derive(Debug, Clone)]
pub struct Recurrence {
    cron: Cron,
    tz: Tz,
    pattern: String,
}

impl Recurrence {
    /// Validates the pattern and the zone, and checks that the pattern fires at least once after `now`
    /// (so impossible dates like `0 0 31 2 *` are rejected at write time).
    pub fn parse(pattern: &str, timezone: &str, now: DateTime<Utc>) -> Result<Self, CronError> {
        let pattern = pattern.trim_ascii();
        let cron = parse_pattern(pattern)?;
        let tz = parse_timezone(timezone)?;
        let never = || CronError::NeverFires { pattern: pattern.to_string() };
        let recurrence = Recurrence { cron, tz, pattern: pattern.to_string() };
        recurrence.next_after(now).ok_or_else(never)?;
        Ok(recurrence)
    }

    /// The first fire instant strictly after `after`, in UTC. None if the pattern never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire instants are whole seconds; croner drops sub-seconds from the wall clock but not
        // from its DST comparisons, so it is handed whole seconds only.
        let mut origin = floor_second(after)?.with_timezone(&self.tz);
        // The scheduler's "never twice" rests on `next > after`. croner keeps it in every case we
        // test; should it ever not, searching on from its answer still makes progress.
        for _ in 0..4 {
            let next = self.cron.find_next_occurrence(&origin, false).ok()?;
            if next.with_timezone(&Utc) > after {
                return Some(next.with_timezone(&Utc));
            }
            origin = next;
        }
        None
    }

    /// The first fire instant at or after `from` (inclusive).
    pub fn next_from(&self, from: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Going through `next_after` keeps one definition of the fire instants.
        match from.timestamp_subsec_nanos() {
            0 => self.next_after(from.checked_sub_signed(TimeDelta::seconds(1))?),
            _ => self.next_after(from),
        }
    }

    /// Counts the fire instants in `(after, until]` for misfire accounting after downtime.
    ///
    /// The walk stops after `limit` instants, so the cost is at most `limit` searches however
    /// dense the pattern (`* * * * * *` over a month of downtime is 2.6 million instants). The
    /// count is exact when it is below `limit`; a count equal to `limit` means "`limit` or
    /// more". The latest instant is exact either way: when the cap is hit it comes from a
    /// backward search that is then checked against the forward one.
    pub fn instants_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> (usize, Option<DateTime<Utc>>) {
        let (mut count, mut latest, mut cursor) = (0, None, after);
        while count < limit {
            match self.next_after(cursor) {
                Some(next) if next <= until => (count, latest, cursor) = (count + 1, Some(next), next),
                _ => return (count, latest),
            }
        }
        (count, self.latest_at_or_before(until).filter(|t| *t > after).or(latest))
    }

    fn latest_at_or_before(&self, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let origin = floor_second(until)?.with_timezone(&self.tz);
        let found = self.cron.find_previous_occurrence(&origin, true).ok()?.with_timezone(&Utc);
        // Only trust the backward search where it agrees with the forward definition.
        let is_fire = self.next_from(found) == Some(found);
        let is_last = self.next_after(found).is_none_or(|next| next > until);
        (is_fire && is_last).then_some(found)
    }

    /// The pattern as given, without surrounding whitespace.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }
}

fn floor_second(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.timestamp(), 0)
}

fn parser() -> CronParser {
    // Optional seconds are LEADING (6 fields = `sec min hour dom month dow`). The year field is
    // refused because croniter-era patterns use a 7th field differently. `dom_and_dow` stays off:
    // day-of-month and day-of-week combine with OR when both are restricted, as in Vixie cron.
    // `sloppy_ranges` stays off: `0/10` is refused as in Vixie cron, with croner's message that
    // suggests `*/10`, rather than silently guessing what a croniter user meant.
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .dom_and_dow(false)
        .sloppy_ranges(false)
        .build()
}

fn parse_pattern(pattern: &str) -> Result<Cron, CronError> {
    if pattern.is_empty() {
        return Err(CronError::Empty);
    }
    let length = pattern.chars().count();
    if length > MAX_PATTERN_CHARS {
        return Err(CronError::TooLong { length });
    }
    let expanded = if pattern.starts_with('@') {
        if pattern.eq_ignore_ascii_case("@reboot") {
            return Err(CronError::Reboot);
        }
        let found = MACROS.iter().find(|(name, _)| pattern.eq_ignore_ascii_case(name));
        let unknown = || CronError::UnknownMacro { pattern: pattern.to_string() };
        found.map(|(_, expansion)| *expansion).ok_or_else(unknown)?
    } else {
        pattern
    };
    let fields: Vec<&str> = expanded.split_ascii_whitespace().collect();
    let first = match fields.len() {
        5 => 1,
        6 => 0,
        count => {
            return Err(CronError::FieldCount { pattern: pattern.to_string(), count });
        }
    };
    let invalid = |index: usize, problem: FieldProblem| CronError::InvalidField {
        pattern: pattern.to_string(),
        field: FIELDS[index],
        problem,
    };
    for (offset, text) in fields.iter().enumerate() {
        let index = first + offset;
        check_field(index, text).map_err(|problem| invalid(index, problem))?;
    }
    let cron = parser().parse(expanded).map_err(|error| {
        // croner's messages do not say which field failed: find it by parsing each alone.
        for (offset, text) in fields.iter().enumerate() {
            let mut probe = ["0", "*", "*", "*", "*", "*"];
            probe[first + offset] = text;
            if let Err(e) = parser().parse(&probe.join(" ")) {
                let field = FIELDS[first + offset];
                let problem = FieldProblem::Croner { field, text: (*text).to_owned(), reason: croner_reason(&e) };
                return invalid(first + offset, problem);
            }
        }
        CronError::Invalid { pattern: pattern.to_string(), reason: croner_reason(&error) }
    })?;
    debug_assert!(!cron.pattern.matches_dom_and_dow(), "'+' is refused by check_field");
    // croner only gives up on a pattern that never matches at year 5000 (seconds of CPU for `,,, * * * *`), so
    // every such pattern is caught here without a search; what passes fires within a few years.
    if never_matches(&cron, fields[3 - first]) {
        return Err(CronError::NeverFires { pattern: pattern.to_string() });
    }
    Ok(cron)
}

/// Checks each field's shape before croner sees it: what croner gets wrong or words poorly (it accepts month names
/// in any field, so `0 0 * * JAN` would be Mondays, and reports "Number out of bounds." without the number or the
/// field), and what it accepts but can never match (`,,,` has no value at all, so finding that it never fires would
/// take a search to the year 5000).
fn check_field(index: usize, text: &str) -> Result<(), FieldProblem> {
    let field = FIELDS[index];
    let owned = || text.to_owned();
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || "*,-/#?".contains(*c))) {
        return Err(match c {
            '+' => FieldProblem::PlusPrefix { field, text: owned() },
            _ => FieldProblem::Character { field, text: owned(), character: c },
        });
    }
    let upper = text.to_ascii_uppercase();
    for word in upper.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty()) {
        let allowed = match index {
            3 => matches!(word, "L" | "W" | "LW"),
            4 => MONTHS.contains(&word),
            5 => DAYS.contains(&word) || word == "L",
            _ => false,
        };
        if !allowed {
            let hint = if MONTHS.contains(&word) {
                "month names belong in the month field"
            } else if DAYS.contains(&word) {
                "day names belong in the day-of-week field"
            } else {
                "it is not a value this field accepts"
            };
            return Err(FieldProblem::Word { field, text: owned(), word: word.to_owned(), hint });
        }
    }
    let (min, max) = BOUNDS[index];
    for item in text.split(',') {
        if item.is_empty() {
            return Err(FieldProblem::EmptyItem { field, text: owned() });
        }
        // A step larger than the field's span would match its first value only; a huge one is surely a mistake.
        // An empty step, zero and words are left to croner, which words them well ("Step cannot be zero").
        if let Some((_, step)) = item.split_once('/') {
            let largest = max - min + 1;
            let is_number = !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit());
            let is_zero = step.bytes().all(|b| b == b'0');
            // An all-digit step that does not parse is too large for a u32.
            if is_number && !is_zero && step.parse::<u32>().map_or(true, |n| n > largest) {
                return Err(FieldProblem::Step { field, text: owned(), step: step.to_owned(), largest });
            }
        }
        // Only the values before a '/' step or a '#' nth are bounded by the field's range.
        let values = item.split(['#', '/']).next().unwrap_or_default();
        for value in values.split('-') {
            let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            match digits.parse::<u32>() {
                Ok(n) if n < min || n > max => return Err(FieldProblem::OutOfRange { field, value: n, min, max }),
                _ => {}
            }
        }
    }
    Ok(())
}

fn croner_reason(error: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    match error {
        E::ComponentError(m) | E::IllegalCharacters(m) | E::InvalidPattern(m) => m.clone(),
        other => other.to_string(),
    }
    .trim_end_matches('.')
    .to_string()
}

/// True when the pattern can never match: a time field without any value, or days of the month (plain or `nW`)
/// beyond every selected month's length while the day-of-week field cannot fire instead (it is `*`, so the OR rule
/// does not apply). `day_of_month` is that field as written, for its `W` days, which croner keeps apart.
fn never_matches(cron: &Cron, day_of_month: &str) -> bool {
    let p = &cron.pattern;
    if [&p.seconds, &p.minutes, &p.hours, &p.months].iter().any(|component| component.values().is_empty()) {
        return true;
    }
    if !p.is_dow_wildcard() {
        return false;
    }
    let mut days = p.days.values();
    for item in day_of_month.split(',').map(str::to_ascii_uppercase) {
        match item.strip_suffix('W').map(str::parse::<u16>) {
            Some(Ok(day)) => days.push(day),
            // `L`, `LW` and the like: the month's last days exist in every month.
            _ if item.contains('L') => return false,
            Some(Err(_)) => return false,
            None => {}
        }
    }
    let Some(first_day) = days.into_iter().min() else {
        return true;
    };
    let longest = |month: u16| match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    p.months.values().into_iter().all(|m| first_day > longest(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("test instant").with_timezone(&Utc)
    }

    fn rec(pattern: &str, tz: &str) -> Recurrence {
        Recurrence::parse(pattern, tz, at(NOW)).expect("test pattern")
    }

    fn err(pattern: &str) -> String {
        let e = Recurrence::parse(pattern, "UTC", at(NOW)).expect_err("must be refused");
        assert_eq!(e.field(), "recurrence_pattern");
        e.to_string()
    }

    /// Asserts the fire instants after `after`, written in the zone's local time with its offset.
    fn check<S: AsRef<str>>(pattern: &str, tz: &str, after: &str, want: &[S]) {
        let r = rec(pattern, tz);
        let mut t = at(after);
        let want: Vec<&str> = want.iter().map(AsRef::as_ref).collect();
        let got: Vec<String> = (0..want.len())
            .map(|_| {
                t = r.next_after(t).expect("fires again");
                t.with_timezone(&r.timezone()).to_rfc3339()
            })
            .collect();
        assert_eq!(got, want, "{pattern} in {tz} after {after}");
    }

    /// Times of day on 2026-01-01 UTC, the day of `NOW`.
    fn jan1(times: &[&str]) -> Vec<String> {
        times.iter().map(|t| format!("2026-01-01T{t}+00:00")).collect()
    }

    #[test]
    fn five_fields_as_written_and_six_with_leading_seconds() {
        check("*/5 * * * *", "UTC", NOW, &jan1(&["00:05:00", "00:10:00", "00:15:00"]));
        check("0 9-17 * * *", "UTC", NOW, &jan1(&["09:00:00", "10:00:00"]));
        check("0 9,13 * * *", "UTC", NOW, &jan1(&["09:00:00", "13:00:00"]));
        // croniter reads `0 */5 * * * *` as trailing seconds (05:00:00, 05:00:01, ...).
        check("0 */5 * * * *", "UTC", NOW, &jan1(&["00:05:00", "00:10:00"]));
        check("30 */5 * * * *", "UTC", NOW, &jan1(&["00:00:30", "00:05:30"]));
        check("*/20 * * * * *", "UTC", NOW, &jan1(&["00:00:20", "00:00:40", "00:01:00"]));
        assert_eq!(rec("  */5 * * * *\n", "UTC").pattern(), "*/5 * * * *");
    }

    #[test]
    fn macros() {
        for (pattern, want) in [
            ("@yearly", "2027-01-01T00:00:00+00:00"),
            ("@annually", "2027-01-01T00:00:00+00:00"),
            ("@monthly", "2026-02-01T00:00:00+00:00"),
            ("@weekly", "2026-01-04T00:00:00+00:00"), // a Sunday
            ("@daily", "2026-01-02T00:00:00+00:00"),
            ("@midnight", "2026-01-02T00:00:00+00:00"),
            ("@hourly", "2026-01-01T01:00:00+00:00"),
            ("@DAILY", "2026-01-02T00:00:00+00:00"),
        ] {
            check(pattern, "UTC", NOW, &[want]);
        }
        assert_eq!(err("@reboot"), CronError::Reboot.to_string());
        assert!(err("@reboot").contains("@reboot is not supported"));
        assert!(err("@fortnightly").contains("is not a supported macro; use one of @yearly"));
        assert!(err("@daily 5").contains("is not a supported macro"));
    }

    #[test]
    fn field_count_emptiness_and_length() {
        let seven = "recurrence_pattern '0 0 0 1 1 * 2027' has 7 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 with a leading seconds field";
        assert_eq!(err("0 0 0 1 1 * 2027"), seven);
        assert!(err("* * * *").contains("has 4 fields"));
        assert_eq!(err(""), CronError::Empty.to_string());
        assert_eq!(err(" \t\n "), CronError::Empty.to_string());
        // Inner whitespace counts towards the limit; exactly 100 characters is allowed.
        let hundred = format!("0{}0 * * *", " ".repeat(92));
        assert_eq!(hundred.len(), 100);
        check(&hundred, "UTC", NOW, &["2026-01-02T00:00:00+00:00"]);
        let long = format!("0{}0 * * *", " ".repeat(93));
        assert_eq!(err(&long), "recurrence_pattern is 101 characters long; at most 100 are allowed");
    }

    #[test]
    fn bad_values_name_their_field() {
        for (pattern, reason) in [
            ("61 * * * *", "minute value 61 is out of range 0-59"),
            ("0 24 * * *", "hour value 24 is out of range 0-23"),
            ("0 0 0 * *", "day-of-month value 0 is out of range 1-31"),
            ("0 0 * 13 *", "month value 13 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week value 8 is out of range 0-7"),
            ("60 * * * * *", "second value 60 is out of range 0-59"),
            ("1-70 * * * *", "minute value 70 is out of range 0-59"),
            // croner's own messages, attributed to the field by parsing each field alone
            ("*/0 * * * *", "minute field '*/0' is invalid: Step cannot be zero"),
            ("0 0 * * 5#6", "day-of-week field '5#6' is invalid: Nth specifier out of bounds"),
            ("0 0 * * 1-", "day-of-week field '1-' is invalid: Invalid end of range"),
            // croner would read these as Mondays and January
            ("0 0 * * JAN", "day-of-week field 'JAN' contains 'JAN': month names belong in the month field"),
            ("0 0 * MON *", "month field 'MON' contains 'MON': day names belong in the day-of-week field"),
            ("0 0 * * FOO", "day-of-week field 'FOO' contains 'FOO': it is not a value this field accepts"),
            ("L 0 * * *", "minute field 'L' contains 'L': it is not a value this field accepts"),
            ("0 0 * * 1;", "day-of-week field '1;' contains ';', which a cron pattern does not allow"),
            (
                "0 0 1 * +MON",
                "day-of-week field '+MON': the '+' prefix (day-of-month AND day-of-week) is not supported; the two fields combine with OR",
            ),
        ] {
            assert_eq!(err(pattern), format!("recurrence_pattern '{pattern}': {reason}"));
        }
        check("0 9 * jan-mar mon-fri", "UTC", NOW, &["2026-01-01T09:00:00+00:00", "2026-01-02T09:00:00+00:00"]);
    }

    #[test]
    fn empty_list_items_and_huge_steps_are_refused_before_any_search() {
        for (pattern, reason) in [
            (",,, * * * *", "minute field ',,,' has an empty list item: a comma must stand between two values"),
            (", * * * *", "minute field ',' has an empty list item: a comma must stand between two values"),
            ("0 ,,, * * * *", "minute field ',,,' has an empty list item: a comma must stand between two values"),
            ("0 1,,2 * * *", "hour field '1,,2' has an empty list item: a comma must stand between two values"),
            ("0 0 1, * *", "day-of-month field '1,' has an empty list item: a comma must stand between two values"),
            ("*/61 * * * *", "minute field '*/61': the step '61' must be a whole number from 1 to 60"),
            (
                "0 0 */99999999999999 * *",
                "day-of-month field '*/99999999999999': the step '99999999999999' must be a whole number from 1 to 31",
            ),
            ("0 0 * 1-12/13 *", "month field '1-12/13': the step '13' must be a whole number from 1 to 12"),
        ] {
            assert_eq!(err(pattern), format!("recurrence_pattern '{pattern}': {reason}"));
        }
        // The largest step of each field still parses.
        check("*/60 * * * *", "UTC", NOW, &jan1(&["01:00:00"]));
        // Unicode digits are not cron digits.
        assert!(err("\u{0661} * * * *").contains("contains '\u{0661}', which a cron pattern does not allow"));
    }

    /// The hostile corpus the API tests and the validation bench use: each refused pattern is refused, each
    /// accepted one (rare dates, odd spacing) accepted.
    #[test]
    fn the_hostile_corpus() {
        let corpus: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/hostile/cron-patterns.json")).unwrap();
        for pattern in corpus["refused"].as_array().unwrap() {
            let pattern = pattern.as_str().unwrap();
            assert!(Recurrence::parse(pattern, "UTC", at(NOW)).is_err(), "{pattern:?} is refused");
        }
        for pattern in corpus["accepted"].as_array().unwrap() {
            let pattern = pattern.as_str().unwrap();
            assert!(Recurrence::parse(pattern, "UTC", at(NOW)).is_ok(), "{pattern:?} is accepted");
        }
        assert!(err("*\u{a0}* * * * *").contains("contains '\u{a0}'"), "only ASCII whitespace separates fields");
    }

    #[test]
    fn sloppy_steps_are_refused_like_vixie_cron() {
        // Decision: keep croner's default. croniter reads `0/10` as `0-59/10`; Vixie refuses it.
        let message = err("0/10 * * * *");
        assert!(message.starts_with("recurrence_pattern '0/10 * * * *': minute field '0/10' is invalid: "));
        assert!(message.ends_with("Invalid step syntax: single number steps like \"0/10\" are not allowed. Use \"*/10\" for wildcard steps or \"X-Y/10\" for range steps"), "{message}");
        assert!(err("/10 * * * *").contains("minute field '/10' is invalid"));
        check("0-59/10 * * * *", "UTC", NOW, &["2026-01-01T00:10:00+00:00", "2026-01-01T00:20:00+00:00"]);
    }

    #[test]
    fn l_w_and_nth() {
        check("0 0 L * *", "UTC", NOW, &["2026-01-31T00:00:00+00:00"]);
        check("0 0 * * 5#2", "UTC", NOW, &["2026-01-09T00:00:00+00:00"]); // 2nd Friday
        check("0 0 * * 5L", "UTC", NOW, &["2026-01-30T00:00:00+00:00"]); // last Friday
        check("0 0 LW * *", "UTC", NOW, &["2026-01-30T00:00:00+00:00"]);
        // 2026-02-15 is a Sunday, so the nearest weekday is Monday the 16th.
        check("0 0 15W * *", "UTC", "2026-02-01T00:00:00Z", &["2026-02-16T00:00:00+00:00"]);
        check("0 0 ? * MON", "UTC", NOW, &["2026-01-05T00:00:00+00:00"]);
        check("0 0 * * 7", "UTC", NOW, &["2026-01-04T00:00:00+00:00"]); // 7 is Sunday, as 0
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        let days = ["01-05", "01-12", "01-19", "01-26", "02-01", "02-02"];
        let want = days.map(|d| format!("2026-{d}T00:00:00+00:00"));
        check("0 0 1 * MON", "UTC", NOW, &want);
        // With day-of-week `*` only the day of month counts.
        check("0 0 1 * *", "UTC", NOW, &["2026-02-01T00:00:00+00:00"]);
    }

    #[test]
    fn impossible_dates_are_refused() {
        for p in ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * * 30-31 2 *"] {
            assert_eq!(err(p), format!("recurrence_pattern '{p}' never fires: there is no such date"));
            assert!(matches!(parse_pattern(p), Err(CronError::NeverFires { .. })), "{p} needs no search");
        }
        // `W` days too, and fields without any value, none of them with a search (croner's goes to year 5000).
        for p in ["0 0 31W 2 *", "0 0 30W,31 2 *"] {
            assert!(matches!(parse_pattern(p), Err(CronError::NeverFires { .. })), "{p} needs no search");
        }
        check("0 0 LW 2 *", "UTC", NOW, &["2026-02-27T00:00:00+00:00"]);
        // Rare but possible, and the OR rule rescues an impossible day of month.
        check("0 0 29 2 *", "UTC", "2097-03-01T00:00:00Z", &["2104-02-29T00:00:00+00:00"]);
        check("0 0 31 2 MON", "UTC", NOW, &["2026-02-02T00:00:00+00:00"]);
    }

    #[test]
    fn time_zones() {
        assert_eq!(parse_timezone("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(parse_timezone("Etc/GMT+5"), Ok(chrono_tz::Etc::GMTPlus5));
        let e = parse_timezone("Mars/Base").expect_err("unknown");
        let want = "timezone 'Mars/Base': not an IANA time zone name (e.g. 'UTC', 'Europe/Berlin')";
        assert_eq!((e.to_string().as_str(), e.field()), (want, "timezone"));
        for name in ["utc", "europe/berlin", "", " UTC", "+02:00"] {
            assert!(parse_timezone(name).is_err(), "{name:?}");
        }
        let e = Recurrence::parse("* * * * *", "Nowhere", at(NOW)).expect_err("zone");
        assert_eq!(e.field(), "timezone");
        assert_eq!(rec("0 9 * * *", "Asia/Tokyo").timezone(), chrono_tz::Asia::Tokyo);
        // 09:00 in Tokyo is 00:00 UTC: NOW itself is a fire instant, so "after NOW" is the next day.
        let tokyo = rec("0 9 * * *", "Asia/Tokyo");
        assert_eq!(tokyo.next_from(at(NOW)), Some(at(NOW)));
        check("0 9 * * *", "Asia/Tokyo", NOW, &["2026-01-02T09:00:00+09:00"]);
    }

    #[test]
    fn berlin_spring_forward() {
        // 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC): fixed times in the gap run at 03:00,
        // interval jobs run in real time (02:00 and 02:30 do not exist that night).
        let day_before = "2026-03-28T11:00:00Z";
        check("30 2 * * *", "Europe/Berlin", day_before, &["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]);
        check("0 2 * * *", "Europe/Berlin", day_before, &["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]);
        check("0 30 2 * * *", "Europe/Berlin", day_before, &["2026-03-29T03:00:00+02:00"]);
        let want = ["2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"];
        check("*/30 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", &want);
    }

    #[test]
    fn berlin_fall_back() {
        // 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC): 02:00-02:59 happens twice.
        let want = ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"];
        check("30 2 * * *", "Europe/Berlin", "2026-10-24T10:00:00Z", &want);
        // From the second pass of 02:15 the repeated 02:30 is not fired again.
        check("30 2 * * *", "Europe/Berlin", "2026-10-25T02:15:00+01:00", &["2026-10-26T02:30:00+01:00"]);
        let want = [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ];
        check("*/30 * * * *", "Europe/Berlin", "2026-10-25T01:45:00+02:00", &want);
    }

    #[test]
    fn new_york_transitions() {
        // 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
        let ny = "America/New_York";
        check("0 2 * * *", ny, "2026-03-07T17:00:00Z", &["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"]);
        check("0 1 * * *", ny, "2026-10-31T16:00:00Z", &["2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"]);
        check("30 1 * * *", ny, "2026-10-31T16:00:00Z", &["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]);
    }

    #[test]
    fn london_midnight_on_the_day_of_the_gap_fires_once() {
        // croner 3.0.1 fired this twice on 03-29 (00:00 and 02:00+01).
        let want = ["2026-03-29T00:00:00+00:00", "2026-03-30T00:00:00+01:00", "2026-03-31T00:00:00+01:00"];
        check("0 0 * * *", "Europe/London", "2026-03-28T00:00:00Z", &want);
    }

    #[test]
    fn lists_of_hours_are_interval_jobs_in_croner() {
        // croner calls a job fixed-time only if second, minute and hour are single values, so
        // `0 2,14` runs in both passes of a repeated 02:00 and skips a 02:30 that does not exist.
        let want = ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T14:00:00+01:00"];
        check("0 2,14 * * *", "Europe/Berlin", "2026-10-24T20:00:00Z", &want);
        check("0 2,14 * * *", "Europe/Berlin", "2026-03-28T20:00:00Z", &["2026-03-29T14:00:00+02:00"]);
        check("30 2,14 * * *", "Europe/Berlin", "2026-03-28T20:00:00Z", &["2026-03-29T14:30:00+02:00"]);
    }

    /// Hourly and half-hourly jobs across both transitions of each zone: exact real-time spacing.
    #[test]
    fn interval_jobs_keep_real_time_across_transitions() {
        for (tz, spring, autumn) in [
            ("Europe/Berlin", "2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z"),
            ("America/New_York", "2026-03-07T12:00:00Z", "2026-10-31T12:00:00Z"),
            ("Europe/London", "2026-03-28T12:00:00Z", "2026-10-24T12:00:00Z"),
        ] {
            for (pattern, step) in [("0 * * * *", 3600), ("*/30 * * * *", 1800), ("@hourly", 3600)] {
                let r = rec(pattern, tz);
                for start in [spring, autumn] {
                    let mut t = r.next_after(at(start)).expect("fires");
                    for _ in 0..(2 * 86400 / step) {
                        let next = r.next_after(t).expect("fires");
                        assert_eq!((next - t).num_seconds(), step, "{tz} {pattern} after {t}");
                        t = next;
                    }
                }
            }
        }
    }

    /// `next_after` is strictly after its argument, and every start between two fires finds the
    /// same next fire, so iterating it neither repeats nor skips an instant.
    #[test]
    fn next_after_is_strictly_increasing_and_consistent() {
        let patterns = ["30 2 * * *", "0 2 * * *", "*/30 * * * *", "0 2,14 * * *", "15 */2 * * *", "*/20 * 2 * * *"];
        for (tz, start) in [
            ("Europe/Berlin", "2026-03-28T20:00:00Z"),
            ("Europe/Berlin", "2026-10-24T20:00:00Z"),
            ("America/New_York", "2026-03-08T00:00:00Z"),
            ("America/New_York", "2026-11-01T00:00:00Z"),
            ("Australia/Lord_Howe", "2026-04-04T10:00:00Z"), // a 30-minute change
        ] {
            for pattern in patterns {
                let r = rec(pattern, tz);
                let mut t = at(start);
                while t < at(start) + TimeDelta::hours(30) {
                    let next = r.next_after(t).expect("fires");
                    assert!(next > t, "{tz} {pattern}: {next} after {t}");
                    for probe in [t + TimeDelta::seconds(1), t + (next - t) / 2, next - TimeDelta::seconds(1)] {
                        if probe < next {
                            assert_eq!(r.next_after(probe), Some(next), "{tz} {pattern} from {probe}");
                        }
                    }
                    assert_eq!(r.next_from(next), Some(next), "{tz} {pattern}");
                    t = next;
                }
            }
        }
    }

    #[test]
    fn sub_second_instants() {
        let r = rec("* * * * * *", "UTC");
        let (noon, one) = (at("2026-06-01T12:00:00Z"), at("2026-06-01T12:00:01Z"));
        let half = at("2026-06-01T12:00:00.500Z");
        assert_eq!((r.next_after(half), r.next_after(noon)), (Some(one), Some(one)));
        assert_eq!((r.next_from(noon), r.next_from(half)), (Some(noon), Some(one)));
        let minutely = rec("* * * * *", "UTC");
        assert_eq!(minutely.next_after(at("2026-06-01T11:59:59.999Z")), Some(noon));
        assert_eq!(minutely.next_from(at("2026-06-01T11:59:00.001Z")), Some(noon));
        // Half a second before Berlin's clocks go back, the next second is the repeated 02:00.
        let r = rec("* * * * * *", "Europe/Berlin");
        assert_eq!(r.next_after(at("2026-10-25T00:59:59.500Z")), Some(at("2026-10-25T01:00:00Z")));
    }

    #[test]
    fn croner_year_limit_ends_the_series() {
        assert_eq!(rec("@yearly", "UTC").next_after(at("5000-06-01T00:00:00Z")), None);
    }

    #[test]
    fn instants_between_counts_and_caps() {
        let r = rec("*/15 * * * *", "UTC");
        let (from, to) = (at("2026-06-01T12:00:00Z"), at("2026-06-01T13:00:00Z"));
        assert_eq!(r.instants_between(from, to, 100), (4, Some(to)));
        let just_before = at("2026-06-01T12:59:59Z");
        assert_eq!(r.instants_between(from, just_before, 100), (3, Some(at("2026-06-01T12:45:00Z"))));
        assert_eq!(r.instants_between(to, from, 100), (0, None));
        assert_eq!(r.instants_between(from, from, 100), (0, None));
        // 30 days of an every-second pattern: the walk stops at the cap, the latest is exact.
        let r = rec("* * * * * *", "UTC");
        let (until, last) = (at("2026-07-01T12:00:00.700Z"), at("2026-07-01T12:00:00Z"));
        assert_eq!(r.instants_between(from, until, 1000), (1000, Some(last)));
        assert_eq!(r.instants_between(from, until, 0), (0, Some(last)));
    }

    /// The capped path's backward search agrees with the uncapped forward walk across DST.
    #[test]
    fn instants_between_latest_matches_forward_walk() {
        for (tz, start) in [
            ("Europe/Berlin", "2026-03-28T20:00:00Z"),
            ("Europe/Berlin", "2026-10-24T20:00:00Z"),
            ("America/New_York", "2026-11-01T00:00:00Z"),
        ] {
            for pattern in ["30 2 * * *", "*/30 * * * *", "0 2,14 * * *", "0 1 * * *"] {
                let r = rec(pattern, tz);
                for hours in 1..=30 {
                    let until = at(start) + TimeDelta::hours(hours) + TimeDelta::minutes(7);
                    let (count, latest) = r.instants_between(at(start), until, usize::MAX);
                    let capped = r.instants_between(at(start), until, 1);
                    assert_eq!(capped, (count.min(1), latest), "{tz} {pattern} until {until}");
                }
            }
        }
    }
}
