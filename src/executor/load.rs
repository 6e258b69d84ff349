//! What a `load.http` step leaves on its trial: the figures as the trial's `metrics`, its goals and violations,
//! and the report, stored the moment the load ends (as the MiSArch run stores its own), so `GET /trial/{id}`,
//! `/report`, the webhooks and `/metrics` read a built-in load exactly as they read a MiSArch run.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Executor;
use crate::actions::Measured;
use crate::db;
use crate::json::to_text;
use crate::misarch::components::test_identity;
use crate::misarch::gatling::json_number::Number;
use crate::misarch::goals::Violation;
use crate::misarch::report::{self, ReportInput};

/// The trial a step runs in, for what it keeps on it.
pub(super) struct TrialIdentity<'a> {
    pub trial: Uuid,
    pub experiment: Uuid,
    pub experiment_name: &'a str,
    pub revision: i64,
}

impl Executor {
    /// Stores a load's results on the trial; returns why the step fails: violated goals, or results that could not
    /// be stored.
    pub(super) async fn keep_measured(
        &self,
        identity: &TrialIdentity<'_>,
        measured: &Measured,
        started: DateTime<Utc>,
    ) -> Option<String> {
        let (test_uuid, test_version) = test_identity(identity.trial);
        let report = report::build(ReportInput {
            trial: identity.trial,
            experiment: identity.experiment,
            experiment_name: identity.experiment_name,
            revision: identity.revision,
            test_uuid: &test_uuid,
            test_version: &test_version,
            started,
            ended: Utc::now(),
            total: &measured.metrics.total,
            goals: &measured.evaluated,
            violations: &measured.violations,
            grafana_url: None,
        });
        let trial = identity.trial.to_string();
        let texts =
            (to_text(&measured.metrics), to_text(&measured.evaluated), to_text(&measured.violations), to_text(&report));
        let stored = self
            .misarch
            .db
            .run(move |conn| {
                let (metrics, goals, violations, report) = &texts;
                db::trials::store_load_results(conn, &trial, metrics, goals, violations, report)
            })
            .await;
        if let Err(error) = stored {
            return Some(format!("the load's figures could not be stored: {}", error.message));
        }
        violated(&measured.violations)
    }
}

/// "2 goal(s) violated: 95th percentile response time: actual 412 > threshold 250; …", or `None`.
fn violated(violations: &[Violation]) -> Option<String> {
    if violations.is_empty() {
        return None;
    }
    let each: Vec<String> = violations
        .iter()
        .map(|violation| {
            let actual = violation.actual.map_or_else(|| "-".to_owned(), number);
            let bound = if violation.metric.bound() == crate::misarch::goals::Bound::Lower { "<" } else { ">" };
            format!("{}: actual {actual} {bound} threshold {}", violation.metric, number(violation.threshold))
        })
        .collect();
    Some(format!("{} goal(s) violated: {}", violations.len(), each.join("; ")))
}

/// A figure as the record writes it: `412`, not `412.0`.
fn number(value: f64) -> String {
    serde_json::to_string(&Number(value)).unwrap_or_else(|_| value.to_string())
}
