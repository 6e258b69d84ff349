//! `chaostoolkit.run` against the real `chaos` CLI, on both backends: the verdict comes from the journal (a
//! hypothesis not met before the method aborts the trial although `chaos` exits 0; a deviation fails it), `--var`s
//! reach the experiment, the rollbacks run, a stop interrupts the CLI so that its rollbacks still run, and a
//! missing CLI is a pre-flight error before anything runs.
//!
//! The CLI is `ERIS_TEST_CHAOS_CLI`, as `.ci/run` sets it (the chaostoolkit 1.19 that `real-components setup`
//! installs). A plain `cargo test` without it passes over these tests and says so; under CI (`CI` set) they fail.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::StatusCode;
use common::{TargetServer, TestApp, start_worker_acting, wait_until};
use eris::actions::ActionContext;
use serde_json::{Value, json};

fn chaos_cli() -> Option<PathBuf> {
    common::real_tool("ERIS_TEST_CHAOS_CLI", "the real chaos CLI (the venv-ctk/bin/chaos of real-components setup)")
}

fn acting(cli: &Path) -> ActionContext {
    ActionContext { chaos_cli: cli.to_path_buf(), ..ActionContext::new(Duration::from_secs(5)) }
}

/// A Chaos Toolkit `process` activity running `sh -c script`.
fn shell(kind: &str, name: &str, script: &str) -> Value {
    json!({"type": kind, "name": name, "provider": {"type": "process", "path": "sh", "arguments": ["-c", script]}})
}

/// A probe whose exit code must be 0.
fn holds(name: &str, script: &str) -> Value {
    let mut probe = shell("probe", name, script);
    probe["tolerance"] = json!(0);
    probe
}

/// A Chaos Toolkit experiment: the hypothesis `probe`, the `method`, and a rollback that appends to `${marker}`.
fn chaos_experiment(probe: Value, method: Vec<Value>) -> Value {
    json!({
        "title": "the shop survives",
        "description": "an eris test",
        "configuration": {"marker": "unset"},
        "steady-state-hypothesis": {"title": "the shop is fine", "probes": [probe]},
        "method": method,
        "rollbacks": [shell("action", "heal", "echo healed >> ${marker}")]
    })
}

