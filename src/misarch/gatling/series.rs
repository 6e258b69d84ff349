//! The time series of the charts in index.html: requests and responses per second, active users, and the response
//! time percentiles of OK requests over time.

use std::sync::LazyLock;

use regex::Regex;

use super::js::{Js, Reader, get};
use super::*;

pub(super) static REQUESTS_VAR: LazyLock<Regex> = LazyLock::new(|| regex(r"\bvar\s+requests\s*=\s*unpack\s*\("));
pub(super) static RESPONSES_VAR: LazyLock<Regex> = LazyLock::new(|| regex(r"\bvar\s+responses\s*=\s*unpack\s*\("));
pub(super) static PERCENTILES_VAR: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\bvar\s+responsetimepercentilesovertimeokPercentiles\s*=\s*unpack\s*\("));
pub(super) static RENDER_TO: LazyLock<Regex> = LazyLock::new(|| regex(r#"\brenderTo\s*:\s*['"]([^'"]*)['"]"#));
pub(super) static SERIES_ARRAY: LazyLock<Regex> = LazyLock::new(|| regex(r"\bseries\s*:\s*\["));

pub(super) fn parse_series(html: &str) -> Result<TimeSeries, ReportError> {
    Ok(TimeSeries {
        requests: unpacked_rates(html, &REQUESTS_VAR, "requests")?,
        responses: unpacked_rates(html, &RESPONSES_VAR, "responses")?,
        active_users: active_users(html)?,
        percentiles: percentiles(html)?,
    })
}

/// `var responsetimepercentilesovertimeokPercentiles = unpack([[epoch_s, [min, p25, …, max]], …])`, an entry
/// `[epoch_s, null]` for an interval without OK responses.
pub(super) fn percentiles(html: &str) -> Result<Vec<PercentilePoint>, ReportError> {
    let shape = "ten numbers or null";
    unpacked(html, &PERCENTILES_VAR, "response time percentiles", shape, |time_ms, values| {
        let values = match values {
            Js::Null => None,
            Js::Arr(values) if values.len() == PERCENTILE_LABELS.len() => {
                let mut numbers = [0.0; 10];
                for (slot, value) in numbers.iter_mut().zip(values) {
                    let Js::Num(number) = value else { return None };
                    *slot = *number;
                }
                Some(numbers)
            }
            _ => return None,
        };
        Some(PercentilePoint { time_ms, values })
    })
}

/// `var requests = unpack([[epoch_s, [all, ok, ko]], …])`; an entry `[epoch_s, null]` (a second without data) is
/// nulls.
pub(super) fn unpacked_rates(html: &str, marker: &Regex, name: &str) -> Result<Vec<RatePoint>, ReportError> {
    unpacked(html, marker, name, "[all, ok, ko] or null", |time_ms, values| {
        let [all, ok, ko] = match values {
            Js::Null => [None; 3],
            Js::Arr(values) => {
                let mut flavors = [None; 3];
                for (slot, value) in flavors.iter_mut().zip(values) {
                    *slot = chart_value(value)?;
                }
                flavors
            }
            _ => return None,
        };
        Some(RatePoint { time_ms, all, ok, ko })
    })
}

/// The entries of `var … = unpack([[epoch_s, values], …])` after `marker`, each made by `point` from its time (Gatling's
/// unpack.js turns seconds into milliseconds) and its values, or `None` when they are not of the `shape` named in
/// the error. No marker, no entries: the chart is not in the report.
fn unpacked<T>(
    html: &str,
    marker: &Regex,
    name: &str,
    shape: &str,
    point: impl Fn(i64, &Js) -> Option<T>,
) -> Result<Vec<T>, ReportError> {
    let Some(found) = marker.find(html) else { return Ok(Vec::new()) };
    let value = Reader::new(html, found.end(), INDEX_HTML).read_value()?;
    let bad = |index: usize| ReportError::Malformed {
        file: INDEX_HTML,
        what: format!("{name}[{index}]: expected [epoch seconds, {shape}]"),
    };
    let Js::Arr(entries) = value else { return Err(bad(0)) };
    let mut points = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let [Js::Num(seconds), values] = entry.as_array().ok_or_else(|| bad(index))? else { return Err(bad(index)) };
        let time_ms = epoch_ms(seconds * 1000.0).ok_or_else(|| bad(index))?;
        points.push(point(time_ms, values).ok_or_else(|| bad(index))?);
    }
    Ok(points)
}

/// The `series` of the chart rendered to `active_users`: one `{name: '<scenario>', data: [[epoch_ms, users], …]}` per
/// scenario, beside the identifier `allUsersData` (defined in all_sessions.js, which is not uploaded) that is skipped.
pub(super) fn active_users(html: &str) -> Result<Vec<ScenarioSeries>, ReportError> {
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
pub(super) fn chart_value(value: &Js) -> Option<Option<f64>> {
    match value {
        Js::Num(number) => Some(Some(*number)),
        Js::Null => Some(None),
        _ => None,
    }
}

pub(super) fn epoch_ms(value: f64) -> Option<i64> {
    // Exact within the bound: any epoch millisecond of the next 280,000 years.
    (value.is_finite() && value.abs() < 9.0e15).then(|| value.round() as i64)
}
