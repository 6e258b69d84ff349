//! `prometheus.query`: one PromQL query against Prometheus's HTTP API (`/api/v1/query`, or `/api/v1/query_range`
//! over the last `range` seconds), its answer the step's result, for expectations to check.
//!
//! Prometheus writes sample values as strings (`"0.25"`, `"NaN"`, `"+Inf"`); the result has them as JSON numbers,
//! and `null` where the value is not a finite number. So that an expectation need not know the series' labels:
//! - `sample` is the first series' value (instant), or its last value (range); `null` when there is no series
//!   (not `value`, which expectations read as the whole result, as Kallisti did);
//! - `min`, `max` and `mean` are over every value of every series;
//! - `series` lists each series with its labels and its value (instant) or values (range).
//!
//! A query Prometheus refuses (`bad_data`, a timeout of its own) fails the step with Prometheus's own error text.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Value, json};

use super::arguments::{Rendered, Stage, seconds};
use super::http::{HttpUrl, StepTimeout, error_chain, status_text};
use super::{ActionContext, ActionError, millis};

/// A week: Prometheus's default retention is 15 days, and a step's window longer than a week is likely a mistake.
const MAX_RANGE_SECONDS: f64 = 604_800.0;
/// Prometheus refuses range queries of more than 11,000 points.
const MAX_POINTS: f64 = 11_000.0;

/// The arguments of `prometheus.query`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct PrometheusArguments<S: Stage> {
    /// The PromQL expression.
    query: S::Value<Query>,
    /// Prometheus's base URL; `ERIS_PROMETHEUS_URL` when not given.
    url: Option<S::Value<HttpUrl>>,
    /// A range query over the last this many seconds, instead of an instant query.
    range: Option<S::Value<Window>>,
    /// Seconds between the points of a range query (default: the range over 100 points, at least 1 s).
    step: Option<S::Value<Window>>,
    timeout: Option<S::Value<StepTimeout>>,
}

/// A PromQL expression: a non-empty string (Prometheus itself parses it).
pub struct Query(String);

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("must be a PromQL expression, not empty"));
        }
        Ok(Self(text))
    }
}

/// Seconds, more than 0 and at most [`MAX_RANGE_SECONDS`].
pub struct Window(Duration);

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        seconds(deserializer, false, MAX_RANGE_SECONDS).map(Self)
    }
}

impl<S: Stage> PrometheusArguments<S> {
    /// What the types cannot say: a `step` only with a `range`, and not more points than Prometheus answers.
    pub fn check(self) -> Result<Self, super::ArgumentError> {
        if self.step.is_some() && self.range.is_none() {
            let reason = "a step is only for a range query: give range too".to_owned();
            return Err(super::ArgumentError::Invalid { field: "step".to_owned(), reason });
        }
        Ok(self)
    }
}

/// Where Prometheus is, for a step that names none.
fn base_url(step: Option<HttpUrl>, ctx: &ActionContext) -> Result<Url, ActionError> {
    match (step, &ctx.prometheus) {
        (Some(HttpUrl(url)), _) => Ok(url),
        (None, Some(url)) => Ok(url.clone()),
        (None, None) => Err(ActionError::Failed {
            message: "no Prometheus to ask: set ERIS_PROMETHEUS_URL, or give the step a url".to_owned(),
            result: None,
        }),
    }
}

pub async fn run(arguments: PrometheusArguments<Rendered>, ctx: &ActionContext) -> Result<Value, ActionError> {
    let base = base_url(arguments.url, ctx)?;
    let Query(query) = arguments.query;
    let now = chrono::Utc::now();
    let timeout = arguments.timeout.map_or(ctx.default_timeout, |StepTimeout(timeout)| timeout);
    let window = match arguments.range {
        Some(Window(range)) => {
            let step = arguments.step.map_or_else(|| (range / 100).max(Duration::from_secs(1)), |Window(step)| step);
            Some((now - chrono::Duration::from_std(range).unwrap_or_default(), step))
        }
        None => None,
    };
    ask(ctx, &base, &query, window.map(|(start, step)| (start, now, step)), now, timeout).await
}

/// The series of `query` from `start` to `end` at `step`, for an experiment's `collect` list; `url` or
/// `ERIS_PROMETHEUS_URL`. The error is a sentence for the record.
pub async fn range(
    ctx: &ActionContext,
    url: Option<&Url>,
    query: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    step: Duration,
) -> Result<Value, String> {
    let base = base_url(url.cloned().map(HttpUrl), ctx).map_err(|error| error.to_string())?;
    ask(ctx, &base, query, Some((start, end, step)), end, ctx.default_timeout).await.map_err(|error| error.to_string())
}

