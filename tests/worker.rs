//! The worker and the executor on both backends: trials run Kallisti-style steps one at a time, end with the right
//! status, keep a record, stop on request, and are recovered when their worker died.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use common::{TargetServer, TestApp, start_worker, wait_until};
use diesel::prelude::*;
use serde_json::{Value, json};

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("not a timestamp: {value}")).parse().unwrap()
}

fn probe(step: &str, url: &str) -> Value {
    json!({"step": step, "do": "cm.http_probe", "where": {"url": url}})
}

#[tokio::test]
async fn a_trial_runs_every_phase_and_keeps_a_redacted_record() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let definition = json!({
            "name": "healthy",
            "parameters": {"base": target.url, "secs": 0, "token": "s3cr3t-value"},
            "pre_steps": [probe("gate", "{{ base }}/health")],
            "steps": [
                {"step": "wait", "do": "cm.wait", "where": {"time_in_seconds": "{{ secs }}"}},
                {"step": "check", "do": "cm.http_probe",
                 "where": {"url": "{{ base }}/health", "headers": {"Authorization": "Bearer {{ token }}"}},
                 "expect": [{"operator": "eq", "status_code": 200}, {"operator": "eq", "response.status": "UP"},
                            {"operator": "ge", "json.count": 3}, {"operator": "lt", "elapsed_ms": 5000},
                            {"operator": "regex", "body": "(UP|RUNNING)"}, {"operator": "ne", "status_code": "500"}]},
                {"step": "tolerant", "do": "cm.http_request", "where": {"url": "{{ base }}/fail", "method": "POST", "body": {"a": 1}},
                 "expect": [{"operator": "eq", "status_code": 503}, {"operator": "gt", "status_code": 499}, {"operator": "le", "status_code": 503}]}
            ],
            "post_steps": [probe("cleanup", "{{ base }}/cleanup")]
        });
        let trial_id = app.run_experiment(definition, json!({})).await;
        let trial = app.wait_for_end(&trial_id).await;
        shutdown.cancel();
        worker.await.unwrap();

        assert_eq!(trial["status"], "Succeeded", "{}: {trial:#}", app.backend());
        assert!(instant(&trial["executed_at"]) <= instant(&trial["completed_at"]));
        let record = &trial["trial_record"];
        assert_eq!(record["pre_steps"].as_array().unwrap().len(), 1);
        assert_eq!(record["steps"].as_array().unwrap().len(), 3);
        assert_eq!(record["post_steps"][0]["step"], "cleanup");
        let check = &record["steps"][1];
        assert_eq!(check["step_name"], "Http probe");
        assert_eq!(check["outcome"], "succeeded");
        assert_eq!(check["result"]["status_code"], 200);
        assert_eq!(check["result"]["json"]["status"], "UP");
        assert_eq!(check["expectations"].as_array().unwrap().len(), 6);
        assert!(check["expectations"].as_array().unwrap().iter().all(|e| e["passed"] == true));
        assert_eq!(check["step_parameters"]["headers"]["Authorization"], "*****", "secrets are redacted");
        assert!(!trial.to_string().contains("s3cr3t-value"), "the token appears nowhere in the trial: {trial}");
        assert_eq!(trial["experiment_snapshot"]["parameters"]["token"], "*****");
        assert_eq!(record["steps"][0]["step_parameters"]["time_in_seconds"], 0, "templates keep their type");
        assert!(record["result"][0]["logs"][0].as_str().unwrap().contains("Trial Succeeded"));
    }
    assert!(target.hits().contains(&"POST /fail".to_owned()));
}

