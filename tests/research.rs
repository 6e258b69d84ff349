//! Experiments as research, on both backends, against the demo target: a sweep runs every point in its order
//! through the worker and tabulates what its trials measured; trials compare as JSON and CSV; a trial slower than
//! the ones before it is flagged as a regression (in the trial, its webhook payload, its trend and `/metrics`); a
//! sweep stops with its trials; and bad requests are refused naming the field.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{TestApp, demo_target, start_worker, wait_until};
use diesel::prelude::*;
use serde_json::{Value, json};

async fn wait_for_sweep(app: &TestApp, id: &str, status: &str) -> Value {
    let path = format!("/api/v1/sweep/{id}");
    wait_until(Duration::from_secs(60), &format!("sweep {id} to be {status}"), || async {
        app.get(&path).await.json()["status"] == status
    })
    .await;
    app.get(&path).await.json()
}

#[tokio::test]
async fn a_sweep_runs_every_point_in_order_and_tabulates_its_results() {
    let shop = demo_target().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app.create_experiment(common::shop_study(&shop)).await;
        let body = json!({"experiment": experiment["id"], "parameters": {"latency_ms": [0, 150]}, "repeat": 2,
            "metadata": {"study": "latency"}});
        // Queued before any worker runs: the sweep is its trials' rows, so a restart in between loses nothing.
        let sweep = app.post("/api/v1/sweep", &body).await.expect_status(StatusCode::CREATED).json();
        let id = sweep["id"].as_str().unwrap().to_owned();
        assert_eq!(sweep["status"], "queued", "{backend}: {sweep:#}");
        assert_eq!(sweep["progress"]["total"], 4, "{backend}");
        assert_eq!(sweep["points"], json!([{"latency_ms": 0}, {"latency_ms": 150}]), "{backend}");
        let order: Vec<(i64, i64)> = sweep["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["point"].as_i64().unwrap(), t["repetition"].as_i64().unwrap()))
            .collect();
        assert_eq!(order, [(0, 1), (1, 1), (0, 2), (1, 2)], "{backend}: interleaved by default");

        let (shutdown, worker) = start_worker(&app.db);
        let done = wait_for_sweep(&app, &id, "completed").await;
        shutdown.cancel();
        worker.await.unwrap();

        // They ran in the sweep's order, one after another, with their point's values.
        let trial_ids: Vec<String> =
            done["trials"].as_array().unwrap().iter().map(|t| t["trial"].as_str().unwrap().to_owned()).collect();
        let mut trials = Vec::new();
        for trial_id in &trial_ids {
            trials.push(app.get(&format!("/api/v1/trial/{trial_id}")).await.json());
        }
        for pair in trials.windows(2) {
            assert!(pair[0]["completed_at"].as_str() <= pair[1]["executed_at"].as_str(), "{backend}: back to back");
        }
        assert_eq!(trials[1]["parameters"], json!({"latency_ms": 150}), "{backend}");
        assert_eq!(trials[1]["sweep"], json!({"id": id, "point": 1, "repetition": 1}), "{backend}");
        assert_eq!(trials[1]["metadata"]["study"], "latency", "{backend}");
        assert_eq!(trials[0]["status"], "Succeeded", "{backend}: {:#}", trials[0]);
        assert_eq!(trials[1]["status"], "Failed", "{backend}: the p95 goal of 100 ms is missed");
        assert_eq!(trials[0]["score"]["value"], 100.0, "{backend}");
        // Goals 1 of 2, expectations 1 of 1 (the failed load step's own goals are its checks).
        assert_eq!(trials[1]["score"]["goals"], json!({"passed": 1, "total": 2, "weight": 1.0}), "{backend}");
        assert_eq!(trials[1]["score"]["value"], 66.7, "{backend}");

        // The results table: per point, the spread of each metric over its two repetitions.
        let results = done["results"].as_array().unwrap();
        assert_eq!(results[0]["statuses"], json!({"Succeeded": 2}), "{backend}");
        assert_eq!(results[1]["statuses"], json!({"Failed": 2}), "{backend}");
        let p95 = |point: usize| results[point]["metrics"]["p95"]["mean"].as_f64().unwrap();
        assert!(p95(1) >= 150.0 && p95(0) < 50.0, "{backend}: p95 {} vs {}", p95(0), p95(1));
        assert_eq!(results[1]["metrics"]["p95"]["count"], 2, "{backend}");
        assert_eq!(results[0]["metrics"]["score"]["mean"], 100.0, "{backend}");

        // The sweep's comparison, against its first trial, as JSON and CSV.
        let comparison = app.get(&format!("/api/v1/sweep/{id}/compare")).await.expect_status(StatusCode::OK).json();
        assert_eq!(comparison["baseline"], trial_ids[0].as_str(), "{backend}");
        let slow = &comparison["trials"][1];
        assert_eq!(slow["differences"]["p95"]["worse"], true, "{backend}: {slow:#}");
        assert_eq!(slow["differences"]["score"]["worse"], true, "{backend}");
        assert_eq!(slow["metrics"]["per_request"][0]["name"], "browse", "{backend}");
        let csv = app.get(&format!("/api/v1/sweep/{id}/compare?format=csv")).await.expect_status(StatusCode::OK);
        assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"), "{backend}");
        let text = csv.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{backend}: a header and a row a trial\n{text}");
        assert!(lines[0].contains("param.latency_ms") && lines[0].contains("p95_ms"), "{backend}: {}", lines[0]);
        assert!(lines[2].contains(",150,"), "{backend}: {}", lines[2]);

        // Listed with its progress, and audited.
        let listed = app.get(&format!("/api/v1/sweep?experiment={}", experiment["id"].as_str().unwrap())).await.json();
        assert_eq!(listed[0]["progress"]["ended"], 4, "{backend}: {listed:#}");
        assert_eq!(listed[0]["status"], "completed", "{backend}");
        let audit = app.get(&format!("/api/v1/audit?target_id={id}")).await.json();
        assert_eq!(audit[0]["action"], "sweep.create", "{backend}: {audit:#}");
    }
}

