//! Goals and their violations: a goal names one of MiSArch's 27 goal metrics ([`GoalMetric`]), a threshold and a
//! colour; after the run it is checked against Gatling's global ("All Requests") statistics.
//!
//! Where eris departs from the original executor, and why:
//! - Bounds: a goal on a metric where more is better (`percentage reqs with resp. time t < 800 ms`,
//!   `percentage mean requests/sec ok`) is a lower bound, violated when the actual value is below the threshold. Every
//!   other goal is an upper bound, violated when the actual value is above it. Equal is never a violation. The original
//!   treated every goal as an upper bound, so "at least 95 % fast" could only fail when more requests were fast.
//! - The four `percentage reqs …` / `percentage failed requests` goals are evaluated (the original silently skipped
//!   them).
//! - A metric with no value (Gatling's `"-"`, e.g. the KO response times of a run without failed requests; a share of a
//!   run without any request) gives `actual: null` and no violation; the goal is still listed. The original crashed
//!   the report. An unknown label cannot reach a goal: it is rejected when the experiment is written.
//! - `percentage mean requests/sec ok|ko` is the OK (KO) share of all requests in percent, from the request counts.
//!   Gatling's rates share one denominator (the run's duration), so this equals
//!   `meanNumberOfRequestsPerSecond.ok / .total × 100`, without the two-decimal rounding of the rates: the original
//!   read 3 failures in 30 minutes as a KO rate of "0" requests/s and so as 0 %.
//! - Steady-state goals are added to the user's goals instead of replacing them, and a metric the steady state did not
//!   measure gets no steady-state goal (the original made it a threshold of 0).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::gatling::{GatlingMetrics, json_number};
pub use super::goal_metric::{Bound, GoalMetric};

/// A goal as the user writes it in `experiment.misarch.goals`. `threshold` is a number, or a string holding one, as
/// MiSArch's frontend and `execution.json` write it (`"2000"`); it is stored and written back as a JSON number, a
/// whole one without a fraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Goal {
    pub metric: GoalMetric,
    #[serde(serialize_with = "json_number::serialize", deserialize_with = "number_or_numeric_string")]
    #[schema(value_type = f64)]
    pub threshold: f64,
    /// A Grafana colour: a palette name such as `red` or `semi-dark-yellow`, a hex colour or rgb()/rgba().
    pub color: String,
}

/// A finite number, given as a JSON number or as a string that holds one (trimmed).
fn number_or_numeric_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct Threshold;
    impl serde::de::Visitor<'_> for Threshold {
        type Value = f64;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a number, or a string holding one")
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<f64, E> {
            Ok(value)
        }
        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<f64, E> {
            Ok(value as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<f64, E> {
            Ok(value as f64)
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<f64, E> {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite())
                .ok_or_else(|| E::custom(format!("\"{text}\" is not a number")))
        }
    }
    deserializer.deserialize_any(Threshold)
}

/// Where a goal came from: the user's definition, or the steady-state measurement × factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalSource {
    User,
    SteadyState,
}

/// A goal after the run: what was measured and whether the goal held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatedGoal {
    pub metric: GoalMetric,
    #[serde(with = "json_number")]
    pub threshold: f64,
    pub color: String,
    pub source: GoalSource,
    pub bound: Bound,
    /// `None` when Gatling had no value for the metric (`"-"`).
    #[serde(with = "json_number::option")]
    pub actual: Option<f64>,
    pub violated: bool,
}

/// A violated goal, as the trial's `violations[]` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub metric: GoalMetric,
    #[serde(with = "json_number")]
    pub threshold: f64,
    #[serde(with = "json_number::option")]
    pub actual: Option<f64>,
}

/// Steady-state goals: one per metric, with `threshold = measured × factor`, or `× 1` for the percentages (a share
/// does not scale with load), colour `red`. `factor` is `steadyState.factor` of the experiment.
///
/// A metric the steady state has no value for (`"-"`) gets no goal: there is no baseline to compare with (the
/// original used 0). A non-finite threshold (only from a non-finite factor, which validation rejects) is skipped too.
pub fn steady_state_goals(steady_state: &GatlingMetrics, factor: f64) -> Vec<(Goal, GoalSource)> {
    GoalMetric::ALL
        .into_iter()
        .filter_map(|metric| {
            let measured = metric.actual(steady_state)?;
            let threshold = if metric.is_percentage() { measured } else { measured * factor };
            threshold
                .is_finite()
                .then(|| (Goal { metric, threshold, color: "red".to_owned() }, GoalSource::SteadyState))
        })
        .collect()
}

