//! Where a finished run's results go: a Grafana dashboard and one InfluxDB write (each skipped when not
//! configured), and the goals, violations and report stored on the trial.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::Run;
use super::error::RunError;
use super::evaluation::Verdict;
use super::transport::{Auth, Call, Stoppable};
use crate::db;
use crate::executor::record::{StepOutcome, TrialRecord};
use crate::json::to_text;
use crate::misarch::export;
use crate::misarch::gatling::GatlingMetrics;
use crate::misarch::goals::EvaluatedGoal;
use crate::misarch::report::{self, ReportInput};
use crate::misarch::settings::GrafanaAuth;

/// What the exports left to tell: an export that failed does not change the verdict on the system under test, but
/// the status reason names it.
pub(super) struct Exported {
    pub notes: Vec<String>,
    /// The goals and the report could not be stored.
    pub problem: Option<RunError>,
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    /// The exports, then the report; the results are stored on the trial at once.
    pub(super) async fn export(&self, verdict: &Verdict, t0: DateTime<Utc>, ended: DateTime<Utc>) -> Exported {
        let mut notes = Vec::new();
        let grafana_url = match self.export_grafana(&verdict.evaluated, t0, ended).await {
            Ok(url) => url,
            Err(reason) => {
                notes.push(format!("the Grafana export failed: {reason}"));
                None
            }
        };
        if let Err(reason) = self.export_influx(&verdict.metrics, ended).await {
            notes.push(format!("the InfluxDB export failed: {reason}"));
        }
        let (test_uuid, test_version) = self.identity();
        let report = report::build(ReportInput {
            trial: self.trial.trial,
            experiment: self.trial.experiment_id,
            experiment_name: &self.trial.experiment_name,
            revision: self.trial.revision,
            test_uuid: &test_uuid,
            test_version: &test_version,
            started: t0,
            ended,
            total: &verdict.metrics.total,
            goals: &verdict.evaluated,
            violations: &verdict.violations,
            grafana_url: grafana_url.as_deref(),
        });
        let (trial, goals, violations, report) =
            (self.trial.trial.to_string(), to_text(&verdict.evaluated), to_text(&verdict.violations), to_text(&report));
        let stored = self
            .db()
            .run(move |conn| {
                let results = db::trials::TrialResults {
                    metrics: None,
                    goals: &goals,
                    violations: &violations,
                    grafana_url: grafana_url.as_deref(),
                    report: &report,
                };
                db::trials::store_results(conn, &trial, &results)
            })
            .await;
        let problem = stored
            .err()
            .map(|error| RunError::Storage { doing: "store the goals and the report", message: error.message });
        Exported { notes, problem }
    }

    async fn export_grafana(
        &self,
        evaluated: &[EvaluatedGoal],
        t0: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> Result<Option<String>, RunError> {
        let phase = self.begin("export: Grafana").await;
        let Some(grafana) = &self.settings().grafana else {
            self.end(phase, StepOutcome::Skipped, "Skipped: ERIS_GRAFANA_URL is not set.").await;
            return Ok(None);
        };
        let title = format!("{} · trial {}", self.trial.experiment_name, self.trial.trial);
        let mut dashboard =
            export::dashboard(self.trial.trial, &title, evaluated, &grafana.datasource_uid, &grafana.bucket);
        // Some slack after the upload, as the original kept: the last users' responses.
        let to = ended + chrono::Duration::seconds(60);
        export::set_time_range(&mut dashboard, t0, to);
        let auth = grafana.auth.as_ref().map(|auth| match auth {
            GrafanaAuth::Token(token) => Auth::Bearer(token),
            GrafanaAuth::Basic { user, password } => Auth::Basic { user, password },
        });
        let call = Call { base: &grafana.url, request: export::create_dashboard_request(&dashboard), auth };
        let result = self.expect_success(phase, &call, true, Stoppable::No).await;
        let uid = export::dashboard_uid(self.trial.trial);
        let result = result.map(|_| Some(export::dashboard_url(&grafana.public_url, &uid, t0, to)));
        self.close(phase, result, &format!("Dashboard {uid} created.")).await
    }

    async fn export_influx(&self, metrics: &GatlingMetrics, ended: DateTime<Utc>) -> Result<(), RunError> {
        let phase = self.begin("export: InfluxDB").await;
        let Some(influx) = &self.settings().influxdb else {
            self.end(phase, StepOutcome::Skipped, "Skipped: ERIS_INFLUXDB_URL is not set.").await;
            return Ok(());
        };
        let lines = export::influx_lines(self.trial.trial, metrics, ended);
        let count = lines.lines().count();
        let request = export::influx_write_request(&influx.org, &influx.bucket, lines);
        let call = Call { base: &influx.url, request, auth: influx.token.as_ref().map(Auth::InfluxToken) };
        let result = self.expect_success(phase, &call, true, Stoppable::No).await.map(|_| ());
        self.close(phase, result, &format!("{count} lines written in one request.")).await
    }
}
