//! A MiSArch trial's report: the original executor's `report.json` with eris's additions, and the
//! same as JUnit XML (one test case per goal) for CI pipelines. Pure: built once goals are evaluated, stored on the
//! trial, served by `GET /api/v1/trial/{id}/report`.

use chrono::{DateTime, Utc};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::gatling::RequestStats;
use super::goals::{Bound, EvaluatedGoal, GoalSource, Violation};

/// What the original wrote as `experimentExecutorVersion`; eris writes its own name and version.
pub const EXECUTOR_VERSION: &str = concat!("eris ", env!("CARGO_PKG_VERSION"));

/// The report as stored (`trial.report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    // The original's fields, in its names and formats: times as epoch-millisecond strings, numbers as strings.
    #[serde(rename = "testUUID")]
    pub test_uuid: String,
    #[serde(rename = "testVersion")]
    pub test_version: String,
    #[serde(rename = "experimentExecutorVersion")]
    pub experiment_executor_version: String,
    #[serde(rename = "startTime")]
    pub start_time: String,
    #[serde(rename = "endTime")]
    pub end_time: String,
    pub goals: Vec<OriginalGoal>,
    #[serde(rename = "goalViolations")]
    pub goal_violations: Vec<OriginalViolation>,
    // eris's additions.
    pub trial: Uuid,
    pub experiment: Uuid,
    pub experiment_name: String,
    pub revision: i64,
    /// Gatling's statistics over all requests.
    pub metrics_summary: RequestStats,
    /// Every goal with where it came from, its bound, the measured value and whether it held.
    pub goal_results: Vec<EvaluatedGoal>,
    pub violations: Vec<Violation>,
    pub grafana_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginalGoal {
    pub metric: String,
    pub threshold: String,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginalViolation {
    #[serde(rename = "metricName")]
    pub metric_name: String,
    pub threshold: String,
    #[serde(rename = "actualValue")]
    pub actual_value: String,
}

/// What the report is made of.
pub struct ReportInput<'a> {
    pub trial: Uuid,
    pub experiment: Uuid,
    pub experiment_name: &'a str,
    pub revision: i64,
    pub test_uuid: &'a str,
    pub test_version: &'a str,
    /// T0.
    pub started: DateTime<Utc>,
    /// When the metrics arrived.
    pub ended: DateTime<Utc>,
    pub total: &'a RequestStats,
    pub goals: &'a [EvaluatedGoal],
    pub violations: &'a [Violation],
    pub grafana_url: Option<&'a str>,
}

pub fn build(input: ReportInput<'_>) -> Report {
    Report {
        test_uuid: input.test_uuid.to_owned(),
        test_version: input.test_version.to_owned(),
        experiment_executor_version: EXECUTOR_VERSION.to_owned(),
        start_time: input.started.timestamp_millis().to_string(),
        end_time: input.ended.timestamp_millis().to_string(),
        goals: input
            .goals
            .iter()
            .map(|goal| OriginalGoal {
                metric: goal.metric.label().to_owned(),
                threshold: number_text(goal.threshold),
                color: goal.color.clone(),
            })
            .collect(),
        goal_violations: input
            .violations
            .iter()
            .map(|violation| OriginalViolation {
                metric_name: violation.metric.label().to_owned(),
                threshold: number_text(violation.threshold),
                // The original printed a Kotlin Float: always with a fraction (`3646.0`).
                actual_value: violation.actual.map_or_else(|| "null".to_owned(), float_text),
            })
            .collect(),
        trial: input.trial,
        experiment: input.experiment,
        experiment_name: input.experiment_name.to_owned(),
        revision: input.revision,
        metrics_summary: input.total.clone(),
        goal_results: input.goals.to_vec(),
        violations: input.violations.to_vec(),
        grafana_url: input.grafana_url.map(str::to_owned),
    }
}

/// `2000` for a whole number (as MiSArch writes thresholds), the shortest exact form otherwise.
fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { value.to_string() }
}

fn float_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.1}") } else { value.to_string() }
}