fn chaos_step(experiment: Value, marker: &Path) -> Value {
    json!({"step": "chaos", "do": "chaostoolkit.run",
           "where": {"experiment": experiment, "vars": {"marker": marker.to_str().unwrap()}, "timeout": 120}})
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn the_verdict_comes_from_the_journal() {
    let Some(cli) = chaos_cli() else { return };
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker_acting(&app.db, acting(&cli));
        let files = tempfile::tempdir().unwrap();
        let marker = |name: &str| files.path().join(name);
        let post = json!([{"do": "cm.http_probe", "where": {"url": format!("{}/cleanup", target.url)}}]);
        let inject = shell("action", "inject", "echo injected >> ${marker}");

        // The hypothesis holds before and after: the method and the rollback ran, with the var's value.
        let fine = chaos_experiment(holds("fine", "true"), vec![inject.clone()]);
        let succeeded = app
            .run_experiment(
                json!({"name": "fine", "steps": [chaos_step(fine, &marker("fine"))], "post_steps": post}),
                json!({}),
            )
            .await;
        // Not met before the method: chaos exits 0, the method does not run, the trial is Aborted.
        let unhealthy = chaos_experiment(holds("shop answers", "exit 1"), vec![inject.clone()]);
        let aborted = app
            .run_experiment(json!({"name": "gate", "steps": [chaos_step(unhealthy, &marker("gate"))]}), json!({}))
            .await;
        // Met before, not after: the system deviated, the trial Failed, the rollback still ran.
        let fragile = chaos_experiment(holds("nothing injected", "test ! -e ${marker}"), vec![inject]);
        let deviated = app
            .run_experiment(json!({"name": "deviates", "steps": [chaos_step(fragile, &marker("deviates"))]}), json!({}))
            .await;

        let succeeded = app.wait_for_end(&succeeded).await;
        assert_eq!(succeeded["status"], "Succeeded", "{backend}: {succeeded:#}");
        assert_eq!(
            read(&marker("fine")),
            "injected\nhealed\n",
            "{backend}: the var reached the method and the rollback"
        );
        let result = &succeeded["trial_record"]["steps"][0]["result"];
        assert_eq!(
            (result["status"].clone(), result["deviated"].clone(), result["exit_code"].clone()),
            (json!("completed"), json!(false), json!(0))
        );
        assert_eq!(result["run"][0]["name"], "inject");
        assert_eq!(result["run"][0]["status"], "succeeded");
        assert_eq!(result["rollbacks"][0]["name"], "heal");
        assert_eq!(result["steady_state_before"]["steady_state_met"], true);
        assert_eq!(result["journal"]["experiment"]["title"], "the shop survives", "the journal is kept");

        let aborted = app.wait_for_end(&aborted).await;
        assert_eq!(aborted["status"], "Aborted", "{backend}: {aborted:#}");
        let reason = aborted["status_reason"].as_str().unwrap();
        assert!(
            reason.contains(
                "the steady-state hypothesis 'the shop is fine' was not met before the method (probe 'shop answers')"
            ),
            "{backend}: {reason}"
        );
        let result = &aborted["trial_record"]["steps"][0]["result"];
        assert_eq!(result["exit_code"], 0, "chaos itself called it a success: {result:#}");
        assert_eq!(result["run"], json!([]), "the method did not run");
        assert!(!read(&marker("gate")).contains("injected"));

        let deviated = app.wait_for_end(&deviated).await;
        assert_eq!(deviated["status"], "Failed", "{backend}: {deviated:#}");
        let reason = deviated["status_reason"].as_str().unwrap();
        assert!(reason.contains("the system deviated") && reason.contains("'nothing injected'"), "{backend}: {reason}");
        assert_eq!(read(&marker("deviates")), "injected\nhealed\n", "{backend}: the rollback ran after the deviation");

        shutdown.cancel();
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn a_stop_interrupts_the_run_and_its_rollbacks_still_run() {
    let Some(cli) = chaos_cli() else { return };
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker_acting(&app.db, acting(&cli));
        let files = tempfile::tempdir().unwrap();
        let marker = files.path().join("marker");
        let long = shell("action", "a long fault", "echo injected >> ${marker}; sleep 600");
        let experiment = chaos_experiment(holds("fine", "true"), vec![long]);
        let trial =
            app.run_experiment(json!({"name": "long", "steps": [chaos_step(experiment, &marker)]}), json!({})).await;
        wait_until(Duration::from_secs(60), "the fault to be injected", || async {
            read(&marker).contains("injected")
        })
        .await;
        let stopped_at = std::time::Instant::now();
        app.put(&format!("/api/v1/trial/{trial}/stop"), &json!({})).await.expect_status(StatusCode::OK);
        let ended = app.wait_for_end(&trial).await;
        let took = stopped_at.elapsed();
        assert_eq!(ended["status"], "Stopped", "{backend}: {ended:#}");
        assert!(read(&marker).ends_with("healed\n"), "{backend}: the rollback ran: {:?}", read(&marker));
        let step = &ended["trial_record"]["steps"][0];
        assert_eq!(step["outcome"], "cancelled", "{backend}: {step:#}");
        assert_eq!(step["result"]["status"], "interrupted", "{backend}: {step:#}");
        eprintln!("{backend}: stop to Stopped, rollbacks included: {took:?}");
        shutdown.cancel();
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn a_missing_cli_aborts_the_trial_before_anything_runs() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let missing = acting(Path::new("/nonexistent/bin/chaos"));
        let (shutdown, worker) = start_worker_acting(&app.db, missing);
        let experiment = chaos_experiment(holds("fine", "true"), vec![]);
        let definition = json!({
            "name": "no cli",
            "pre_steps": [{"do": "cm.http_probe", "where": {"url": format!("{}/gate", target.url)}}],
            "steps": [chaos_step(experiment, Path::new("/tmp/unused"))]
        });
        let trial = app.run_experiment(definition, json!({})).await;
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(ended["status"], "Aborted", "{}: {ended:#}", app.backend());
        assert!(
            ended["status_reason"]
                .as_str()
                .unwrap()
                .starts_with("pre-flight: the Chaos Toolkit CLI '/nonexistent/bin/chaos' was not found"),
            "{ended:#}"
        );
    }
    assert!(target.hits().is_empty(), "nothing ran: {:?}", target.hits());
}

#[tokio::test]
async fn chaostoolkit_steps_are_checked_when_the_experiment_is_written() {
    let valid = chaos_experiment(holds("fine", "true"), vec![]);
    let step = |arguments: Value| json!({"name": "c", "steps": [{"do": "chaostoolkit.run", "where": arguments}]});
    let cases = [
        (
            step(json!({"experiment": {"title": "t", "description": "d"}})),
            "invalid_argument",
            "steps[0].where.experiment",
        ),
        (step(json!({"experiment": valid, "vars": {"a": {"b": 1}}})), "invalid_argument", "steps[0].where.vars.a"),
        (
            step(json!({"experiment": valid, "rollback_strategy": "sometimes"})),
            "invalid_argument",
            "steps[0].where.rollback_strategy",
        ),
        (step(json!({"experiment": valid, "timeout": 0})), "invalid_argument", "steps[0].where.timeout"),
        (step(json!({"vars": {}})), "missing_argument", "steps[0].where.experiment"),
        (step(json!({"experiment": valid, "dry": true})), "unknown_argument", "steps[0].where.dry"),
    ];
    for app in TestApp::all() {
        for (body, code, field) in &cases {
            app.post("/api/v1/experiment", body).await.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
        }
        let templated =
            step(json!({"experiment": "{{ ctk }}", "vars": {"users": "{{ users }}"}, "timeout": "{{ t }}"}));
        app.post("/api/v1/experiment", &templated).await.expect_status(StatusCode::CREATED);
    }
}
