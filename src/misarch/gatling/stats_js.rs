//! The statistics of stats.js: the global figures and one entry per request and per group.

use std::sync::LazyLock;

use regex::Regex;

use super::js::{Js, Reader, get};
use super::*;

pub(super) static STATS_VAR: LazyLock<Regex> = LazyLock::new(|| regex(r"\b(?:var|let|const)\s+stats\s*="));

/// English thousands separators (`1,300`), which some Gatling versions put into the figures.
pub(super) static GROUPED_NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"));

pub(super) fn parse_stats_js(stats_js: &str) -> Result<(RequestStats, Vec<RequestStats>), ReportError> {
    let marker = STATS_VAR.find(stats_js).ok_or(ReportError::StatsNotFound)?;
    let root = Reader::new(stats_js, marker.end(), STATS_JS).read_value()?;
    let root = expect_object(&root, "stats")?;
    let total = read_entry(root, "stats", EntryType::Group, "")?;
    let mut requests = Vec::new();
    read_contents(root, "stats", &mut requests)?;
    Ok((total, requests))
}

/// Appends a group's entries, depth first. The recursion is bounded by the reader's nesting limit.
pub(super) fn read_contents(
    group: &[(String, Js)],
    place: &str,
    out: &mut Vec<RequestStats>,
) -> Result<(), ReportError> {
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

pub(super) fn read_entry(
    entry: &[(String, Js)],
    place: &str,
    kind: EntryType,
    key: &str,
) -> Result<RequestStats, ReportError> {
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

pub(super) fn read_counter(stats: &[(String, Js)], field: &str, place: &str) -> Result<Counter, ReportError> {
    let place = format!("{place}.{field}");
    let counter = expect_object(get(stats, field).ok_or_else(|| missing(&place))?, &place)?;
    let figure = |flavor: &str| {
        let place = format!("{place}.{flavor}");
        gatling_figure(get(counter, flavor).ok_or_else(|| missing(&place))?, &place)
    };
    Ok(Counter { total: figure("total")?, ok: figure("ok")?, ko: figure("ko")? })
}

pub(super) fn read_group(stats: &[(String, Js)], field: &str, place: &str) -> Result<RangeGroup, ReportError> {
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
pub(super) fn gatling_figure(value: &Js, place: &str) -> Result<Option<f64>, ReportError> {
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

pub(super) fn optional_string(object: &[(String, Js)], key: &str, place: &str) -> Result<Option<String>, ReportError> {
    match get(object, key) {
        None => Ok(None),
        Some(Js::Str(text)) => Ok(Some(text.clone())),
        Some(other) => Err(malformed(format!("{place}.{key}: expected a string, found {other}"))),
    }
}

pub(super) fn expect_object<'a>(value: &'a Js, place: &str) -> Result<&'a [(String, Js)], ReportError> {
    match value {
        Js::Obj(members) => Ok(members),
        other => Err(malformed(format!("{place}: expected an object, found {other}"))),
    }
}

pub(super) fn missing(place: &str) -> ReportError {
    malformed(format!("{place} is missing"))
}

pub(super) fn malformed(what: String) -> ReportError {
    ReportError::Malformed { file: STATS_JS, what }
}
