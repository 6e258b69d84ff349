//! Gatling results as the MiSArch Gatling executor uploads them: one raw text body holding the report's
//! `index.html`, a line `SPLIT_HERE`, and the report's `js/stats.js`.
//!
//! What is extracted:
//! - From stats.js, every statistic Gatling computed: the global "All Requests" figures ([`GatlingMetrics::total`]) and
//!   one entry per request and per group ([`GatlingMetrics::requests`]), with Gatling's own field names. Gatling writes
//!   the figures as strings (`"1234"`, `"8.56"`) and `"-"` where there is no value (the KO response times of a request
//!   that never failed); they become JSON numbers and `null`.
//! - From index.html, the time series of the charts (see [`TimeSeries`]): requests and responses per second, all/OK/KO,
//!   and active users per scenario. The percentile-over-time and response-time-distribution charts are left out.
//!
//! stats.js is JavaScript (`var stats = {…}` followed by functions), not JSON: unquoted keys, and in index.html single
//! quotes, identifiers and comments too. A small reader of JavaScript literals (objects, arrays, strings, numbers,
//! identifiers; no expressions, no eval) reads the one value after a known marker and ignores the code around it.
//! The original executor instead quoted six known keys and fed the rest to a JSON parser, which breaks on any other
//! key.
//!
//! Errors, never panics: a missing or unreadable `var stats` object, a missing figure or one that is not a number, and
//! a time series whose marker is present but whose literal does not parse (a truncated upload) are errors naming the
//! file, the place and the problem. A chart that index.html does not have at all gives an empty series, because the
//! figures that goals depend on are all in stats.js.
//!
//! Written against Gatling 3.13.5, the MiSArch Gatling executor's version. What older 3.x versions wrote is read too
//! (quoted keys, no `htmlName`, figures padded and with thousands separators, bare numbers). Gatling 3.14 stopped
//! writing the statistics into stats.js; its reports fail with [`ReportError::StatsNotFound`].
//! Names are kept as Gatling wrote them, which is with `"` and `\` replaced by `&quot;` and `&#92;`.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ReportError {
    #[error("the metrics body has no line `SPLIT_HERE` between index.html and stats.js")]
    NoSplit,
    #[error("stats.js has no `var stats = {{…}}` object (not a report of Gatling 3.x before 3.14?)")]
    StatsNotFound,
    #[error("{file}: unreadable JavaScript literal at line {line}, column {column}: {what}")]
    Syntax { file: &'static str, line: usize, column: usize, what: String },
    #[error("{file}: {what}")]
    Malformed { file: &'static str, what: String },
}

const STATS_JS: &str = "stats.js";
const INDEX_HTML: &str = "index.html";

/// Splits the raw metrics body (index.html, a line SPLIT_HERE, stats.js) exactly as the Gatling executor sends it.
///
/// The executor joins the two files with `"\nSPLIT_HERE\n"`. The separator is taken to be the last line that reads
/// exactly `SPLIT_HERE` (a trailing `\r` allowed): index.html can quote user text (error messages, which may contain
/// anything), while every line of stats.js is code, so the last such line is the one the executor added.
pub fn split_upload(body: &str) -> Result<(&str, &str), ReportError> {
    const MARK: &str = "SPLIT_HERE";
    for (at, _) in body.rmatch_indices(MARK) {
        let (before, after) = (&body[..at], &body[at + MARK.len()..]);
        if !(before.is_empty() || before.ends_with('\n')) {
            continue;
        }
        // A separator at the very end is still the separator; the empty stats.js then fails with a precise error.
        let Some(stats_js) =
            after.strip_prefix("\r\n").or_else(|| after.strip_prefix('\n')).or(after.is_empty().then_some(after))
        else {
            continue;
        };
        let html = before.strip_suffix('\n').unwrap_or(before);
        let html = html.strip_suffix('\r').unwrap_or(html);
        return Ok((html, stats_js));
    }
    Err(ReportError::NoSplit)
}

/// The trial's `metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatlingMetrics {
    /// Gatling's global statistics ("All Requests"; older Gatling versions call it "Global Information").
    pub total: RequestStats,
    /// Per request and per group, in the order of stats.js: depth first, a group before its contents (Gatling lists a
    /// group's subgroups before its requests). `path` tells nesting: `Group / Request`.
    pub requests: Vec<RequestStats>,
    /// Time series from index.html.
    pub series: TimeSeries,
}

/// One entry of stats.js, with Gatling's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStats {
    #[serde(rename = "type")]
    pub kind: EntryType,
    pub name: String,
    /// The request's name prefixed by its groups, `"Group / Request"`; empty for the global statistics.
    pub path: String,
    /// Gatling's file-name form of the path, e.g. `req_get-access-toke-1423633639`, also the key in stats.js; the
    /// original executor derived its InfluxDB measurement suffixes from it.
    pub path_formatted: String,
    pub number_of_requests: Counter,
    pub min_response_time: Counter,
    pub max_response_time: Counter,
    pub mean_response_time: Counter,
    pub standard_deviation: Counter,
    /// Gatling's first configured percentile, by default the 50th; `percentiles2..4` default to the 75th, 95th, 99th.
    pub percentiles1: Counter,
    pub percentiles2: Counter,
    pub percentiles3: Counter,
    pub percentiles4: Counter,
    /// Response time ranges: `t < 800 ms`, `800 ms <= t < 1200 ms`, `t >= 1200 ms` (Gatling's default bounds), failed.
    pub group1: RangeGroup,
    pub group2: RangeGroup,
    pub group3: RangeGroup,
    pub group4: RangeGroup,
    pub mean_number_of_requests_per_second: Counter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EntryType {
    Group,
    Request,
}

/// A figure over all requests, the successful ones and the failed ones. `None` (JSON `null`) where Gatling wrote `"-"`.
/// Times are in milliseconds, rates in requests per second, as Gatling rounds them (whole milliseconds, two decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Counter {
    #[serde(with = "json_number::option")]
    pub total: Option<f64>,
    #[serde(with = "json_number::option")]
    pub ok: Option<f64>,
    #[serde(with = "json_number::option")]
    pub ko: Option<f64>,
}

/// A response time range: how many requests fell in it, and their share of all requests in percent (unrounded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeGroup {
    pub name: String,
    /// Absent before Gatling 3.8.4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_name: Option<String>,
    pub count: u64,
    #[serde(with = "json_number")]
    pub percentage: f64,
}

/// The charts of index.html, with times as epoch milliseconds (Gatling's per-second buckets; Gatling thins a series to
/// about 1000 points, so one point stands for several seconds in runs longer than about 17 minutes). Each series is
/// empty when index.html has no such chart.
///
/// JSON shape, compact because a series has up to a thousand points:
/// `{"requests": [[epoch_ms, all, ok, ko], …], "responses": [[epoch_ms, all, ok, ko], …],
///   "active_users": [{"scenario": "buyProcessScenario", "data": [[epoch_ms, users], …]}, …]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeSeries {
    /// Requests sent per second (`var requests = unpack(…)`).
    #[serde(default)]
    pub requests: Vec<RatePoint>,
    /// Responses received per second (`var responses = unpack(…)`).
    #[serde(default)]
    pub responses: Vec<RatePoint>,
    /// Active users per scenario (the series of the `active_users` chart), in the chart's order.
    #[serde(default)]
    pub active_users: Vec<ScenarioSeries>,
}

