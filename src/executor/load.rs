//! What a `load.http` step leaves on its trial: the figures as the trial's `metrics`, its goals and violations,
//! and the report, stored the moment the load ends (as the MiSArch run stores its own), so `GET /trial/{id}`,
//! `/report`, the webhooks and `/metrics` read a built-in load exactly as they read a MiSArch run. The figures go
//! to InfluxDB and a Grafana dashboard too, when those are configured, with the MiSArch run's descriptors
//! (`misarch::export`); an export that fails is told in the step's result and changes no verdict.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Executor;
use super::misarch::transport::{Auth, Call};
use crate::actions::Measured;
use crate::db;
use crate::json::to_text;
use crate::misarch::components::test_identity;
use crate::misarch::export;
use crate::misarch::gatling::json_number::Number;
use crate::misarch::goals::Violation;
use crate::misarch::report::{self, ReportInput};
use crate::misarch::settings::GrafanaAuth;

/// The trial a step runs in, for what it keeps on it.
pub(super) struct TrialIdentity<'a> {
    pub trial: Uuid,
    pub experiment: Uuid,
    pub experiment_name: &'a str,
    pub revision: i64,
}

/// What a load's results became: why the step fails, if it does, and what the exports did (for its result).
pub(super) struct Kept {
    pub failure: Option<String>,
    pub exported: Value,
}

impl Executor {
    /// Exports a load's figures and stores its results on the trial.
    pub(super) async fn keep_measured(
        &self,
        identity: &TrialIdentity<'_>,
        measured: &Measured,
        started: DateTime<Utc>,
    ) -> Kept {
        let ended = Utc::now();
        let (grafana_url, grafana) = self.export_grafana(identity, measured, started, ended).await;
        let influxdb = self.export_influx(identity, measured, ended).await;
        let (test_uuid, test_version) = test_identity(identity.trial);
        let report = report::build(ReportInput {
            trial: identity.trial,
            experiment: identity.experiment,
            experiment_name: identity.experiment_name,
            revision: identity.revision,
            test_uuid: &test_uuid,
            test_version: &test_version,
            started,
            ended,
            total: &measured.metrics.total,
            goals: &measured.evaluated,
            violations: &measured.violations,
            grafana_url: grafana_url.as_deref(),
        });
        let trial = identity.trial.to_string();
        let texts =
            (to_text(&measured.metrics), to_text(&measured.evaluated), to_text(&measured.violations), to_text(&report));
        let stored = self
            .misarch
            .db
            .run(move |conn| {
                let (metrics, goals, violations, report) = &texts;
                let results = db::trials::TrialResults {
                    metrics: Some(metrics),
                    goals,
                    violations,
                    grafana_url: grafana_url.as_deref(),
                    report,
                };
                db::trials::store_results(conn, &trial, &results)
            })
            .await;
        let failure = match stored {
            Err(error) => Some(format!("the load's figures could not be stored: {}", error.message)),
            Ok(()) => violated(&measured.violations),
        };
        Kept { failure, exported: json!({"grafana": grafana, "influxdb": influxdb}) }
    }

    /// The trial's dashboard, when Grafana is configured: its link, and what to tell of it.
    async fn export_grafana(
        &self,
        identity: &TrialIdentity<'_>,
        measured: &Measured,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> (Option<String>, Value) {
        let Some(grafana) = &self.misarch.settings.grafana else { return (None, json!("not configured")) };
        let title = format!("{} · trial {}", identity.experiment_name, identity.trial);
        let mut dashboard =
            export::dashboard(identity.trial, &title, &measured.evaluated, &grafana.datasource_uid, &grafana.bucket);
        export::set_time_range(&mut dashboard, started, ended);
        let auth = grafana.auth.as_ref().map(|auth| match auth {
            GrafanaAuth::Token(token) => Auth::Bearer(token),
            GrafanaAuth::Basic { user, password } => Auth::Basic { user, password },
        });
        let call = Call { base: &grafana.url, request: export::create_dashboard_request(&dashboard), auth };
        match self.answered(&call).await {
            Ok(()) => {
                let url =
                    export::dashboard_url(&grafana.public_url, &export::dashboard_uid(identity.trial), started, ended);
                (Some(url.clone()), json!({"dashboard": url}))
            }
            Err(error) => (None, json!({"error": error})),
        }
    }

    /// The figures in InfluxDB, when it is configured.
    async fn export_influx(&self, identity: &TrialIdentity<'_>, measured: &Measured, ended: DateTime<Utc>) -> Value {
        let Some(influx) = &self.misarch.settings.influxdb else { return json!("not configured") };
        let lines = export::influx_lines(identity.trial, &measured.metrics, ended);
        let count = lines.lines().count();
        let request = export::influx_write_request(&influx.org, &influx.bucket, lines);
        let call = Call { base: &influx.url, request, auth: influx.token.as_ref().map(Auth::InfluxToken) };
        match self.answered(&call).await {
            Ok(()) => json!({"lines": count}),
            Err(error) => json!({"error": error}),
        }
    }

    /// Sends an export; a status that is not 2xx is an error quoting the answer.
    async fn answered(&self, call: &Call<'_>) -> Result<(), String> {
        let answer = call.send_once(&self.actions.http, self.misarch.settings.request_timeout).await?;
        if answer.succeeded() {
            Ok(())
        } else {
            let quoted: String = answer.body.chars().take(500).collect();
            Err(format!("{} answered {}: {quoted}", call.described(), answer.status))
        }
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