#[tokio::test]
async fn stopping_a_sweep_stops_its_running_and_queued_trials() {
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app
            .create_experiment(json!({"name": "Waits", "parameters": {"wait": 1},
                "steps": [{"do": "cm.wait", "where": {"time_in_seconds": "{{ wait }}"}}]}))
            .await;
        let body = json!({"experiment": experiment["id"], "points": [{"wait": 30}, {"wait": 31}, {"wait": 32}], "order": "grouped"});
        let sweep = app.post("/api/v1/sweep", &body).await.expect_status(StatusCode::CREATED).json();
        let id = sweep["id"].as_str().unwrap().to_owned();
        let (shutdown, worker) = start_worker(&app.db);
        wait_for_sweep(&app, &id, "running").await;
        let stopped =
            app.put(&format!("/api/v1/sweep/{id}/stop"), &json!({})).await.expect_status(StatusCode::OK).json();
        assert_eq!(stopped["status"], "stopped", "{backend}");
        assert_eq!(stopped["stopped_by"], "anonymous", "{backend}: {stopped:#}");
        wait_until(Duration::from_secs(20), "the sweep's trials to end", || async {
            app.get(&format!("/api/v1/sweep/{id}")).await.json()["progress"]["ended"] == 3
        })
        .await;
        shutdown.cancel();
        worker.await.unwrap();
        let done = app.get(&format!("/api/v1/sweep/{id}")).await.json();
        assert_eq!(done["progress"]["statuses"], json!({"Stopped": 3}), "{backend}: {done:#}");
        let queued = app.get(&format!("/api/v1/trial/{}", done["trials"][2]["trial"].as_str().unwrap())).await.json();
        assert!(queued["status_reason"].as_str().unwrap().contains("stopped with its sweep"), "{backend}: {queued:#}");
        app.put(&format!("/api/v1/sweep/{id}/stop"), &json!({})).await.expect_status(StatusCode::OK);
    }
}

