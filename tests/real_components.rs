//! The MiSArch run against the real Chaos Toolkit executor and the real configurator, started from their sources by
//! `shared/misarch-components/real-components` with stand-ins for Dapr and Gatling (it prints their URLs).
//!
//! Runs when `ERIS_REAL_COMPONENTS` names that script, as `.ci/run` sets it after `real-components setup`. A plain
//! `cargo test` on a machine without the components' toolchains passes over it and says so; under CI (`CI` set)
//! without it, it fails.

mod common;

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
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
    common::real_tool("ERIS_REAL_COMPONENTS", "the real components (shared/misarch-components/real-components)")
}

/// The running components; stopped (their process groups killed) when dropped, whatever the test did.
struct Components {
    script: PathBuf,
    urls: HashMap<String, String>,
    /// The configurator started again by [`Components::restart_configurator`]; the script's `stop` ends it too.
    restarted: Option<std::process::Child>,
}

impl Components {
    fn start(script: &Path, executor_url: &str) -> Self {
        // A stop first: a test run that was killed may have left them running.
        let _ = Command::new("bash").arg(script).arg("stop").output();
        let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
        let output = Command::new("bash")
            .arg(script)
            .args([
                "start",
                "--executor-url",
                executor_url,
                "--services",
                "catalog,gateway",
                "--gatling-run-secs",
                &WORKLOAD_SECS.to_string(),
            ])
            .args(["--ce-port", &port(), "--config-port", &port(), "--dapr-port", &port(), "--gatling-port", &port()])
            .output()
            .expect("the real-components script runs");
        // Made before the check, so that a failed start is stopped too.
        let mut components = Components { script: script.to_owned(), urls: HashMap::new(), restarted: None };
        assert!(output.status.success(), "real-components start failed:\n{}", String::from_utf8_lossy(&output.stderr));
        components.urls = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        components
    }

    fn printed(&self, key: &str) -> &str {
        self.urls.get(key).unwrap_or_else(|| panic!("real-components printed no {key}"))
    }

    fn url(&self, key: &str) -> Option<Url> {
        Some(Url::parse(self.printed(key)).unwrap())
    }

    /// Restarts the configurator as a crash and a restart would: its process group killed, then started again
    /// from the same build, with the same port and Dapr. It comes back knowing no service (its state is in memory)
    /// until their sidecars send heartbeats again, which nothing here does.
    async fn restart_configurator(&mut self) {
        let pid = self.printed("MISARCH_CONFIG_PID").to_owned();
        let health = format!("{}/health", self.printed("MISARCH_CONFIG_URL"));
        let status = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status().unwrap();
        assert!(status.success(), "the configurator's process group {pid} is killed");
        let client = eris::http_client::build();
        let answers =
            || async { client.get(&health).send().await.is_ok_and(|response| response.status().is_success()) };
        wait_until(Duration::from_secs(10), "the configurator gone", || async { !answers().await }).await;
        // The script keeps its state beside the logs: <cache>/run/logs, the build in <cache>/src/experiment-config.
        let run = Path::new(self.printed("LOGS")).parent().unwrap().to_owned();
        let build = run.parent().unwrap().join("src/experiment-config");
        let port = Url::parse(self.printed("MISARCH_CONFIG_URL")).unwrap().port().unwrap().to_string();
        let dapr_port = Url::parse(self.printed("FAKE_DAPR_URL")).unwrap().port().unwrap().to_string();
        let log = std::fs::File::create(run.join("logs/experiment-config-restarted.log")).unwrap();
        let child = Command::new("node")
            .arg("dist/main.js")
            .current_dir(build)
            .envs([("PORT", port.as_str()), ("HOST", "127.0.0.1"), ("DAPR_HTTP_PORT", dapr_port.as_str())])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("node starts the configurator");
        // Listed where the script's `stop` finds what to stop, so that it goes with the rest.
        let mut pids = std::fs::OpenOptions::new().append(true).open(run.join("pids")).unwrap();
        writeln!(pids, "experiment-config {}", child.id()).unwrap();
        self.urls.insert("MISARCH_CONFIG_PID".to_owned(), child.id().to_string());
        self.restarted = Some(child);
        wait_until(Duration::from_secs(30), "the restarted configurator", answers).await;
    }
}

