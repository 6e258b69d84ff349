//! `GET /metrics`: Prometheus text whose values move as trials run, schedules fire and requests come in.
//! One test function: the metrics recorder is process-wide.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{TestApp, start_worker};
use eris::scheduler::{Scheduler, SchedulerConfig};
use serde_json::json;

/// Parses the Prometheus text format strictly enough to catch a broken exposition: `series → value`.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let series =
        regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? (\S+)$"#).unwrap();
    let mut values = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            assert!(comment.starts_with(" HELP ") || comment.starts_with(" TYPE "), "bad comment: {line}");
            continue;
        }
        assert!(series.is_match(line), "not Prometheus text: {line}");
        let (name, value) = line.rsplit_once(' ').unwrap();
        values.insert(name.to_owned(), value.parse::<f64>().unwrap_or_else(|_| panic!("bad value: {line}")));
    }
    values
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let response = app.get("/metrics").await.expect_status(StatusCode::OK);
    assert!(response.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    parse(&response.text())
}

fn value(metrics: &BTreeMap<String, f64>, series: &str) -> f64 {
    metrics.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_move_as_trials_run_schedules_fire_and_requests_come() {
    for app in TestApp::all() {
        let before = scrape(&app).await;
        let experiment = app.experiment_id().await;
        let minimal = app.create_experiment(json!({"name": "quick", "steps": []})).await;
        for _ in 0..2 {
            app.post("/api/v1/trial", &json!({"experiment": minimal["id"]})).await.expect_status(StatusCode::CREATED);
        }
        let queued = scrape(&app).await;
        assert_eq!(value(&queued, "eris_trials_queued"), 2.0, "{}", app.backend());
        assert_eq!(value(&queued, "eris_trials_in_progress"), 0.0);
        assert!(value(&queued, "eris_db_pool_max_connections") >= 1.0);
        assert_eq!(queued.get("eris_db_pool_waiting"), Some(&0.0), "nothing waits for a connection here");

        // Run them.
        let (shutdown, worker) = start_worker(&app.db);
        let list = app.get(&format!("/api/v1/trial?experiment={}", minimal["id"].as_str().unwrap())).await.json();
        for trial in list.as_array().unwrap() {
            app.wait_for_end(trial["id"].as_str().unwrap()).await;
        }
        // The worker stops before the schedule fires, so the fired trial stays queued.
        shutdown.cancel();
        worker.await.unwrap();
        // A schedule fires.
        let schedule = app
            .post(&format!("/api/v1/experiment/{experiment}/schedule"), &json!({"recurrence_pattern": "@daily"}))
            .await
            .json();
        let scheduler = Scheduler::new(app.db.clone(), Default::default(), SchedulerConfig::default());
        let id = schedule["id"].as_str().unwrap();
        let due: chrono::DateTime<chrono::Utc> = schedule["next_run_at"].as_str().unwrap().parse().unwrap();
        scheduler.fire(id, due).await.unwrap();
        // A request on a route with a path parameter, to see its label.
        app.get(&format!("/api/v1/experiment/{experiment}")).await.expect_status(StatusCode::OK);

        let after = scrape(&app).await;
        let finished = r#"eris_trials_finished_total{status="Succeeded"}"#;
        assert!(value(&after, finished) >= value(&before, finished) + 2.0, "{after:#?}");
        assert!(value(&after, "eris_trial_duration_seconds_count{status=\"Succeeded\"}") >= 2.0);
        assert_eq!(value(&after, "eris_trials_queued"), 1.0, "the scheduled trial waits (the worker stopped)");
        let route = r#"eris_http_requests_total{method="GET",route="/api/v1/experiment/{experiment_id}",status="200"}"#;
        assert!(value(&after, route) >= 1.0, "requests are counted by route template: {after:#?}");
        assert!(after.keys().all(|k| !k.contains(&experiment)), "no raw ids in labels");
        assert!(after.contains_key("eris_worker_lease_held"));
    }
}

#[tokio::test]
async fn the_scheduler_loop_counts_fires_and_their_latency() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    let before = scrape(&app).await;
    let experiment = app.experiment_id().await;
    app.post(
        &format!("/api/v1/experiment/{experiment}/schedule"),
        &json!({"recurrence_pattern": "* * * * * *", "recurrence_count": 2}),
    )
    .await
    .expect_status(StatusCode::CREATED);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let config = SchedulerConfig { poll_interval: std::time::Duration::from_millis(200), ..SchedulerConfig::default() };
    let running = tokio::spawn(Scheduler::new(app.db.clone(), Default::default(), config).run(shutdown.clone()));
    common::wait_until(std::time::Duration::from_secs(10), "two fires", || async {
        app.get(&format!("/api/v1/trial?experiment={experiment}")).await.json().as_array().unwrap().len() == 2
    })
    .await;
    shutdown.cancel();
    running.await.unwrap();
    let after = scrape(&app).await;
    let created = r#"eris_schedule_fires_total{outcome="created"}"#;
    assert!(value(&after, created) >= value(&before, created) + 2.0, "{after:#?}");
    assert!(value(&after, "eris_schedule_fire_latency_seconds_count") >= 2.0);
    assert!(after.contains_key(r#"eris_schedule_fire_latency_seconds_bucket{le="0.05"}"#));
}
