//! The key metrics of a trial: the few numbers a comparison, a trend and a regression look at, read from the
//! trial's measured workload (`metrics`, in Gatling's shape, from a MiSArch run or `load.http`), its duration and
//! its score.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One key metric. Times are milliseconds, throughput requests per second, percentages 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyMetric {
    /// Mean requests per second over the workload.
    Throughput,
    /// Failed requests in percent of all requests.
    ErrorPercent,
    /// Response time percentiles (Gatling's default percentiles 1 to 4) and extremes, all requests.
    P50,
    P75,
    P95,
    P99,
    Mean,
    Max,
    /// From the trial's start to its end, seconds.
    Duration,
    /// The resilience score, 0 to 100.
    Score,
}

impl KeyMetric {
    pub const ALL: [KeyMetric; 10] = [
        Self::Throughput,
        Self::ErrorPercent,
        Self::P50,
        Self::P75,
        Self::P95,
        Self::P99,
        Self::Mean,
        Self::Max,
        Self::Duration,
        Self::Score,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throughput => "throughput",
            Self::ErrorPercent => "error_percent",
            Self::P50 => "p50",
            Self::P75 => "p75",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::Mean => "mean",
            Self::Max => "max",
            Self::Duration => "duration",
            Self::Score => "score",
        }
    }

    /// What the figure is measured in, for tables and chart axes.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Throughput => "req/s",
            Self::ErrorPercent => "%",
            Self::Duration => "s",
            Self::Score => "points",
            _ => "ms",
        }
    }

    /// Whether a larger value is better (throughput, score) or worse (times, errors).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Self::Throughput | Self::Score)
    }

    /// A change smaller than this is noise, never a regression: Gatling rounds times to whole milliseconds, an
    /// error rate of 0 would make any single failed request "infinitely" worse in percent, and so on.
    pub fn noise_floor(self) -> f64 {
        match self {
            Self::Throughput => 0.1,
            Self::ErrorPercent => 0.5,
            Self::Duration => 1.0,
            Self::Score => 1.0,
            _ => 1.0,
        }
    }

    /// How much worse `value` is than `reference`, in the metric's unit (positive: worse).
    pub fn worsening(self, value: f64, reference: f64) -> f64 {
        if self.higher_is_better() { reference - value } else { value - reference }
    }
}

impl fmt::Display for KeyMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The workload figures of one set of requests (all of them, or one request of the scenario), each absent where the
/// workload did not measure it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Workload {
    pub requests: Option<f64>,
    pub throughput: Option<f64>,
    pub error_percent: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub mean: Option<f64>,
    pub max: Option<f64>,
}

impl Workload {
    /// Reads one entry of Gatling's statistics (`metrics.total` or one of `metrics.requests`).
    pub fn of_stats(stats: &Value) -> Self {
        let total = |field: &str| stats[field]["total"].as_f64();
        let requests = total("numberOfRequests");
        let failed = stats["numberOfRequests"]["ko"].as_f64();
        let error_percent = match (requests, failed) {
            (Some(all), Some(failed)) if all > 0.0 => Some(failed / all * 100.0),
            (Some(_), _) => Some(0.0),
            _ => None,
        };
        Self {
            requests,
            throughput: total("meanNumberOfRequestsPerSecond"),
            error_percent,
            p50: total("percentiles1"),
            p75: total("percentiles2"),
            p95: total("percentiles3"),
            p99: total("percentiles4"),
            mean: total("meanResponseTime"),
            max: total("maxResponseTime"),
        }
    }

    pub fn get(&self, metric: KeyMetric) -> Option<f64> {
        match metric {
            KeyMetric::Throughput => self.throughput,
            KeyMetric::ErrorPercent => self.error_percent,
            KeyMetric::P50 => self.p50,
            KeyMetric::P75 => self.p75,
            KeyMetric::P95 => self.p95,
            KeyMetric::P99 => self.p99,
            KeyMetric::Mean => self.mean,
            KeyMetric::Max => self.max,
            KeyMetric::Duration | KeyMetric::Score => None,
        }
    }
}

/// One request's figures, named as in the workload (`Group / Request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequestWorkload {
    pub name: String,
    #[serde(flatten)]
    pub workload: Workload,
}

/// A trial's key metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyMetrics {
    /// All requests; absent when the trial measured no workload.
    pub workload: Option<Workload>,
    /// Each request of the workload (not its groups).
    pub per_request: Vec<RequestWorkload>,
    pub duration: Option<f64>,
    pub score: Option<f64>,
}

impl KeyMetrics {
    /// `metrics` is the trial's stored `metrics` (Gatling's shape), when it has any.
    pub fn new(metrics: Option<&Value>, duration: Option<f64>, score: Option<f64>) -> Self {
        let workload = metrics.filter(|m| m["total"].is_object()).map(|m| Workload::of_stats(&m["total"]));
        let per_request = metrics
            .and_then(|m| m["requests"].as_array())
            .into_iter()
            .flatten()
            .filter(|entry| entry["type"] == "REQUEST")
            .map(|entry| RequestWorkload {
                name: entry["path"].as_str().or(entry["name"].as_str()).unwrap_or_default().to_owned(),
                workload: Workload::of_stats(entry),
            })
            .collect();
        Self { workload, per_request, duration, score }
    }

    pub fn get(&self, metric: KeyMetric) -> Option<f64> {
        match metric {
            KeyMetric::Duration => self.duration,
            KeyMetric::Score => self.score,
            other => self.workload.as_ref().and_then(|workload| workload.get(other)),
        }
    }
}

/// The median of `values` (None when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) { (sorted[middle - 1] + sorted[middle]) / 2.0 } else { sorted[middle] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gatling_figures_become_key_metrics() {
        let counter = |total: f64, ko: f64| json!({"total": total, "ok": total - ko, "ko": ko});
        let stats = json!({
            "numberOfRequests": counter(200.0, 5.0), "meanNumberOfRequestsPerSecond": counter(20.0, 0.5),
            "percentiles1": counter(10.0, 0.0), "percentiles2": counter(12.0, 0.0), "percentiles3": counter(30.0, 0.0),
            "percentiles4": counter(45.0, 0.0), "meanResponseTime": counter(11.0, 0.0), "maxResponseTime": counter(99.0, 0.0),
        });
        let mut request = stats.clone();
        request["type"] = json!("REQUEST");
        request["path"] = json!("Shop / products");
        let mut group = stats.clone();
        group["type"] = json!("GROUP");
        let metrics = json!({"total": stats, "requests": [group, request]});
        let key = KeyMetrics::new(Some(&metrics), Some(61.5), Some(80.0));
        assert_eq!(key.get(KeyMetric::ErrorPercent), Some(2.5));
        assert_eq!(key.get(KeyMetric::P95), Some(30.0));
        assert_eq!(key.get(KeyMetric::Throughput), Some(20.0));
        assert_eq!(key.get(KeyMetric::Max), Some(99.0));
        assert_eq!(key.get(KeyMetric::Duration), Some(61.5));
        assert_eq!(key.get(KeyMetric::Score), Some(80.0));
        assert_eq!(key.per_request.len(), 1, "groups are not requests");
        assert_eq!(key.per_request[0].name, "Shop / products");
        assert_eq!(KeyMetrics::new(None, None, None).get(KeyMetric::P95), None);
    }

    #[test]
    fn worse_is_higher_for_times_and_lower_for_throughput() {
        assert_eq!(KeyMetric::P95.worsening(120.0, 100.0), 20.0);
        assert_eq!(KeyMetric::Throughput.worsening(80.0, 100.0), 20.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
