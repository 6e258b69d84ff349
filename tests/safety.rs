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

        // Engaged through the replica whose worker runs the trial (one replica).
        let engaged_at = Instant::now();
        second
            .post("/api/v1/emergency-stop/engage", &json!({"reason": "one replica"}))
            .await
            .expect_status(StatusCode::OK);
        wait_until(Duration::from_secs(10), "the trial to stop", || async {
            status(&second, &after).await["status"] == "Stopped"
        })
        .await;
        println!(
            "{backend}: emergency stop engaged on the replica that runs the trial → Stopped: {} ms",
            engaged_at.elapsed().as_millis()
        );
        second.post("/api/v1/emergency-stop/release", &json!({})).await.expect_status(StatusCode::OK);
        let after = first.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let after = after["id"].as_str().unwrap().to_owned();
        wait_until(Duration::from_secs(10), "another trial to run", || async {
            status(&second, &after).await["status"] == "In Progress"
        })
        .await;

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
        let all = first.get("/api/v1/audit?action=emergency-stop.engage").await.json();
        assert_eq!(
            all.as_array().unwrap().len(),
            4,
            "{backend}: two from the first replica, one from each other place"
        );
        first.post("/api/v1/emergency-stop/engage", &json!({"reason": " "})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_reason",
            Some("reason"),
        );
        shutdown.cancel();
        worker.await.unwrap();
    }
}

/// The shop's health guarded every 0.2 s: the steps break it after a while, and the guard trips on its third bad
/// check in a row.
fn guarded_experiment(shop: &str, expect_status: u16) -> Value {
    json!({
        "name": "The shop stays healthy",
        "parameters": {"shop": shop},
        "guards": [{
            "name": "shop-health",
            "check": {"do": "cm.http_probe", "where": {"url": "{{ shop }}/health"},
                      "expect": [{"operator": "eq", "status_code": expect_status}]},
            "interval_secs": 0.2, "trip_after": 3
        }],
        "steps": [
            {"step": "Let the guard see a healthy shop", "do": "cm.wait", "where": {"time_in_seconds": 0.7}},
            {"step": "Break the shop", "do": "cm.http_request",
             "where": {"method": "PUT", "url": "{{ shop }}/faults", "body": {"healthy": false}}},
            {"step": "Soak", "do": "cm.wait", "where": {"time_in_seconds": 60}}
        ],
        "post_steps": [{"step": "Heal the shop", "do": "cm.http_request", "where": {"method": "DELETE", "url": "{{ shop }}/faults"}}]
    })
}

fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value.as_str().unwrap_or_else(|| panic!("not an instant: {value}")).parse().unwrap()
}