/// Reads the JSON payload of a trial's `event` webhook as it was queued.
fn webhook_payload(app: &TestApp, trial: &str, event: &str) -> Value {
    #[derive(QueryableByName)]
    struct Payload {
        #[diesel(sql_type = diesel::sql_types::Text)]
        payload: String,
    }
    let mut conn = eris::db::establish(&app.database.url).unwrap();
    let row: Payload = diesel::sql_query(format!(
        "SELECT payload FROM webhook_deliveries WHERE trial_id = '{trial}' AND event = '{event}'"
    ))
    .get_result(&mut conn)
    .unwrap();
    serde_json::from_str(&row.payload).unwrap()
}

#[tokio::test]
async fn a_trial_slower_than_the_ones_before_it_is_flagged_as_a_regression() {
    let shop = demo_target().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let mut definition = common::shop_study(&shop);
        definition["notify"] = json!([{"url": "http://127.0.0.1:9/hook"}]);
        let experiment = app.create_experiment(definition).await;
        let (shutdown, worker) = start_worker(&app.db);
        let mut ids = Vec::new();
        for latency in [0, 0, 0, 60] {
            let body = json!({"experiment": experiment["id"], "parameters": {"latency_ms": latency}});
            let trial = app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
            let id = trial["id"].as_str().unwrap().to_owned();
            app.wait_for_end(&id).await;
            ids.push(id);
        }
        shutdown.cancel();
        worker.await.unwrap();
        let first = app.get(&format!("/api/v1/trial/{}", ids[0])).await.json();
        assert_eq!(first["regressions"], json!([]), "{backend}: compared with nothing, nothing is worse");
        let slow = app.get(&format!("/api/v1/trial/{}", ids[3])).await.json();
        assert_eq!(slow["status"], "Succeeded", "{backend}: 60 ms meets the 100 ms goal: {slow:#}");
        let regressions = slow["regressions"].as_array().unwrap();
        let p95 = regressions.iter().find(|r| r["metric"] == "p95").unwrap_or_else(|| panic!("{backend}: {slow:#}"));
        assert_eq!(p95["compared_with"], 3, "{backend}");
        assert!(p95["value"].as_f64().unwrap() >= 60.0, "{backend}: {p95}");

        let payload = webhook_payload(&app, &ids[3], "succeeded");
        assert_eq!(payload["trial"]["regressions"][0]["metric"], "p95", "{backend}: {payload:#}");
        assert_eq!(payload["trial"]["score"], 100.0, "{backend}");

        let path = format!("/api/v1/experiment/{}/trend?metric=p95", experiment["id"].as_str().unwrap());
        let trend = app.get(&path).await.expect_status(StatusCode::OK).json();
        let points = trend["points"].as_array().unwrap();
        assert_eq!(points.len(), 4, "{backend}: {trend:#}");
        assert_eq!(points[3]["trial"], ids[3].as_str(), "{backend}: oldest first");
        assert_eq!(points[3]["regression"]["metric"], "p95", "{backend}");
        assert!(points[0]["regression"].is_null(), "{backend}");
        assert_eq!(trend["regressions"], 1, "{backend}");

        let comparison = app
            .get(&format!("/api/v1/compare?trials={},{}&baseline={}", ids[3], ids[0], ids[0]))
            .await
            .expect_status(StatusCode::OK)
            .json();
        assert_eq!(comparison["trials"][0]["trial"], ids[3].as_str(), "{backend}: in the order asked");
        assert_eq!(comparison["trials"][0]["differences"]["p95"]["worse"], true, "{backend}");
        assert_eq!(comparison["trials"][0]["regressions"][0]["metric"], "p95", "{backend}");
    }
    let metrics = TestApp::all().remove(0).get("/metrics").await.text();
    let flagged =
        metrics.lines().find(|line| line.starts_with("eris_trial_regressions_total{metric=\"p95\"}")).unwrap();
    assert!(!flagged.ends_with(" 0"), "{flagged}");
    assert!(metrics.contains("eris_sweeps_active "), "the gauge is exported");
}