/// One second of requests or responses; JSON `[epoch_ms, all, ok, ko]`. A value is `None` where Gatling wrote `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "RateTuple", into = "RateTuple")]
pub struct RatePoint {
    pub time_ms: i64,
    pub all: Option<f64>,
    pub ok: Option<f64>,
    pub ko: Option<f64>,
}

type RateTuple = (i64, Option<json_number::Number>, Option<json_number::Number>, Option<json_number::Number>);

impl From<RateTuple> for RatePoint {
    fn from((time_ms, all, ok, ko): RateTuple) -> Self {
        RatePoint { time_ms, all: all.map(|n| n.0), ok: ok.map(|n| n.0), ko: ko.map(|n| n.0) }
    }
}

impl From<RatePoint> for RateTuple {
    fn from(point: RatePoint) -> Self {
        use json_number::Number;
        (point.time_ms, point.all.map(Number), point.ok.map(Number), point.ko.map(Number))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSeries {
    pub scenario: String,
    pub data: Vec<Point>,
}

/// JSON `[epoch_ms, value]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "PointTuple", into = "PointTuple")]
pub struct Point {
    pub time_ms: i64,
    pub value: Option<f64>,
}

type PointTuple = (i64, Option<json_number::Number>);

impl From<PointTuple> for Point {
    fn from((time_ms, value): PointTuple) -> Self {
        Point { time_ms, value: value.map(|n| n.0) }
    }
}

impl From<Point> for PointTuple {
    fn from(point: Point) -> Self {
        (point.time_ms, point.value.map(json_number::Number))
    }
}

/// Parses the two files of a Gatling report into the trial's metrics.
pub fn parse(index_html: &str, stats_js: &str) -> Result<GatlingMetrics, ReportError> {
    let (total, requests) = parse_stats_js(stats_js)?;
    let series = parse_series(index_html)?;
    Ok(GatlingMetrics { total, requests, series })
}

/// Numbers in our JSON: whole values are written without a fraction (`15594`, not `15594.0`), so the stored metrics
/// read like Gatling's figures; other values as ordinary JSON floats. Reading accepts any JSON number.
pub(crate) mod json_number {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Beyond 2^53 an f64 no longer holds every whole number, so larger values stay floats.
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(crate) struct Number(pub(crate) f64);

    impl Serialize for Number {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let value = self.0;
            if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
                // Exact: the value is a whole number within i64's range.
                serializer.serialize_i64(value as i64)
            } else {
                serializer.serialize_f64(value)
            }
        }
    }

    impl<'de> Deserialize<'de> for Number {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            f64::deserialize(deserializer).map(Number)
        }
    }

    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        Number(*value).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        f64::deserialize(deserializer)
    }

    pub(crate) mod option {
        use super::Number;
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub(crate) fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
            value.map(Number).serialize(serializer)
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
            Option::<f64>::deserialize(deserializer)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// stats.js

static STATS_VAR: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(?:var|let|const)\s+stats\s*="));

/// English thousands separators (`1,300`), which some Gatling versions put into the figures.
static GROUPED_NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"));

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this file; the unit tests compile every one of them.
    Regex::new(pattern).expect("a valid constant pattern")
}

fn parse_stats_js(stats_js: &str) -> Result<(RequestStats, Vec<RequestStats>), ReportError> {
    let marker = STATS_VAR.find(stats_js).ok_or(ReportError::StatsNotFound)?;
    let root = Reader::new(stats_js, marker.end(), STATS_JS).read_value()?;
    let root = expect_object(&root, "stats")?;
    let total = read_entry(root, "stats", EntryType::Group, "")?;
    let mut requests = Vec::new();
    read_contents(root, "stats", &mut requests)?;
    Ok((total, requests))
}

/// Appends a group's entries, depth first. The recursion is bounded by the reader's nesting limit.
fn read_contents(group: &[(String, Js)], place: &str, out: &mut Vec<RequestStats>) -> Result<(), ReportError> {
    let place = format!("{place}.contents");
    let contents = expect_object(get(group, "contents").ok_or_else(|| missing(&place))?, &place)?;
    for (key, value) in contents {
        let place = format!("{place}[{key:?}]");
        let entry = expect_object(value, &place)?;
        let kind = match get(entry, "type") {
            Some(Js::Str(kind)) if kind == "GROUP" => EntryType::Group,
            Some(Js::Str(kind)) if kind == "REQUEST" => EntryType::Request,
            Some(other) => {
                return Err(malformed(format!("{place}.type: expected \"GROUP\" or \"REQUEST\", found {other}")));
            }
            None => return Err(missing(&format!("{place}.type"))),
        };
        out.push(read_entry(entry, &place, kind, key)?);
        if kind == EntryType::Group {
            read_contents(entry, &place, out)?;
        }
    }
    Ok(())
}

fn read_entry(entry: &[(String, Js)], place: &str, kind: EntryType, key: &str) -> Result<RequestStats, ReportError> {
    let stats_place = format!("{place}.stats");
    let stats = expect_object(get(entry, "stats").ok_or_else(|| missing(&stats_place))?, &stats_place)?;
    // Gatling writes the name twice, beside `stats` and inside it; either will do.
    let name = optional_string(entry, "name", place)?
        .or(optional_string(stats, "name", &stats_place)?)
        .ok_or_else(|| missing(&format!("{place}.name")))?;
    let counter = |field: &str| read_counter(stats, field, &stats_place);
    let group = |field: &str| read_group(stats, field, &stats_place);
    Ok(RequestStats {
        kind,
        path: optional_string(entry, "path", place)?.unwrap_or_default(),
        path_formatted: optional_string(entry, "pathFormatted", place)?.unwrap_or_else(|| key.to_owned()),
        name,
        number_of_requests: counter("numberOfRequests")?,
        min_response_time: counter("minResponseTime")?,
        max_response_time: counter("maxResponseTime")?,
        mean_response_time: counter("meanResponseTime")?,
        standard_deviation: counter("standardDeviation")?,
        percentiles1: counter("percentiles1")?,
        percentiles2: counter("percentiles2")?,
        percentiles3: counter("percentiles3")?,
        percentiles4: counter("percentiles4")?,
        group1: group("group1")?,
        group2: group("group2")?,
        group3: group("group3")?,
        group4: group("group4")?,
        mean_number_of_requests_per_second: counter("meanNumberOfRequestsPerSecond")?,
    })
}

fn read_counter(stats: &[(String, Js)], field: &str, place: &str) -> Result<Counter, ReportError> {
    let place = format!("{place}.{field}");
    let counter = expect_object(get(stats, field).ok_or_else(|| missing(&place))?, &place)?;
    let figure = |flavor: &str| {
        let place = format!("{place}.{flavor}");
        gatling_figure(get(counter, flavor).ok_or_else(|| missing(&place))?, &place)
    };
    Ok(Counter { total: figure("total")?, ok: figure("ok")?, ko: figure("ko")? })
}