#[tokio::test]
async fn a_guard_trips_on_its_third_bad_check_and_stops_the_trial_with_its_clean_up() {
    let shop = common::demo_target().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker(&app.db);
        let id = app.run_experiment(guarded_experiment(&shop, 200), json!({})).await;
        let trial = app.wait_for_end(&id).await;
        assert_eq!(trial["status"], "Stopped", "{backend}: {trial:#}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("stopped by guard `shop-health`: GET ") && reason.contains("503"),
            "{backend}: {reason}"
        );
        assert!(reason.ends_with("(3 failed check(s) in a row)"), "{backend}: {reason}");
        let guard = &trial["trial_record"]["guards"][0];
        assert_eq!(guard["gate"]["passed"], true, "{backend}: checked before anything was injected");
        let samples = guard["samples"].as_array().unwrap();
        let verdicts: Vec<bool> = samples.iter().map(|s| s["passed"].as_bool().unwrap()).collect();
        let first_bad = verdicts.iter().position(|passed| !passed).expect("a bad check");
        assert!(first_bad >= 1, "{backend}: healthy at first: {verdicts:?}");
        assert_eq!(&verdicts[first_bad..], [false, false, false], "{backend}: every sample kept, the third bad trips");
        assert_eq!(guard["checks"], samples.len(), "{backend}");
        let soak = &trial["trial_record"]["steps"][2];
        assert_eq!(soak["outcome"], "cancelled", "{backend}: the running step was cut short: {soak:#}");
        let heal = &trial["trial_record"]["post_steps"][0];
        assert_eq!(heal["outcome"], "succeeded", "{backend}: the clean-up ran");
        let tripped = instant(&guard["tripped_at"]);
        let cleanup = instant(&heal["started_at"]);
        println!(
            "{backend}: from the guard's tripping check to the clean-up's start: {} ms",
            (cleanup - tripped).num_microseconds().unwrap() as f64 / 1000.0
        );
        assert!(cleanup >= tripped, "{backend}");

        // A gate guard that fails before the start aborts the trial: nothing was injected.
        let id = app.run_experiment(guarded_experiment(&shop, 201), json!({})).await;
        let trial = app.wait_for_end(&id).await;
        assert_eq!(trial["status"], "Aborted", "{backend}: {trial:#}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("guard `shop-health` failed before the start: status_code"), "{backend}: {reason}");
        assert!(trial["trial_record"]["steps"].is_null(), "{backend}: no step ran: {:#}", trial["trial_record"]);
        shutdown.cancel();
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn guards_that_could_change_something_or_never_trip_are_refused_naming_the_field() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    let guard = |change: Value| {
        let mut definition = guarded_experiment("http://127.0.0.1:9", 200);
        let guard = definition["guards"][0].as_object_mut().unwrap();
        for (key, value) in change.as_object().unwrap() {
            guard.insert(key.clone(), value.clone());
        }
        definition
    };
    let cases = [
        (json!({"check": {"do": "cm.wait", "where": {"time_in_seconds": 1}}}), "guards[0].check.do"),
        (
            json!({"check": {"do": "cm.http_probe", "where": {"url": "http://x", "method": "POST"}}}),
            "guards[0].check.where.method",
        ),
        (json!({"check": {"do": "cm.http_probe", "where": {}}}), "guards[0].check.where.url"),
        (json!({"interval_secs": 0}), "guards[0].interval_secs"),
        (json!({"trip_after": 0}), "guards[0].trip_after"),
        (json!({"name": "two words"}), "guards[0].name"),
    ];
    for (change, field) in cases {
        let response = app.post("/api/v1/experiment", &guard(change.clone())).await;
        let code = if field.ends_with(".url") { "missing_argument" } else { "invalid_guard" };
        response.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
    }
    let mut twice = guard(json!({}));
    let first = twice["guards"][0].clone();
    twice["guards"].as_array_mut().unwrap().push(first);
    app.post("/api/v1/experiment", &twice).await.expect_error(
        StatusCode::BAD_REQUEST,
        "invalid_guard",
        Some("guards[1].name"),
    );
}

#[tokio::test]
async fn a_blackout_that_begins_during_a_trial_stops_it_and_nothing_starts_until_it_ends() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app.create_experiment(long_experiment(&target.url)).await;
        let body = json!({"experiment": experiment["id"]});
        let running = app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let running = running["id"].as_str().unwrap().to_owned();
        let queued = app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let queued = queued["id"].as_str().unwrap().to_owned();
        let (shutdown, worker) = start_worker(&app.db);
        wait_until(Duration::from_secs(10), "the first trial to run", || async {
            status(&app, &running).await["status"] == "In Progress"
        })
        .await;

        // A freeze from a second from now, for an hour: it begins while the trial runs.
        let from = chrono::Utc::now() + chrono::Duration::seconds(1);
        let freeze = json!({"reason": "release freeze", "from": from, "to": from + chrono::Duration::hours(1)});
        let blackout = app.post("/api/v1/blackout", &freeze).await.expect_status(StatusCode::CREATED).json();
        assert_eq!(blackout["active"], false, "{backend}: not yet: {blackout:#}");
        let id = blackout["id"].as_str().unwrap().to_owned();
        wait_until(Duration::from_secs(10), "the running trial to stop", || async {
            status(&app, &running).await["status"] == "Stopped"
        })
        .await;
        let stopped = status(&app, &running).await;
        let reason = stopped["status_reason"].as_str().unwrap();
        assert!(reason.contains(&format!("blackout {id} (release freeze)")), "{backend}: {reason}");
        assert_eq!(stopped["trial_record"]["post_steps"][0]["outcome"], "succeeded", "{backend}: the clean-up ran");
        // The worker, looking for the next trial, stops the one still queued instead of running it.
        wait_until(Duration::from_secs(10), "the queued trial to stop", || async {
            status(&app, &queued).await["status"] == "Stopped"
        })
        .await;
        let queued_now = status(&app, &queued).await;
        assert!(queued_now["status_reason"].as_str().unwrap().starts_with("stopped before it started: blackout"));
        assert_eq!(app.get(&format!("/api/v1/blackout/{id}")).await.json()["active"], true, "{backend}");
        assert!(app.get("/metrics").await.text().contains("eris_blackout_active 1"), "{backend}");
        let refused =
            app.post("/api/v1/trial", &body).await.expect_error(StatusCode::CONFLICT, "blackout_active", None);
        assert!(refused["message"].as_str().unwrap().contains("release freeze"), "{backend}: {refused}");

        // Ended early: trials start again.
        app.delete(&format!("/api/v1/blackout/{id}")).await.expect_status(StatusCode::NO_CONTENT);
        let after = app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let after = after["id"].as_str().unwrap().to_owned();
        wait_until(Duration::from_secs(10), "a trial after the blackout", || async {
            status(&app, &after).await["status"] == "In Progress"
        })
        .await;
        app.put(&format!("/api/v1/trial/{after}/stop"), &json!({})).await.expect_status(StatusCode::OK);
        app.wait_for_end(&after).await;
        shutdown.cancel();
        worker.await.unwrap();

        // A recurring blackout is in force whenever its windows say; bad ones are refused naming the field.
        let always = json!({"reason": "weekly freeze", "timezone": "Europe/Berlin", "windows": [{"from": "00:00", "to": "00:00"}]});
        let recurring = app.post("/api/v1/blackout", &always).await.expect_status(StatusCode::CREATED).json();
        assert_eq!(recurring["active"], true, "{backend}: {recurring:#}");
        app.post("/api/v1/trial", &body).await.expect_error(StatusCode::CONFLICT, "blackout_active", None);
        let listed = app.get("/api/v1/blackout").await.json();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{backend}: the deleted one is gone");
        app.delete(&format!("/api/v1/blackout/{}", recurring["id"].as_str().unwrap()))
            .await
            .expect_status(StatusCode::NO_CONTENT);
        for (bad, field) in [
            (json!({"reason": "x", "from": from, "to": from}), "to"),
            (json!({"reason": "x"}), "from"),
            (json!({"reason": " ", "windows": [{"from": "00:00", "to": "00:00"}]}), "reason"),
            (
                json!({"reason": "x", "timezone": "Mars/Olympus", "windows": [{"from": "00:00", "to": "00:00"}]}),
                "timezone",
            ),
            (json!({"reason": "x", "windows": []}), "windows"),
        ] {
            app.post("/api/v1/blackout", &bad).await.expect_error(
                StatusCode::BAD_REQUEST,
                "invalid_blackout",
                Some(field),
            );
        }
        let audit = app.get("/api/v1/audit?action=blackout.create").await.json();
        assert_eq!(audit.as_array().unwrap().iter().filter(|e| e["status"] == 201).count(), 2, "{backend}");
    }
}

