//! Goals and their violations (protocol §2.7, §2.10): a goal names one of MiSArch's 27 metric labels, a threshold and a
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
//!   run without any request) or an unknown label gives `actual: null` and no violation; the goal is still listed.
//!   The original crashed the report.
//!   Unknown labels are meant to be rejected when the experiment is written ([`known_metrics`]).
//! - `percentage mean requests/sec ok|ko` is the OK (KO) share of all requests in percent, from the request counts.
//!   Gatling's rates share one denominator (the run's duration), so this equals
//!   `meanNumberOfRequestsPerSecond.ok / .total × 100`, without the two-decimal rounding of the rates: the original
//!   read 3 failures in 30 minutes as a KO rate of "0" requests/s and so as 0 %.
//! - Steady-state goals are added to the user's goals instead of replacing them, and a metric the steady state did not
//!   measure gets no steady-state goal (the original made it a threshold of 0).

use serde::{Deserialize, Deserializer, Serialize};

use super::gatling::{Counter, GatlingMetrics, RangeGroup, RequestStats, json_number};

/// A goal as the user writes it in `experiment.misarch.goals` (§2.4). `threshold` may also be given as a string
/// holding a number, as MiSArch's own configuration files have it (`"threshold": "2000"`); it is always written back as
/// a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub metric: String,
    #[serde(serialize_with = "json_number::serialize", deserialize_with = "number_or_numeric_string")]
    pub threshold: f64,
    pub color: String,
}

/// Where a goal came from: the user's definition, or the steady-state measurement × factor (§2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalSource {
    User,
    SteadyState,
}

/// Upper: violated when the actual value is above the threshold. Lower: violated when it is below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Upper,
    Lower,
}

/// A goal after the run: what was measured and whether the goal held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatedGoal {
    pub metric: String,
    #[serde(with = "json_number")]
    pub threshold: f64,
    pub color: String,
    pub source: GoalSource,
    pub bound: Bound,
    /// `None` when Gatling had no value for the metric (`"-"`) or the label is unknown.
    #[serde(with = "json_number::option")]
    pub actual: Option<f64>,
    pub violated: bool,
}

/// A violated goal, as the trial's `violations[]` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub metric: String,
    #[serde(with = "json_number")]
    pub threshold: f64,
    #[serde(with = "json_number::option")]
    pub actual: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
enum Flavor {
    Total,
    Ok,
    Ko,
}

#[derive(Debug, Clone, Copy)]
enum Figure {
    Min,
    Mean,
    Max,
    /// Gatling's `percentiles1..4`, by default the 50th, 75th, 95th and 99th percentile.
    Percentile(u8),
}

#[derive(Debug, Clone, Copy)]
enum Measure {
    /// `groupN.percentage`: the share of requests in a response time range, or failed (group 4).
    RangeShare(u8),
    /// The OK or KO share of all requests, in percent.
    RequestShare(Flavor),
    Figure(Figure, Flavor),
}

/// The labels of §2.10 (the MiSArch frontend's dropdown and the Grafana panel titles), in its order, with how each is
/// measured and its bound.
const METRICS: [(&str, Measure, Bound); 27] = {
    use Bound::{Lower, Upper};
    use Figure::{Max, Mean, Min, Percentile};
    use Flavor::{Ko, Ok, Total};
    use Measure::{Figure as F, RangeShare, RequestShare};
    [
        ("percentage reqs with resp. time t < 800 ms", RangeShare(1), Lower),
        ("percentage reqs with resp. time 800 ms < t < 1200 ms", RangeShare(2), Upper),
        ("percentage reqs with resp. time t > 1200 ms", RangeShare(3), Upper),
        ("percentage failed requests", RangeShare(4), Upper),
        ("percentage mean requests/sec ok", RequestShare(Ok), Lower),
        ("percentage mean requests/sec ko", RequestShare(Ko), Upper),
        ("min response time", F(Min, Total), Upper),
        ("mean response time", F(Mean, Total), Upper),
        ("max response time", F(Max, Total), Upper),
        ("min response time ok", F(Min, Ok), Upper),
        ("mean response time ok", F(Mean, Ok), Upper),
        ("max response time ok", F(Max, Ok), Upper),
        ("min response time ko", F(Min, Ko), Upper),
        ("mean response time ko", F(Mean, Ko), Upper),
        ("max response time ko", F(Max, Ko), Upper),
        ("50th percentile response time", F(Percentile(1), Total), Upper),
        ("75th percentile response time", F(Percentile(2), Total), Upper),
        ("95th percentile response time", F(Percentile(3), Total), Upper),
        ("99th percentile response time", F(Percentile(4), Total), Upper),
        ("50th percentile response time ok", F(Percentile(1), Ok), Upper),
        ("75th percentile response time ok", F(Percentile(2), Ok), Upper),
        ("95th percentile response time ok", F(Percentile(3), Ok), Upper),
        ("99th percentile response time ok", F(Percentile(4), Ok), Upper),
        ("50th percentile response time ko", F(Percentile(1), Ko), Upper),
        ("75th percentile response time ko", F(Percentile(2), Ko), Upper),
        ("95th percentile response time ko", F(Percentile(3), Ko), Upper),
        ("99th percentile response time ko", F(Percentile(4), Ko), Upper),
    ]
};