/// JUnit XML: one test suite for the trial, one test case per goal (failed when violated, skipped when Gatling had
/// no value for its metric). `status` and `reason` are the trial's, as properties.
pub fn junit(report: &Report, status: &str, reason: Option<&str>) -> String {
    let duration = match (report.start_time.parse::<i64>(), report.end_time.parse::<i64>()) {
        (Ok(start), Ok(end)) if end >= start => std::time::Duration::from_millis((end - start) as u64),
        _ => std::time::Duration::ZERO,
    };
    let mut suite = TestSuite::new(format!("{} (trial {})", report.experiment_name, report.trial));
    if let Some(start) = report.start_time.parse::<i64>().ok().and_then(DateTime::from_timestamp_millis) {
        suite.set_timestamp(start);
    }
    suite.set_time(duration);
    suite.add_property(("trial", report.trial.to_string().as_str()));
    suite.add_property(("experiment", report.experiment.to_string().as_str()));
    suite.add_property(("revision", report.revision.to_string().as_str()));
    suite.add_property(("status", status));
    if let Some(reason) = reason {
        suite.add_property(("status_reason", reason));
    }
    if let Some(url) = &report.grafana_url {
        suite.add_property(("grafana_url", url.as_str()));
    }
    for goal in &report.goal_results {
        let relation = match goal.bound {
            Bound::Upper => "<=",
            Bound::Lower => ">=",
        };
        let source = match goal.source {
            GoalSource::User => "user",
            GoalSource::SteadyState => "steady_state",
        };
        let status = match goal.actual {
            None => {
                let mut skipped = TestCaseStatus::skipped();
                skipped.set_message(format!("Gatling had no value for '{}'", goal.metric));
                skipped
            }
            Some(actual) if goal.violated => {
                let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
                failure.set_type("goal_violated").set_message(format!(
                    "{} was {}, {} the threshold {}",
                    goal.metric,
                    number_text(actual),
                    if goal.bound == Bound::Upper { "above" } else { "below" },
                    number_text(goal.threshold)
                ));
                failure
            }
            Some(_) => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(format!("{} {relation} {}", goal.metric, number_text(goal.threshold)), status);
        case.set_classname(format!("eris.goals.{source}")).set_time(std::time::Duration::ZERO);
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("eris");
    junit.set_time(duration).add_test_suite(suite);
    // Serializing into memory fails only on an I/O error, which a String cannot have.
    junit.to_string().expect("JUnit XML is written to a string")
}

/// The report as `GET /trial/{id}/report` answers it: the stored report with the trial's current status.
pub fn with_status(report: &Value, status: &str, reason: Option<&str>) -> Value {
    let mut report = report.clone();
    if let Value::Object(fields) = &mut report {
        fields.insert("status".into(), Value::from(status));
        fields.insert("status_reason".into(), reason.map_or(Value::Null, Value::from));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::super::gatling::tests::real_metrics;
    use super::super::goals::{Goal, GoalMetric, evaluate};
    use super::*;

    fn report() -> Report {
        let metrics = real_metrics();
        let goals = vec![
            (Goal { metric: GoalMetric::MaxResponseTime, threshold: 2000.0, color: "red".into() }, GoalSource::User),
            (
                Goal { metric: GoalMetric::MeanResponseTime, threshold: 1000.0, color: "yellow".into() },
                GoalSource::User,
            ),
            (
                Goal { metric: GoalMetric::MeanResponseTimeKo, threshold: 5.0, color: "red".into() },
                GoalSource::SteadyState,
            ),
        ];
        let (mut evaluated, mut violations) = evaluate(&goals, &metrics);
        // As for a run without failed requests, where Gatling writes "-" for the KO figures.
        evaluated[2].actual = None;
        evaluated[2].violated = false;
        violations.retain(|violation| violation.metric != GoalMetric::MeanResponseTimeKo);
        let started = DateTime::from_timestamp_millis(1_752_755_877_123).unwrap();
        build(ReportInput {
            trial: Uuid::nil(),
            experiment: Uuid::nil(),
            experiment_name: "nightly <buy> & \"abort\"",
            revision: 3,
            test_uuid: "00000000-0000-0000-0000-000000000000",
            test_version: "v1",
            started,
            ended: started + chrono::Duration::seconds(1800),
            total: &metrics.total,
            goals: &evaluated,
            violations: &violations,
            grafana_url: Some("http://grafana/d/eris-0?from=1&to=2"),
        })
    }

    #[test]
    fn the_original_fields_keep_their_formats() {
        let report = report();
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["startTime"], "1752755877123");
        assert_eq!(value["endTime"], "1752757677123");
        assert_eq!(
            value["goals"][0],
            serde_json::json!({"metric": "max response time", "threshold": "2000", "color": "red"})
        );
        let violation = &value["goalViolations"][0];
        assert_eq!(violation["metricName"], "max response time");
        assert_eq!(violation["threshold"], "2000");
        let actual = report.metrics_summary.max_response_time.total.unwrap();
        assert_eq!(violation["actualValue"], format!("{actual:.1}"));
        assert_eq!(value["experimentExecutorVersion"], EXECUTOR_VERSION);
    }

    #[test]
    fn junit_has_one_case_per_goal() {
        let report = report();
        let xml = junit(&report, "Failed", Some("goal violated"));
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        let failures = report.violations.len();
        assert!(xml.contains(&format!("failures=\"{failures}\"")), "{xml}");
        assert!(xml.contains("name=\"max response time &lt;= 2000\""), "{xml}");
        assert!(xml.contains("nightly &lt;buy&gt; &amp; &quot;abort&quot;"), "{xml}");
        assert!(xml.contains("<property name=\"status\" value=\"Failed\"/>"), "{xml}");
        // Characters XML 1.0 cannot hold are dropped, so the document stays well-formed.
        let odd = junit(&report, "Failed", Some("bell \u{7} and escape \u{1b}[31m"));
        assert!(!odd.contains('\u{7}') && !odd.contains('\u{1b}') && odd.contains("bell  and escape "), "{odd}");
        // A goal Gatling had no value for cannot be checked, and says so.
        assert!(
            xml.contains("<skipped message=\"Gatling had no value for &apos;mean response time ko&apos;\"/>"),
            "{xml}"
        );
    }
}
