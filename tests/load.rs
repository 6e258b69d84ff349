//! `load.http` against the demo target, on both backends: a clean run meets its goals, a run with latency injected
//! through the demo target's own API violates one, and either way the load's figures are the trial's metrics,
//! goals, violations and report. Also its write-time rules, and a stop in the middle of a load.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::components::{FakeGrafana, FakeInflux, export_settings};
use common::{TestApp, demo_target, start_worker, start_worker_full, wait_until};
use eris::misarch::settings::MisarchSettings;
use serde_json::{Value, json};

/// Sets the demo target's latency from the `latency_ms` parameter, loads it for 2 s at 20 requests a second, and
/// resets it afterwards.
fn shop_experiment(shop: &str) -> Value {
    json!({
        "name": "The shop stays fast",
        "parameters": {"shop": shop, "latency_ms": 0},
        "pre_steps": [{"step": "Shop is healthy", "do": "cm.http_probe", "where": {"url": "{{ shop }}/health"}}],
        "steps": [
            {"step": "Inject latency", "do": "cm.http_request",
             "where": {"method": "PUT", "url": "{{ shop }}/faults", "body": {"latency_ms": "{{ latency_ms }}"}},
             "expect": [{"operator": "eq", "status_code": 200}]},
            {"step": "Shoppers arrive", "do": "load.http", "where": {
                "rate": 20, "duration": 2,
                "requests": [
                    {"name": "browse", "url": "{{ shop }}/products", "weight": 3},
                    {"name": "order", "method": "POST", "url": "{{ shop }}/orders", "body": {"product": 1}}
                ],
                "goals": [
                    {"metric": "95th percentile response time", "threshold": 250, "color": "red"},
                    {"metric": "percentage failed requests", "threshold": 1, "color": "red"}
                ]
            }}
        ],
        "post_steps": [{"step": "Heal the shop", "do": "cm.http_request", "where": {"method": "DELETE", "url": "{{ shop }}/faults"}}]
    })
}

#[tokio::test]
async fn a_load_meets_its_goals_and_fails_one_when_latency_is_injected() {
    let shop = demo_target().await;
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let experiment = app.create_experiment(shop_experiment(&shop)).await;
        let queue = |parameters: Value| {
            let body = json!({"experiment": experiment["id"], "parameters": parameters});
            let app = &app;
            async move {
                let trial = app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
                trial["id"].as_str().unwrap().to_owned()
            }
        };
        let clean = queue(json!({})).await;
        let slow = queue(json!({"latency_ms": 300})).await;
        let clean = app.wait_for_end(&clean).await;
        let slow = app.wait_for_end(&slow).await;
        shutdown.cancel();
        worker.await.unwrap();
        let backend = app.backend();

        assert_eq!(clean["status"], "Succeeded", "{backend}: {clean:#}");
        let total = &clean["metrics"]["total"];
        assert_eq!(total["numberOfRequests"], json!({"total": 40, "ok": 40, "ko": 0}), "{backend}");
        let per_request: Vec<(&str, &Value)> = clean["metrics"]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|request| (request["name"].as_str().unwrap(), &request["numberOfRequests"]["total"]))
            .collect();
        assert_eq!(per_request, [("browse", &json!(30)), ("order", &json!(10))], "weights 3 and 1");
        assert!(total["percentiles3"]["total"].as_f64().unwrap() < 250.0, "{backend}: {total}");
        assert_eq!(clean["violations"], json!([]));
        assert_eq!(clean["goals"].as_array().unwrap().len(), 2);
        let sent: f64 =
            clean["metrics"]["series"]["requests"].as_array().unwrap().iter().map(|p| p[1].as_f64().unwrap()).sum();
        assert_eq!(sent, 40.0, "the series counts every request: {}", clean["metrics"]["series"]);
        let step = &clean["trial_record"]["steps"][1];
        assert_eq!(step["result"]["generator"]["sent"], 40, "{step:#}");
        assert_eq!(step["result"]["answers"], json!({"200": 30, "201": 10}));
        let report = app.get(&format!("/api/v1/trial/{}/report", clean["id"].as_str().unwrap())).await;
        let report = report.expect_status(StatusCode::OK).json();
        assert_eq!(report["goalViolations"], json!([]), "{report:#}");

        assert_eq!(slow["status"], "Failed", "{backend}: {slow:#}");
        let reason = slow["status_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("steps[1] failed: 1 goal(s) violated: 95th percentile response time: actual 3"),
            "{backend}: {reason}"
        );
        assert_eq!(slow["violations"].as_array().unwrap().len(), 1, "{backend}: {:#}", slow["violations"]);
        assert_eq!(slow["violations"][0]["metric"], "95th percentile response time");
        assert!(slow["metrics"]["total"]["percentiles1"]["total"].as_f64().unwrap() >= 300.0);
        assert_eq!(slow["trial_record"]["steps"][1]["outcome"], "failed");
        assert_eq!(slow["trial_record"]["post_steps"][0]["outcome"], "succeeded");
    }
    let faults = eris::http_client::build().get(format!("{shop}/faults")).send().await.unwrap().text().await.unwrap();
    let faults: Value = serde_json::from_str(&faults).unwrap();
    assert_eq!(faults["latency_ms"], 0, "the post step healed the shop");
}

