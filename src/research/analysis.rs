//! An experiment's `analysis` settings: the weights of its trials' resilience score and the rule that flags a trial
//! as a regression. Both have defaults, so an experiment written without them is scored and watched too.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::metrics::KeyMetric;
use crate::error::{Error, Result};

const MAX_WEIGHT: f64 = 1000.0;
const MAX_WINDOW: u32 = 100;
const MAX_MARGIN_PERCENT: f64 = 1000.0;

/// How the experiment's trials are scored and compared with the ones before them (docs/research.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(example = json!({"score": {"goals": 2, "expectations": 1},
    "regression": {"window": 5, "min_history": 3, "margin_percent": 20, "metrics": ["p95", "error_percent"]}}))]
pub struct Analysis {
    pub score: ScoreWeights,
    pub regression: RegressionRule,
}

/// The weight of each kind of check in the resilience score: every check of a kind counts with its kind's weight.
/// 0 leaves a kind out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    /// Each goal of the trial (MiSArch's or `load.http`'s), met or violated. Default 1.
    pub goals: f64,
    /// Each expectation of a step, passed or not, and each step that failed without one (not `load.http`, whose
    /// checks are its goals). Default 1.
    pub expectations: f64,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        Self { goals: 1.0, expectations: 1.0 }
    }
}

/// When a trial is a regression: one of `metrics` is worse than the median of the same metric over the last
/// `window` comparable trials by more than `margin_percent` of that median (and by more than the metric's noise
/// floor, see [`KeyMetric::noise_floor`]), and at least `min_history` such trials exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RegressionRule {
    /// false: never flag. Default true.
    pub enabled: bool,
    /// How many earlier trials the median is taken over, 1 to 100. Default 5.
    pub window: u32,
    /// How many earlier trials must exist before anything is flagged, 1 to `window`. Default 3.
    pub min_history: u32,
    /// How much worse than the median, in percent of it. Default 20.
    pub margin_percent: f64,
    /// The metrics watched. Default `p95`, `error_percent`, `throughput`, `score`.
    pub metrics: Vec<KeyMetric>,
}

impl Default for RegressionRule {
    fn default() -> Self {
        Self {
            enabled: true,
            window: 5,
            min_history: 3,
            margin_percent: 20.0,
            metrics: vec![KeyMetric::P95, KeyMetric::ErrorPercent, KeyMetric::Throughput, KeyMetric::Score],
        }
    }
}

fn invalid(field: &str, message: String) -> Error {
    Error::invalid("invalid_analysis", format!("analysis.{field}"), format!("analysis.{field}: {message}"))
}

impl Analysis {
    /// What serde cannot say: ranges, and metrics named once.
    pub fn validate(&self) -> Result<()> {
        for (name, weight) in [("goals", self.score.goals), ("expectations", self.score.expectations)] {
            if !(0.0..=MAX_WEIGHT).contains(&weight) {
                return Err(invalid(&format!("score.{name}"), format!("must be from 0 to {MAX_WEIGHT}, not {weight}")));
            }
        }
        let rule = &self.regression;
        if !(1..=MAX_WINDOW).contains(&rule.window) {
            return Err(invalid("regression.window", format!("must be from 1 to {MAX_WINDOW}, not {}", rule.window)));
        }
        if !(1..=rule.window).contains(&rule.min_history) {
            return Err(invalid(
                "regression.min_history",
                format!("must be from 1 to the window ({}), not {}", rule.window, rule.min_history),
            ));
        }
        if !(0.0..=MAX_MARGIN_PERCENT).contains(&rule.margin_percent) {
            return Err(invalid(
                "regression.margin_percent",
                format!("must be from 0 to {MAX_MARGIN_PERCENT}, not {}", rule.margin_percent),
            ));
        }
        for (index, metric) in rule.metrics.iter().enumerate() {
            if rule.metrics[..index].contains(metric) {
                return Err(invalid(&format!("regression.metrics[{index}]"), format!("'{metric}' is named twice")));
            }
        }
        Ok(())
    }
}