#[tokio::test]
async fn bad_sweeps_comparisons_and_trends_are_refused_naming_the_field() {
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app
            .create_experiment(json!({"name": "Waits", "parameters": {"wait": 0},
                "steps": [{"do": "cm.wait", "where": {"time_in_seconds": "{{ wait }}"}}]}))
            .await;
        let id = experiment["id"].clone();
        let sweep = |body: Value| {
            let app = &app;
            async move { app.post("/api/v1/sweep", &body).await }
        };
        let cases = [
            (json!({"experiment": id, "parameters": {"wait": []}}), "invalid_sweep", "parameters.wait"),
            (json!({"experiment": id, "parameters": {}}), "invalid_sweep", "parameters"),
            (json!({"experiment": id}), "invalid_sweep", "parameters"),
            (
                json!({"experiment": id, "parameters": {"wait": [1]}, "points": [{"wait": 1}]}),
                "invalid_sweep",
                "points",
            ),
            (json!({"experiment": id, "points": []}), "invalid_sweep", "points"),
            (json!({"experiment": id, "parameters": {"wait": [1]}, "repeat": 0}), "invalid_sweep", "repeat"),
            (
                json!({"experiment": id, "parameters": {"wait": (0..40).collect::<Vec<_>>()}, "repeat": 26}),
                "invalid_sweep",
                "repeat",
            ),
            (json!({"experiment": id, "parameters": {"nope": [1, 2]}}), "unknown_sweep_parameter", "parameters.nope"),
            (
                json!({"experiment": id, "points": [{"wait": 1}, {"wiat": 2}]}),
                "unknown_sweep_parameter",
                "points[1].wiat",
            ),
            (json!({"experiment": id, "parameters": {"wait": [1]}, "order": "random"}), "invalid_body", "order"),
            (
                json!({"experiment": "00000000-0000-4000-8000-000000000000", "parameters": {"wait": [1]}}),
                "experiment_not_found",
                "experiment",
            ),
        ];
        for (body, code, field) in cases {
            let error = sweep(body.clone()).await.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
            assert!(!error["message"].as_str().unwrap().is_empty(), "{backend}: {body}");
        }
        let big: Vec<i64> = (0..40).collect();
        let body = json!({"experiment": id, "parameters": {"wait": big, "other": big}});
        let experiment2 = app
            .create_experiment(json!({"name": "Two", "parameters": {"wait": 0, "other": 0},
                "steps": [{"do": "cm.wait", "where": {"time_in_seconds": "{{ wait }}"}}]}))
            .await;
        let mut body2 = body.clone();
        body2["experiment"] = experiment2["id"].clone();
        sweep(body2).await.expect_error(StatusCode::BAD_REQUEST, "invalid_sweep", Some("parameters"));
        app.get("/api/v1/sweep/00000000-0000-4000-8000-000000000000").await.expect_error(
            StatusCode::NOT_FOUND,
            "sweep_not_found",
            None,
        );

        app.get("/api/v1/compare?trials=nope").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("trials"),
        );
        app.get("/api/v1/compare?trials=").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_trials",
            Some("trials"),
        );
        app.get("/api/v1/compare?trials=00000000-0000-4000-8000-000000000000").await.expect_error(
            StatusCode::NOT_FOUND,
            "trial_not_found",
            None,
        );
        let trial =
            app.post("/api/v1/trial", &json!({"experiment": id})).await.expect_status(StatusCode::CREATED).json();
        let path = format!(
            "/api/v1/compare?trials={}&baseline=00000000-0000-4000-8000-000000000000",
            trial["id"].as_str().unwrap()
        );
        app.get(&path).await.expect_error(StatusCode::BAD_REQUEST, "invalid_baseline", Some("baseline"));
        let trend = format!("/api/v1/experiment/{}/trend", id.as_str().unwrap());
        app.get(&format!("{trend}?metric=p42")).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("metric"),
        );
        app.get(&format!("{trend}?limit=0")).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("limit"),
        );
        let empty = app.get(&trend).await.expect_status(StatusCode::OK).json();
        assert_eq!(empty["points"], json!([]), "{backend}: the queued trial has not ended");

        let analysis = json!({"name": "Bad analysis", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 0}}],
            "analysis": {"regression": {"window": 3, "min_history": 4}}});
        app.post("/api/v1/experiment", &analysis).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_analysis",
            Some("analysis.regression.min_history"),
        );
    }
}
