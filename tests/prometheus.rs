//! `prometheus.query` against a real Prometheus server, on both backends: it scrapes a small exporter on loopback,
//! and trials query it, instant and range, with expectations on the values, through `ERIS_PROMETHEUS_URL` or a
//! step's own URL; a query Prometheus refuses fails with its own words.
//!
//! The server is `ERIS_TEST_PROMETHEUS` (the binary `.ci/prometheus` prints, from Debian's package). A plain
//! `cargo test` without it passes over these tests and says so; under CI (`CI` set) they fail.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{TestApp, start_worker_acting, wait_until};
use eris::actions::ActionContext;
use serde_json::{Value, json};

struct Prometheus {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real Prometheus scraping an exporter of `shop_error_ratio 0.25` every second, once it has a sample; or None.
async fn prometheus() -> Option<Prometheus> {
    let binary = common::real_tool("ERIS_TEST_PROMETHEUS", "a real Prometheus (the binary .ci/prometheus prints)")?;
    let exporter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = exporter.local_addr().unwrap();
    let metrics = "# TYPE shop_error_ratio gauge\nshop_error_ratio{service=\"checkout\"} 0.25\nshop_error_ratio{service=\"catalog\"} 0.01\n";
    tokio::spawn(async move {
        axum::serve(exporter, Router::new().route("/metrics", get(move || async move { metrics }))).await
    });
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.path().join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus starts");
    let prometheus = Prometheus { child, url: format!("http://127.0.0.1:{port}"), _data: data };
    let http = eris::http_client::build();
    let probe = format!("{}/api/v1/query?query=shop_error_ratio", prometheus.url);
    wait_until(Duration::from_secs(60), "Prometheus to have scraped the exporter", || async {
        let Ok(response) = http.get(&probe).send().await else { return false };
        let answer: Value = serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or_default();
        answer["data"]["result"].as_array().is_some_and(|series| series.len() == 2)
    })
    .await;
    Some(prometheus)
}

/// Steps that ask `prometheus` when they name no URL, as `ERIS_PROMETHEUS_URL` makes them.
fn asking(prometheus: &Prometheus) -> ActionContext {
    ActionContext { prometheus: Some(prometheus.url.parse().unwrap()), ..ActionContext::new(Duration::from_secs(5)) }
}

fn query(arguments: Value, expect: Value) -> Value {
    json!({"do": "prometheus.query", "where": arguments, "expect": expect})
}

#[tokio::test]
async fn queries_answer_with_numbers_that_expectations_check() {
    let Some(prometheus) = prometheus().await else { return };
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker_acting(&app.db, asking(&prometheus));
        let checkout = "shop_error_ratio{service=\"checkout\"}";
        let held = app
            .run_experiment(
                json!({"name": "held", "steps": [
                    query(json!({"query": checkout}), json!([{"operator": "lt", "sample": 0.5}, {"operator": "eq", "count": 1}])),
                    query(json!({"query": "shop_error_ratio", "range": 30, "step": 1, "url": prometheus.url}),
                          json!([{"operator": "eq", "max": 0.25}, {"operator": "eq", "min": 0.01}]))
                ]}),
                json!({}),
            )
            .await;
        let breached =
            app.run_experiment(json!({"name": "breached", "steps": [query(json!({"query": checkout}), json!([{"operator": "lt", "sample": 0.02}]))]}), json!({})).await;
        let refused = app
            .run_experiment(
                json!({"name": "refused", "steps": [query(json!({"query": "sum("}), json!([]))]}),
                json!({}),
            )
            .await;

        let held = app.wait_for_end(&held).await;
        assert_eq!(held["status"], "Succeeded", "{backend}: {held:#}");
        let instant = &held["trial_record"]["steps"][0]["result"];
        assert_eq!(
            (instant["result_type"].clone(), instant["sample"].clone()),
            (json!("vector"), json!(0.25)),
            "{instant:#}"
        );
        assert_eq!(instant["series"][0]["metric"]["service"], "checkout");
        let range = &held["trial_record"]["steps"][1]["result"];
        assert_eq!(range["result_type"], "matrix", "{range:#}");
        assert_eq!(range["count"], 2);
        assert!(!range["series"][0]["values"].as_array().unwrap().is_empty());

        let breached = app.wait_for_end(&breached).await;
        assert_eq!(breached["status"], "Failed", "{backend}: {breached:#}");
        assert!(breached["status_reason"].as_str().unwrap().contains("expectation failed"), "{breached:#}");

        let refused = app.wait_for_end(&refused).await;
        assert_eq!(refused["status"], "Failed");
        let reason = refused["status_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("steps[0] failed: Prometheus refused the query (bad_data): "),
            "{backend}: {reason}"
        );
        shutdown.cancel();
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn a_trial_keeps_the_series_it_collects() {
    let Some(prometheus) = prometheus().await else { return };
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker_acting(&app.db, asking(&prometheus));
        let definition = json!({
            "name": "collects",
            "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 2}}],
            "collect": [
                {"name": "errors", "query": "shop_error_ratio", "interval": 1},
                {"name": "elsewhere", "query": "up", "url": "http://127.0.0.1:9"}
            ]
        });
        let trial = app.run_experiment(definition, json!({})).await;
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(
            ended["status"], "Succeeded",
            "{backend}: a series that cannot be read changes no verdict: {ended:#}"
        );
        let collected = &ended["trial_record"]["collected"];
        assert_eq!(collected[0]["name"], "errors", "{backend}: {collected:#}");
        let series = &collected[0]["series"];
        assert_eq!(
            (series["result_type"].clone(), series["max"].clone(), series["count"].clone()),
            (json!("matrix"), json!(0.25), json!(2))
        );
        assert!(series["series"][0]["values"].as_array().unwrap().len() >= 2, "a point a second: {series:#}");
        assert!(
            collected[1]["error"].as_str().unwrap().starts_with("Prometheus at http://127.0.0.1:9/ did not answer"),
            "{collected:#}"
        );
    }
}

#[tokio::test]
async fn without_a_prometheus_the_step_says_what_to_set() {
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker_acting(&app.db, ActionContext::new(Duration::from_secs(5)));
        let trial = app
            .run_experiment(json!({"name": "nowhere", "steps": [query(json!({"query": "up"}), json!([]))]}), json!({}))
            .await;
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(
            ended["status_reason"],
            "steps[0] failed: no Prometheus to ask: set ERIS_PROMETHEUS_URL, or give the step a url",
            "{}",
            app.backend()
        );
    }
}