#[tokio::test]
async fn a_dry_run_checks_the_gates_and_changes_nothing() {
    let target = TargetServer::start().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let definition = json!({
            "name": "Checkout survives a slow inventory",
            "parameters": {"target": target.url},
            "pre_steps": [
                {"step": "Shop is healthy", "do": "cm.http_probe", "where": {"url": "{{ target }}/health"}},
                {"step": "Announce", "do": "cm.http_request", "where": {"method": "POST", "url": "{{ target }}/announce"}}
            ],
            "steps": [{"step": "Slow it down", "do": "cm.http_request", "where": {"method": "PUT", "url": "{{ target }}/faults"}}],
            "post_steps": [{"step": "Heal", "do": "cm.http_request", "where": {"method": "DELETE", "url": "{{ target }}/faults"}}]
        });
        let experiment = app.create_experiment(definition).await;
        let (shutdown, worker) = start_worker(&app.db);
        let dry = json!({"experiment": experiment["id"], "dry_run": true});
        let trial = app.post("/api/v1/trial", &dry).await.expect_status(StatusCode::CREATED).json();
        assert_eq!(trial["dry_run"], true, "{backend}");
        let ended = app.wait_for_end(trial["id"].as_str().unwrap()).await;
        assert_eq!(ended["status"], "Succeeded", "{backend}: {ended:#}");
        let reason = ended["status_reason"].as_str().unwrap();
        assert_eq!(
            reason,
            "dry run: nothing was injected, loaded or changed; 1 read-only check(s) passed, 3 step(s) would run",
            "{backend}"
        );
        // Only the read-only gate reached the target; the rest is recorded as what would have run, rendered.
        let hits: Vec<String> = target.hits().into_iter().filter(|hit| !hit.ends_with("/fail")).collect();
        assert_eq!(hits.iter().filter(|hit| hit.as_str() == "GET /health").count(), hits.len(), "{backend}: {hits:?}");
        let record = &ended["trial_record"];
        assert_eq!(record["pre_steps"][0]["outcome"], "succeeded", "{backend}");
        for (phase, index) in [("pre_steps", 1), ("steps", 0), ("post_steps", 0)] {
            let step = &record[phase][index];
            assert_eq!(step["outcome"], "skipped", "{backend}: {phase}[{index}]: {step:#}");
            assert!(step["step_parameters"]["url"].as_str().unwrap().starts_with(&target.url), "{backend}: rendered");
        }
        assert!(ended["score"].is_null() && ended["regressions"].is_null(), "{backend}: a dry run is not judged");
        let trend = app.get(&format!("/api/v1/experiment/{}/trend", experiment["id"].as_str().unwrap())).await.json();
        assert_eq!(trend["points"], json!([]), "{backend}: nor in trends");

        // A gate that fails makes the dry run say the trial would abort, still changing nothing.
        let mut failing = experiment.clone();
        failing["pre_steps"][0]["where"]["url"] = json!(format!("{}/fail", target.url));
        let id = experiment["id"].as_str().unwrap();
        let replace = json!({"name": failing["name"], "parameters": failing["parameters"], "pre_steps": failing["pre_steps"],
            "steps": failing["steps"], "post_steps": failing["post_steps"]});
        app.put(&format!("/api/v1/experiment/{id}"), &replace).await.expect_status(StatusCode::OK);
        let trial = app.post("/api/v1/trial", &dry).await.json();
        let ended = app.wait_for_end(trial["id"].as_str().unwrap()).await;
        assert_eq!(ended["status"], "Aborted", "{backend}: {ended:#}");
        assert!(ended["status_reason"].as_str().unwrap().starts_with("dry run: pre_steps[0] failed: "), "{backend}");
        assert!(
            !target
                .hits()
                .iter()
                .any(|hit| hit.starts_with("PUT") || hit.starts_with("DELETE") || hit.starts_with("POST")),
            "{backend}"
        );
        shutdown.cancel();
        worker.await.unwrap();
    }
}
