//! A sweep's results table: per point, its trials' statuses and each key metric's spread over its repetitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::experiments::JsonObject;
use crate::research::{KeyMetric, TrialFigures};

/// The spread of a metric over a point's trials that measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Spread {
    pub count: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// The sample standard deviation; 0 for a single trial.
    pub stddev: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Self> {
        let count = values.len();
        if count == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / count as f64;
        let variance =
            if count > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64 } else { 0.0 };
        let round = |v: f64| (v * 1000.0).round() / 1000.0;
        Some(Self {
            count,
            mean: round(mean),
            min: round(values.iter().copied().fold(f64::INFINITY, f64::min)),
            max: round(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            stddev: round(variance.sqrt()),
        })
    }
}

/// One point of a sweep with what its trials measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PointResult {
    /// The point's index in the sweep's `points`.
    pub point: usize,
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    /// Its trials per status.
    pub statuses: BTreeMap<String, usize>,
    /// Each key metric over the point's trials that measured it.
    pub metrics: BTreeMap<KeyMetric, Spread>,
}

/// The results table of a sweep with these `points` (masked) and trials.
pub fn table(points: &[JsonObject], trials: &[TrialFigures]) -> Vec<PointResult> {
    points
        .iter()
        .enumerate()
        .map(|(index, parameters)| {
            let mine: Vec<&TrialFigures> = trials.iter().filter(|t| t.sweep_point == Some(index as i64)).collect();
            let mut statuses = BTreeMap::new();
            for trial in &mine {
                *statuses.entry(trial.status.as_str().to_owned()).or_default() += 1;
            }
            let metrics = KeyMetric::ALL
                .into_iter()
                .filter_map(|metric| {
                    let values: Vec<f64> = mine.iter().filter_map(|t| t.metrics.get(metric)).collect();
                    Some((metric, Spread::of(&values)?))
                })
                .collect();
            PointResult { point: index, parameters: parameters.clone(), statuses, metrics }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_has_mean_extremes_and_sample_deviation() {
        let spread = Spread::of(&[10.0, 20.0, 30.0]).unwrap();
        assert_eq!((spread.count, spread.mean, spread.min, spread.max, spread.stddev), (3, 20.0, 10.0, 30.0, 10.0));
        assert_eq!(Spread::of(&[5.0]).unwrap().stddev, 0.0);
        assert_eq!(Spread::of(&[]), None);
    }
}