#[tokio::test]
async fn load_steps_are_checked_when_the_experiment_is_written() {
    let load = |arguments: Value| json!({"do": "load.http", "where": arguments});
    let valid = json!({"rate": 5, "duration": 1, "requests": [{"name": "a", "url": "http://127.0.0.1:9/"}]});
    let with = |change: Value| {
        let mut arguments = valid.clone();
        for (key, value) in change.as_object().unwrap() {
            if value.is_null() {
                arguments.as_object_mut().unwrap().remove(key);
            } else {
                arguments[key] = value.clone();
            }
        }
        arguments
    };
    let cases = [
        (
            json!({"steps": [load(with(json!({"ramp": {"from": 1, "to": 2}})))]}),
            "invalid_argument",
            "steps[0].where.ramp",
        ),
        (json!({"steps": [load(with(json!({"rate": null})))]}), "missing_argument", "steps[0].where.rate"),
        (json!({"steps": [load(with(json!({"rate": 0})))]}), "invalid_argument", "steps[0].where.rate"),
        (json!({"steps": [load(with(json!({"duration": -1})))]}), "invalid_argument", "steps[0].where.duration"),
        (json!({"steps": [load(with(json!({"requests": []})))]}), "invalid_argument", "steps[0].where.requests"),
        (
            json!({"steps": [load(with(json!({"requests": [{"name": "a", "url": "http://x/"}, {"name": "a", "url": "http://y/"}]})))]}),
            "invalid_argument",
            "steps[0].where.requests[1].name",
        ),
        (
            json!({"steps": [load(with(json!({"requests": [{"name": "a", "url": "http://x/", "weight": 0}]})))]}),
            "invalid_argument",
            "steps[0].where.requests[0].weight",
        ),
        (
            json!({"steps": [load(with(json!({"goals": [{"metric": "p95", "threshold": 1, "color": "red"}]})))]}),
            "invalid_argument",
            "steps[0].where.goals[0].metric",
        ),
        (json!({"steps": [load(with(json!({"users": 5})))]}), "unknown_argument", "steps[0].where.users"),
        (json!({"pre_steps": [load(valid.clone())], "steps": []}), "misplaced_load", "pre_steps[0].do"),
        (json!({"steps": [load(valid.clone()), load(valid.clone())]}), "misplaced_load", "steps[1].do"),
    ];
    for app in TestApp::all() {
        for (definition, code, field) in &cases {
            let mut body = definition.clone();
            body["name"] = json!("load");
            let error =
                app.post("/api/v1/experiment", &body).await.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
            assert!(!error["message"].as_str().unwrap().is_empty(), "{error}");
        }
        let mut beside_misarch = json!({"name": "load", "steps": [load(valid.clone())]});
        beside_misarch["misarch"] = common::misarch_sample();
        app.post("/api/v1/experiment", &beside_misarch).await.expect_error(
            StatusCode::BAD_REQUEST,
            "misplaced_load",
            Some("steps[0].do"),
        );
        let templated = json!({"name": "load", "parameters": {"rate": 5},
            "steps": [load(with(json!({"rate": "{{ rate }}", "duration": "{{ secs }}"})))]});
        app.post("/api/v1/experiment", &templated).await.expect_status(StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_stop_ends_a_load_at_once() {
    let shop = demo_target().await;
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker(&app.db);
        let definition = json!({"name": "long load", "steps": [{"do": "load.http", "where": {
            "rate": 50, "duration": 600, "requests": [{"name": "browse", "url": format!("{shop}/products")}]}}]});
        let trial = app.run_experiment(definition, json!({})).await;
        let path = format!("/api/v1/trial/{trial}");
        wait_until(Duration::from_secs(10), "the load to start", || async {
            app.get(&path).await.json()["status"] == "In Progress"
        })
        .await;
        app.put(&format!("{path}/stop"), &json!({})).await.expect_status(StatusCode::OK);
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(ended["status"], "Stopped", "{}: {ended:#}", app.backend());
        assert_eq!(ended["trial_record"]["steps"][0]["outcome"], "cancelled");
    }
}

#[tokio::test]
async fn a_loads_figures_go_to_influxdb_and_a_grafana_dashboard() {
    let shop = demo_target().await;
    let (grafana, influx) = (FakeGrafana::start(200).await, FakeInflux::start().await);
    for app in TestApp::all() {
        let (grafana_settings, influx_settings) = export_settings(&grafana, &influx);
        let settings = MisarchSettings {
            grafana: Some(grafana_settings),
            influxdb: Some(influx_settings),
            ..MisarchSettings::default()
        };
        let (shutdown, worker) = start_worker_full(&app.db, Default::default(), Default::default(), settings);
        let definition = json!({"name": "exported", "steps": [{"do": "load.http", "where": {
            "rate": 10, "duration": 1, "requests": [{"name": "browse", "url": format!("{shop}/products")}],
            "goals": [{"metric": "max response time", "threshold": 5000, "color": "red"}]}}]});
        let trial = app.run_experiment(definition, json!({})).await;
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        let backend = app.backend();
        assert_eq!(ended["status"], "Succeeded", "{backend}: {ended:#}");
        let dashboard = ended["grafana_url"].as_str().unwrap_or_default();
        assert!(dashboard.starts_with("https://grafana.example.com/d/"), "{backend}: {ended:#}");
        let export = &ended["trial_record"]["steps"][0]["result"]["export"];
        assert_eq!(export["grafana"]["dashboard"], dashboard, "{export}");
        assert!(export["influxdb"]["lines"].as_u64().unwrap() > 10, "{export}");
        let report = app.get(&format!("/api/v1/trial/{trial}/report")).await.expect_status(StatusCode::OK).json();
        assert_eq!(report["grafana_url"], dashboard, "{report:#}");
    }
    let written: Vec<String> = influx.requests().iter().map(|request| request.body.clone()).collect();
    assert!(written.iter().all(|lines| lines.contains("trial=")), "every line is tagged with its trial");
    assert_eq!(grafana.requests().len(), 2, "one dashboard per trial and backend");
}

#[tokio::test]
async fn a_target_that_falls_behind_shows_in_the_latency() {
    // One slot, 100 ms a request, 20 arrivals a second for 2 s: the target serves 10 a second, so arrivals queue
    // for a slot. Measured from their due times, the last ones wait about 2 s; measured from when they were sent
    // (coordinated omission), every request would look like 100 ms.
    let shop = demo_target().await;
    let http = eris::http_client::build();
    let faults =
        http.put(format!("{shop}/faults")).header("content-type", "application/json").body(r#"{"latency_ms": 100}"#);
    assert!(faults.send().await.unwrap().status().is_success());
    let app = TestApp::new(common::TestDatabase::sqlite());
    let (shutdown, worker) = start_worker(&app.db);
    let definition = json!({"name": "behind", "steps": [{"do": "load.http", "where": {
        "rate": 20, "duration": 2, "max_in_flight": 1, "requests": [{"name": "browse", "url": format!("{shop}/products")}]}}]});
    let trial = app.run_experiment(definition, json!({})).await;
    let ended = app.wait_for_end(&trial).await;
    shutdown.cancel();
    worker.await.unwrap();
    assert_eq!(ended["status"], "Succeeded", "{ended:#}");
    let total = &ended["metrics"]["total"];
    assert_eq!(total["numberOfRequests"]["total"], 40, "every arrival was sent: {total}");
    assert!(total["minResponseTime"]["total"].as_f64().unwrap() >= 100.0, "{total}");
    let p99 = total["percentiles4"]["total"].as_f64().unwrap();
    assert!(p99 >= 1500.0, "the queue shows in the latency, p99 {p99} ms: {total}");
    let lag = ended["trial_record"]["steps"][0]["result"]["generator"]["send_lag_max_ms"].as_f64().unwrap();
    assert!(lag >= 1500.0, "the generator says how late it sent: {lag} ms");
}
