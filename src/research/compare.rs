//! Trials compared side by side: each trial's parameters, status, duration, key metrics, violations and score, with
//! the differences against a baseline trial; as JSON or CSV.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::metrics::{KeyMetric, KeyMetrics};
use super::regression::Regression;
use crate::error::{Error, Result};
use crate::trial_status::TrialStatus;

/// What research reads of one trial (made by `trials::figures`, with secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrialFigures {
    pub trial: Uuid,
    pub experiment: Uuid,
    pub schedule_id: Option<Uuid>,
    pub sweep_id: Option<Uuid>,
    /// The trial's point in its sweep (index into the sweep's `points`) and repetition, from 1.
    pub sweep_point: Option<i64>,
    pub sweep_repetition: Option<i64>,
    pub status: TrialStatus,
    /// The trial's own parameters (secret values masked).
    #[schema(value_type = Object)]
    pub parameters: serde_json::Map<String, Value>,
    pub scheduled_for: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub metrics: KeyMetrics,
    /// How many goals the trial violated.
    pub violations: u64,
    /// The metrics in which it was worse than the trials before it (empty when nothing was flagged).
    pub regressions: Vec<Regression>,
}

/// A difference against the baseline: `absolute` in the metric's unit, `percent` of the baseline's value (absent when
/// that is 0), and whether it is `worse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Difference {
    pub absolute: f64,
    pub percent: Option<f64>,
    pub worse: bool,
}

/// One trial of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComparedTrial {
    #[serde(flatten)]
    pub figures: TrialFigures,
    /// Per key metric, the difference against the baseline; empty for the baseline itself and without one.
    pub differences: BTreeMap<KeyMetric, Difference>,
}

/// Trials side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Comparison {
    /// The trial the others are compared with: the one asked for, or else the first.
    pub baseline: Uuid,
    /// The key metrics compared, with their units.
    pub metrics: Vec<MetricColumn>,
    pub trials: Vec<ComparedTrial>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricColumn {
    pub metric: KeyMetric,
    pub unit: String,
}

fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Compares `trials` (in the order given) with `baseline`, which must be one of them (default: the first).
pub fn compare(trials: Vec<TrialFigures>, baseline: Option<Uuid>) -> Result<Comparison> {
    let Some(first) = trials.first() else {
        return Err(Error::invalid("invalid_trials", "trials", "name at least one trial to compare"));
    };
    let baseline = baseline.unwrap_or(first.trial);
    let Some(reference) = trials.iter().find(|t| t.trial == baseline).map(|t| t.metrics.clone()) else {
        return Err(Error::invalid(
            "invalid_baseline",
            "baseline",
            format!("the baseline {baseline} is not one of the trials compared"),
        ));
    };
    let trials = trials
        .into_iter()
        .map(|figures| {
            let differences = if figures.trial == baseline {
                BTreeMap::new()
            } else {
                KeyMetric::ALL
                    .into_iter()
                    .filter_map(|metric| {
                        let (value, base) = (figures.metrics.get(metric)?, reference.get(metric)?);
                        let absolute = value - base;
                        let percent = (base != 0.0).then(|| rounded(absolute / base.abs() * 100.0));
                        let worse = metric.worsening(value, base) > 0.0;
                        Some((metric, Difference { absolute: rounded(absolute), percent, worse }))
                    })
                    .collect()
            };
            ComparedTrial { figures, differences }
        })
        .collect();
    let metrics =
        KeyMetric::ALL.into_iter().map(|metric| MetricColumn { metric, unit: metric.unit().into() }).collect();
    Ok(Comparison { baseline, metrics, trials })
}