/// Evaluates user goals plus steady-state goals against the run's metrics, in the given order. A goal whose actual is
/// `None` is not violated but reported with `actual: None`, so the record shows it could not be checked.
pub fn evaluate(goals: &[(Goal, GoalSource)], metrics: &GatlingMetrics) -> (Vec<EvaluatedGoal>, Vec<Violation>) {
    let evaluated: Vec<EvaluatedGoal> = goals
        .iter()
        .map(|(goal, source)| {
            let actual = goal.metric.actual(metrics);
            let bound = goal.metric.bound();
            let violated = actual.is_some_and(|actual| match bound {
                Bound::Upper => actual > goal.threshold,
                Bound::Lower => actual < goal.threshold,
            });
            EvaluatedGoal {
                metric: goal.metric,
                threshold: goal.threshold,
                color: goal.color.clone(),
                source: *source,
                bound,
                actual,
                violated,
            }
        })
        .collect();
    let violations = evaluated
        .iter()
        .filter(|goal| goal.violated)
        .map(|goal| Violation { metric: goal.metric, threshold: goal.threshold, actual: goal.actual })
        .collect();
    (evaluated, violations)
}

#[cfg(test)]
mod tests {
    use super::super::gatling::tests::{real_files, real_metrics};
    use super::super::gatling::{Counter, parse};
    use super::*;