const LABELS: [&str; 27] = {
    let mut labels = [""; 27];
    let mut index = 0;
    while index < labels.len() {
        labels[index] = METRICS[index].0;
        index += 1;
    }
    labels
};

/// Every goal metric label, as §2.10 lists them.
pub fn known_metrics() -> &'static [&'static str] {
    &LABELS
}

fn lookup(metric: &str) -> Option<(Measure, Bound)> {
    METRICS.iter().find(|(label, ..)| *label == metric).map(|&(_, measure, bound)| (measure, bound))
}

/// The measured value of a goal's metric over all requests, or `None` when Gatling reported `"-"` or the label is
/// unknown (never panics).
pub fn actual(metric: &str, metrics: &GatlingMetrics) -> Option<f64> {
    let (measure, _) = lookup(metric)?;
    let stats = &metrics.total;
    // A share of no requests is undefined (Gatling writes 0 %): such a goal is reported unchecked, not judged on 0.
    let requests = stats.number_of_requests;
    let total_requests = requests.total.filter(|&total| total > 0.0);
    match measure {
        Measure::RangeShare(group) => total_requests.map(|_| range_group(stats, group).percentage),
        Measure::RequestShare(flavor) => Some(flavored(requests, flavor)? / total_requests? * 100.0),
        Measure::Figure(figure, flavor) => {
            let counter = match figure {
                Figure::Min => stats.min_response_time,
                Figure::Mean => stats.mean_response_time,
                Figure::Max => stats.max_response_time,
                Figure::Percentile(1) => stats.percentiles1,
                Figure::Percentile(2) => stats.percentiles2,
                Figure::Percentile(3) => stats.percentiles3,
                Figure::Percentile(_) => stats.percentiles4,
            };
            flavored(counter, flavor)
        }
    }
}

fn range_group(stats: &RequestStats, group: u8) -> &RangeGroup {
    match group {
        1 => &stats.group1,
        2 => &stats.group2,
        3 => &stats.group3,
        _ => &stats.group4,
    }
}

fn flavored(counter: Counter, flavor: Flavor) -> Option<f64> {
    match flavor {
        Flavor::Total => counter.total,
        Flavor::Ok => counter.ok,
        Flavor::Ko => counter.ko,
    }
}

/// Lower for the metrics where more is better (`percentage reqs with resp. time t < 800 ms`, `percentage mean
/// requests/sec ok`), upper for all others, unknown labels included (as the original treated every goal).
pub fn bound(metric: &str) -> Bound {
    lookup(metric).map_or(Bound::Upper, |(_, bound)| bound)
}

/// Steady-state goals (§2.7): one per metric label, with `threshold = measured × factor`, or `× 1` for the percentage
/// labels (a share does not scale with load), colour `red`. `factor` is `steadyState.factor` of the experiment.
///
/// A metric the steady state has no value for (`"-"`) gets no goal: there is no baseline to compare with (the
/// original used 0). A non-finite threshold (only from a non-finite factor, which validation rejects) is skipped too.
pub fn steady_state_goals(steady_state: &GatlingMetrics, factor: f64) -> Vec<(Goal, GoalSource)> {
    LABELS
        .iter()
        .filter_map(|&metric| {
            let measured = actual(metric, steady_state)?;
            let threshold = if metric.starts_with("percentage") { measured } else { measured * factor };
            threshold.is_finite().then(|| {
                (Goal { metric: metric.to_owned(), threshold, color: "red".to_owned() }, GoalSource::SteadyState)
            })
        })
        .collect()
}

