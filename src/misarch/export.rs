//! Where a finished trial's results go besides the trial record: InfluxDB (the Gatling figures and series, under the
//! original executor's gauge names) and a Grafana dashboard over them, as pure descriptors: no HTTP client lives here.
//!
//! Where eris departs from the original executor's export, and why:
//! - One write request per trial ([`influx_lines`] + [`influx_write_request`]), not one HTTP request per gauge.
//! - Every line carries the tag `trial=<trial id>` besides the original's `testUUID`/`testVersion` (which eris
//!   derives from the trial id, [`test_identity`]), so runs never share series.
//! - Per-request lines keep the original's `<gauge>_<req>` measurement names, whose suffix collides and truncates
//!   (Gatling's `pathFormatted`), and add the tag `request=<Gatling path>`, which tells requests apart.
//! - `percentageMeanNumberOfRequestsPerSecondOk|Ko` is the OK (KO) share of the request counts, as goals.rs measures
//!   the goal of that name (the original divided two rates rounded to two decimals).
//! - Names are escaped per the line protocol (the original wrote them raw and dropped spaces from scenario names).
//! - The dashboard is per trial ([`dashboard_uid`] is unique per trial and at most 40 characters, where the
//!   original's `<uuid>-<version>` broke from `v100` on), its Flux queries filter on the trial tag and follow the
//!   dashboard's time range (the original looked back a fixed day), and its link ([`dashboard_url`]) is built from
//!   the configured public base and the run's times (the original hard-coded the host).
//!
//! The dashboard is self-contained (no template file, no cAdvisor/Prometheus panels, no run comparison): the
//! response-time figures and shares as stat panels titled with the goal metric labels (each goal drawn as a
//! threshold in its colour on its panel), a per-request table, and time series of requests and responses per second
//! (all/OK/KO), errors per second and active users per scenario.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::components::{ComponentRequest, test_identity};
use super::gatling::{Counter, GatlingMetrics, RequestStats};
use super::goals::{Bound, EvaluatedGoal, GoalMetric};

/// A Grafana dashboard uid unique per trial and within Grafana's 40 characters (derive from the trial id):
/// `eris-` and the trial id's 32 hex digits, 37 characters of `[a-z0-9-]`.
pub fn dashboard_uid(trial_id: Uuid) -> String {
    format!("eris-{}", trial_id.simple())
}

/// The figures of the per-request table, in column order.
const TABLE_STATS: [&str; 9] = [
    "numberOfRequestsTotal",
    "numberOfRequestsKo",
    "minResponseTime",
    "meanResponseTime",
    "maxResponseTime",
    "percentiles1",
    "percentiles2",
    "percentiles3",
    "percentiles4",
];

