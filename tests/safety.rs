//! The emergency stop, on both backends, with two replicas sharing the database: engaged through one replica's API,
//! it stops the trial the other replica's worker runs (its clean-up runs) and the queued one at once, every start is
//! refused on both replicas, `/metrics` and the audit log show it; `eris safety` releases it straight in the
//! database, and trials start again.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::{TargetServer, TestApp, start_worker, wait_until};
use serde_json::{Value, json};

const ERIS: &str = env!("CARGO_BIN_EXE_eris");

/// A long wait with a clean-up that tells the target it ran.
fn long_experiment(target: &str) -> Value {
    json!({
        "name": "A long soak",
        "steps": [{"step": "Soak", "do": "cm.wait", "where": {"time_in_seconds": 60}}],
        "post_steps": [{"step": "Heal", "do": "cm.http_request", "where": {"method": "POST", "url": format!("{target}/healed")}}]
    })
}

async fn status(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/trial/{id}")).await.json()
}

/// `eris safety …` on the test's database, as an operator on the database host runs it.
fn eris_safety(app: &TestApp, args: &[&str]) -> (Value, String) {
    let output = std::process::Command::new(ERIS)
        .arg("safety")
        .args(args)
        .env("DATABASE_URL", app.database.url.display())
        .env("USER", "ops")
        .env("ERIS_LOG", "warn")
        .output()
        .expect("eris runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "eris safety {args:?}: {stderr}");
    (serde_json::from_slice(&output.stdout).expect("the state as JSON"), stderr)
}

#[tokio::test]
async fn an_emergency_stop_stops_every_trial_on_every_replica_and_holds_until_released() {
    let target = TargetServer::start().await;
    for first in TestApp::all() {
        let backend = first.backend();
        // A second replica: its own pool and router on the same database, and the one whose worker runs trials.
        let second = TestApp::with_db(first.database.connect(), first.database.replica());
        let experiment = first.create_experiment(long_experiment(&target.url)).await;
        let body = json!({"experiment": experiment["id"]});
        let running = first.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let running = running["id"].as_str().unwrap().to_owned();
        let queued = first.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let queued = queued["id"].as_str().unwrap().to_owned();
        let (shutdown, worker) = start_worker(&second.db);
        wait_until(Duration::from_secs(10), "the first trial to run", || async {
            status(&second, &running).await["status"] == "In Progress"
        })
        .await;

        let engaged_at = Instant::now();
        let engage = json!({"reason": "checkout is down, INC-4711"});
        let stop = first.post("/api/v1/emergency-stop/engage", &engage).await.expect_status(StatusCode::OK).json();
        assert_eq!(stop["engaged"], true, "{backend}: {stop:#}");
        assert_eq!(stop["latest"]["reason"], "checkout is down, INC-4711", "{backend}");
        assert_eq!(stop["latest"]["trials_stopped"], 2, "{backend}: the running and the queued trial");
        let queued_now = status(&first, &queued).await;
        assert_eq!(queued_now["status"], "Stopped", "{backend}: the queued trial at once");
        assert!(queued_now["status_reason"].as_str().unwrap().contains("INC-4711"), "{backend}: {queued_now:#}");
        wait_until(Duration::from_secs(10), "the running trial to stop", || async {
            status(&second, &running).await["status"] == "Stopped"
        })
        .await;
        println!(
            "{backend}: emergency stop engaged on one replica → every trial Stopped on the other: {} ms",
            engaged_at.elapsed().as_millis()
        );
        let stopped = status(&second, &running).await;
        assert!(stopped["status_reason"].as_str().unwrap().contains("emergency stop"), "{backend}: {stopped:#}");
        assert_eq!(stopped["trial_record"]["post_steps"][0]["outcome"], "succeeded", "{backend}: the clean-up ran");
        assert!(target.hits().contains(&"POST /healed".to_owned()), "{backend}");

        // Nothing starts, on either replica, and engaging again changes nothing.
        for app in [&first, &second] {
            let refused = app.post("/api/v1/trial", &body).await.expect_error(
                StatusCode::CONFLICT,
                "emergency_stop_engaged",
                None,
            );
            assert!(refused["message"].as_str().unwrap().contains("INC-4711"), "{backend}: {refused}");
            let sweep = json!({"experiment": experiment["id"], "points": [{}]});
            app.post("/api/v1/sweep", &sweep).await.expect_error(StatusCode::CONFLICT, "emergency_stop_engaged", None);
        }
        let again = second.post("/api/v1/emergency-stop/engage", &json!({"reason": "again"})).await.json();
        assert_eq!(again["latest"]["id"], stop["latest"]["id"], "{backend}: the one that holds");
        let metrics = second.get("/metrics").await.text();
        assert!(metrics.contains("eris_emergency_stop_engaged 1"), "{backend}");
        let audit = first.get("/api/v1/audit?action=emergency-stop.engage").await.json();
        assert_eq!(audit.as_array().unwrap().len(), 2, "{backend}: both requests: {audit:#}");

        // Released from the command line, as when the API does not answer; then trials run again.
        let (state, said) = eris_safety(&first, &["release"]);
        assert_eq!(state["engaged"], false, "{backend}: {state:#}");
        assert_eq!(state["latest"]["released_by"], "cli:ops", "{backend}");
        assert!(said.contains("released"), "{backend}: {said}");
        let after = first.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let after = after["id"].as_str().unwrap().to_owned();
        wait_until(Duration::from_secs(10), "a trial to run after the release", || async {
            status(&second, &after).await["status"] == "In Progress"
        })
        .await;
        assert!(second.get("/metrics").await.text().contains("eris_emergency_stop_engaged 0"), "{backend}");

        // Engaged from the command line: the running trial stops there too.
        let (state, said) = eris_safety(&first, &["engage", "--reason", "maintenance window"]);
        assert_eq!((state["engaged"].as_bool(), state["latest"]["engaged_by"].as_str()), (Some(true), Some("cli:ops")));
        assert!(said.contains("1 running trial(s) stopping"), "{backend}: {said}");
        wait_until(Duration::from_secs(10), "the trial to stop", || async {
            status(&second, &after).await["status"] == "Stopped"
        })
        .await;
        let (state, _) = eris_safety(&second, &["status"]);
        assert_eq!(state["latest"]["reason"], "maintenance window", "{backend}");
        let audit = first.get("/api/v1/audit?actor=cli:ops").await.json();
        let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["emergency-stop.release", "emergency-stop.engage"], "{backend}: oldest first: {audit:#}");
        first.post("/api/v1/emergency-stop/engage", &json!({"reason": " "})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_reason",
            Some("reason"),
        );
        shutdown.cancel();
        worker.await.unwrap();
    }
}