impl Drop for Components {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).arg("stop").output();
        if let Some(mut child) = self.restarted.take() {
            let _ = child.wait();
        }
    }
}

/// The fake Gatling executor's workload, from the barrier to its upload: long enough for a failure set due at
/// T0 + 6 s (after a configurator restart) to fall within it.
const WORKLOAD_SECS: u64 = 8;

/// A process action that, after a pause of `late_secs`, writes the time into `marker` (aside first, then moved in
/// place, so that the file, once there, holds the time).
fn late_action(late_secs: u64, marker: &Path) -> Value {
    json!({
        "type": "action", "name": "late action", "pauses": {"before": late_secs},
        "provider": {"type": "process", "path": "sh",
            "arguments": format!("-c 'date +%s > {0}.part && mv {0}.part {0}'", marker.display())}
    })
}

fn quick_action() -> Value {
    json!({"type": "action", "name": "quick action", "provider": {"type": "process", "path": "true"}})
}

/// MiSArch's generated experiment, shortened: a one-user workload of [`WORKLOAD_SECS`], a failure set on `service` written as MiSArch
/// writes it (partial object, a whole float), a string threshold, and the Chaos Toolkit `method` and `rollbacks`.
fn experiment(service: &str, method: Vec<Value>, rollbacks: Vec<Value>) -> Value {
    let mut misarch = common::misarch_sample();
    // One user for each second of the workload, so that eris plans it as long as the fake executor runs it.
    let steps = base64::engine::general_purpose::STANDARD
        .encode(format!("usersteps\n{}", "1\n".repeat(WORKLOAD_SECS as usize)));
    for file in misarch["gatling"].as_array_mut().unwrap() {
        file["encodedUserStepsFileContent"] = json!(steps);
    }
    misarch["goals"] = json!([{"metric": "max response time", "threshold": "100000", "color": "red"}]);
    misarch["steadyState"] = Value::Null;
    misarch["warmUp"] = Value::Null;
    misarch["chaosToolkit"] = json!({
        "title": "late actions", "description": "eris real-component test", "method": method, "rollbacks": rollbacks
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
    let mut components = Components::start(&script, &executor_url);
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

    // 1. A whole trial: the real executor registers and runs `chaos`; its rollback, due after the workload ended,
    //    runs, because a normal end leaves the executor to finish.
    let marker = dir.path().join("late-rollback");
    let late = WORKLOAD_SECS + 2;
    let id = app
        .run_experiment(experiment("catalog", vec![quick_action()], vec![late_action(late, &marker)]), json!({}))
        .await;
    let ended = app.wait_for_end(&id).await;
    assert_eq!(ended["status"], "Succeeded", "{ended}");
    let misarch = &ended["trial_record"]["misarch"];
    assert_eq!(misarch["chaos"]["ending"], "ran_out", "{misarch}");
    wait_until(Duration::from_secs(10), "the late rollback", || async { marker.exists() }).await;
    let t0: chrono::DateTime<chrono::Utc> = misarch["started_at"].as_str().unwrap().parse().unwrap();
    let ran_at: i64 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    let workload_end = t0.timestamp() + WORKLOAD_SECS as i64;
    assert!(ran_at >= workload_end, "the rollback ran after the workload: {ran_at} vs T0 {t0}");
    // The configurator acknowledged each change, in order, and took MiSArch's own forms.
    for failure in misarch["failures"].as_array().unwrap() {
        assert_eq!(failure["outcome"], "succeeded", "{failure}");
        assert_eq!(failure["acknowledged"].as_array().unwrap().len(), 4, "{failure}");
    }
    let events = std::fs::read_to_string(components.printed("DAPR_EVENTS")).unwrap();
    assert!(events.contains(r#""pubsubDeterioration": {"delay": 100, "delayProbability": 0.5}"#), "{events}");
    // Gatling's report is kept.
    let html = app.get(&format!("/api/v1/trial/{id}/gatling/index.html")).await.expect_status(StatusCode::OK);
    assert!(html.text().contains("Gatling"), "the report's index.html");

    // 1b. The same through the MiSArch executor's own API, as its frontend drives it: generate, save the Chaos
    //     Toolkit experiment, the failure sets and a goal in the frontend's formats, start; the real executor and
    //     the real configurator run it, and the version's dashboard link leads to the trial.
    let generate = format!(
        "/experiment/generate?loadType=ScalabilityLoadTest&testDuration={WORKLOAD_SECS}&maximumArrivingUsersPerSecond=&rate=0.5"
    );
    let text = app.post(&generate, &json!({})).await.expect_status(StatusCode::OK).text();
    let (uuid, _) = text.split_once(':').unwrap();
    let version = format!("/experiment/{uuid}/v1");
    let chaos = json!({"title": format!("{uuid}:v1"), "description": format!("{uuid}:v1"), "method": [quick_action()]});
    let failures = json!([
        {"failures": [{"name": "catalog", "pubSubDeterioration": null,
            "serviceInvocationDeterioration": [{"path": "/", "delay": 100, "delayProbability": 1, "errorProbability": 0, "errorCode": 500}],
            "artificialMemoryUsage": null, "artificialCPUUsage": []}],
         "pauses": {"before": 0, "after": 1}},
        {"failures": [{"name": "catalog", "pubSubDeterioration": null, "serviceInvocationDeterioration": null,
            "artificialMemoryUsage": null, "artificialCPUUsage": null}],
         "pauses": {"before": 0, "after": 0}}
    ]);
    let mut config = app.get(&format!("{version}/config")).await.expect_status(StatusCode::OK).json();
    config["goals"] = json!([{"metric": "max response time", "color": "red", "threshold": "100000"}]);
    for (part, body) in [("config", config), ("chaosToolkitConfig", chaos), ("misarchExperimentConfig", failures)] {
        let body = serde_json::to_string_pretty(&body).unwrap();
        app.raw(axum::http::Method::PUT, &format!("{version}/{part}"), Some("application/json"), body)
            .await
            .expect_status(StatusCode::OK);
    }
    let queued = app.post(&format!("{version}/start"), &json!({})).await.expect_status(StatusCode::OK).text();
    let id = queued.split_whitespace().nth(5).unwrap().trim_end_matches(';').to_owned();
    let ended = app.wait_for_end(&id).await;
    assert_eq!(ended["status"], "Succeeded", "{ended}");
    let misarch = &ended["trial_record"]["misarch"];
    assert_eq!(misarch["chaos"]["ending"], "ran_out", "{misarch}");
    for failure in misarch["failures"].as_array().unwrap() {
        assert_eq!(failure["outcome"], "succeeded", "{failure}");
    }
    let redirect = app.get(&format!("/d/{uuid}-v1")).await.expect_status(StatusCode::SEE_OTHER);
    assert_eq!(redirect.headers["location"], format!("/api/v1/trial/{id}").as_str(), "no Grafana here: the trial");

    // 2. A stop while the chaos plan runs out stops the executor at once: its late action never runs.
    let marker = dir.path().join("never");
    let id = app.run_experiment(experiment("catalog", vec![late_action(30, &marker)], vec![]), json!({})).await;
    wait_until(Duration::from_secs(30), "the chaos phase", || async {
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
    let id = app.run_experiment(experiment("inventory", vec![quick_action()], vec![]), json!({})).await;
    let aborted = app.wait_for_end(&id).await;
    assert_eq!(aborted["status"], "Aborted", "{aborted}");
    assert!(aborted["status_reason"].as_str().unwrap().contains("does not know the service(s) inventory"));

    // 3b. misarch.set and misarch.reset steps against the real configurator: its ajv takes the values, and what
    //     the steps left set is reset after the post steps, as the configurator's own state shows.
    let slow = json!([{"path": "/", "delay": 250, "delayProbability": 1.0, "errorProbability": 0.0}]);
    let definition = json!({"name": "configurator steps", "steps": [
        {"do": "misarch.set", "where": {"service": "catalog", "variable": "serviceInvocationDeterioration", "value": slow}},
        {"do": "misarch.set", "where": {"service": "gateway", "variable": "artificialMemoryUsage", "value": 1_048_576}},
        {"do": "misarch.reset", "where": {"service": "gateway"}}
    ]});
    let id = app.run_experiment(definition, json!({})).await;
    let ended = app.wait_for_end(&id).await;
    assert_eq!(ended["status"], "Succeeded", "{ended:#}");
    let resets = &ended["trial_record"]["resets"];
    assert_eq!(resets.as_array().unwrap().len(), 1, "{resets}");
    assert_eq!(
        (resets[0]["service"].clone(), resets[0]["variable"].clone()),
        (json!("catalog"), json!("serviceInvocationDeterioration"))
    );
    let client = eris::http_client::build();
    let variables = format!("{}/configuration/catalog/variables", components.printed("MISARCH_CONFIG_URL"));
    let state: Value =
        serde_json::from_str(&client.get(&variables).send().await.unwrap().text().await.unwrap()).unwrap();
    let rule = state.as_array().unwrap().iter().find(|variable| variable["key"] == "serviceInvocationDeterioration");
    assert_eq!(
        rule.map(|variable| variable["value"].clone()),
        Some(Value::Null),
        "reset on the real configurator: {state}"
    );
    let events = std::fs::read_to_string(components.printed("DAPR_EVENTS")).unwrap();
    assert!(events.contains(r#""delay": 250"#), "the set was published: {events}");

    // 3c. A dry run against the real components: the pre-flight asks them, nothing else does. The configurator
    //     publishes every change it makes; it published nothing.
    let published = std::fs::read_to_string(components.printed("DAPR_EVENTS")).unwrap();
    let definition = experiment("catalog", vec![quick_action()], vec![]);
    let experiment_id = app.create_experiment(definition).await["id"].clone();
    let dry = app.post("/api/v1/trial", &json!({"experiment": experiment_id, "dry_run": true})).await.json();
    let ended = app.wait_for_end(dry["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "Succeeded", "{ended:#}");
    assert!(ended["status_reason"].as_str().unwrap().contains("the MiSArch pre-flight passed"), "{ended}");
    assert_eq!(std::fs::read_to_string(components.printed("DAPR_EVENTS")).unwrap(), published, "nothing published");

    // 4. The configurator restarts between two failure sets: the second cannot be applied (the restarted
    //    configurator knows no service), and the trial fails at once, with a short reason, not at its deadline.
    let mut restarting = experiment("catalog", vec![quick_action()], vec![]);
    restarting["misarch"]["misarchFailures"][0]["pauses"]["after"] = json!(6);
    let id = app.run_experiment(restarting, json!({})).await;
    wait_until(Duration::from_secs(30), "the first failure set", || async {
        trial(&app, &id).await["trial_record"]["misarch"]["failures"][0]["outcome"] == "succeeded"
    })
    .await;
    components.restart_configurator().await;
    let failed = app.wait_for_end(&id).await;
    assert_eq!(failed["status"], "Failed", "{failed}");
    let reason = failed["status_reason"].as_str().unwrap();
    // The configurator's 404 as NestJS writes it, a JSON body.
    assert!(reason.starts_with("failure set 2 of 2 at T0+6 s: catalog reset could not be applied: PUT "), "{reason}");
    assert!(reason.contains(r#"answered 404: {"message":"Service configuration with name \"catalog\" not found."#));
    assert!(reason.len() <= 1000, "a short reason: {reason}");
    let failures = &failed["trial_record"]["misarch"]["failures"];
    assert_eq!(failures[1]["outcome"], "failed", "{failures}");
    let failed_at: chrono::DateTime<chrono::Utc> = failures[1]["applied_at"].as_str().unwrap().parse().unwrap();
    let ended_at: chrono::DateTime<chrono::Utc> = failed["completed_at"].as_str().unwrap().parse().unwrap();
    // A figure for the issue's note, not a timed assertion.
    eprintln!("from the failed failure set to the final status: {} ms", (ended_at - failed_at).num_milliseconds());

    shutdown.cancel();
    worker.await.unwrap();
    drop(components);
}
