//! The MiSArch run against the real Chaos Toolkit executor and the real configurator, started from their sources by
//! `shared/misarch-components/real-components` with stand-ins for Dapr and Gatling (it prints their URLs).
//!
//! Runs when `ERIS_REAL_COMPONENTS` names that script, as `.ci/run` sets it after `real-components setup`. A plain
//! `cargo test` on a machine without the components' toolchains passes over it and says so; under CI (`CI` set)
//! without it, it fails.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use common::{TestApp, start_worker_full, wait_until};
use eris::misarch::settings::MisarchSettings;
use serde_json::{Value, json};
use url::Url;

/// The script, or None (with a word why) when the real components are not to be run here.
fn script() -> Option<PathBuf> {
    match std::env::var_os("ERIS_REAL_COMPONENTS") {
        Some(path) => Some(PathBuf::from(path)),
        None if std::env::var_os("CI").is_some() => {
            panic!("ERIS_REAL_COMPONENTS is not set: under CI the real components must run (.ci/run sets it)")
        }
        None => {
            eprintln!("real components not run: set ERIS_REAL_COMPONENTS to shared/misarch-components/real-components");
            None
        }
    }
}

/// The running components; stopped (their process groups killed) when dropped, whatever the test did.
struct Components {
    script: PathBuf,
    urls: HashMap<String, String>,
}

impl Components {
    fn start(script: &Path, executor_url: &str) -> Self {
        // A stop first: a test run that was killed may have left them running.
        let _ = Command::new("bash").arg(script).arg("stop").output();
        let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
        let output = Command::new("bash")
            .arg(script)
            .args(["start", "--executor-url", executor_url, "--services", "catalog,gateway", "--gatling-run-secs", "2"])
            .args(["--ce-port", &port(), "--config-port", &port(), "--dapr-port", &port(), "--gatling-port", &port()])
            .output()
            .expect("the real-components script runs");
        // Made before the check, so that a failed start is stopped too.
        let mut components = Components { script: script.to_owned(), urls: HashMap::new() };
        assert!(output.status.success(), "real-components start failed:\n{}", String::from_utf8_lossy(&output.stderr));
        components.urls = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        components
    }

    fn url(&self, key: &str) -> Option<Url> {
        Some(Url::parse(self.urls.get(key).unwrap_or_else(|| panic!("real-components printed no {key}"))).unwrap())
    }
}

impl Drop for Components {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).arg("stop").output();
    }
}

/// MiSArch's generated experiment, shortened: a 2-second workload, a failure set on `service` written as MiSArch
/// writes it (partial object, a whole float), a string threshold, and a chaos method whose last action, after a
/// pause of `late_secs`, writes the time into `marker`.
fn experiment(service: &str, late_secs: u64, marker: &Path) -> Value {
    let mut misarch = common::misarch_sample();
    let steps = base64::engine::general_purpose::STANDARD.encode("usersteps\n1\n1\n");
    for file in misarch["gatling"].as_array_mut().unwrap() {
        file["encodedUserStepsFileContent"] = json!(steps);
    }
    misarch["goals"] = json!([{"metric": "max response time", "threshold": "100000", "color": "red"}]);
    misarch["steadyState"] = Value::Null;
    misarch["warmUp"] = Value::Null;
    misarch["chaosToolkit"] = json!({
        "title": "a late action", "description": "eris real-component test",
        "method": [{
            "type": "action", "name": "late action", "pauses": {"before": late_secs},
            // Written aside and moved in place, so that the file, once there, holds the time.
            "provider": {"type": "process", "path": "sh",
                "arguments": format!("-c 'date +%s > {0}.part && mv {0}.part {0}'", marker.display())}
        }]
    });
    misarch["misarchFailures"] = json!([
        {"failures": [{"name": service, "pubSubDeterioration": {"delay": 100.0, "delayProbability": 0.5}}],
         "pauses": {"before": 0, "after": 1}},
        {"failures": [{"name": service}], "pauses": {"before": 0, "after": 0}}
    ]);
    json!({"name": "real components", "steps": [], "misarch": misarch})
}

