//! A metric over the successive trials of an experiment or a schedule, with the trials flagged as regressions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::compare::TrialFigures;
use super::metrics::{KeyMetric, median};
use super::regression::Regression;
use crate::trial_status::TrialStatus;

/// One trial of a trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrendPoint {
    pub trial: Uuid,
    /// When the trial ran (when it was due, for one that never ran).
    pub at: DateTime<Utc>,
    pub status: TrialStatus,
    /// The metric's value; null when the trial did not measure it.
    pub value: Option<f64>,
    pub score: Option<f64>,
    /// The trial's regression in this metric, when it was flagged as one when it ended.
    pub regression: Option<Regression>,
    /// Every metric it was flagged in.
    pub regressions: Vec<super::metrics::KeyMetric>,
}

/// A metric over trials, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Trend {
    pub metric: KeyMetric,
    pub unit: String,
    pub points: Vec<TrendPoint>,
    /// Over the points that have a value.
    pub median: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// How many points were flagged as a regression in this metric.
    pub regressions: usize,
}

/// The trend of `metric` over `trials`, oldest first.
pub fn trend(metric: KeyMetric, trials: Vec<TrialFigures>) -> Trend {
    let points: Vec<TrendPoint> = trials
        .into_iter()
        .map(|t| TrendPoint {
            trial: t.trial,
            at: t.executed_at.unwrap_or(t.scheduled_for),
            status: t.status,
            value: t.metrics.get(metric),
            score: t.metrics.score,
            regression: t.regressions.iter().find(|r| r.metric == metric).cloned(),
            regressions: t.regressions.iter().map(|r| r.metric).collect(),
        })
        .collect();
    let values: Vec<f64> = points.iter().filter_map(|p| p.value).collect();
    Trend {
        metric,
        unit: metric.unit().to_owned(),
        median: median(&values),
        min: values.iter().copied().reduce(f64::min),
        max: values.iter().copied().reduce(f64::max),
        regressions: points.iter().filter(|p| p.regression.is_some()).count(),
        points,
    }
}
