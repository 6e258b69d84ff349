//! The regression rule: is a trial worse than the trials before it? See [`super::analysis::RegressionRule`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::analysis::RegressionRule;
use super::metrics::{KeyMetric, KeyMetrics, median};

/// A metric in which a trial was worse than the median of the comparable trials before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Regression {
    pub metric: KeyMetric,
    /// The trial's value.
    pub value: f64,
    /// The median over the earlier trials.
    pub median: f64,
    /// How much worse, in the metric's unit, and in percent of the median (absent when the median is 0).
    pub worse_by: f64,
    pub worse_by_percent: Option<f64>,
    /// The rule's margin, in percent, and how many earlier trials the median was taken over.
    pub margin_percent: f64,
    pub compared_with: usize,
}

/// The regressions of `current` against `earlier` (the comparable trials before it, newest first; only the first
/// `rule.window` count). Nothing is flagged while fewer than `rule.min_history` earlier trials have the metric.
pub fn judge(rule: &RegressionRule, current: &KeyMetrics, earlier: &[KeyMetrics]) -> Vec<Regression> {
    if !rule.enabled {
        return Vec::new();
    }
    let window = &earlier[..earlier.len().min(rule.window as usize)];
    rule.metrics
        .iter()
        .filter_map(|&metric| {
            let value = current.get(metric)?;
            let history: Vec<f64> = window.iter().filter_map(|trial| trial.get(metric)).collect();
            if history.len() < rule.min_history as usize {
                return None;
            }
            let median = median(&history)?;
            let worse_by = metric.worsening(value, median);
            let allowed = (median.abs() * rule.margin_percent / 100.0).max(metric.noise_floor());
            (worse_by > allowed).then(|| Regression {
                metric,
                value,
                median,
                worse_by,
                worse_by_percent: (median != 0.0).then(|| (worse_by / median.abs() * 1000.0).round() / 10.0),
                margin_percent: rule.margin_percent,
                compared_with: history.len(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::research::metrics::Workload;

    fn trial(p95: f64, throughput: f64) -> KeyMetrics {
        let workload = Workload { p95: Some(p95), throughput: Some(throughput), ..Workload::default() };
        KeyMetrics { workload: Some(workload), ..KeyMetrics::default() }
    }

    #[test]
    fn worse_than_the_median_by_more_than_the_margin_is_a_regression() {
        let rule = RegressionRule::default();
        let earlier = [trial(100.0, 50.0), trial(110.0, 52.0), trial(90.0, 48.0)];
        assert!(judge(&rule, &trial(119.0, 50.0), &earlier).is_empty(), "within 20 % of the median 100");
        let flagged = judge(&rule, &trial(121.0, 39.0), &earlier);
        let metrics: Vec<KeyMetric> = flagged.iter().map(|r| r.metric).collect();
        assert_eq!(metrics, [KeyMetric::P95, KeyMetric::Throughput], "lower throughput is worse");
        assert_eq!((flagged[0].median, flagged[0].worse_by, flagged[0].worse_by_percent), (100.0, 21.0, Some(21.0)));
        assert_eq!(flagged[0].compared_with, 3);
    }

    #[test]
    fn too_little_history_a_disabled_rule_and_noise_flag_nothing() {
        let rule = RegressionRule::default();
        let two = [trial(100.0, 50.0), trial(100.0, 50.0)];
        assert!(judge(&rule, &trial(500.0, 50.0), &two).is_empty(), "min_history is 3");
        let off = RegressionRule { enabled: false, ..RegressionRule::default() };
        assert!(judge(&off, &trial(500.0, 50.0), &[two[0].clone(), two[0].clone(), two[0].clone()]).is_empty());
        // A median of 0 ms: 1 ms more is within the noise floor.
        let zero = [trial(0.0, 50.0), trial(0.0, 50.0), trial(0.0, 50.0)];
        assert!(judge(&rule, &trial(1.0, 50.0), &zero).is_empty());
        assert_eq!(judge(&rule, &trial(3.0, 50.0), &zero)[0].worse_by_percent, None);
        // Only the window counts: the old slow trials are out of it.
        let window = RegressionRule { window: 3, ..RegressionRule::default() };
        let mut earlier = vec![trial(100.0, 50.0); 3];
        earlier.extend(vec![trial(1000.0, 50.0); 5]);
        assert_eq!(judge(&window, &trial(200.0, 50.0), &earlier).len(), 1);
    }
}