/// The comparison as CSV: one row a trial; a column per parameter any trial has (`param.<name>`), per key metric
/// (`<metric>_<unit>`) and per difference against the baseline (`<metric>_diff_percent`).
pub fn csv(comparison: &Comparison) -> Result<String> {
    let parameters: BTreeSet<&String> = comparison.trials.iter().flat_map(|t| t.figures.parameters.keys()).collect();
    let mut header: Vec<String> =
        ["trial", "baseline", "status", "sweep_point", "sweep_repetition", "executed_at"].map(String::from).to_vec();
    header.extend(parameters.iter().map(|name| format!("param.{name}")));
    for metric in KeyMetric::ALL {
        header.push(format!("{metric}_{}", unit_label(metric)));
    }
    header.extend(["violations".to_owned(), "regressions".to_owned()]);
    for metric in KeyMetric::ALL {
        header.push(format!("{metric}_diff_percent"));
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).map_err(csv_error)?;
    let number = |value: Option<f64>| value.map(|v| rounded(v).to_string()).unwrap_or_default();
    for compared in &comparison.trials {
        let t = &compared.figures;
        let mut row = vec![
            t.trial.to_string(),
            (t.trial == comparison.baseline).to_string(),
            t.status.as_str().to_owned(),
            t.sweep_point.map(|p| p.to_string()).unwrap_or_default(),
            t.sweep_repetition.map(|r| r.to_string()).unwrap_or_default(),
            t.executed_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
        ];
        row.extend(parameters.iter().map(|name| match t.parameters.get(*name) {
            None => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }));
        row.extend(KeyMetric::ALL.map(|metric| number(t.metrics.get(metric))));
        row.push(t.violations.to_string());
        row.push(t.regressions.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>().join(" "));
        row.extend(KeyMetric::ALL.map(|metric| number(compared.differences.get(&metric).and_then(|d| d.percent))));
        writer.write_record(&row).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|error| Error::internal(format!("CSV: {error}")))?;
    String::from_utf8(bytes).map_err(|error| Error::internal(format!("CSV: {error}")))
}

fn unit_label(metric: KeyMetric) -> &'static str {
    match metric.unit() {
        "req/s" => "per_second",
        "%" => "percent",
        other => other,
    }
}

fn csv_error(error: csv::Error) -> Error {
    Error::internal(format!("CSV: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::research::metrics::Workload;

    fn figures(p95: f64, users: i64) -> TrialFigures {
        let workload = Workload { p95: Some(p95), requests: Some(10.0), ..Workload::default() };
        let mut parameters = serde_json::Map::new();
        parameters.insert("users".into(), users.into());
        TrialFigures {
            trial: Uuid::new_v4(),
            experiment: Uuid::nil(),
            schedule_id: None,
            sweep_id: None,
            sweep_point: None,
            sweep_repetition: None,
            status: TrialStatus::Succeeded,
            parameters,
            scheduled_for: Utc::now(),
            executed_at: None,
            completed_at: None,
            metrics: KeyMetrics { workload: Some(workload), score: Some(90.0), ..KeyMetrics::default() },
            violations: 0,
            regressions: vec![],
        }
    }

    #[test]
    fn differences_are_against_the_baseline() {
        let (a, b) = (figures(100.0, 10), figures(150.0, 50));
        let comparison = compare(vec![a.clone(), b.clone()], Some(a.trial)).unwrap();
        assert!(comparison.trials[0].differences.is_empty());
        let p95 = &comparison.trials[1].differences[&KeyMetric::P95];
        assert_eq!((p95.absolute, p95.percent, p95.worse), (50.0, Some(50.0), true));
        assert!(!comparison.trials[1].differences[&KeyMetric::Score].worse, "the same score is not worse");
        let error = compare(vec![a], Some(b.trial)).unwrap_err();
        assert_eq!((error.code, error.field.as_deref()), ("invalid_baseline", Some("baseline")));
    }

    #[test]
    fn csv_has_a_column_per_parameter_and_metric() {
        let (a, b) = (figures(100.0, 10), figures(150.0, 50));
        let text = csv(&compare(vec![a, b], None).unwrap()).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(&rows[1][column("param.users")], "50");
        assert_eq!(&rows[1][column("p95_ms")], "150");
        assert_eq!(&rows[1][column("p95_diff_percent")], "50");
        assert_eq!(&rows[0][column("baseline")], "true");
    }
}