    /// The real report with the global max KO response time written as Gatling's "-".
    fn metrics_with_a_dash() -> GatlingMetrics {
        let (html, js) = real_files();
        // The first `"ko": "523"` of the file is the global maxResponseTime.ko.
        let js = js.replacen(r#""ko": "523""#, r#""ko": "-""#, 1);
        let metrics = parse(&html, &js).expect("parses");
        assert_eq!(metrics.total.max_response_time.ko, None);
        metrics
    }

    fn metric(label: &str) -> GoalMetric {
        GoalMetric::from_label(label).expect("a known label")
    }

    fn actual(label: &str, metrics: &GatlingMetrics) -> Option<f64> {
        metric(label).actual(metrics)
    }

    fn user(label: &str, threshold: f64) -> (Goal, GoalSource) {
        (Goal { metric: metric(label), threshold, color: "#73bf69".into() }, GoalSource::User)
    }

    #[test]
    fn the_label_set_is_misarchs() {
        let labels: Vec<&str> = GoalMetric::ALL.iter().map(|metric| metric.label()).collect();
        assert_eq!(labels.len(), 27);
        let unique: std::collections::BTreeSet<_> = labels.iter().collect();
        assert_eq!(unique.len(), 27);
        let metrics = real_metrics();
        for label in &labels {
            assert!(actual(label, &metrics).is_some(), "{label} has no value in the real report");
        }
        let lower: Vec<_> = labels.iter().filter(|label| metric(label).bound() == Bound::Lower).collect();
        assert_eq!(lower, [&"percentage reqs with resp. time t < 800 ms", &"percentage mean requests/sec ok"]);
        // An unknown label is no goal metric at all, so it can be neither measured nor judged.
        assert!(GoalMetric::from_label("no such metric").is_err());
    }

    #[test]
    fn actual_values_of_the_real_report() {
        let metrics = real_metrics();
        let cases = [
            ("percentage reqs with resp. time t < 800 ms", 97.26176734641528),
            ("percentage reqs with resp. time 800 ms < t < 1200 ms", 1.3659099653712967),
            ("percentage reqs with resp. time t > 1200 ms", 1.3530845196870591),
            ("percentage failed requests", 0.019238168526356292),
            ("percentage mean requests/sec ok", 15591.0 / 15594.0 * 100.0),
            ("percentage mean requests/sec ko", 3.0 / 15594.0 * 100.0),
            ("min response time", 6.0),
            ("mean response time", 94.0),
            ("max response time", 3646.0),
            ("min response time ok", 6.0),
            ("mean response time ok", 94.0),
            ("max response time ok", 3646.0),
            ("min response time ko", 14.0),
            ("mean response time ko", 218.0),
            ("max response time ko", 523.0),
            ("50th percentile response time", 30.0),
            ("75th percentile response time", 48.0),
            ("95th percentile response time", 525.0),
            ("99th percentile response time", 1685.0),
            ("50th percentile response time ok", 30.0),
            ("75th percentile response time ok", 48.0),
            ("95th percentile response time ok", 524.0),
            ("99th percentile response time ok", 1685.0),
            ("50th percentile response time ko", 116.0),
            ("75th percentile response time ko", 523.0),
            ("95th percentile response time ko", 523.0),
            ("99th percentile response time ko", 523.0),
        ];
        assert_eq!(cases.len(), GoalMetric::ALL.len());
        for (label, expected) in cases {
            assert_eq!(actual(label, &metrics), Some(expected), "{label}");
        }
        assert!(GoalMetric::from_label("unknown").is_err());
        assert_eq!(actual("max response time ko", &metrics_with_a_dash()), None);
        // A run without any request has no shares, though Gatling writes 0 %.
        let mut empty = metrics.clone();
        empty.total.number_of_requests = Counter { total: Some(0.0), ok: Some(0.0), ko: Some(0.0) };
        empty.total.group1.percentage = 0.0;
        assert_eq!(actual("percentage mean requests/sec ok", &empty), None);
        assert_eq!(actual("percentage reqs with resp. time t < 800 ms", &empty), None);
        assert_eq!(actual("percentage failed requests", &empty), None);
    }

    #[test]
    fn user_goals_against_the_real_report() {
        let goals = [
            user("max response time", 2000.0),                        // 3646 > 2000: violated
            user("mean response time", 100.0),                        // 94: holds
            user("99th percentile response time ok", 1685.0),         // equal: holds
            user("percentage reqs with resp. time t < 800 ms", 98.0), // lower bound, 97.26 < 98: violated
            user("percentage reqs with resp. time t < 800 ms", 95.0), // lower bound, 97.26: holds
            user("percentage failed requests", 0.01),                 // 0.019 > 0.01: violated
            user("percentage reqs with resp. time t > 1200 ms", 5.0), // 1.35: holds
            user("percentage mean requests/sec ok", 99.9),            // lower bound, 99.98: holds
            user("max response time ko", 100.0),                      // "-": not evaluated
        ];
        let (evaluated, violations) = evaluate(&goals, &metrics_with_a_dash());
        let verdicts: Vec<_> = evaluated.iter().map(|g| (g.bound, g.actual, g.violated)).collect();
        use Bound::{Lower, Upper};
        assert_eq!(
            verdicts,
            [
                (Upper, Some(3646.0), true),
                (Upper, Some(94.0), false),
                (Upper, Some(1685.0), false),
                (Lower, Some(97.26176734641528), true),
                (Lower, Some(97.26176734641528), false),
                (Upper, Some(0.019238168526356292), true),
                (Upper, Some(1.3530845196870591), false),
                (Lower, Some(15591.0 / 15594.0 * 100.0), false),
                (Upper, None, false),
            ]
        );
        assert!(evaluated.iter().all(|g| g.source == GoalSource::User && g.color == "#73bf69"));
        assert_eq!(
            violations,
            [
                Violation { metric: metric("max response time"), threshold: 2000.0, actual: Some(3646.0) },
                Violation {
                    metric: metric("percentage reqs with resp. time t < 800 ms"),
                    threshold: 98.0,
                    actual: Some(97.26176734641528)
                },
                Violation {
                    metric: metric("percentage failed requests"),
                    threshold: 0.01,
                    actual: Some(0.019238168526356292)
                },
            ]
        );
        let json = serde_json::to_value((&evaluated[8], &violations[0])).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!([
                {"metric": "max response time ko", "threshold": 100, "color": "#73bf69", "source": "user",
                 "bound": "upper", "actual": null, "violated": false},
                {"metric": "max response time", "threshold": 2000, "actual": 3646}
            ])
        );
    }