/// The dashboard JSON eris creates for a trial (see the module documentation for its panels). Queries are Flux on
/// the InfluxDB data source `influx_datasource_uid`, bucket `bucket`, filtered on `trial == <trial id>`. The time
/// series follow the dashboard's time range, which [`dashboard_url`] sets to the run's; [`set_time_range`] sets it as
/// the default too. The stat panels and the table read the trial's statistics whatever the range (they are written
/// once, at completion, and the trial tag makes them unambiguous).
pub fn dashboard(
    trial_id: Uuid,
    title: &str,
    goals: &[EvaluatedGoal],
    influx_datasource_uid: &str,
    bucket: &str,
) -> Value {
    let datasource = json!({"type": "influxdb", "uid": influx_datasource_uid});
    let from_bucket = format!("from(bucket: {})", flux_string(bucket));
    let trial = flux_string(&trial_id.hyphenated().to_string());
    let mut panels = Vec::new();
    let mut next_id = 1;
    let mut y = 0;
    let mut push = |panels: &mut Vec<Value>, mut panel: Value, grid: (u32, u32, u32, u32)| {
        panel["id"] = json!(next_id);
        panel["datasource"] = datasource.clone();
        panel["gridPos"] = json!({"x": grid.0, "y": grid.1, "w": grid.2, "h": grid.3});
        if let Some(targets) = panel["targets"].as_array_mut() {
            for target in targets {
                target["datasource"] = datasource.clone();
            }
        }
        next_id += 1;
        panels.push(panel);
    };

    // Time series: requests and responses per second, errors, active users.
    let series = |measurement: &str, extra_filter: &str, group: &str, fn_: &str| {
        format!(
            "{from_bucket}\n  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n  |> filter(fn: (r) => \
             r._measurement == \"{measurement}\" and r.trial == {trial}{extra_filter})\n  |> group(columns: \
             [\"{group}\"])\n  |> aggregateWindow(every: v.windowPeriod, fn: {fn_}, createEmpty: false)\n  |> \
             keep(columns: [\"_time\", \"_value\", \"{group}\"])"
        )
    };
    let timeseries = [
        ("requests per second", series("requests", "", "flavor", "mean"), "reqps"),
        ("responses per second", series("responses", "", "flavor", "mean"), "reqps"),
        ("errors per second", series("responses", " and r.flavor == \"ko\"", "flavor", "mean"), "reqps"),
        ("active users", series("activeUsers", "", "scenario", "max"), "short"),
    ];
    for (index, (panel_title, query, unit)) in timeseries.into_iter().enumerate() {
        let panel = json!({
            "type": "timeseries",
            "title": panel_title,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "query": query}],
        });
        push(&mut panels, panel, ((index as u32 % 2) * 12, y + (index as u32 / 2) * 8, 12, 8));
    }
    y += 16;

    // Stat panels, one per goal metric, titled with its label (as the original's template), each goal a threshold.
    for (index, metric) in GoalMetric::ALL.into_iter().enumerate() {
        let measurement = metric.measurement();
        let query = format!(
            "{from_bucket}\n  |> range(start: 0)\n  |> filter(fn: (r) => r._measurement == \"{measurement}\" and \
             r.trial == {trial})\n  |> last()\n  |> keep(columns: [\"_time\", \"_value\"])"
        );
        let panel = json!({
            "type": "stat",
            "title": metric.label(),
            "fieldConfig": {
                "defaults": {"unit": metric.grafana_unit(), "thresholds": thresholds(metric, goals)},
                "overrides": []
            },
            "options": {"colorMode": "background", "graphMode": "none", "reduceOptions": {"calcs": ["lastNotNull"]}},
            "targets": [{"refId": "A", "query": query}],
        });
        let index = index as u32;
        push(&mut panels, panel, ((index % 4) * 6, y + (index / 4) * 4, 6, 4));
    }
    y += GoalMetric::ALL.len().div_ceil(4) as u32 * 4;

    // Per request: the response time figures as a table.
    let stats_set = TABLE_STATS.iter().map(|stat| format!("\"{stat}\"")).collect::<Vec<_>>().join(", ");
    let query = format!(
        "import \"strings\"\n\n{from_bucket}\n  |> range(start: 0)\n  |> filter(fn: (r) => r.trial == {trial} and \
         exists r.request)\n  |> map(fn: (r) => ({{r with stat: strings.split(v: r._measurement, t: \"_\")[0]}}))\n  \
         |> filter(fn: (r) => contains(value: r.stat, set: [{stats_set}]))\n  |> keep(columns: [\"request\", \
         \"stat\", \"_value\"])\n  |> group()\n  |> pivot(rowKey: [\"request\"], columnKey: [\"stat\"], valueColumn: \
         \"_value\")"
    );
    let panel = json!({
        "type": "table",
        "title": "response times per request",
        "fieldConfig": {"defaults": {"unit": "ms"}, "overrides": [
            {"matcher": {"id": "byRegexp", "options": "numberOfRequests.*"},
             "properties": [{"id": "unit", "value": "short"}]}
        ]},
        "targets": [{"refId": "A", "query": query}],
    });
    push(&mut panels, panel, (0, y, 24, 10));

    json!({
        "id": null,
        "uid": dashboard_uid(trial_id),
        "title": title,
        "tags": ["eris", "misarch"],
        "timezone": "browser",
        "editable": true,
        "schemaVersion": 40,
        "refresh": "",
        "time": {"from": "now-6h", "to": "now"},
        "panels": panels,
    })
}