#[tokio::test]
async fn a_failed_gate_aborts_a_failed_step_fails_and_post_steps_run_regardless() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let aborted = app
            .run_experiment(
                json!({"name": "gate", "pre_steps": [probe("gate", &format!("{}/fail", target.url))],
                       "steps": [probe("never", &format!("{}/never", target.url))],
                       "post_steps": [probe("cleanup", &format!("{}/cleanup-aborted", target.url))]}),
                json!({}),
            )
            .await;
        let failed = app
            .run_experiment(
                json!({"name": "expectation", "steps": [
                    {"do": "cm.http_probe", "where": {"url": format!("{}/health", target.url)},
                     "expect": [{"operator": "eq", "status_code": 201}]},
                    probe("skipped", &format!("{}/skipped", target.url))],
                    "post_steps": [probe("cleanup", &format!("{}/cleanup-failed", target.url))]}),
                json!({}),
            )
            .await;
        let aborted = app.wait_for_end(&aborted).await;
        let failed = app.wait_for_end(&failed).await;
        shutdown.cancel();
        worker.await.unwrap();

        assert_eq!(aborted["status"], "Aborted");
        assert!(aborted["status_reason"].as_str().unwrap().starts_with("pre_steps[0] failed"), "{aborted}");
        assert!(aborted["trial_record"].get("steps").is_none(), "no step ran after the failed gate");
        assert_eq!(aborted["trial_record"]["post_steps"][0]["outcome"], "succeeded");

        assert_eq!(failed["status"], "Failed");
        let reason = failed["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("steps[0] failed: expectation failed"), "{reason}");
        assert_eq!(failed["trial_record"]["steps"].as_array().unwrap().len(), 1, "the rest of the phase is skipped");
        assert_eq!(failed["trial_record"]["steps"][0]["expectations"][0]["actual"], 200);
    }
    let hits = target.hits();
    assert!(hits.contains(&"GET /cleanup-aborted".to_owned()) && hits.contains(&"GET /cleanup-failed".to_owned()));
    assert!(!hits.iter().any(|h| h.ends_with("/never") || h.ends_with("/skipped")));
}

#[tokio::test]
async fn a_missing_parameter_makes_the_trial_invalid_before_anything_runs() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let trial = app
            .run_experiment(
                json!({"name": "invalid", "pre_steps": [probe("gate", &format!("{}/invalid-gate", target.url))],
                       "steps": [{"do": "cm.http_probe", "where": {"url": "{{ missing_url }}"}}],
                       "post_steps": [{"do": "cm.wait", "where": {"time_in_seconds": "{{ other }}"}}]}),
                json!({}),
            )
            .await;
        let malformed = app
            .run_experiment(
                json!({"name": "malformed", "pre_steps": [probe("gate", &format!("{}/malformed-gate", target.url))],
                       "steps": [{"do": "cm.http_probe", "where": {"url": "http://{{ host"}}]}),
                json!({"host": "127.0.0.1"}),
            )
            .await;
        let trial = app.wait_for_end(&trial).await;
        let malformed = app.wait_for_end(&malformed).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(trial["status"], "Invalid");
        assert_eq!(trial["status_reason"], "missing parameter(s): 'missing_url', 'other'");
        assert!(trial["trial_record"].get("pre_steps").is_none());
        assert!(trial["trial_record"]["result"][0]["logs"][0].as_str().unwrap().contains("missing_url"));
        assert_eq!(malformed["status"], "Invalid");
        let reason = malformed["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("malformed template(s): ") && reason.contains("steps[0].where.url"), "{reason}");
    }
    assert!(target.hits().is_empty(), "nothing ran");
}

#[tokio::test]
async fn trials_run_one_after_another_in_order() {
    for app in TestApp::all() {
        let experiment = app
            .create_experiment(
                json!({"name": "short", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 0.2}}]}),
            )
            .await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let trial = app.post("/api/v1/trial", &json!({"experiment": experiment["id"]})).await.json();
            ids.push(trial["id"].as_str().unwrap().to_owned());
        }
        // Two workers on one database: the lease lets only one of them run trials.
        let (first_stop, first) = start_worker(&app.db);
        let (second_stop, second) = start_worker(&app.database.connect());
        let mut trials = Vec::new();
        for id in &ids {
            trials.push(app.wait_for_end(id).await);
        }
        first_stop.cancel();
        second_stop.cancel();
        first.await.unwrap();
        second.await.unwrap();
        for pair in trials.windows(2) {
            assert!(
                instant(&pair[1]["executed_at"]) >= instant(&pair[0]["completed_at"]),
                "{}: a trial queued while another runs starts after it: {pair:#?}",
                app.backend()
            );
        }
        assert!(trials.iter().all(|t| t["status"] == "Succeeded"));
    }
}