    #[test]
    fn steady_state_goals_from_the_real_report() {
        let steady = real_metrics();
        let goals = steady_state_goals(&steady, 1.5);
        assert_eq!(goals.len(), 27);
        assert!(goals.iter().all(|(goal, source)| *source == GoalSource::SteadyState && goal.color == "red"));
        let threshold = |goals: &[(Goal, GoalSource)], metric: &str| {
            goals.iter().find(|(goal, _)| goal.metric.label() == metric).map(|(goal, _)| goal.threshold)
        };
        assert_eq!(threshold(&goals, "max response time"), Some(3646.0 * 1.5));
        assert_eq!(threshold(&goals, "95th percentile response time ok"), Some(524.0 * 1.5));
        // Shares are not scaled.
        assert_eq!(threshold(&goals, "percentage failed requests"), Some(0.019238168526356292));
        assert_eq!(threshold(&goals, "percentage reqs with resp. time t < 800 ms"), Some(97.26176734641528));

        // A run measured against itself violates nothing, even at factor 1: equal is not a violation.
        let (evaluated, violations) = evaluate(&steady_state_goals(&steady, 1.0), &steady);
        assert_eq!(evaluated.len(), 27);
        assert!(violations.is_empty(), "{violations:?}");

        // No baseline for a "-": no goal for that metric.
        let goals = steady_state_goals(&metrics_with_a_dash(), 1.5);
        assert_eq!(goals.len(), 26);
        assert_eq!(threshold(&goals, "max response time ko"), None);

        // User goals and steady-state goals side by side; the main run is slower than the baseline.
        let mut main = steady.clone();
        main.total.max_response_time.total = Some(6000.0);
        main.total.group1.percentage = 90.0;
        let mut all = vec![user("mean response time", 100.0)];
        all.extend(steady_state_goals(&steady, 1.5));
        let (evaluated, violations) = evaluate(&all, &main);
        assert_eq!(evaluated.len(), 28);
        let violated: Vec<_> = violations.iter().map(|v| (v.metric.label(), v.threshold, v.actual)).collect();
        assert_eq!(
            violated,
            [
                ("percentage reqs with resp. time t < 800 ms", 97.26176734641528, Some(90.0)),
                ("max response time", 3646.0 * 1.5, Some(6000.0)),
            ]
        );
        assert!(steady_state_goals(&steady, f64::NAN).iter().all(|(goal, _)| goal.metric.is_percentage()));
    }

    #[test]
    fn goals_read_numbers_and_write_whole_thresholds_without_a_fraction() {
        let goal: Goal =
            serde_json::from_str(r##"{"metric": "max response time", "threshold": 2000, "color": "red"}"##)
                .expect("whole number");
        assert_eq!(goal.threshold, 2000.0);
        assert_eq!(serde_json::to_value(&goal).expect("serializes")["threshold"], serde_json::json!(2000));
        let goal: Goal =
            serde_json::from_str(r##"{"metric": "mean response time", "threshold": 12.5, "color": "#73bf69"}"##)
                .expect("number");
        assert_eq!(goal.threshold, 12.5);
        assert_eq!(
            serde_json::to_value(&goal).expect("serializes"),
            serde_json::json!({"metric": "mean response time", "threshold": 12.5, "color": "#73bf69"})
        );
        // MiSArch's string thresholds are read as the numbers they hold, and written back as numbers.
        let goal: Goal =
            serde_json::from_str(r##"{"metric": "max response time", "threshold": " 2000 ", "color": "red"}"##)
                .expect("a numeric string");
        assert_eq!(serde_json::to_value(&goal).expect("serializes")["threshold"], serde_json::json!(2000));
        for bad in [r#""fast""#, "null", "[1]", r#""NaN""#, r#""inf""#] {
            let text = format!(r#"{{"metric": "max response time", "threshold": {bad}, "color": "red"}}"#);
            assert!(serde_json::from_str::<Goal>(&text).is_err(), "{bad}");
        }
    }
}