/// Evaluates user goals plus steady-state goals against the run's metrics, in the given order. A goal whose actual is
/// `None` is not violated but reported with `actual: None`, so the record shows it could not be checked.
pub fn evaluate(goals: &[(Goal, GoalSource)], metrics: &GatlingMetrics) -> (Vec<EvaluatedGoal>, Vec<Violation>) {
    let evaluated: Vec<EvaluatedGoal> = goals
        .iter()
        .map(|(goal, source)| {
            let actual = actual(&goal.metric, metrics);
            let bound = bound(&goal.metric);
            let violated = actual.is_some_and(|actual| match bound {
                Bound::Upper => actual > goal.threshold,
                Bound::Lower => actual < goal.threshold,
            });
            EvaluatedGoal {
                metric: goal.metric.clone(),
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
        .map(|goal| Violation { metric: goal.metric.clone(), threshold: goal.threshold, actual: goal.actual })
        .collect();
    (evaluated, violations)
}

/// A threshold as a JSON number, or as a string holding one (MiSArch's format); finite either way.
fn number_or_numeric_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Threshold {
        Number(f64),
        Text(String),
    }
    let value = match Threshold::deserialize(deserializer)? {
        Threshold::Number(number) => number,
        Threshold::Text(text) => {
            text.trim().parse().map_err(|_| serde::de::Error::custom(format!("threshold {text:?} is not a number")))?
        }
    };
    if value.is_finite() { Ok(value) } else { Err(serde::de::Error::custom("threshold must be a finite number")) }
}

#[cfg(test)]
mod tests {
    use super::super::gatling::parse;
    use super::super::gatling::tests::{real_files, real_metrics};
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

    fn user(metric: &str, threshold: f64) -> (Goal, GoalSource) {
        (Goal { metric: metric.into(), threshold, color: "#73bf69".into() }, GoalSource::User)
    }

    #[test]
    fn the_label_set_is_the_one_of_section_2_10() {
        let labels = known_metrics();
        assert_eq!(labels.len(), 27);
        let unique: std::collections::BTreeSet<_> = labels.iter().collect();
        assert_eq!(unique.len(), 27);
        let metrics = real_metrics();
        for label in labels {
            assert!(actual(label, &metrics).is_some(), "{label} has no value in the real report");
        }
        let lower: Vec<_> = labels.iter().filter(|label| bound(label) == Bound::Lower).collect();
        assert_eq!(lower, [&"percentage reqs with resp. time t < 800 ms", &"percentage mean requests/sec ok"]);
        assert_eq!(bound("no such metric"), Bound::Upper);
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
        assert_eq!(cases.len(), known_metrics().len());
        for (label, expected) in cases {
            assert_eq!(actual(label, &metrics), Some(expected), "{label}");
        }
        assert_eq!(actual("unknown", &metrics), None);
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
            user("no such metric", 1.0),                              // unknown: not evaluated
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
                (Upper, None, false),
            ]
        );
        assert!(evaluated.iter().all(|g| g.source == GoalSource::User && g.color == "#73bf69"));
        assert_eq!(
            violations,
            [
                Violation { metric: "max response time".into(), threshold: 2000.0, actual: Some(3646.0) },
                Violation {
                    metric: "percentage reqs with resp. time t < 800 ms".into(),
                    threshold: 98.0,
                    actual: Some(97.26176734641528)
                },
                Violation {
                    metric: "percentage failed requests".into(),
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
            goals.iter().find(|(goal, _)| goal.metric == metric).map(|(goal, _)| goal.threshold)
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
        let violated: Vec<_> = violations.iter().map(|v| (v.metric.as_str(), v.threshold, v.actual)).collect();
        assert_eq!(
            violated,
            [
                ("percentage reqs with resp. time t < 800 ms", 97.26176734641528, Some(90.0)),
                ("max response time", 3646.0 * 1.5, Some(6000.0)),
            ]
        );
        assert!(steady_state_goals(&steady, f64::NAN).iter().all(|(goal, _)| goal.metric.starts_with("percentage")));
    }

    #[test]
    fn goals_read_numbers_and_misarch_strings() {
        let goal: Goal =
            serde_json::from_str(r##"{"metric": "max response time", "threshold": "2000", "color": "red"}"##)
                .expect("string threshold");
        assert_eq!(goal.threshold, 2000.0);
        let goal: Goal =
            serde_json::from_str(r##"{"metric": "m", "threshold": 12.5, "color": "#73bf69"}"##).expect("number");
        assert_eq!(goal.threshold, 12.5);
        assert_eq!(
            serde_json::to_value(&goal).expect("serializes"),
            serde_json::json!({"metric": "m", "threshold": 12.5, "color": "#73bf69"})
        );
        for bad in [r#""fast""#, "null", "[1]", r#""NaN""#, r#""inf""#] {
            let text = format!(r#"{{"metric": "m", "threshold": {bad}, "color": "red"}}"#);
            assert!(serde_json::from_str::<Goal>(&text).is_err(), "{bad}");
        }
    }
}
