//! Prometheus metrics (`GET /metrics`). Names, labels and units follow Prometheus conventions and are listed in
//! docs/operations.md. Label values are bounded: statuses, outcomes, HTTP methods, route templates.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Db;
use crate::trial_status::TrialStatus;

pub const TRIALS_FINISHED: &str = "eris_trials_finished_total";
pub const TRIALS_IN_PROGRESS: &str = "eris_trials_in_progress";
pub const TRIALS_QUEUED: &str = "eris_trials_queued";
pub const SCHEDULE_FIRES: &str = "eris_schedule_fires_total";
pub const FIRE_LATENCY: &str = "eris_schedule_fire_latency_seconds";
pub const TRIAL_DURATION: &str = "eris_trial_duration_seconds";
pub const LEASE_HELD: &str = "eris_worker_lease_held";
pub const HTTP_REQUESTS: &str = "eris_http_requests_total";
pub const HTTP_DURATION: &str = "eris_http_request_duration_seconds";
pub const POOL_CONNECTIONS: &str = "eris_db_pool_connections";
pub const POOL_MAX: &str = "eris_db_pool_max_connections";
pub const POOL_WAITING: &str = "eris_db_pool_waiting";
pub const DB_RETRIES: &str = "eris_db_retries_total";
/// The `retrier` label values of [`DB_RETRIES`] (`transient::Retrier`).
pub const DB_RETRIERS: [&str; 3] = ["scheduler", "worker", "callback"];
pub const GATLING_REPORTS: &str = "eris_gatling_reports_total";
pub const GATLING_REPORT_BYTES: &str = "eris_gatling_report_kept_bytes_total";
pub const REGRESSIONS: &str = "eris_trial_regressions_total";
pub const SWEEPS_ACTIVE: &str = "eris_sweeps_active";
pub const EMERGENCY_STOP: &str = "eris_emergency_stop_engaged";
pub const BLACKOUT: &str = "eris_blackout_active";

const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const DURATION_BUCKETS: &[f64] = &[1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0];

/// Installs the process-wide recorder once and returns its handle (tests build many apps in one process).
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(FIRE_LATENCY.into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS))
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(TRIAL_DURATION.into()), DURATION_BUCKETS))
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may exist only if a test installed one; then eris's metrics go there.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    // Series exist from the start at 0, so that alert rules can use plain increase() from the first event on.
    for status in TrialStatus::ALL.into_iter().filter(|s| s.is_final()) {
        counter!(TRIALS_FINISHED, "status" => status.as_str()).absolute(0);
    }
    for outcome in ["created", "skipped", "missed", "failed"] {
        counter!(SCHEDULE_FIRES, "outcome" => outcome).absolute(0);
    }
    for outcome in ["kept", "too_large"] {
        counter!(GATLING_REPORTS, "outcome" => outcome).absolute(0);
    }
    counter!(GATLING_REPORT_BYTES).absolute(0);
    for retrier in DB_RETRIERS {
        counter!(DB_RETRIES, "retrier" => retrier).absolute(0);
    }
    gauge!(LEASE_HELD).set(0.0);
    for metric in crate::research::KeyMetric::ALL {
        counter!(REGRESSIONS, "metric" => metric.as_str()).absolute(0);
    }
    describe_counter!(
        REGRESSIONS,
        "Trials flagged as a regression when they ended, by metric (one per metric flagged)."
    );
    describe_gauge!(SWEEPS_ACTIVE, "Sweeps with a trial queued or running, in the database (all replicas).");
    describe_gauge!(EMERGENCY_STOP, "1 while the emergency stop holds (no trial starts), 0 otherwise; all replicas.");
    describe_gauge!(BLACKOUT, "1 while a blackout is in force (no trial starts or runs), 0 otherwise; all replicas.");
    describe_counter!(TRIALS_FINISHED, "Trials that ended, by final status.");
    describe_gauge!(TRIALS_IN_PROGRESS, "Trials In Progress or Stop Initiated in the database (all replicas).");
    describe_gauge!(TRIALS_QUEUED, "Trials Scheduled (queued) in the database (all replicas).");
    describe_counter!(SCHEDULE_FIRES, "Schedule fire instants, by outcome: created, skipped (forbid), missed, failed.");
    describe_histogram!(FIRE_LATENCY, Unit::Seconds, "Time from a cron instant to its trial being queued.");
    describe_histogram!(TRIAL_DURATION, Unit::Seconds, "Time from a trial's start to its end, by final status.");
    describe_gauge!(LEASE_HELD, "1 while this process holds the worker lease (runs trials), else 0.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests, by method, route template and status code.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency, by method and route template.");
    describe_gauge!(POOL_CONNECTIONS, "Database pool connections of this process, by state (idle, in_use).");
    describe_gauge!(POOL_MAX, "The database pool's maximum size.");
    describe_gauge!(POOL_WAITING, "Units of work of this process waiting for a database pool connection.");
    describe_counter!(
        DB_RETRIES,
        "Transient database errors retried at once, by who retried: scheduler, worker, callback."
    );
    describe_counter!(GATLING_REPORTS, "Gatling reports uploaded with a trial's metrics, by outcome: kept, too_large.");
    describe_counter!(GATLING_REPORT_BYTES, Unit::Bytes, "Bytes of the Gatling reports kept with trials.");
}