/// Sets the dashboard's default time range (what it shows when opened without `from`/`to` in the link).
pub fn set_time_range(dashboard: &mut Value, from: DateTime<Utc>, to: DateTime<Utc>) {
    dashboard["time"] = json!({
        "from": from.to_rfc3339_opts(SecondsFormat::Millis, true),
        "to": to.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
}

/// Grafana threshold steps (ascending) for the goals on `metric`. An upper-bound goal colours values from its
/// threshold up in its colour; a lower-bound goal colours values below its threshold in its colour (the base step)
/// and values from the threshold up green.
fn thresholds(metric: GoalMetric, goals: &[EvaluatedGoal]) -> Value {
    let mut on_label: Vec<&EvaluatedGoal> =
        goals.iter().filter(|goal| goal.metric == metric && goal.threshold.is_finite()).collect();
    on_label.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
    let base = on_label.iter().find(|goal| goal.bound == Bound::Lower).map_or("green", |goal| goal.color.as_str());
    let mut steps = vec![json!({"color": base, "value": null})];
    for goal in on_label {
        let color = match goal.bound {
            Bound::Upper => goal.color.as_str(),
            Bound::Lower => "green",
        };
        steps.push(json!({"color": color, "value": goal.threshold}));
    }
    json!({"mode": "absolute", "steps": steps})
}

/// A Flux string literal: `"`, `\` and the interpolation `${` escaped.
fn flux_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"").replace("${", "\\${");
    format!("\"{escaped}\"")
}

/// The Grafana HTTP API call that creates (or replaces) it: `POST /api/dashboards/db` with
/// `{"dashboard": …, "overwrite": true, "message": …}` (the General folder). Authentication is the caller's.
pub fn create_dashboard_request(dashboard: &Value) -> ComponentRequest {
    let title = dashboard["title"].as_str().unwrap_or_default();
    let body = json!({"dashboard": dashboard, "overwrite": true, "message": format!("eris: {title}")});
    ComponentRequest::new(Method::POST, "/api/dashboards/db".to_owned()).with_body("application/json", body.to_string())
}

/// The link stored in `trial.grafana_url`: `{public_base}/d/{uid}?from={ms}&to={ms}`. A trailing `/` of the base
/// is dropped; `uid` is percent-encoded (a no-op for Grafana's `[A-Za-z0-9_-]` uids).
pub fn dashboard_url(public_base: &str, uid: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let uid: String = url::form_urlencoded::byte_serialize(uid.as_bytes()).collect();
    format!(
        "{}/d/{uid}?from={}&to={}",
        public_base.trim_end_matches('/'),
        from.timestamp_millis(),
        to.timestamp_millis()
    )
}