fn read_group(stats: &[(String, Js)], field: &str, place: &str) -> Result<RangeGroup, ReportError> {
    let place = format!("{place}.{field}");
    let group = expect_object(get(stats, field).ok_or_else(|| missing(&place))?, &place)?;
    let name = optional_string(group, "name", &place)?.ok_or_else(|| missing(&format!("{place}.name")))?;
    let html_name = optional_string(group, "htmlName", &place)?;
    let count_place = format!("{place}.count");
    let count = match gatling_figure(get(group, "count").ok_or_else(|| missing(&count_place))?, &count_place)? {
        // Exact: a whole, non-negative number below 2^64 converts without loss of meaning.
        Some(count) if count >= 0.0 && count.fract() == 0.0 && count < 1.8e19 => count as u64,
        Some(other) => return Err(malformed(format!("{count_place}: expected a count, found {other}"))),
        None => return Err(malformed(format!("{count_place}: expected a count, found \"-\""))),
    };
    let percentage_place = format!("{place}.percentage");
    let percentage =
        gatling_figure(get(group, "percentage").ok_or_else(|| missing(&percentage_place))?, &percentage_place)?
            .ok_or_else(|| malformed(format!("{percentage_place}: expected a number, found \"-\"")))?;
    Ok(RangeGroup { name, html_name, count, percentage })
}

/// A figure as Gatling writes it: a string holding a number or `-` (no value), or, in older versions and in the range
/// groups, a bare number.
fn gatling_figure(value: &Js, place: &str) -> Result<Option<f64>, ReportError> {
    let number = match value {
        Js::Num(number) => *number,
        Js::Null => return Ok(None),
        Js::Str(text) => {
            let text = text.trim();
            if text == "-" {
                return Ok(None);
            }
            let parsed = if GROUPED_NUMBER.is_match(text) { text.replace(',', "").parse() } else { text.parse() };
            match parsed {
                Ok(number) => number,
                Err(_) => return Err(malformed(format!("{place}: {text:?} is not a number"))),
            }
        }
        other => return Err(malformed(format!("{place}: expected a number, found {other}"))),
    };
    if number.is_finite() {
        Ok(Some(number))
    } else {
        Err(malformed(format!("{place}: {number} is not a finite number")))
    }
}

fn optional_string(object: &[(String, Js)], key: &str, place: &str) -> Result<Option<String>, ReportError> {
    match get(object, key) {
        None => Ok(None),
        Some(Js::Str(text)) => Ok(Some(text.clone())),
        Some(other) => Err(malformed(format!("{place}.{key}: expected a string, found {other}"))),
    }
}

fn expect_object<'a>(value: &'a Js, place: &str) -> Result<&'a [(String, Js)], ReportError> {
    match value {
        Js::Obj(members) => Ok(members),
        other => Err(malformed(format!("{place}: expected an object, found {other}"))),
    }
}

fn missing(place: &str) -> ReportError {
    malformed(format!("{place} is missing"))
}

fn malformed(what: String) -> ReportError {
    ReportError::Malformed { file: STATS_JS, what }
}

// ---------------------------------------------------------------------------------------------------------------------
// index.html

static REQUESTS_VAR: LazyLock<Regex> = LazyLock::new(|| regex(r"\bvar\s+requests\s*=\s*unpack\s*\("));
static RESPONSES_VAR: LazyLock<Regex> = LazyLock::new(|| regex(r"\bvar\s+responses\s*=\s*unpack\s*\("));
static RENDER_TO: LazyLock<Regex> = LazyLock::new(|| regex(r#"\brenderTo\s*:\s*['"]([^'"]*)['"]"#));
static SERIES_ARRAY: LazyLock<Regex> = LazyLock::new(|| regex(r"\bseries\s*:\s*\["));

fn parse_series(html: &str) -> Result<TimeSeries, ReportError> {
    Ok(TimeSeries {
        requests: unpacked_rates(html, &REQUESTS_VAR, "requests")?,
        responses: unpacked_rates(html, &RESPONSES_VAR, "responses")?,
        active_users: active_users(html)?,
    })
}

/// `var requests = unpack([[epoch_s, [all, ok, ko]], …])`; Gatling's unpack.js turns seconds into milliseconds, and an
/// entry `[epoch_s, null]` (a second without data) into nulls.
fn unpacked_rates(html: &str, marker: &Regex, name: &str) -> Result<Vec<RatePoint>, ReportError> {
    let Some(found) = marker.find(html) else { return Ok(Vec::new()) };
    let value = Reader::new(html, found.end(), INDEX_HTML).read_value()?;
    let bad = |index: usize| ReportError::Malformed {
        file: INDEX_HTML,
        what: format!("{name}[{index}]: expected [epoch seconds, [all, ok, ko] or null]"),
    };
    let Js::Arr(entries) = value else { return Err(bad(0)) };
    let mut points = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let [Js::Num(seconds), values] = entry.as_array().ok_or_else(|| bad(index))? else { return Err(bad(index)) };
        let time_ms = epoch_ms(seconds * 1000.0).ok_or_else(|| bad(index))?;
        let [all, ok, ko] = match values {
            Js::Null => [None; 3],
            Js::Arr(values) => {
                let mut flavors = [None; 3];
                for (slot, value) in flavors.iter_mut().zip(values) {
                    *slot = chart_value(value).ok_or_else(|| bad(index))?;
                }
                flavors
            }
            _ => return Err(bad(index)),
        };
        points.push(RatePoint { time_ms, all, ok, ko });
    }
    Ok(points)
}

/// The `series` of the chart rendered to `active_users`: one `{name: '<scenario>', data: [[epoch_ms, users], …]}` per
/// scenario, beside the identifier `allUsersData` (defined in all_sessions.js, which is not uploaded) that is skipped.
fn active_users(html: &str) -> Result<Vec<ScenarioSeries>, ReportError> {
    let mut charts = RENDER_TO.captures_iter(html);
    let Some(chart) = charts.find(|chart| chart.get(1).is_some_and(|id| id.as_str() == "active_users")) else {
        return Ok(Vec::new());
    };
    let start = chart.get(0).map_or(0, |m| m.end());
    // Only this chart's own `series`: stop at the next chart.
    let end = charts.next().and_then(|next| next.get(0)).map_or(html.len(), |m| m.start());
    let Some(series) = SERIES_ARRAY.find(&html[start..end]) else { return Ok(Vec::new()) };
    // The literal starts at the `[` that ends the match.
    let value = Reader::new(html, start + series.end() - 1, INDEX_HTML).read_value()?;
    let bad = |what: String| ReportError::Malformed { file: INDEX_HTML, what: format!("active users: {what}") };
    let Js::Arr(items) = value else { return Err(bad("expected an array of series".into())) };
    let mut scenarios = Vec::new();
    for item in &items {
        let Js::Obj(members) = item else { continue };
        let (Some(Js::Str(scenario)), Some(data)) = (get(members, "name"), get(members, "data")) else { continue };
        let Js::Arr(data) = data else { return Err(bad(format!("{scenario}: data is not an array"))) };
        let mut points = Vec::with_capacity(data.len());
        for (index, pair) in data.iter().enumerate() {
            let bad_point = || bad(format!("{scenario}[{index}]: expected [epoch ms, users]"));
            let [Js::Num(time), value] = pair.as_array().ok_or_else(bad_point)? else { return Err(bad_point()) };
            let time_ms = epoch_ms(*time).ok_or_else(bad_point)?;
            points.push(Point { time_ms, value: chart_value(value).ok_or_else(bad_point)? });
        }
        scenarios.push(ScenarioSeries { scenario: scenario.clone(), data: points });
    }
    Ok(scenarios)
}

/// `Some(None)` for a null data point, `None` for something that is not a data point.
fn chart_value(value: &Js) -> Option<Option<f64>> {
    match value {
        Js::Num(number) => Some(Some(*number)),
        Js::Null => Some(None),
        _ => None,
    }
}

fn epoch_ms(value: f64) -> Option<i64> {
    // Exact within the bound: any epoch millisecond of the next 280,000 years.
    (value.is_finite() && value.abs() < 9.0e15).then(|| value.round() as i64)
}

// ---------------------------------------------------------------------------------------------------------------------
// A reader of JavaScript literals.

/// A JavaScript literal value. Objects keep their members in source order (stats.js order is report order); where a
/// key repeats, the last one counts, as in JavaScript.
#[derive(Debug, Clone, PartialEq)]
enum Js {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// A bare identifier other than `true`, `false`, `null`: `undefined`, `NaN`, `Infinity`, or a variable name.
    Ident(String),
    Arr(Vec<Js>),
    Obj(Vec<(String, Js)>),
}

impl Js {
    fn as_array(&self) -> Option<&[Js]> {
        match self {
            Js::Arr(items) => Some(items),
            _ => None,
        }
    }
}

/// Short descriptions for error messages.
impl std::fmt::Display for Js {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Js::Null => f.write_str("null"),
            Js::Bool(value) => write!(f, "{value}"),
            Js::Num(value) => write!(f, "{value}"),
            Js::Str(text) if text.chars().count() > 40 => write!(f, "a string ({} characters)", text.chars().count()),
            Js::Str(text) => write!(f, "{text:?}"),
            Js::Ident(name) => write!(f, "the identifier {name}"),
            Js::Arr(items) => write!(f, "an array ({} items)", items.len()),
            Js::Obj(members) => write!(f, "an object ({} members)", members.len()),
        }
    }
}