pub fn trial_finished(status: TrialStatus, duration_seconds: Option<f64>) {
    counter!(TRIALS_FINISHED, "status" => status.as_str()).increment(1);
    if let Some(seconds) = duration_seconds {
        histogram!(TRIAL_DURATION, "status" => status.as_str()).record(seconds);
    }
}

/// `outcome`: created, skipped, missed or failed.
pub fn schedule_fires(outcome: &'static str, count: u64) {
    if count > 0 {
        counter!(SCHEDULE_FIRES, "outcome" => outcome).increment(count);
    }
}

pub fn fire_latency(seconds: f64) {
    histogram!(FIRE_LATENCY).record(seconds.max(0.0));
}

pub fn lease_held(held: bool) {
    gauge!(LEASE_HELD).set(if held { 1.0 } else { 0.0 });
}

/// A transient database error was retried.
pub fn db_retry(retrier: &'static str) {
    counter!(DB_RETRIES, "retrier" => retrier).increment(1);
}

/// A trial's Gatling report (index.html and stats.js, `bytes` together) was stored with its metrics.
pub fn gatling_report_kept(bytes: usize) {
    counter!(GATLING_REPORTS, "outcome" => "kept").increment(1);
    counter!(GATLING_REPORT_BYTES).increment(bytes as u64);
}

/// A trial's Gatling report was larger than the limit and was not kept (its metrics were).
pub fn gatling_report_too_large() {
    counter!(GATLING_REPORTS, "outcome" => "too_large").increment(1);
}

/// Counts and times every request by its route template (never the raw path: ids would make labels unbounded).
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |path| path.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    histogram!(HTTP_DURATION, "method" => method.clone(), "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    response
}

/// A trial was flagged as a regression in `metric`.
pub fn regression(metric: crate::research::KeyMetric) {
    counter!(REGRESSIONS, "metric" => metric.as_str()).increment(1);
}

/// The Prometheus text of this process, with the gauges read from the database first.
/// Whether a blackout is in force, as `/metrics` reads it when scraped (the blackout rules are the API's to ask:
/// this module imports none).
pub fn blackout_active(active: bool) {
    gauge!(BLACKOUT).set(if active { 1.0 } else { 0.0 });
}

pub async fn render(db: &Db) -> String {
    let handle = install();
    match db.run_quick(crate::db::trials::count_active).await {
        Ok((queued, running)) => {
            gauge!(TRIALS_QUEUED).set(queued as f64);
            gauge!(TRIALS_IN_PROGRESS).set(running as f64);
        }
        Err(error) => tracing::warn!("metrics: cannot count trials: {}", error.message),
    }
    match db.run_quick(crate::db::trials::active_sweeps).await {
        Ok(active) => gauge!(SWEEPS_ACTIVE).set(active as f64),
        Err(error) => tracing::warn!("metrics: cannot count sweeps: {}", error.message),
    }
    match db.run_quick(|conn| Ok(crate::db::safety::active(conn)?.is_some())).await {
        Ok(engaged) => gauge!(EMERGENCY_STOP).set(if engaged { 1.0 } else { 0.0 }),
        Err(error) => tracing::warn!("metrics: cannot read the emergency stop: {}", error.message),
    }
    let pool = db.pool_state();
    gauge!(POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    gauge!(POOL_CONNECTIONS, "state" => "in_use").set(f64::from(pool.in_use));
    gauge!(POOL_MAX).set(f64::from(pool.max));
    gauge!(POOL_WAITING).set(f64::from(pool.waiting));
    handle.render()
}
