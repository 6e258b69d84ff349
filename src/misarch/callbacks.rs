//! The callbacks the MiSArch components make to eris, as rules over the database: they
//! know nothing of HTTP. The state they read and change is the trial's row in `misarch_runs`, so any replica can
//! answer them and the worker running the trial sees the changes.
//!
//! The components cannot authenticate, so a callback is answered only for the testUUID/testVersion of a trial that
//! is `In Progress`; for any other (unknown, finished, stopping) it is `NotFound` and nothing changes.

use crate::db::{self, Db, MisarchRunRow};
use crate::error::{Error, Result};
use crate::json::to_text;
use crate::telemetry;
use crate::time;

use super::gatling;

/// The longest client name accepted (the real ones are `gatling`, `chaostoolkit`, `misarchExperimentConfig`).
const MAX_CLIENT_CHARS: usize = 100;

fn run_not_found(test_uuid: &str, test_version: &str) -> Error {
    Error::not_found(
        "misarch_run_not_found",
        format!("no MiSArch trial is running as testUUID {test_uuid}, testVersion {test_version}"),
    )
}

async fn running(db: &Db, test_uuid: &str, test_version: &str) -> Result<MisarchRunRow> {
    let (uuid, version) = (test_uuid.to_owned(), test_version.to_owned());
    db.run(move |conn| db::misarch_runs::find_running(conn, &uuid, &version))
        .await?
        .ok_or_else(|| run_not_found(test_uuid, test_version))
}

/// `POST /trigger/{testUUID}/{testVersion}?client=…`: a component is ready. The barrier is released (T0) when the
/// last expected client registers.
pub async fn register(db: &Db, test_uuid: &str, test_version: &str, client: Option<&str>) -> Result<()> {
    let client = client.map(str::trim).unwrap_or_default();
    if client.is_empty() || client.chars().count() > MAX_CLIENT_CHARS {
        return Err(Error::invalid(
            "invalid_query_parameter",
            "client",
            format!("the query parameter client must name the component (1 to {MAX_CLIENT_CHARS} characters)"),
        ));
    }
    let run = running(db, test_uuid, test_version).await?;
    let (client, now) = (client.to_owned(), time::to_db(time::now()));
    tracing::info!(trial = %run.trial_id, client = %client, "a MiSArch component registered at the barrier");
    db.run(move |conn| db::misarch_runs::register_client(conn, run, &client, now)).await
}

/// `GET /trigger/{testUUID}/{testVersion}`: whether the run has started (T0 passed, metrics not yet uploaded).
pub async fn triggered(db: &Db, test_uuid: &str, test_version: &str) -> Result<bool> {
    let run = running(db, test_uuid, test_version).await?;
    Ok(run.state == db::misarch_runs::STARTED)
}

/// The largest Gatling report (index.html and stats.js together) kept with a trial. The report of a real 30-minute
/// run is about 180 KB, and its charts grow with the run's length; a larger one is not kept (its metrics are).
pub const MAX_KEPT_REPORT_BYTES: usize = 16 * 1024 * 1024;

/// The final upload's two files as they came, to keep with the trial, unless they are larger than
/// [`MAX_KEPT_REPORT_BYTES`].
fn kept_report(trial: &str, body: &str, now: chrono::NaiveDateTime) -> Option<db::GatlingReportRow> {
    let (index_html, stats_js) = gatling::split_upload(body).ok()?;
    if index_html.len() + stats_js.len() > MAX_KEPT_REPORT_BYTES {
        tracing::warn!(
            trial,
            bytes = body.len(),
            "the Gatling report is larger than {MAX_KEPT_REPORT_BYTES} bytes: not kept"
        );
        telemetry::gatling_report_too_large();
        return None;
    }
    Some(db::GatlingReportRow {
        trial_id: trial.to_owned(),
        index_html: index_html.to_owned(),
        stats_js: stats_js.to_owned(),
        created_at: now,
    })
}

/// `POST /experiment/{testUUID}/{testVersion}/gatling/metrics[/steadyState]`: a Gatling report, as one raw body
/// (index.html, a line `SPLIT_HERE`, stats.js). The final one becomes `trial.metrics` and ends the run; the
/// steady-state one is kept for the steady-state goals (only its stats.js counts, as in the original). A body that
/// cannot be read is refused, and the trial fails with the reason at once rather than at its deadline.
pub async fn upload_metrics(
    db: &Db,
    test_uuid: &str,
    test_version: &str,
    body: &str,
    steady_state: bool,
) -> Result<()> {
    let run = running(db, test_uuid, test_version).await?;
    let parsed = gatling::split_upload(body).and_then(|(html, stats)| {
        // The steady-state upload's charts are not used; its index.html is not parsed.
        gatling::parse(if steady_state { "" } else { html }, stats)
    });
    let (trial, now) = (run.trial_id.clone(), time::to_db(time::now()));
    let which = if steady_state { "steady-state metrics" } else { "metrics" };
    match parsed {
        Ok(metrics) => {
            let text = to_text(&metrics);
            tracing::info!(trial = %trial, bytes = body.len(), "the Gatling executor uploaded the {which}");
            if steady_state {
                db.run(move |conn| db::misarch_runs::store_steady_state(conn, &trial, &text, now)).await
            } else {
                let report = kept_report(&trial, body, now);
                let kept_bytes = report.as_ref().map(|report| report.index_html.len() + report.stats_js.len());
                db.run(move |conn| db::misarch_runs::store_metrics(conn, &trial, &text, report.as_ref(), now)).await?;
                if let Some(bytes) = kept_bytes {
                    telemetry::gatling_report_kept(bytes);
                }
                Ok(())
            }
        }
        Err(error) => {
            let message = format!("the {which} upload could not be read: {error}");
            let stored = message.clone();
            db.run(move |conn| db::misarch_runs::store_upload_error(conn, &trial, &stored, now)).await?;
            Err(Error::invalid("invalid_gatling_report", "body", message))
        }
    }
}