async fn trial(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK).json()
}

#[tokio::test]
async fn a_misarch_run_against_the_real_chaos_toolkit_executor_and_configurator() {
    let Some(script) = script() else { return };
    let app = TestApp::new(common::TestDatabase::sqlite());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let executor_url = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let components = Components::start(&script, &executor_url);
    let settings = MisarchSettings {
        gatling: components.url("GATLING_EXECUTOR_URL"),
        chaos_toolkit: components.url("CHAOSTOOLKIT_EXECUTOR_URL"),
        configurator: components.url("MISARCH_CONFIG_URL"),
        barrier_timeout: Duration::from_secs(30),
        metrics_timeout: Duration::from_secs(30),
        ..MisarchSettings::default()
    };
    let (shutdown, worker) = start_worker_full(&app.db, Default::default(), Default::default(), settings);
    let dir = tempfile::tempdir().unwrap();

    // 1. A whole trial: the real executor registers and runs `chaos`; its late action runs after the workload ended,
    //    because a normal end leaves the executor to finish.
    let marker = dir.path().join("late-action");
    let id = app.run_experiment(experiment("catalog", 4, &marker), json!({})).await;
    let ended = app.wait_for_end(&id).await;
    assert_eq!(ended["status"], "Succeeded", "{ended}");
    let misarch = &ended["trial_record"]["misarch"];
    assert_eq!(misarch["chaos"]["ending"], "ran_out", "{misarch}");
    wait_until(Duration::from_secs(10), "the late chaos action", || async { marker.exists() }).await;
    let t0: chrono::DateTime<chrono::Utc> = misarch["started_at"].as_str().unwrap().parse().unwrap();
    let ran_at: i64 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    assert!(ran_at >= t0.timestamp() + 3, "the late action ran after its pause: {ran_at} vs T0 {t0}");
    // The configurator acknowledged each change, in order, and took MiSArch's own forms.
    for failure in misarch["failures"].as_array().unwrap() {
        assert_eq!(failure["outcome"], "succeeded", "{failure}");
        assert_eq!(failure["acknowledged"].as_array().unwrap().len(), 4, "{failure}");
    }
    let events = std::fs::read_to_string(components.urls.get("DAPR_EVENTS").expect("the events' file")).unwrap();
    assert!(events.contains(r#""pubsubDeterioration": {"delay": 100, "delayProbability": 0.5}"#), "{events}");
    // Gatling's report is kept.
    let html = app.get(&format!("/api/v1/trial/{id}/gatling/index.html")).await.expect_status(StatusCode::OK);
    assert!(html.text().contains("Gatling"), "the report's index.html");

    // 2. A stop while the chaos plan runs out stops the executor at once: its late action never runs.
    let marker = dir.path().join("never");
    let id = app.run_experiment(experiment("catalog", 30, &marker), json!({})).await;
    wait_until(Duration::from_secs(20), "the chaos phase", || async {
        let phases = trial(&app, &id).await["trial_record"]["misarch"]["phases"].clone();
        phases.as_array().is_some_and(|phases| phases.iter().any(|phase| phase["phase"] == "chaos"))
    })
    .await;
    app.put(&format!("/api/v1/trial/{id}/stop"), &json!({})).await.expect_status(StatusCode::OK);
    let stopped = app.wait_for_end(&id).await;
    assert_eq!(stopped["status"], "Stopped", "{stopped}");
    assert_eq!(stopped["trial_record"]["misarch"]["chaos"]["ending"], "stopped");
    assert!(!marker.exists(), "the stopped chaos run did not go on");

    // 3. A service the configurator does not know: Aborted at pre-flight, naming it.
    let id = app.run_experiment(experiment("inventory", 0, &dir.path().join("unused")), json!({})).await;
    let aborted = app.wait_for_end(&id).await;
    assert_eq!(aborted["status"], "Aborted", "{aborted}");
    assert!(aborted["status_reason"].as_str().unwrap().contains("does not know the service(s) inventory"));

    shutdown.cancel();
    worker.await.unwrap();
    drop(components);
}