#[tokio::test]
async fn prometheus_steps_are_checked_when_the_experiment_is_written() {
    let step = |arguments: Value| json!({"name": "p", "steps": [{"do": "prometheus.query", "where": arguments}]});
    let cases = [
        (step(json!({"query": " "})), "invalid_argument", "steps[0].where.query"),
        (step(json!({"query": "up", "step": 5})), "invalid_argument", "steps[0].where.step"),
        (step(json!({"query": "up", "range": -1})), "invalid_argument", "steps[0].where.range"),
        (step(json!({"query": "up", "url": "ftp://x"})), "invalid_argument", "steps[0].where.url"),
        (step(json!({"range": 5})), "missing_argument", "steps[0].where.query"),
        (step(json!({"query": "up", "at": 5})), "unknown_argument", "steps[0].where.at"),
        (
            json!({"name": "c", "steps": [], "collect": [{"name": "a", "query": "up", "interval": 0}]}),
            "invalid_collect",
            "collect[0].interval",
        ),
        (
            json!({"name": "c", "steps": [], "collect": [{"name": "a", "query": "up"}, {"name": "a", "query": "up"}]}),
            "invalid_collect",
            "collect[1].name",
        ),
        (
            json!({"name": "c", "steps": [], "collect": [{"name": "a", "query": " "}]}),
            "invalid_collect",
            "collect[0].query",
        ),
    ];
    for app in TestApp::all() {
        for (body, code, field) in &cases {
            app.post("/api/v1/experiment", body).await.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
        }
    }
}

/// A guard on the checkout's error ratio (0.25, above its 0.2 threshold) against the configured Prometheus, without
/// a gate: it trips on its third check and stops the trial, naming the value it read.
#[tokio::test]
async fn a_prometheus_guard_trips_on_a_threshold_and_stops_the_trial() {
    let Some(prometheus) = prometheus().await else { return };
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker_acting(&app.db, asking(&prometheus));
        let definition = json!({
            "name": "checkout errors stay low",
            "guards": [{"name": "checkout-error-ratio", "gate": false, "interval_secs": 0.2, "trip_after": 3,
                "check": {"do": "prometheus.query", "where": {"query": "shop_error_ratio{service=\"checkout\"}"},
                          "expect": [{"operator": "lt", "sample": 0.2}]}}],
            "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 60}}]
        });
        let trial = app.run_experiment(definition, json!({})).await;
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(ended["status"], "Stopped", "{backend}: {ended:#}");
        let reason = ended["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("stopped by guard `checkout-error-ratio`: sample"), "{backend}: {reason}");
        assert!(reason.contains("0.25") && reason.ends_with("(3 failed check(s) in a row)"), "{backend}: {reason}");
        let samples = ended["trial_record"]["guards"][0]["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 3, "{backend}: every check kept: {samples:#?}");
        assert!(ended["trial_record"]["guards"][0]["gate"].is_null(), "{backend}: no gate asked for");
    }
}

/// A dry run asks every Prometheus the trial would ask (its steps' and its `collect` series'): it passes when they
/// answer, and aborts naming the one that does not.
#[tokio::test]
async fn a_dry_run_checks_that_every_prometheus_it_would_ask_answers() {
    let Some(prometheus) = prometheus().await else { return };
    for app in TestApp::all() {
        let backend = app.backend();
        let (shutdown, worker) = start_worker_acting(&app.db, asking(&prometheus));
        let answers = json!({"name": "asks the configured Prometheus", "steps": [
            query(json!({"query": "shop_error_ratio"}), json!([{"operator": "lt", "max": 0.5}]))
        ]});
        let experiment = app.create_experiment(answers).await;
        let trial = app.post("/api/v1/trial", &json!({"experiment": experiment["id"], "dry_run": true})).await.json();
        let ended = app.wait_for_end(trial["id"].as_str().unwrap()).await;
        assert_eq!(ended["status"], "Succeeded", "{backend}: {ended:#}");
        assert!(ended["status_reason"].as_str().unwrap().contains("1 read-only check(s) passed"), "{backend}");
        assert_eq!(ended["trial_record"]["steps"][0]["outcome"], "skipped", "{backend}: the query itself is a step");

        let silent = json!({"name": "keeps a series from nowhere", "steps": [],
            "collect": [{"name": "errors", "query": "up", "url": "http://127.0.0.1:9"}]});
        let experiment = app.create_experiment(silent).await;
        let trial = app.post("/api/v1/trial", &json!({"experiment": experiment["id"], "dry_run": true})).await.json();
        let ended = app.wait_for_end(trial["id"].as_str().unwrap()).await;
        assert_eq!(ended["status"], "Aborted", "{backend}: {ended:#}");
        let reason = ended["status_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("dry run: Prometheus at http://127.0.0.1:9/ does not answer"),
            "{backend}: {reason}"
        );
        shutdown.cancel();
        worker.await.unwrap();
    }
}