/// InfluxDB line protocol for a whole trial in one body (one write request): field `value` (float) throughout,
/// timestamps in ms, tags sorted by key and always ending in `testUUID`, `testVersion`, `trial`.
/// - The original executor's all-requests gauges (`meanResponseTime`, `meanResponseTimeOk`, …, `group4Percentage`) at
///   `completed_at`.
/// - The same per entry of `metrics.requests` (requests and groups), measurement `<gauge>_<req>` as the original
///   names them, plus the tag `request=<Gatling path>`, at `completed_at`.
/// - `requests` and `responses` per second (tag `flavor=all|ok|ko`) and `activeUsers` (tag `scenario`) at their
///   own times.
///
/// Values Gatling did not have (`"-"`, `null`) and non-finite values are left out, never written.
pub fn influx_lines(trial_id: Uuid, metrics: &GatlingMetrics, completed_at: DateTime<Utc>) -> String {
    let (test_uuid, test_version) = test_identity(trial_id);
    let identity = format!(
        "testUUID={},testVersion={},trial={}",
        escape_tag(&test_uuid),
        escape_tag(&test_version),
        escape_tag(&trial_id.hyphenated().to_string())
    );
    let mut out = String::new();
    let mut line = |measurement: &str, tag: Option<(&str, &str)>, value: Option<f64>, time_ms: i64| {
        let Some(value) = value.filter(|value| value.is_finite()) else { return };
        out.push_str(&escape_measurement(measurement));
        out.push(',');
        if let Some((key, tag_value)) = tag {
            out.push_str(&format!("{key}={},", escape_tag(tag_value)));
        }
        // Display never uses an exponent; a whole number keeps a `.0`, as the original's `3646.0`.
        let mut number = value.to_string();
        if !number.contains('.') {
            number.push_str(".0");
        }
        out.push_str(&format!("{identity} value={number} {time_ms}\n"));
    };

    let at = completed_at.timestamp_millis();
    for (gauge, value) in gauges(&metrics.total) {
        line(&gauge, None, value, at);
    }
    for stats in &metrics.requests {
        let suffix = request_suffix(&stats.path_formatted);
        let request = if stats.path.is_empty() { stats.name.as_str() } else { stats.path.as_str() };
        for (gauge, value) in gauges(stats) {
            line(&format!("{gauge}_{suffix}"), Some(("request", request)), value, at);
        }
    }
    for (measurement, points) in [("requests", &metrics.series.requests), ("responses", &metrics.series.responses)] {
        for point in points {
            for (flavor, value) in [("all", point.all), ("ok", point.ok), ("ko", point.ko)] {
                line(measurement, Some(("flavor", flavor)), value, point.time_ms);
            }
        }
    }
    for scenario in &metrics.series.active_users {
        for point in &scenario.data {
            line("activeUsers", Some(("scenario", &scenario.scenario)), point.value, point.time_ms);
        }
    }
    out
}

/// The original's per-request suffix: the `pathFormatted` up to the first `-`, without `req_`.
fn request_suffix(path_formatted: &str) -> &str {
    let head = path_formatted.split('-').next().unwrap_or_default();
    head.strip_prefix("req_").unwrap_or(head)
}

/// The original executor's gauges for one stats entry, in the original's order; `None` where Gatling had no value.
fn gauges(stats: &RequestStats) -> Vec<(String, Option<f64>)> {
    let mut gauges = Vec::with_capacity(37);
    let flavored = [
        ("meanResponseTime", stats.mean_response_time),
        ("minResponseTime", stats.min_response_time),
        ("maxResponseTime", stats.max_response_time),
        ("standardDeviation", stats.standard_deviation),
        ("percentiles1", stats.percentiles1),
        ("percentiles2", stats.percentiles2),
        ("percentiles3", stats.percentiles3),
        ("percentiles4", stats.percentiles4),
    ];
    for (name, Counter { total, ok, ko }) in flavored {
        gauges.extend([(name.to_owned(), total), (format!("{name}Ok"), ok), (format!("{name}Ko"), ko)]);
    }
    for (name, Counter { total, ok, ko }) in [
        ("numberOfRequests", stats.number_of_requests),
        ("meanNumberOfRequestsPerSecond", stats.mean_number_of_requests_per_second),
    ] {
        gauges.extend([(format!("{name}Total"), total), (format!("{name}Ok"), ok), (format!("{name}Ko"), ko)]);
    }
    let requests = stats.number_of_requests;
    let share = |part: Option<f64>| Some(part? / requests.total.filter(|&total| total > 0.0)? * 100.0);
    gauges.push(("percentageMeanNumberOfRequestsPerSecondOk".to_owned(), share(requests.ok)));
    gauges.push(("percentageMeanNumberOfRequestsPerSecondKo".to_owned(), share(requests.ko)));
    for (index, group) in [&stats.group1, &stats.group2, &stats.group3, &stats.group4].into_iter().enumerate() {
        gauges.push((format!("group{}Count", index + 1), Some(group.count as f64)));
        gauges.push((format!("group{}Percentage", index + 1), Some(group.percentage)));
    }
    gauges
}

