//! Gatling results as the MiSArch Gatling executor uploads them: one raw text body holding the report's
//! `index.html`, a line `SPLIT_HERE`, and the report's `js/stats.js`.
//!
//! What is extracted:
//! - From stats.js, every statistic Gatling computed: the global "All Requests" figures ([`GatlingMetrics::total`]) and
//!   one entry per request and per group ([`GatlingMetrics::requests`]), with Gatling's own field names. Gatling writes
//!   the figures as strings (`"1234"`, `"8.56"`) and `"-"` where there is no value (the KO response times of a request
//!   that never failed); they become JSON numbers and `null`.
//! - From index.html, the time series of the charts (see [`TimeSeries`]): requests and responses per second, all/OK/KO,
//!   active users per scenario, and the response time percentiles of OK requests over time. The response-time
//!   distribution chart is left out.
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

mod js;
mod series;
mod stats_js;
#[cfg(test)]
pub(crate) mod tests;

use regex::Regex;
use serde::{Deserialize, Serialize};

use series::parse_series;
use stats_js::parse_stats_js;

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
///   "active_users": [{"scenario": "buyProcessScenario", "data": [[epoch_ms, users], …]}, …],
///   "percentiles": [[epoch_ms, [min, p25, p50, p75, p80, p85, p90, p95, p99, max] or null], …]}`.
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
    /// Response time percentiles of the OK requests that started in each interval, in milliseconds
    /// (`var responsetimepercentilesovertimeokPercentiles = unpack(…)`); absent in metrics stored before it was read.
    #[serde(default)]
    pub percentiles: Vec<PercentilePoint>,
}

/// The percentiles Gatling's "Response Time Percentiles over Time (OK)" chart draws, in its order.
pub const PERCENTILE_LABELS: [&str; 10] = ["min", "25%", "50%", "75%", "80%", "85%", "90%", "95%", "99%", "max"];

/// One interval of the percentile chart; JSON `[epoch_ms, [min, p25, p50, p75, p80, p85, p90, p95, p99, max]]`, or
/// `[epoch_ms, null]` for an interval without OK responses.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "PercentileTuple", into = "PercentileTuple")]
pub struct PercentilePoint {
    pub time_ms: i64,
    pub values: Option<[f64; 10]>,
}

impl PercentilePoint {
    /// The value of `label` (one of [`PERCENTILE_LABELS`]) in this interval.
    pub fn value(&self, label: &str) -> Option<f64> {
        let index = PERCENTILE_LABELS.iter().position(|known| *known == label)?;
        self.values.map(|values| values[index])
    }
}

type PercentileTuple = (i64, Option<[json_number::Number; 10]>);

impl From<PercentileTuple> for PercentilePoint {
    fn from((time_ms, values): PercentileTuple) -> Self {
        PercentilePoint { time_ms, values: values.map(|values| values.map(|n| n.0)) }
    }
}

impl From<PercentilePoint> for PercentileTuple {
    fn from(point: PercentilePoint) -> Self {
        (point.time_ms, point.values.map(|values| values.map(json_number::Number)))
    }
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

fn regex(pattern: &str) -> Regex {
    // The patterns are constants of this module; the unit tests compile every one of them.
    Regex::new(pattern).expect("a valid constant pattern")
}
