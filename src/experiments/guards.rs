//! Guards: health checks an experiment declares, evaluated while its trials run (docs/safety.md#guards). The
//! executor runs them ([`crate::executor`]); this is what they are and the rules they follow when written.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::steps::{Step, validate_step};
use crate::error::{Error, Result};

/// At most this many guards per experiment.
pub const MAX_GUARDS: usize = 20;
/// The actions a guard may check with: they only read.
pub const GUARD_ACTIONS: [&str; 2] = ["cm.http_probe", "prometheus.query"];

/// A health check evaluated every `interval_secs` while the trial's steps (or its MiSArch run) go on. When it fails
/// `trip_after` times in a row, the trial is stopped at once, with its clean-up, and its status names the guard.
/// With `gate`, it is also checked once before anything is injected (after the pre_steps), and a failure aborts
/// the trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "checkout-error-rate", "check": {"do": "prometheus.query",
    "where": {"query": "sum(rate(http_requests_total{code=~\"5..\"}[1m])) / sum(rate(http_requests_total[1m])) * 100"},
    "expect": [{"operator": "lt", "sample": 2}]}, "interval_secs": 5, "trip_after": 3}))]
pub struct Guard {
    /// Its name, unique in the experiment (1 to 100 letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The check, written as a step: `cm.http_probe` (GET or HEAD) or `prometheus.query`, with expectations. A
    /// check fails when the action fails or an expectation does not hold. Templates are rendered as in steps.
    pub check: Step,
    /// Seconds between checks, 0.1 to 3600 (default 5).
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
    /// How many failed checks in a row trip it, 1 to 100 (default 3).
    #[serde(default = "default_trip_after")]
    pub trip_after: u32,
    /// Also check it once before anything is injected; a failure aborts the trial (default true).
    #[serde(default = "default_gate")]
    pub gate: bool,
}

fn default_interval() -> f64 {
    5.0
}

fn default_trip_after() -> u32 {
    3
}

fn default_gate() -> bool {
    true
}

/// Whether a step only reads: `prometheus.query`, or `cm.http_probe` with GET or HEAD (the default is GET). Guards
/// are such steps, and they are what a dry run runs.
pub fn is_read_only(action: &str, arguments: &crate::experiments::JsonObject) -> bool {
    let method = arguments.get("method").and_then(|m| m.as_str()).unwrap_or("GET").to_ascii_uppercase();
    match action {
        "prometheus.query" => true,
        "cm.http_probe" => method == "GET" || method == "HEAD",
        _ => false,
    }
}

fn invalid(field: String, message: impl Into<String>) -> Error {
    Error::invalid("invalid_guard", field, message)
}

pub fn validate(guards: &[Guard]) -> Result<()> {
    if guards.len() > MAX_GUARDS {
        return Err(invalid("guards".into(), format!("at most {MAX_GUARDS} guards, not {}", guards.len())));
    }
    for (index, guard) in guards.iter().enumerate() {
        let at = format!("guards[{index}]");
        let name_ok = (1..=100).contains(&guard.name.chars().count())
            && guard.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(invalid(format!("{at}.name"), "a guard's name is 1 to 100 letters, digits, '-', '_' or '.'"));
        }
        if guards[..index].iter().any(|earlier| earlier.name == guard.name) {
            return Err(invalid(format!("{at}.name"), format!("two guards are named '{}'", guard.name)));
        }
        if !GUARD_ACTIONS.contains(&guard.check.action.as_str()) {
            return Err(invalid(
                format!("{at}.check.do"),
                format!(
                    "a guard checks with {}, which only read; not {}",
                    GUARD_ACTIONS.join(" or "),
                    guard.check.action
                ),
            ));
        }
        if let Some(method) = guard.check.arguments.get("method").and_then(|m| m.as_str())
            && !crate::template::is_template(method)
            && !["GET", "HEAD"].contains(&method.to_ascii_uppercase().as_str())
        {
            return Err(invalid(
                format!("{at}.check.where.method"),
                format!("a guard only reads: GET or HEAD, not {method}"),
            ));
        }
        validate_step(&format!("{at}.check"), &guard.check)?;
        if !(guard.interval_secs.is_finite() && (0.1..=3600.0).contains(&guard.interval_secs)) {
            return Err(invalid(format!("{at}.interval_secs"), "interval_secs must be from 0.1 to 3600"));
        }
        if !(1..=100).contains(&guard.trip_after) {
            return Err(invalid(format!("{at}.trip_after"), "trip_after must be from 1 to 100"));
        }
    }
    Ok(())
}