#[tokio::test]
async fn stop_cancels_the_running_step_runs_post_steps_and_ends_stopped() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let trial_id = app
            .run_experiment(
                json!({"name": "long", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 600}}],
                       "post_steps": [probe("cleanup", &format!("{}/cleanup-stopped", target.url))]}),
                json!({}),
            )
            .await;
        let path = format!("/api/v1/trial/{trial_id}");
        wait_until(Duration::from_secs(10), "the trial to run its step", || async {
            app.get(&path).await.json()["trial_record"]["steps"][0]["outcome"] == "running"
        })
        .await;
        let stopping =
            app.request(Method::PUT, &format!("{path}/stop"), None).await.expect_status(StatusCode::OK).json();
        assert_eq!(stopping["status"], "Stop Initiated");
        let trial = app.wait_for_end(&trial_id).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(trial["status"], "Stopped");
        assert_eq!(trial["status_reason"], "stopped on request");
        assert_eq!(trial["trial_record"]["steps"][0]["outcome"], "cancelled");
        assert_eq!(trial["trial_record"]["post_steps"][0]["outcome"], "succeeded");
    }
}

#[tokio::test]
async fn trials_of_a_dead_worker_are_recovered_after_their_post_steps_ran() {
    let target = TargetServer::start().await;
    let apps = TestApp::all();
    let backends = apps.len();
    for app in apps {
        let definition = json!({"name": "orphan", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 600}}],
            "post_steps": [probe("cleanup", &format!("{}/cleanup-recovered", target.url))]});
        let running = app.run_experiment(definition.clone(), json!({})).await;
        let stopping = app.run_experiment(definition, json!({})).await;
        // As a process that died mid-trial leaves them: claimed, with a heartbeat long ago.
        for (id, status) in [(&running, "In Progress"), (&stopping, "Stop Initiated")] {
            let statement = format!(
                "UPDATE trials SET status = '{status}', claimed_by = 'worker:dead', heartbeat_at = '2026-01-01 00:00:00', \
                 executed_at = '2026-01-01 00:00:00', trial_record = '{{\"steps\": []}}' WHERE id = '{id}'"
            );
            app.db.run(move |conn| Ok(diesel::sql_query(statement).execute(conn)?)).await.unwrap();
        }
        let (shutdown, worker) = start_worker(&app.db);
        let running = app.wait_for_end(&running).await;
        let stopping = app.wait_for_end(&stopping).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(running["status"], "Failed");
        assert!(running["status_reason"].as_str().unwrap().starts_with("interrupted"), "{running}");
        assert_eq!(running["trial_record"]["post_steps"][0]["outcome"], "succeeded");
        assert_eq!(stopping["status"], "Stopped");
    }
    // Each of the two trials ran its post_steps exactly once, on every backend.
    assert_eq!(target.hits().iter().filter(|h| h.ends_with("/cleanup-recovered")).count(), 2 * backends);
}

#[tokio::test]
async fn a_misarch_trial_without_its_components_configured_is_aborted_naming_the_variables() {
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let trial = app
            .run_experiment(json!({"name": "misarch", "steps": [], "misarch": common::misarch_sample()}), json!({}))
            .await;
        let trial = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(trial["status"], "Aborted", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("MiSArch pre-flight failed"), "{reason}");
        for variable in ["ERIS_GATLING_EXECUTOR_URL", "ERIS_CHAOSTOOLKIT_EXECUTOR_URL", "ERIS_MISARCH_CONFIG_URL"] {
            assert!(reason.contains(variable), "{reason}");
        }
        let phase = &trial["trial_record"]["misarch"]["phases"][0];
        assert_eq!((phase["phase"].as_str(), phase["outcome"].as_str()), (Some("pre-flight"), Some("failed")));
    }
}