/// A measurement name: `,` and space escaped, `\` doubled; line breaks (which cannot be escaped) become spaces.
fn escape_measurement(text: &str) -> String {
    escape(text, &[',', ' '])
}

/// A tag key or value: `,`, `=` and space escaped, `\` doubled; line breaks become spaces; an empty value (which
/// the line protocol does not allow) becomes `-`.
fn escape_tag(text: &str) -> String {
    if text.is_empty() { "-".to_owned() } else { escape(text, &[',', '=', ' ']) }
}

fn escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = if matches!(c, '\n' | '\r') { ' ' } else { c };
        if c == '\\' || special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `POST /api/v2/write?org=…&bucket=…&precision=ms` with `Content-Type: text/plain` and the lines as body. The
/// `Authorization: Token …` header is the caller's.
pub fn influx_write_request(org: &str, bucket: &str, lines: String) -> ComponentRequest {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("org", org)
        .append_pair("bucket", bucket)
        .append_pair("precision", "ms")
        .finish();
    ComponentRequest::new(Method::POST, format!("/api/v2/write?{query}")).with_body("text/plain", lines)
}

#[cfg(test)]
mod tests {
    use super::super::gatling::tests::real_metrics;
    use super::super::goals::GoalSource;
    use super::*;

    fn trial() -> Uuid {
        Uuid::parse_str("3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10").unwrap()
    }

    fn goal(label: &str, threshold: f64, color: &str, bound: Bound) -> EvaluatedGoal {
        EvaluatedGoal {
            metric: GoalMetric::from_label(label).expect("a known label"),
            threshold,
            color: color.into(),
            source: GoalSource::User,
            bound,
            actual: None,
            violated: false,
        }
    }

    /// One parsed line: measurement, tags, fields (all unescaped), timestamp.
    #[derive(Debug)]
    struct Line {
        measurement: String,
        tags: Vec<(String, String)>,
        fields: Vec<(String, f64)>,
        time: i64,
    }

