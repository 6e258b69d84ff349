//! An experiment's `collect` list: Prometheus queries whose series over the whole trial are kept in its record
//! (AEFM's data collectors), so a trial keeps the CPU, memory or error rate of the services it hurt.
//!
//! Each is read once, when the trial has ended: one range query from the trial's start to its end at the
//! collector's interval. Prometheus already sampled the series while the trial ran, so nothing runs beside the
//! steps, and a crash of eris during the trial loses nothing that Prometheus kept.

use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// At most this many collectors per experiment.
pub const MAX_COLLECTORS: usize = 20;
/// The interval's bounds, in seconds: Prometheus's own scrape interval is rarely below a second, and an hour is
/// coarser than any trial needs.
const INTERVAL_SECONDS: std::ops::RangeInclusive<f64> = 1.0..=3_600.0;

/// One series to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "checkout_cpu", "query": "sum(rate(container_cpu_usage_seconds_total{pod=~\"checkout.*\"}[1m]))", "interval": 5}))]
pub struct Collector {
    /// Its name in the record: letters, digits, `_`, `-` and `.`; unique within the experiment.
    pub name: String,
    /// The PromQL expression.
    pub query: String,
    /// Seconds between the kept points (1 to 3600, default 15).
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// Prometheus's base URL; `ERIS_PROMETHEUS_URL` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub url: Option<Url>,
}

fn default_interval() -> f64 {
    15.0
}

/// Checks the list as an experiment gives it; `field` errors name the collector, e.g. `collect[1].interval`.
pub fn validate(collectors: &[Collector]) -> Result<()> {
    if collectors.len() > MAX_COLLECTORS {
        let message = format!("collect has {} collectors; at most {MAX_COLLECTORS} are allowed", collectors.len());
        return Err(Error::invalid("invalid_collect", "collect", message));
    }
    for (index, collector) in collectors.iter().enumerate() {
        let at = |field: &str| format!("collect[{index}].{field}");
        let name_ok = !collector.name.is_empty()
            && collector.name.len() <= 100
            && collector.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !name_ok {
            let message = "a collector's name is 1 to 100 letters, digits, '_', '-' or '.'";
            return Err(Error::invalid("invalid_collect", at("name"), message));
        }
        if collectors[..index].iter().any(|earlier| earlier.name == collector.name) {
            let message = format!("'{}' names an earlier collector too", collector.name);
            return Err(Error::invalid("invalid_collect", at("name"), message));
        }
        if collector.query.trim().is_empty() {
            return Err(Error::invalid("invalid_collect", at("query"), "a collector's query must not be empty"));
        }
        if !INTERVAL_SECONDS.contains(&collector.interval) {
            let message = format!("interval must be from 1 to 3600 seconds, got {}", collector.interval);
            return Err(Error::invalid("invalid_collect", at("interval"), message));
        }
        if let Some(url) = &collector.url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(Error::invalid("invalid_collect", at("url"), format!("'{url}' must be an http or https URL")));
        }
    }
    Ok(())
}