/// One query: instant at `at`, or over `window` (start, end, step).
async fn ask(
    ctx: &ActionContext,
    base: &Url,
    query: &str,
    window: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>, Duration)>,
    at: chrono::DateTime<chrono::Utc>,
    timeout: Duration,
) -> Result<Value, ActionError> {
    let mut url = base.clone();
    let path = if window.is_some() { "api/v1/query_range" } else { "api/v1/query" };
    let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    let mut form: Vec<(&str, String)> = vec![("query", query.to_owned())];
    match window {
        Some((start, end, step)) => {
            let span = (end - start).to_std().unwrap_or_default();
            if span.as_secs_f64() / step.as_secs_f64() > MAX_POINTS {
                return Err(ActionError::Failed {
                    message: format!("the range of {span:?} at a step of {step:?} is more than {MAX_POINTS} points"),
                    result: None,
                });
            }
            form.push(("start", seconds_text(start)));
            form.push(("end", seconds_text(end)));
            form.push(("step", format!("{}", step.as_secs_f64())));
        }
        None => form.push(("time", seconds_text(at))),
    }
    let started = std::time::Instant::now();
    let exchange = async {
        let body = serde_urlencoded::to_string(&form).unwrap_or_default();
        let request = ctx.http.post(url.clone()).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        let response = request.send().await.map_err(|error| ActionError::Failed {
            message: format!("Prometheus at {base} did not answer: {}", error_chain(error)),
            result: None,
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|error| ActionError::Failed {
            message: format!(
                "Prometheus at {base} answered {} but the body could not be read: {}",
                status_text(status),
                error_chain(error)
            ),
            result: None,
        })?;
        Ok::<_, ActionError>((status, text))
    };
    let (status, text) = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => return Err(ActionError::Cancelled),
        outcome = tokio::time::timeout(timeout, exchange) => outcome.map_err(|_| ActionError::TimedOut(timeout))??,
    };
    let answer: Value = serde_json::from_str(&text).map_err(|_| ActionError::Failed {
        message: format!(
            "Prometheus at {base} answered {} with a body that is not its API's JSON",
            status_text(status)
        ),
        result: None,
    })?;
    if answer["status"] != "success" {
        let message = format!(
            "Prometheus refused the query ({}): {}",
            answer["errorType"].as_str().unwrap_or(&status_text(status)),
            answer["error"].as_str().unwrap_or("no error text")
        );
        return Err(ActionError::Failed { message, result: Some(answer) });
    }
    let mut result = read_data(&answer["data"]);
    result["query"] = Value::String(query.to_owned());
    result["elapsed_ms"] = millis(started.elapsed()).into();
    if let Some(warnings) = answer.get("warnings") {
        result["warnings"] = warnings.clone();
    }
    Ok(result)
}

/// Epoch seconds with milliseconds, as Prometheus reads times.
fn seconds_text(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:.3}", at.timestamp_millis() as f64 / 1000.0)
}

/// A sample's value as a JSON number; `null` for NaN, ±Inf or anything unreadable.
fn sample(pair: &Value) -> Value {
    pair[1]
        .as_str()
        .and_then(|text| text.parse::<f64>().ok())
        .filter(|value| value.is_finite())
        .map_or(Value::Null, Value::from)
}

/// The step's result from Prometheus's `data`: `result_type`, `sample`, `min`, `max`, `mean`, `series`.
fn read_data(data: &Value) -> Value {
    let result_type = data["resultType"].as_str().unwrap_or_default().to_owned();
    let mut all = Vec::new();
    let mut first = Value::Null;
    let series: Vec<Value> = match result_type.as_str() {
        // A scalar or a string: one sample, no labels.
        "scalar" | "string" => {
            first = sample(&data["result"]);
            all.extend(first.as_f64());
            vec![json!({"metric": {}, "value": first})]
        }
        "matrix" => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, series)| {
                let values: Vec<Value> = series["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|pair| json!([pair[0], sample(pair)]))
                    .collect();
                all.extend(values.iter().filter_map(|pair| pair[1].as_f64()));
                if index == 0 {
                    first = values.last().map_or(Value::Null, |pair| pair[1].clone());
                }
                json!({"metric": series["metric"], "values": values})
            })
            .collect(),
        _ => data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, series)| {
                let value = sample(&series["value"]);
                all.extend(value.as_f64());
                if index == 0 {
                    first = value.clone();
                }
                json!({"metric": series["metric"], "value": value})
            })
            .collect(),
    };
    let fold = |pick: fn(f64, f64) -> f64| all.iter().copied().reduce(pick).map_or(Value::Null, Value::from);
    let mean = if all.is_empty() { Value::Null } else { Value::from(all.iter().sum::<f64>() / all.len() as f64) };
    json!({
        "result_type": result_type,
        "sample": first,
        "min": fold(f64::min),
        "max": fold(f64::max),
        "mean": mean,
        "count": series.len(),
        "series": series,
    })
}

#[cfg(test)]
mod tests {
    use super::read_data;
    use serde_json::json;

    #[test]
    fn values_become_numbers_and_the_first_series_is_the_value() {
        let vector = json!({"resultType": "vector", "result": [
            {"metric": {"service": "a"}, "value": [1700000000.5, "0.25"]},
            {"metric": {"service": "b"}, "value": [1700000000.5, "NaN"]},
            {"metric": {"service": "c"}, "value": [1700000000.5, "2"]}
        ]});
        let result = read_data(&vector);
        assert_eq!(
            (result["sample"].clone(), result["min"].clone(), result["max"].clone()),
            (json!(0.25), json!(0.25), json!(2.0))
        );
        assert_eq!(result["series"][1]["value"], json!(null));
        assert_eq!(result["count"], 3);
        let matrix = json!({"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1"], [2, "3"], [3, "+Inf"], [4, "5"]]}
        ]});
        let result = read_data(&matrix);
        assert_eq!(
            (result["sample"].clone(), result["mean"].clone(), result["max"].clone()),
            (json!(5.0), json!(3.0), json!(5.0))
        );
        let empty = read_data(&json!({"resultType": "vector", "result": []}));
        assert_eq!(
            (empty["sample"].clone(), empty["max"].clone(), empty["count"].clone()),
            (json!(null), json!(null), json!(0))
        );
        let scalar = read_data(&json!({"resultType": "scalar", "result": [1, "4.5"]}));
        assert_eq!(scalar["sample"], json!(4.5));
    }
}