    /// Splits at unescaped `separator`s, unescaping `\x` to `x` (the line protocol's rule for the characters we
    /// escape); `\` before anything else stays literal.
    fn split_unescaped(text: &str, separator: char, escapable: &[char]) -> Vec<String> {
        let mut parts = vec![String::new()];
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.peek() {
                    Some(&next) if next == '\\' || escapable.contains(&next) => {
                        parts.last_mut().unwrap().push(next);
                        chars.next();
                    }
                    _ => parts.last_mut().unwrap().push('\\'),
                }
            } else if c == separator {
                parts.push(String::new());
            } else {
                parts.last_mut().unwrap().push(c);
            }
        }
        parts
    }

    /// A small checker: `measurement[,tag=value…] field=float[,…] timestamp`.
    fn parse_line(line: &str) -> Result<Line, String> {
        // The three sections, split at unescaped spaces (no string fields, so no quotes to track).
        let mut sections = Vec::new();
        let mut current = String::new();
        let mut escaped = false;
        for c in line.chars() {
            if escaped {
                current.push(c);
                escaped = false;
            } else if c == '\\' {
                current.push(c);
                escaped = true;
            } else if c == ' ' {
                sections.push(std::mem::take(&mut current));
            } else {
                current.push(c);
            }
        }
        sections.push(current);
        let [head, fields, time] = sections.as_slice() else { return Err(format!("not 3 sections: {line}")) };
        // Measurement and tags, split at unescaped commas; then each tag at its unescaped `=`.
        let mut head_parts = Vec::new();
        let mut current = String::new();
        let mut chars = head.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    current.push(c);
                    current.push(chars.next().ok_or("trailing backslash")?);
                }
                ',' => head_parts.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        head_parts.push(current);
        let measurement = split_unescaped(&head_parts[0], '\u{0}', &[',', ' ']).remove(0);
        if measurement.is_empty() {
            return Err(format!("empty measurement: {line}"));
        }
        let mut tags = Vec::new();
        for tag in &head_parts[1..] {
            let kv = split_unescaped(tag, '=', &[',', '=', ' ']);
            let [key, value] = kv.as_slice() else { return Err(format!("bad tag {tag:?}: {line}")) };
            if key.is_empty() || value.is_empty() {
                return Err(format!("empty tag key or value: {line}"));
            }
            tags.push((key.clone(), value.clone()));
        }
        let mut parsed_fields = Vec::new();
        for field in fields.split(',') {
            let (key, value) = field.split_once('=').ok_or(format!("bad field {field:?}"))?;
            let value: f64 = value.parse().map_err(|_| format!("field {field:?} is not a float: {line}"))?;
            parsed_fields.push((key.to_owned(), value));
        }
        let time = time.parse().map_err(|_| format!("bad timestamp: {line}"))?;
        Ok(Line { measurement, tags, fields: parsed_fields, time })
    }

    fn tag<'a>(line: &'a Line, key: &str) -> Option<&'a str> {
        line.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn uid_is_short_and_per_trial() {
        let (a, b) = (dashboard_uid(trial()), dashboard_uid(Uuid::new_v4()));
        assert!(a.len() <= 40 && b.len() <= 40, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn every_goal_metric_has_a_panel_on_its_measurement_in_its_unit() {
        let board = dashboard(trial(), "Trial 42", &[], "influxdb_uid", "gatling");
        let stats: Vec<&Value> = board["panels"].as_array().unwrap().iter().filter(|p| p["type"] == "stat").collect();
        assert_eq!(stats.len(), GoalMetric::ALL.len());
        for (panel, metric) in stats.into_iter().zip(GoalMetric::ALL) {
            assert_eq!(panel["title"], metric.label());
            assert_eq!(panel["fieldConfig"]["defaults"]["unit"], if metric.is_percentage() { "percent" } else { "ms" });
            let query = panel["targets"][0]["query"].as_str().unwrap();
            assert!(query.contains(&format!("r._measurement == \"{}\"", metric.measurement())), "{query}");
        }
    }

    #[test]
    fn dashboard_has_the_panels_and_a_threshold_per_goal() {
        let goals = [
            goal("max response time", 2000.0, "red", Bound::Upper),
            goal("max response time", 1000.0, "yellow", Bound::Upper),
            goal("percentage reqs with resp. time t < 800 ms", 95.0, "purple", Bound::Lower),
        ];
        let board = dashboard(trial(), "Trial 42", &goals, "influxdb_uid", "gat\"ling");
        assert_eq!(board["uid"], dashboard_uid(trial()));
        assert_eq!(board["title"], "Trial 42");
        let panels = board["panels"].as_array().unwrap();
        let titles: Vec<&str> = panels.iter().map(|p| p["title"].as_str().unwrap()).collect();
        for title in ["requests per second", "responses per second", "errors per second", "active users"] {
            assert!(titles.contains(&title), "{title} missing in {titles:?}");
        }
        assert!(titles.contains(&"response times per request"));
        for metric in GoalMetric::ALL {
            assert!(titles.contains(&metric.label()), "{metric}");
        }
        let ids: std::collections::HashSet<_> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), panels.len());
        for panel in panels {
            assert_eq!(panel["datasource"]["uid"], "influxdb_uid");
            let query = panel["targets"][0]["query"].as_str().unwrap();
            assert!(query.contains("r.trial == \"3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10\""), "{query}");
            assert!(query.contains("from(bucket: \"gat\\\"ling\")"), "{query}");
            assert!(!query.contains("-1d"), "{query}");
            if panel["type"] == "timeseries" {
                assert!(query.contains("range(start: v.timeRangeStart, stop: v.timeRangeStop)"));
            }
        }
        let steps = |title: &str| {
            let panel = panels.iter().find(|p| p["title"] == title).unwrap();
            panel["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array().unwrap().clone()
        };
        assert_eq!(
            steps("max response time"),
            vec![
                json!({"color": "green", "value": null}),
                json!({"color": "yellow", "value": 1000.0}),
                json!({"color": "red", "value": 2000.0}),
            ]
        );
        assert_eq!(
            steps("percentage reqs with resp. time t < 800 ms"),
            vec![json!({"color": "purple", "value": null}), json!({"color": "green", "value": 95.0})]
        );
        assert_eq!(steps("mean response time"), vec![json!({"color": "green", "value": null})]);

        let from = DateTime::from_timestamp_millis(1_752_755_877_123).unwrap();
        let to = DateTime::from_timestamp_millis(1_752_757_820_456).unwrap();
        let mut board = board;
        set_time_range(&mut board, from, to);
        assert_eq!(board["time"], json!({"from": "2025-07-17T12:37:57.123Z", "to": "2025-07-17T13:10:20.456Z"}));
    }

    #[test]
    fn create_request_posts_the_dashboard_with_overwrite() {
        let board = dashboard(trial(), "Trial 42", &[], "influxdb_uid", "gatling");
        let request = create_dashboard_request(&board);
        assert_eq!(request.method, "POST");
        assert_eq!(request.path_and_query, "/api/dashboards/db");
        assert_eq!(request.content_type, Some("application/json"));
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["dashboard"], board);
        assert_eq!(body["overwrite"], true);
        assert_eq!(body["message"], "eris: Trial 42");
    }

    #[test]
    fn url_carries_the_run_times() {
        let from = DateTime::from_timestamp_millis(1_752_755_877_123).unwrap();
        let to = DateTime::from_timestamp_millis(1_752_757_820_456).unwrap();
        assert_eq!(
            dashboard_url("https://grafana.example/", "eris-3f2b", from, to),
            "https://grafana.example/d/eris-3f2b?from=1752755877123&to=1752757820456"
        );
        assert_eq!(
            dashboard_url("http://localhost:3001", "x", from, to),
            format!("http://localhost:3001/d/x?from={}&to={}", 1_752_755_877_123_i64, 1_752_757_820_456_i64)
        );
    }

    #[test]
    fn influx_lines_of_the_real_report() {
        let metrics = real_metrics();
        let completed_at = DateTime::from_timestamp_millis(1_752_757_760_123).unwrap();
        let body = influx_lines(trial(), &metrics, completed_at);
        assert!(body.ends_with('\n'));
        let lines: Vec<Line> = body.lines().map(|line| parse_line(line).unwrap_or_else(|e| panic!("{e}"))).collect();

        // Count: every non-null series value, and every non-null gauge of every stats entry.
        let rate_points: usize = [&metrics.series.requests, &metrics.series.responses]
            .iter()
            .flat_map(|points| points.iter())
            .map(|p| [p.all, p.ok, p.ko].iter().filter(|v| v.is_some()).count())
            .sum();
        let user_points: usize =
            metrics.series.active_users.iter().map(|s| s.data.iter().filter(|p| p.value.is_some()).count()).sum();
        let stat_lines = |stats: &RequestStats| {
            let counters = [
                stats.number_of_requests,
                stats.min_response_time,
                stats.max_response_time,
                stats.mean_response_time,
                stats.standard_deviation,
                stats.percentiles1,
                stats.percentiles2,
                stats.percentiles3,
                stats.percentiles4,
                stats.mean_number_of_requests_per_second,
            ];
            let values = counters.iter().flat_map(|c| [c.total, c.ok, c.ko]).filter(Option::is_some).count();
            let has_total = stats.number_of_requests.total.is_some_and(|t| t > 0.0);
            let shares = [stats.number_of_requests.ok, stats.number_of_requests.ko]
                .iter()
                .filter(|v| has_total && v.is_some())
                .count();
            values + shares + 8
        };
        let stats_total: usize = stat_lines(&metrics.total) + metrics.requests.iter().map(stat_lines).sum::<usize>();
        assert!(rate_points > 1000 && user_points > 100, "{rate_points} {user_points}");
        assert_eq!(lines.len(), rate_points + user_points + stats_total);

        for line in &lines {
            assert_eq!(line.fields.len(), 1);
            assert_eq!(line.fields[0].0, "value");
            assert_eq!(tag(line, "testUUID"), Some("3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10"));
            assert_eq!(tag(line, "testVersion"), Some("v1"));
            assert_eq!(tag(line, "trial"), Some("3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10"));
            let keys: Vec<&str> = line.tags.iter().map(|(k, _)| k.as_str()).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted);
        }
        // The original's example line, and the time in ms.
        assert!(body.contains(
            "maxResponseTime,testUUID=3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10,testVersion=v1,trial=3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10 value=3646.0 1752757760123\n"
        ));
        let first_request = metrics.series.requests.iter().find(|p| p.all.is_some()).unwrap();
        assert!(lines.iter().any(|l| l.measurement == "requests"
            && tag(l, "flavor") == Some("all")
            && l.time == first_request.time_ms
            && l.fields[0].1 == first_request.all.unwrap()));
        // Per request: the original's suffixed name plus the request tag; a request without failures has no KO
        // response time line (null omitted).
        let products = metrics.requests.iter().find(|r| r.path_formatted.starts_with("req_products-")).unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.measurement == "meanResponseTime_products"
                    && tag(l, "request") == Some(products.path.as_str()))
        );
        let clean = metrics.requests.iter().find(|r| r.min_response_time.ko.is_none()).expect("a request never failed");
        let suffix = request_suffix(&clean.path_formatted);
        assert!(!lines.iter().any(|l| l.measurement == format!("minResponseTimeKo_{suffix}")
            && tag(l, "request") == Some(clean.path.as_str())));
        assert!(lines.iter().all(|l| l.fields[0].1.is_finite()));
        assert!(!body.contains("value=null") && !body.contains("value=-\n"));
    }

    #[test]
    fn names_are_escaped() {
        let mut metrics = real_metrics();
        metrics.requests.truncate(1);
        metrics.requests[0].path = "Shop / get token, v=2\\x".into();
        metrics.requests[0].path_formatted = "req_a b,c-123".into();
        metrics.series.requests.truncate(1);
        metrics.series.responses.clear();
        metrics.series.active_users.truncate(1);
        metrics.series.active_users[0].scenario = "buy process, a=b".into();
        metrics.series.active_users[0].data.truncate(2);
        let body = influx_lines(trial(), &metrics, Utc::now());
        assert!(body.contains(r"meanResponseTime_a\ b\,c,request=Shop\ /\ get\ token\,\ v\=2\\x,testUUID="), "{body}");
        assert!(body.contains(r"activeUsers,scenario=buy\ process\,\ a\=b,testUUID="), "{body}");
        for line in body.lines() {
            let line = parse_line(line).unwrap_or_else(|e| panic!("{e}"));
            if let Some(request) = tag(&line, "request") {
                assert_eq!(request, "Shop / get token, v=2\\x");
                assert!(line.measurement.starts_with(|c: char| c.is_ascii_lowercase()));
                assert!(line.measurement.ends_with("_a b,c"), "{}", line.measurement);
            }
            if let Some(scenario) = tag(&line, "scenario") {
                assert_eq!(scenario, "buy process, a=b");
            }
        }
        assert_eq!(escape_tag(""), "-");
        assert_eq!(escape_tag("a\nb"), r"a\ b");
    }

    #[test]
    fn write_request_is_one_post() {
        let request = influx_write_request("mis arch", "gatling&x", "m,t=1 value=1.0 1\n".into());
        assert_eq!(request.method, "POST");
        assert_eq!(request.path_and_query, "/api/v2/write?org=mis+arch&bucket=gatling%26x&precision=ms");
        assert_eq!(request.content_type, Some("text/plain"));
        assert_eq!(request.body.as_deref(), Some("m,t=1 value=1.0 1\n"));
        let plain = influx_write_request("misarch", "gatling", String::new());
        assert_eq!(plain.path_and_query, "/api/v2/write?org=misarch&bucket=gatling&precision=ms");
    }
}