fn get<'a>(members: &'a [(String, Js)], key: &str) -> Option<&'a Js> {
    members.iter().rev().find(|(name, _)| name == key).map(|(_, value)| value)
}

/// Deep enough for any report (each level of Gatling groups takes two), shallow enough that hostile input such as
/// `[[[[…` cannot overflow the stack.
const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    file: &'static str,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str, pos: usize, file: &'static str) -> Self {
        Reader { text, pos, file }
    }

    /// Reads one value and stops after it; whatever follows is none of its business.
    fn read_value(mut self) -> Result<Js, ReportError> {
        self.value(0)
    }

    fn error(&self, what: impl Into<String>) -> ReportError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |line| line.chars().count()) + 1;
        ReportError::Syntax { file: self.file, line, column, what: what.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn peek_char(&self) -> Option<char> {
        self.text.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    /// Skips white space and comments.
    fn skip_blank(&mut self) -> Result<(), ReportError> {
        loop {
            // The common case, a token right here, without the Unicode-aware trim below.
            if self.peek().is_some_and(|b| b.is_ascii_graphic() && b != b'/') {
                return Ok(());
            }
            let rest = &self.text[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(comment) = trimmed.strip_prefix("/*") {
                let end = comment.find("*/").ok_or_else(|| self.error("unterminated comment"))?;
                self.pos += 2 + end + 2;
            } else {
                return Ok(());
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Js, ReportError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.skip_blank()?;
        match self.peek() {
            None => Err(self.error("unexpected end of text, expected a value")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(quote @ (b'"' | b'\'')) => self.string(quote).map(Js::Str),
            Some(b'0'..=b'9' | b'.' | b'-' | b'+') => self.number(),
            Some(_) => match self.identifier() {
                Some("true") => Ok(Js::Bool(true)),
                Some("false") => Ok(Js::Bool(false)),
                Some("null") => Ok(Js::Null),
                Some("function") => Err(self.error("a function where a literal value was expected")),
                Some(name) => Ok(Js::Ident(name.to_owned())),
                None => Err(self.error(format!("unexpected {:?}, expected a value", self.peek_char().unwrap_or(' ')))),
            },
        }
    }

    fn identifier(&mut self) -> Option<&'a str> {
        let rest = &self.text[self.pos..];
        let length = rest
            .char_indices()
            .find(|&(index, c)| !(c == '_' || c == '$' || c.is_alphabetic() || (index > 0 && c.is_numeric())))
            .map_or(rest.len(), |(index, _)| index);
        if length == 0 {
            return None;
        }
        self.pos += length;
        Some(&rest[..length])
    }

    fn object(&mut self, depth: usize) -> Result<Js, ReportError> {
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            self.skip_blank()?;
            let key = match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Js::Obj(members));
                }
                Some(quote @ (b'"' | b'\'')) => self.string(quote)?,
                Some(b'0'..=b'9' | b'.') => match self.number()? {
                    Js::Num(number) => number.to_string(),
                    _ => return Err(self.error("a key must be a name, a string or a number")),
                },
                None => return Err(self.error("unexpected end of text inside an object")),
                Some(_) => match self.identifier() {
                    Some(name) => name.to_owned(),
                    None => return Err(self.error("expected a key or `}`")),
                },
            };
            self.skip_blank()?;
            if self.peek() != Some(b':') {
                return Err(self.error(format!("expected `:` after the key {key:?}")));
            }
            self.pos += 1;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => return Err(self.error("unexpected end of text inside an object")),
                Some(_) => return Err(self.error("expected `,` or `}` in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Js, ReportError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Js::Arr(items));
            }
            items.push(self.value(depth + 1)?);
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => return Err(self.error("unexpected end of text inside an array")),
                Some(_) => return Err(self.error("expected `,` or `]` in an array")),
            }
        }
    }

    /// A number, or `-Infinity`/`+Infinity` as an identifier.
    fn number(&mut self) -> Result<Js, ReportError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut end = start;
        if matches!(bytes.get(end), Some(b'-' | b'+')) {
            end += 1;
            if bytes.get(end).is_some_and(|b| b.is_ascii_alphabetic()) {
                self.pos = end;
                let name = self.identifier().unwrap_or_default();
                return Ok(Js::Ident(format!("{}{name}", &self.text[start..start + 1])));
            }
        }
        let digits = |end: &mut usize| {
            let from = *end;
            while bytes.get(*end).is_some_and(u8::is_ascii_digit) {
                *end += 1;
            }
            *end > from
        };
        let mut any = digits(&mut end);
        if bytes.get(end) == Some(&b'.') {
            end += 1;
            any |= digits(&mut end);
        }
        if !any {
            self.pos = start;
            return Err(self.error("expected a number"));
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let mut exponent = end + 1;
            if matches!(bytes.get(exponent), Some(b'-' | b'+')) {
                exponent += 1;
            }
            if digits(&mut exponent) {
                end = exponent;
            }
        }
        self.pos = end;
        // Rust's float syntax is a superset of what was scanned (sign, digits, point, exponent).
        match self.text[start..end].parse::<f64>() {
            Ok(number) => Ok(Js::Num(number)),
            Err(_) => {
                self.pos = start;
                Err(self.error("unreadable number"))
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, ReportError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            // Copy the plain run up to the next quote or backslash in one go.
            let plain = rest.find([quote as char, '\\']).unwrap_or(rest.len());
            out.push_str(&rest[..plain]);
            self.pos += plain;
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("unterminated string"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    self.pos += 1;
                    return Ok(out);
                }
            }
        }
    }

    /// One escape sequence after its backslash, with JavaScript's meanings.
    fn escape(&mut self, out: &mut String) -> Result<(), ReportError> {
        let Some(c) = self.peek_char() else { return Err(self.error("unterminated string")) };
        self.pos += c.len_utf8();
        match c {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' => out.push('\0'),
            // A line continuation.
            '\n' => {}
            '\r' => {
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            'x' => {
                let code = self.hex(2)?;
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            'u' => {
                let code = self.unicode_escape()?;
                // A high surrogate followed by an escaped low surrogate is one character (UTF-16 in the source).
                let code = if (0xD800..0xDC00).contains(&code) && self.text[self.pos..].starts_with("\\u") {
                    let save = self.pos;
                    self.pos += 2;
                    let low = self.unicode_escape()?;
                    if (0xDC00..0xE000).contains(&low) {
                        0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        self.pos = save;
                        code
                    }
                } else {
                    code
                };
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            // `\'`, `\"`, `\\`, `\/` and any other character stand for themselves.
            other => out.push(other),
        }
        Ok(())
    }

    /// `XXXX` or `{X…}` after `\u`.
    fn unicode_escape(&mut self) -> Result<u32, ReportError> {
        if self.peek() == Some(b'{') {
            self.pos += 1;
            let rest = &self.text[self.pos..];
            let close = rest.find('}').filter(|&close| (1..=6).contains(&close));
            let code = close.and_then(|close| u32::from_str_radix(&rest[..close], 16).ok());
            let (Some(close), Some(code)) = (close, code) else { return Err(self.error("bad \\u{…} escape")) };
            self.pos += close + 1;
            Ok(code)
        } else {
            self.hex(4)
        }
    }

    fn hex(&mut self, digits: usize) -> Result<u32, ReportError> {
        let code = self
            .text
            .get(self.pos..self.pos + digits)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| self.error("bad hexadecimal escape"))?;
        self.pos += digits;
        Ok(code)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A real 30-minute MiSArch report (the MiSArch project's own realistic 30-minute run, kept in
    /// the repository so that `cargo test` works from a clone alone); goals.rs's and export.rs's tests read it too.
    pub(crate) const REPORT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gatling-realistic-30min/");

    pub(crate) fn real_files() -> (String, String) {
        let read = |name: &str| {
            std::fs::read_to_string(format!("{REPORT_DIR}{name}")).unwrap_or_else(|e| panic!("{REPORT_DIR}{name}: {e}"))
        };
        (read("index.html"), read("stats.js"))
    }

    pub(crate) fn real_metrics() -> GatlingMetrics {
        let (html, js) = real_files();
        parse(&html, &js).expect("the real report parses")
    }

    fn counter(total: f64, ok: f64, ko: Option<f64>) -> Counter {
        Counter { total: Some(total), ok: Some(ok), ko }
    }

    fn find<'a>(metrics: &'a GatlingMetrics, name: &str) -> &'a RequestStats {
        metrics.requests.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no request {name}"))
    }

    /// serde_json without its `float_roundtrip` feature may read a float one unit in the last place off (the file's
    /// 99.86225895316805 comes back as 99.86225895316804); our reader parses exactly, as the hand-checked tests show.
    fn same_double(a: f64, b: f64) -> bool {
        a == b || (a - b).abs() <= 2.0 * f64::EPSILON * a.abs().max(b.abs())
    }

    fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, place: &str) {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().expect("f64"), y.as_f64().expect("f64"));
                assert!(same_double(x, y), "{place}: {x} != {y}");
            }
            (Value::Array(x), Value::Array(y)) => {
                assert_eq!(x.len(), y.len(), "{place}");
                for (index, (x, y)) in x.iter().zip(y).enumerate() {
                    assert_json_close(x, y, &format!("{place}[{index}]"));
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{place}");
                for (key, x) in x {
                    assert_json_close(x, &y[key], &format!("{place}.{key}"));
                }
            }
            _ => assert_eq!(a, b, "{place}"),
        }
    }

    #[test]
    fn constant_patterns_compile() {
        for pattern in [&STATS_VAR, &GROUPED_NUMBER, &REQUESTS_VAR, &RESPONSES_VAR, &RENDER_TO, &SERIES_ARRAY] {
            LazyLock::force(pattern);
        }
    }

    #[test]
    fn global_statistics_match_the_real_stats_js() {
        let total = real_metrics().total;
        assert_eq!(total.kind, EntryType::Group);
        assert_eq!(total.name, "All Requests");
        assert_eq!(total.path, "");
        assert_eq!(total.path_formatted, "group_missing-name--1146707516");
        assert_eq!(total.number_of_requests, counter(15594.0, 15591.0, Some(3.0)));
        assert_eq!(total.min_response_time, counter(6.0, 6.0, Some(14.0)));
        assert_eq!(total.max_response_time, counter(3646.0, 3646.0, Some(523.0)));
        assert_eq!(total.mean_response_time, counter(94.0, 94.0, Some(218.0)));
        assert_eq!(total.standard_deviation, counter(259.0, 259.0, Some(220.0)));
        assert_eq!(total.percentiles1, counter(30.0, 30.0, Some(116.0)));
        assert_eq!(total.percentiles2, counter(48.0, 48.0, Some(523.0)));
        assert_eq!(total.percentiles3, counter(525.0, 524.0, Some(523.0)));
        assert_eq!(total.percentiles4, counter(1685.0, 1685.0, Some(523.0)));
        let group = |name: &str, html: &str, count, percentage| RangeGroup {
            name: name.into(),
            html_name: Some(html.into()),
            count,
            percentage,
        };
        assert_eq!(total.group1, group("t < 800 ms", "t < 800 ms", 15167, 97.26176734641528));
        assert_eq!(
            total.group2,
            group("800 ms <= t < 1200 ms", "t >= 800 ms <br> t < 1200 ms", 213, 1.3659099653712967)
        );
        assert_eq!(total.group3, group("t >= 1200 ms", "t >= 1200 ms", 211, 1.3530845196870591));
        assert_eq!(total.group4, group("failed", "failed", 3, 0.019238168526356292));
        assert_eq!(total.mean_number_of_requests_per_second, counter(8.56, 8.56, Some(0.0)));
    }

    #[test]
    fn named_requests_match_the_real_stats_js() {
        let metrics = real_metrics();
        let names: Vec<_> = metrics.requests.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Get Access Token",
                "products",
                "product",
                "users",
                "address",
                "createShoppingcartItemMutation",
                "shipmentMethodsQuery",
                "paymentInformationsQuery",
                "createOrderMutation",
                "placeOrderMutation"
            ]
        );
        assert!(metrics.requests.iter().all(|r| r.kind == EntryType::Request));

        let token = find(&metrics, "Get Access Token");
        assert_eq!(
            (token.path.as_str(), token.path_formatted.as_str()),
            ("Get Access Token", "req_get-access-toke-1423633639")
        );
        assert_eq!(token.number_of_requests, counter(2115.0, 2115.0, Some(0.0)));
        // Gatling's "-": no failed request, so no KO response time.
        assert_eq!(token.min_response_time, counter(36.0, 36.0, None));
        assert_eq!(token.max_response_time, counter(123.0, 123.0, None));
        assert_eq!(token.mean_response_time, counter(50.0, 50.0, None));
        assert_eq!(token.standard_deviation, counter(14.0, 14.0, None));
        assert_eq!(token.percentiles1, counter(45.0, 45.0, None));
        assert_eq!(token.percentiles2, counter(56.0, 56.0, None));
        assert_eq!(token.percentiles3, counter(80.0, 80.0, None));
        assert_eq!(token.percentiles4, counter(101.0, 101.0, None));
        assert_eq!((token.group1.count, token.group1.percentage), (2115, 100.0));
        assert_eq!((token.group2.count, token.group2.percentage), (0, 0.0));
        assert_eq!((token.group3.count, token.group3.percentage), (0, 0.0));
        assert_eq!((token.group4.count, token.group4.percentage), (0, 0.0));
        assert_eq!(token.mean_number_of_requests_per_second, counter(1.16, 1.16, None));

        let order = find(&metrics, "createOrderMutation");
        assert_eq!(order.path_formatted, "req_createordermuta-14112891");
        assert_eq!(order.number_of_requests, counter(726.0, 724.0, Some(2.0)));
        assert_eq!(order.min_response_time, counter(116.0, 512.0, Some(116.0)));
        assert_eq!(order.max_response_time, counter(3646.0, 3646.0, Some(523.0)));
        assert_eq!(order.mean_response_time, counter(1036.0, 1038.0, Some(320.0)));
        assert_eq!(order.standard_deviation, counter(583.0, 583.0, Some(204.0)));
        assert_eq!(order.percentiles1, counter(815.0, 816.0, Some(523.0)));
        assert_eq!(order.percentiles2, counter(1253.0, 1256.0, Some(523.0)));
        assert_eq!(order.percentiles3, counter(2232.0, 2234.0, Some(523.0)));
        assert_eq!(order.percentiles4, counter(3156.0, 3158.0, Some(523.0)));
        assert_eq!((order.group1.count, order.group1.percentage), (353, 48.62258953168045));
        assert_eq!((order.group2.count, order.group2.percentage), (179, 24.655647382920108));
        assert_eq!((order.group3.count, order.group3.percentage), (192, 26.446280991735538));
        assert_eq!((order.group4.count, order.group4.percentage), (2, 0.27548209366391185));
        assert_eq!(order.mean_number_of_requests_per_second, counter(0.4, 0.4, Some(0.0)));

        let place = find(&metrics, "placeOrderMutation");
        assert_eq!(place.number_of_requests, counter(726.0, 726.0, Some(0.0)));
        assert_eq!(place.max_response_time, counter(1790.0, 1790.0, None));
        assert_eq!(place.percentiles4, counter(1335.0, 1335.0, None));
        assert_eq!((place.group3.count, place.group3.percentage), (19, 2.6170798898071626));
        assert_eq!(place.mean_number_of_requests_per_second, counter(0.4, 0.4, None));
    }

    /// An independent reading of the real file, the way the original executor did it (quote the six bare keys, cut the
    /// functions off, parse as JSON), compared figure by figure with ours for the global stats and every request.
    #[test]
    fn every_figure_matches_an_independent_json_reading() {
        let (_, js) = real_files();
        let body = js.trim_start().strip_prefix("var stats =").expect("prefix");
        let body = &body[..body.find("function fillStats").expect("functions")];
        let quoted = Regex::new(r"(?m)^(\s*)(type|name|path|pathFormatted|stats|contents):")
            .expect("pattern")
            .replace_all(body, r#"$1"$2":"#);
        let oracle: serde_json::Value = serde_json::from_str(&quoted).expect("oracle JSON");
        let metrics = real_metrics();

        let figure = |value: &serde_json::Value| -> Option<f64> {
            match value {
                serde_json::Value::String(s) if s == "-" => None,
                serde_json::Value::String(s) => Some(s.parse().expect("number")),
                other => other.as_f64(),
            }
        };
        let compare = |ours: &RequestStats, theirs: &serde_json::Value| {
            let stats = &theirs["stats"];
            assert_eq!(ours.name, theirs["name"].as_str().expect("name"));
            assert_eq!(ours.path, theirs["path"].as_str().expect("path"));
            assert_eq!(ours.path_formatted, theirs["pathFormatted"].as_str().expect("pathFormatted"));
            let counters = [
                ("numberOfRequests", ours.number_of_requests),
                ("minResponseTime", ours.min_response_time),
                ("maxResponseTime", ours.max_response_time),
                ("meanResponseTime", ours.mean_response_time),
                ("standardDeviation", ours.standard_deviation),
                ("percentiles1", ours.percentiles1),
                ("percentiles2", ours.percentiles2),
                ("percentiles3", ours.percentiles3),
                ("percentiles4", ours.percentiles4),
                ("meanNumberOfRequestsPerSecond", ours.mean_number_of_requests_per_second),
            ];
            for (field, counter) in counters {
                for (flavor, value) in [("total", counter.total), ("ok", counter.ok), ("ko", counter.ko)] {
                    assert_eq!(value, figure(&stats[field][flavor]), "{} {field}.{flavor}", ours.name);
                }
            }
            for (field, group) in
                [("group1", &ours.group1), ("group2", &ours.group2), ("group3", &ours.group3), ("group4", &ours.group4)]
            {
                assert_eq!(Some(group.count), stats[field]["count"].as_u64(), "{} {field}", ours.name);
                let theirs = stats[field]["percentage"].as_f64().expect("percentage");
                assert!(same_double(group.percentage, theirs), "{} {field}: {} {theirs}", ours.name, group.percentage);
                assert_eq!(group.name, stats[field]["name"].as_str().expect("name"));
                assert_eq!(group.html_name.as_deref(), stats[field]["htmlName"].as_str());
            }
        };
        compare(&metrics.total, &oracle);
        let contents = oracle["contents"].as_object().expect("contents");
        assert_eq!(metrics.requests.len(), contents.len());
        for request in &metrics.requests {
            compare(request, &contents[&request.path_formatted]);
        }
        // The order is stats.js's order.
        let in_file: Vec<_> = Regex::new(r#"(?m)^pathFormatted: "(req_[^"]*)""#)
            .expect("pattern")
            .captures_iter(&js)
            .map(|c| c[1].to_owned())
            .collect();
        let ours: Vec<_> = metrics.requests.iter().map(|r| r.path_formatted.clone()).collect();
        assert_eq!(ours, in_file);
        // Every "-" of the file became a None: 72 of them, all KO figures of requests that never failed.
        let nones: usize = metrics
            .requests
            .iter()
            .flat_map(|r| {
                [r.min_response_time, r.max_response_time, r.mean_response_time, r.standard_deviation]
                    .into_iter()
                    .chain([r.percentiles1, r.percentiles2, r.percentiles3, r.percentiles4])
                    .chain([r.mean_number_of_requests_per_second, r.number_of_requests])
            })
            .flat_map(|c| [c.total, c.ok, c.ko])
            .filter(Option::is_none)
            .count();
        assert_eq!(nones, js.matches(r#""-""#).count());
        assert_eq!(nones, 72);
    }

    #[test]
    fn time_series_match_the_real_index_html() {
        let series = real_metrics().series;
        for (name, points, sums) in [
            ("requests", &series.requests, [8549.0, 8546.0, 3.0]),
            ("responses", &series.responses, [8536.0, 8533.0, 3.0]),
        ] {
            assert_eq!(points.len(), 1000, "{name}");
            let point =
                |time_ms, all: f64, ok: f64, ko: f64| RatePoint { time_ms, all: Some(all), ok: Some(ok), ko: Some(ko) };
            assert_eq!(points[0], point(1_752_755_877_000, 2.0, 2.0, 0.0), "{name}");
            assert_eq!(points[500], point(1_752_756_788_000, 2.0, 2.0, 0.0), "{name}");
            assert_eq!(points[999], point(1_752_757_698_000, 1.0, 1.0, 0.0), "{name}");
            let sum = |f: fn(&RatePoint) -> Option<f64>| points.iter().filter_map(f).sum::<f64>();
            assert_eq!([sum(|p| p.all), sum(|p| p.ok), sum(|p| p.ko)], sums, "{name}");
        }
        let scenarios: Vec<_> = series.active_users.iter().map(|s| s.scenario.as_str()).collect();
        assert_eq!(scenarios, ["buyProcessScenario", "abortedBuyProcessScenario"]);
        for (scenario, sum, middle) in [(&series.active_users[0], 9733.0, 1.0), (&series.active_users[1], 6579.0, 3.0)]
        {
            assert_eq!(scenario.data.len(), 1000);
            assert_eq!(scenario.data[0], Point { time_ms: 1_752_755_877_000, value: Some(2.0) });
            assert_eq!(scenario.data[500], Point { time_ms: 1_752_756_788_000, value: Some(middle) });
            assert_eq!(scenario.data.iter().filter_map(|p| p.value).sum::<f64>(), sum);
        }
    }

    #[test]
    fn json_shape_keeps_gatling_names_numbers_and_nulls() {
        let metrics = real_metrics();
        let json = serde_json::to_value(&metrics).expect("serializes");
        assert_eq!(json["total"]["type"], "GROUP");
        assert_eq!(json["total"]["numberOfRequests"], serde_json::json!({"total": 15594, "ok": 15591, "ko": 3}));
        assert_eq!(
            json["total"]["meanNumberOfRequestsPerSecond"],
            serde_json::json!({"total": 8.56, "ok": 8.56, "ko": 0})
        );
        assert_eq!(
            json["total"]["group1"],
            serde_json::json!({
                "name": "t < 800 ms", "htmlName": "t < 800 ms", "count": 15167, "percentage": 97.26176734641528
            })
        );
        assert_eq!(json["requests"][0]["minResponseTime"], serde_json::json!({"total": 36, "ok": 36, "ko": null}));
        assert_eq!(json["requests"][0]["pathFormatted"], "req_get-access-toke-1423633639");
        assert_eq!(json["series"]["requests"][0], serde_json::json!([1_752_755_877_000_i64, 2, 2, 0]));
        assert_eq!(json["series"]["active_users"][1]["scenario"], "abortedBuyProcessScenario");
        assert_eq!(json["series"]["active_users"][1]["data"][0], serde_json::json!([1_752_755_877_000_i64, 2]));
        // A stored trial reads back unchanged (to the last bit where serde_json reads floats exactly).
        let text = serde_json::to_string(&metrics).expect("serializes");
        let back: GatlingMetrics = serde_json::from_str(&text).expect("deserializes");
        assert_json_close(&serde_json::to_value(&back).expect("serializes"), &json, "");
        println!("metrics JSON: {} bytes, of which series {} bytes", text.len(), json["series"].to_string().len());
    }

    #[test]
    fn split_upload_as_the_gatling_executor_sends_it() {
        let (html, js) = real_files();
        let body = format!("{html}\nSPLIT_HERE\n{js}");
        let (h, j) = split_upload(&body).expect("splits");
        assert_eq!((h, j), (html.as_str(), js.as_str()));
        assert_eq!(parse(h, j).expect("parses"), real_metrics());

        assert_eq!(split_upload("<html>\r\nSPLIT_HERE\r\nvar stats"), Ok(("<html>", "var stats")));
        assert_eq!(split_upload("\nSPLIT_HERE\n"), Ok(("", "")));
        assert_eq!(split_upload("SPLIT_HERE\njs"), Ok(("", "js")));
        assert_eq!(split_upload("html\nSPLIT_HERE"), Ok(("html", "")));
        // A user's text in index.html may hold the marker; the executor's separator is the last line of its own.
        assert_eq!(split_upload("a\nSPLIT_HERE\nb\nSPLIT_HERE\nc"), Ok(("a\nSPLIT_HERE\nb", "c")));
        assert_eq!(split_upload("html SPLIT_HERE js"), Err(ReportError::NoSplit));
        assert_eq!(split_upload("html\nSPLIT_HERE js"), Err(ReportError::NoSplit));
        assert_eq!(split_upload(""), Err(ReportError::NoSplit));
        assert_eq!(parse("", "").map(|_| ()), Err(ReportError::StatsNotFound));
    }

    fn minimal_stats(figure: &str) -> String {
        let counter = format!(r#"{{"total": {figure}, "ok": "1", "ko": "-"}}"#);
        let group = r#"{"name": "g", "count": 1, "percentage": 100.0}"#;
        let stats = format!(
            r#"{{"name": "All", "numberOfRequests": {counter}, "minResponseTime": {counter},
            "maxResponseTime": {counter}, "meanResponseTime": {counter}, "standardDeviation": {counter},
            "percentiles1": {counter},
            "percentiles2": {counter}, "percentiles3": {counter}, "percentiles4": {counter}, "group1": {group},
            "group2": {group}, "group3": {group}, "group4": {group}, "meanNumberOfRequestsPerSecond": {counter}}}"#
        );
        let header = "type: 'GROUP', name: 'All', path: '', pathFormatted: 'g'";
        format!("var stats = {{ {header}, stats: {stats}, contents: {{}} }};")
    }

    #[test]
    fn figures_in_every_format_gatling_has_written() {
        let total = |figure: &str| parse("", &minimal_stats(figure)).map(|m| m.total.number_of_requests.total);
        assert_eq!(total(r#""1234""#), Ok(Some(1234.0)));
        assert_eq!(total(r#""8.56""#), Ok(Some(8.56)));
        assert_eq!(total(r#""-""#), Ok(None));
        assert_eq!(total(r#""        -""#), Ok(None));
        assert_eq!(total(r#""    1,300""#), Ok(Some(1300.0)));
        assert_eq!(total(r#""1,234,567.5""#), Ok(Some(1234567.5)));
        assert_eq!(total("1234"), Ok(Some(1234.0)));
        assert_eq!(total("1.2E-4"), Ok(Some(0.00012)));
        assert!(matches!(total(r#""12,34""#), Err(ReportError::Malformed { .. })));
        assert!(matches!(total(r#""abc""#), Err(ReportError::Malformed { .. })));
        assert!(matches!(total(r#""1e999""#), Err(ReportError::Malformed { .. })));
        assert!(matches!(total("NaN"), Err(ReportError::Malformed { .. })));
        assert!(matches!(total("true"), Err(ReportError::Malformed { .. })));
        let error = parse("", &minimal_stats(r#""abc""#)).expect_err("not a number").to_string();
        assert_eq!(error, r#"stats.js: stats.stats.numberOfRequests.total: "abc" is not a number"#);
    }

    #[test]
    fn groups_are_listed_before_their_contents_with_their_paths() {
        let stats = minimal_stats(r#""1""#);
        let entry = |kind: &str, name: &str, path: &str, contents: &str| {
            let inner = &stats[stats.find("stats: ").expect("stats")..stats.rfind(", contents").expect("contents")];
            let header = format!(r#"type: "{kind}", name: "{name}", path: "{path}", pathFormatted: "{path}""#);
            format!(r#""{path}": {{ {header}, {inner} {contents} }}"#)
        };
        let request = entry("REQUEST", "r", "Checkout / r", "");
        let group = entry("GROUP", "Checkout", "Checkout", &format!(", contents: {{ {request} }}"));
        let top = entry("REQUEST", "home", "home", "");
        let js = stats.replace("contents: {}", &format!("contents: {{ {group}, {top} }}"));
        let metrics = parse("", &js).expect("parses");
        let listed: Vec<_> = metrics.requests.iter().map(|r| (r.kind, r.path.as_str())).collect();
        assert_eq!(
            listed,
            [(EntryType::Group, "Checkout"), (EntryType::Request, "Checkout / r"), (EntryType::Request, "home")]
        );
    }

    #[test]
    fn javascript_literals() {
        let read = |text: &str| Reader::new(text, 0, "test").read_value();
        assert_eq!(
            read(r#"{a: 1, 'b': "x\"y", "c": [1, -2.5, .5, 3e2, null, true,], d: undefined, e: -Infinity, 7: 0,}"#),
            Ok(Js::Obj(vec![
                ("a".into(), Js::Num(1.0)),
                ("b".into(), Js::Str("x\"y".into())),
                (
                    "c".into(),
                    Js::Arr(vec![Js::Num(1.0), Js::Num(-2.5), Js::Num(0.5), Js::Num(300.0), Js::Null, Js::Bool(true)])
                ),
                ("d".into(), Js::Ident("undefined".into())),
                ("e".into(), Js::Ident("-Infinity".into())),
                ("7".into(), Js::Num(0.0)),
            ]))
        );
        assert_eq!(
            read(
                r"'a\n\t\x41\u0042\u{43}\uD83D\uDE00\q\
b'"
            ),
            Ok(Js::Str("a\n\tABC😀qb".into()))
        );
        assert_eq!(read("/* c */ // line\n [1 /* in */, 2]"), Ok(Js::Arr(vec![Js::Num(1.0), Js::Num(2.0)])));
        assert_eq!(read("'日本語 \\u00e9'"), Ok(Js::Str("日本語 é".into())));
        assert_eq!(get(&[("k".into(), Js::Num(1.0)), ("k".into(), Js::Num(2.0))], "k"), Some(&Js::Num(2.0)));
        for bad in [
            "",
            "{",
            "[1,",
            "{a 1}",
            "{a: 1 b: 2}",
            "'open",
            "function () {}",
            "/* open",
            "[1 2]",
            "-",
            "'\\u12'",
            "'\\u{110000000}'",
            "{: 1}",
            "@",
        ] {
            assert!(matches!(read(bad), Err(ReportError::Syntax { .. })), "{bad:?}: {:?}", read(bad));
        }
        let error = read("{\n  a: 1,\n  b: ]\n}").expect_err("bad");
        assert_eq!(
            error,
            ReportError::Syntax { file: "test", line: 3, column: 6, what: "unexpected ']', expected a value".into() }
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for open in ["[", "{a:"] {
            let text = format!("var stats = {}", open.repeat(100_000));
            let error = parse("", &text).expect_err("too deep");
            assert!(error.to_string().contains("nested deeper than 128 levels"), "{error}");
        }
        let html = format!("var requests = unpack({});", "[".repeat(100_000));
        assert!(parse(&html, &real_files().1).is_err());
    }

    #[test]
    fn malformed_stats_are_errors_that_name_the_place() {
        let (_, js) = real_files();
        let cases = [
            (js.replacen("\"percentiles3\"", "\"percentilesX\"", 1), "stats.stats.percentiles3 is missing"),
            (js.replacen("type: \"REQUEST\"", "type: \"THING\"", 1), "type: expected \"GROUP\" or \"REQUEST\""),
            (js.replacen("\"count\": 15167", "\"count\": -1", 1), "stats.stats.group1.count: expected a count"),
            (js.replacen("\"total\": \"15594\"", "\"total\": [1]", 1), "numberOfRequests.total: expected a number"),
            (js.replacen("contents: {", "contents: [", 1), ""),
            ("var stats = 5;".to_owned(), "stats: expected an object, found 5"),
            ("var stats = {};".to_owned(), "stats.stats is missing"),
        ];
        for (text, expected) in cases {
            let error = parse("", &text).expect_err(expected).to_string();
            assert!(error.contains(expected), "{error} should contain {expected}");
        }
        let contents_of_request =
            js.replacen("\"req_get-access-toke-1423633639\": {", "\"req_get-access-toke-1423633639\": 3, \"x\": {", 1);
        let error = parse("", &contents_of_request).expect_err("not an object").to_string();
        assert_eq!(error, r#"stats.js: stats.contents["req_get-access-toke-1423633639"]: expected an object, found 3"#);
    }

    /// Truncation anywhere never panics. stats.js cut before the end of its object is an error; index.html cut inside a
    /// series is an error, and cut before the charts only loses them.
    #[test]
    fn truncated_files_give_errors_never_panics() {
        let (html, js) = real_files();
        let object_end = js.find("function fillStats").expect("functions");
        let mut cut = 0;
        while cut < js.len() {
            if js.is_char_boundary(cut) {
                let result = parse("", &js[..cut]);
                if cut < object_end - 3 {
                    assert!(result.is_err(), "stats.js cut at {cut} parsed");
                }
            }
            cut += 37;
        }
        let users_start = html.find("renderTo: 'active_users'").expect("users chart");
        let requests_start = html.find("var requests").expect("requests");
        let requests_end = requests_start + html[requests_start..].find("]);").expect("end");
        let mut cut = 0;
        while cut < html.len() {
            if html.is_char_boundary(cut) {
                match parse(&html[..cut], &js) {
                    Ok(metrics) => {
                        assert!(!(requests_start + 25..requests_end).contains(&cut), "html cut at {cut} in requests");
                        if cut < users_start {
                            assert_eq!(metrics.series, TimeSeries::default());
                        }
                    }
                    Err(error) => assert!(
                        cut > users_start && matches!(error, ReportError::Syntax { file: "index.html", .. }),
                        "html cut at {cut}: {error}"
                    ),
                }
            }
            cut += 401;
        }
    }

    /// Random printable bytes written over the real files: whatever the outcome, no panic.
    #[test]
    fn scrambled_files_never_panic() {
        let (html, js) = real_files();
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"{}[]()'\"\\,:;.-+0123456789eE \n/*abcxu";
        for round in 0..300 {
            let (mut html, mut js) = (html.clone().into_bytes(), js.clone().into_bytes());
            for _ in 0..(1 + round % 20) {
                let target = if next() % 2 == 0 { &mut html } else { &mut js };
                let at = (next() % target.len() as u64) as usize;
                if target[at].is_ascii() {
                    target[at] = alphabet[(next() % alphabet.len() as u64) as usize];
                }
            }
            let (html, js) = (String::from_utf8(html).expect("ASCII for ASCII"), String::from_utf8(js).expect("ASCII"));
            let _ = parse(&html, &js);
        }
    }

    /// Prints how long parsing the real report takes; run with `--release` too. A figure, not an assertion.
    #[test]
    fn parse_timing() {
        let (html, js) = real_files();
        let body = format!("{html}\nSPLIT_HERE\n{js}");
        let rounds = 50;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let (html, js) = split_upload(&body).expect("splits");
            std::hint::black_box(parse(html, js).expect("parses"));
        }
        let each = started.elapsed() / rounds;
        let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
        let stats_only = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(parse("", &js).expect("parses"));
        }
        let stats_each = stats_only.elapsed() / rounds;
        println!(
            "parse of the real report ({} KB index.html + {} KB stats.js), {profile}: {each:?} per upload, \
             of which stats.js {stats_each:?}",
            html.len() / 1024,
            js.len() / 1024
        );
    }
}
