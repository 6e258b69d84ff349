//! The MiSArch run end to end: eris served over real HTTP, the worker driving small servers that speak the real
//! protocol of the Gatling executor, the Chaos Toolkit executor, the configurator, Grafana and InfluxDB
//! (`common::components`), fed with the real Gatling report of `tests/fixtures/gatling-realistic-30min/`.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use url::Url;

use common::components::{
    FakeChaosToolkit, FakeConfigurator, FakeGatling, FakeGrafana, FakeInflux, GatlingBehaviour, export_settings,
    real_report_body, unreachable_url,
};
use common::{TestApp, start_worker_full, wait_until};
use eris::misarch::settings::MisarchSettings;

const FAILURE_VARIABLES: [&str; 4] =
    ["pubsubDeterioration", "serviceInvocationDeterioration", "artificialMemoryUsage", "artificialCPUUsage"];

/// eris over real HTTP, the fake components pointed at it, and a worker that drives them.
struct Rig {
    app: TestApp,
    /// Where eris is served.
    url: String,
    gatling: FakeGatling,
    chaos: FakeChaosToolkit,
    configurator: FakeConfigurator,
    grafana: FakeGrafana,
    influx: FakeInflux,
    worker: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
    settings: MisarchSettings,
}

struct Options {
    gatling: GatlingBehaviour,
    grafana_status: u16,
    services: Vec<&'static str>,
    barrier_timeout: Duration,
    metrics_timeout: Duration,
    gatling_down: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            gatling: GatlingBehaviour::default(),
            grafana_status: 200,
            services: vec!["catalog", "gateway"],
            barrier_timeout: Duration::from_secs(5),
            metrics_timeout: Duration::from_secs(5),
            gatling_down: false,
        }
    }
}

impl Rig {
    async fn start(app: TestApp, options: Options) -> Self {
        let executor_url = common::serve(&app).await;
        let gatling = FakeGatling::start(&executor_url, options.gatling).await;
        let chaos = FakeChaosToolkit::start(&executor_url).await;
        let configurator = FakeConfigurator::start(&options.services).await;
        let grafana = FakeGrafana::start(options.grafana_status).await;
        let influx = FakeInflux::start().await;
        let gatling_url = if options.gatling_down { unreachable_url().await } else { gatling.url.clone() };
        let url = |text: &str| Some(Url::parse(text).unwrap());
        let (grafana_settings, influx_settings) = export_settings(&grafana, &influx);
        let settings = MisarchSettings {
            gatling: url(&gatling_url),
            chaos_toolkit: url(&chaos.url),
            configurator: url(&configurator.url),
            grafana: Some(grafana_settings),
            influxdb: Some(influx_settings),
            barrier_timeout: options.barrier_timeout,
            metrics_timeout: options.metrics_timeout,
            request_timeout: Duration::from_secs(5),
            callback_max_body_bytes: 64 * 1024 * 1024,
        };
        let mut rig =
            Rig { app, url: executor_url, gatling, chaos, configurator, grafana, influx, worker: None, settings };
        rig.start_worker();
        rig
    }

    /// Starts a rig, runs one trial of `misarch` to its end and stops the worker.
    async fn run_to_end(app: TestApp, options: Options, misarch: Value) -> (Self, String, Value) {
        let mut rig = Self::start(app, options).await;
        let id = rig.run(misarch).await;
        let trial = rig.app.wait_for_end(&id).await;
        rig.stop_worker().await;
        (rig, id, trial)
    }

    /// Starts a rig whose workload lasts a minute, and waits until its trial is past T0 with failure set 1 applied.
    async fn start_long_run(app: TestApp) -> (Self, String) {
        let gatling = GatlingBehaviour { main_run: Duration::from_secs(60), ..Default::default() };
        let rig = Self::start(app, Options { gatling, ..Options::default() }).await;
        let id = rig.run(experiment()).await;
        rig.wait_for_t0(&id).await;
        wait_until(Duration::from_secs(10), "failure set 1", || async { !rig.puts_with_values().is_empty() }).await;
        (rig, id)
    }

    fn start_worker(&mut self) {
        let settings = self.settings.clone();
        self.worker = Some(start_worker_full(&self.app.db, Default::default(), Default::default(), settings));
    }

    /// Ends the worker as a crash would: no clean-up, no last words.
    fn kill_worker(&mut self) {
        if let Some((_, handle)) = self.worker.take() {
            handle.abort();
        }
    }

    async fn stop_worker(&mut self) {
        if let Some((shutdown, handle)) = self.worker.take() {
            shutdown.cancel();
            handle.await.unwrap();
        }
    }

    async fn run(&self, misarch: Value) -> String {
        let definition = json!({
            "name": "nightly buy process",
            "steps": [{"step": "alongside the load", "do": "cm.wait", "where": {"time_in_seconds": 0.2}}],
            "misarch": misarch,
        });
        self.app.run_experiment(definition, json!({})).await
    }

    async fn trial(&self, id: &str) -> Value {
        self.app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK).json()
    }

    /// Waits until the barrier released (T0 is in the record).
    async fn wait_for_t0(&self, id: &str) {
        wait_until(Duration::from_secs(20), "T0", || async {
            !self.trial(id).await["trial_record"]["misarch"]["started_at"].is_null()
        })
        .await;
    }

    /// Every configurator variable of `service` that eris ever set ends null.
    fn assert_reset(&self, service: &str) {
        for variable in FAILURE_VARIABLES {
            assert_eq!(self.configurator.variable(service, variable), Some(Value::Null), "{service}.{variable}");
        }
    }

    fn puts_with_values(&self) -> Vec<String> {
        self.configurator
            .requests()
            .into_iter()
            .filter(|request| request.method == "PUT" && request.body != r#"{"value":null}"#)
            .map(|request| request.path_and_query)
            .collect()
    }
}

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// MiSArch's generated NormalLoadTest (the fixture), shortened to seconds: a 2-second workload, the catalog
/// failing from T0 and reset at T0 + 1 s, Chaos Toolkit without pauses, a steady state, and four goals.
fn experiment() -> Value {
    let mut misarch = common::misarch_sample();
    for file in misarch["gatling"].as_array_mut().unwrap() {
        file["encodedUserStepsFileContent"] = json!(encode("usersteps\n1\n1\n"));
    }
    for action in misarch["chaosToolkit"]["method"].as_array_mut().unwrap() {
        if action.get("pauses").is_some() {
            action["pauses"] = json!({"before": 0, "after": 0});
        }
    }
    misarch["misarchFailures"][0]["pauses"] = json!({"before": 0, "after": 1});
    misarch["steadyState"] = json!({"duration": 1, "rate": 1, "factor": 1.2});
    misarch["goals"] = json!([
        {"metric": "max response time", "threshold": 2000, "color": "red"},
        {"metric": "mean response time", "threshold": 1000, "color": "yellow"},
        {"metric": "percentage reqs with resp. time t < 800 ms", "threshold": 99, "color": "orange"},
        {"metric": "percentage failed requests", "threshold": 1, "color": "red"},
    ]);
    misarch
}

fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Goals the real report meets.
fn met_goals(mut misarch: Value) -> Value {
    misarch["goals"] = json!([{"metric": "mean response time", "threshold": 1000, "color": "yellow"}]);
    misarch
}

/// The all-requests `stats` object of the fixture's stats.js, read independently of eris's parser.
fn fixture_stats() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gatling-realistic-30min/stats.js"
    ))
    .unwrap();
    let start = text.find("stats: {").unwrap() + "stats: ".len();
    let mut depth = 0;
    let end = text[start..]
        .char_indices()
        .find_map(|(i, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => return None,
            }
            (depth == 0).then_some(start + i + 1)
        })
        .unwrap();
    serde_json::from_str(&text[start..end]).unwrap()
}

/// Gatling's string figure as a number; `-` is none.
fn number(text: &Value) -> Option<f64> {
    match text.as_str() {
        Some("-") => None,
        Some(text) => Some(text.parse().unwrap()),
        None => text.as_f64(),
    }
}

#[tokio::test]
async fn a_full_run_drives_every_component_and_keeps_metrics_violations_link_and_report() {
    for app in TestApp::all() {
        // The main simulation outlasts the failure timeline (T0 … T0 + 1 s).
        let gatling = GatlingBehaviour { main_run: Duration::from_millis(1500), ..Default::default() };
        let (rig, id, trial) = Rig::run_to_end(app, Options { gatling, ..Options::default() }, experiment()).await;
        let (backend, record) = (rig.app.backend(), &trial["trial_record"]);

        // Verdict: two goals violated.
        assert_eq!(trial["status"], "Failed", "{backend}: {trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("goal(s) violated: max response time = 3646 (threshold 2000)"), "{reason}");
        assert_eq!(
            trial["violations"],
            json!([
                {"metric": "max response time", "threshold": 2000, "actual": 3646},
                {"metric": "percentage reqs with resp. time t < 800 ms", "threshold": 99, "actual": 97.26176734641528},
            ])
        );

        // Metrics: the numbers of the real stats.js, with Gatling's names.
        let stats = fixture_stats();
        let total = &trial["metrics"]["total"];
        for name in ["numberOfRequests", "minResponseTime", "maxResponseTime", "meanResponseTime", "standardDeviation"]
        {
            for flavor in ["total", "ok", "ko"] {
                assert_eq!(total[name][flavor].as_f64(), number(&stats[name][flavor]), "{name}.{flavor}");
            }
        }
        for name in ["percentiles1", "percentiles2", "percentiles3", "percentiles4"] {
            assert_eq!(total[name]["total"].as_f64(), number(&stats[name]["total"]), "{name}");
        }
        for group in ["group1", "group2", "group3", "group4"] {
            assert_eq!(total[group]["count"], stats[group]["count"], "{group}");
            assert_eq!(total[group]["percentage"], stats[group]["percentage"], "{group}");
        }
        assert!(trial["metrics"]["requests"].as_array().unwrap().len() > 5);
        assert!(trial["metrics"]["series"]["requests"].as_array().unwrap().len() > 100);

        // Goals: the user's four, and the steady state's (the same report × 1.2, none violated).
        let goals = trial["goals"].as_array().unwrap();
        assert_eq!(goals.iter().filter(|goal| goal["source"] == "user").count(), 4);
        let derived: Vec<&Value> = goals.iter().filter(|goal| goal["source"] == "steady_state").collect();
        assert_eq!(derived.len(), 27, "{goals:?}");
        assert!(derived.iter().all(|goal| goal["violated"] == false));
        let lower = goals.iter().find(|goal| goal["metric"] == "percentage reqs with resp. time t < 800 ms").unwrap();
        assert_eq!(lower["bound"], "lower");

        // The Gatling executor: health, then one start exactly as the original sends it, then the stop of the clean-up.
        let requests: Vec<String> =
            rig.gatling.requests().iter().map(|r| format!("{} {}", r.method, r.path_and_query)).collect();
        assert_eq!(
            requests,
            [
                "GET /actuator/health".to_owned(),
                format!(
                    "POST /start-experiment?testUUID={id}&testVersion=v1&warmUp=false&warmUpRate=0&warmUpDuration=0\
                     &steadyState=true&steadyStateRate=1&steadyStateDuration=1"
                ),
                format!("POST /stop-experiment?testUUID={id}&testVersion=v1"),
            ]
        );
        let start = &rig.gatling.requests()[1];
        assert_eq!(start.content_type.as_deref(), Some("application/json"));
        let sent: Value = serde_json::from_str(&start.body).unwrap();
        assert_eq!(sent, experiment()["gatling"]);
        // Its callbacks: the steady-state upload, the registration, polls until `true`, the upload.
        let callbacks = rig.gatling.callbacks();
        assert_eq!(callbacks[0].path_and_query, format!("/experiment/{id}/v1/gatling/metrics/steadyState"));
        assert_eq!(callbacks[1].path_and_query, format!("/trigger/{id}/v1?client=gatling"));
        assert_eq!((callbacks[1].status, callbacks[1].body.as_str()), (200, "kotlin.Unit"));
        let last = callbacks.last().unwrap();
        assert_eq!(
            (last.path_and_query.as_str(), last.status),
            (format!("/experiment/{id}/v1/gatling/metrics").as_str(), 200)
        );
        assert!(callbacks.iter().any(|c| c.method == "GET" && c.body == "true"));
        assert!(callbacks.iter().filter(|c| c.method == "GET").all(|c| c.body == "true" || c.body == "false"));

        // The Chaos Toolkit executor: probed, started with the experiment as raw text, ran at T0, and left to finish
        // at the normal end (a stop would kill `chaos run` before its rollbacks).
        let chaos = rig.chaos.requests();
        assert_eq!((chaos[0].method.as_str(), chaos[0].path_and_query.as_str()), ("GET", "/start-experiment"));
        assert!(
            chaos[1].path_and_query.starts_with(&format!("/start-experiment?testUUID={id}&testVersion=v1&testDelay="))
        );
        assert_eq!(serde_json::from_str::<Value>(&chaos[1].body).unwrap(), experiment()["chaosToolkit"]);
        assert_eq!(rig.chaos.ran(), [id.as_str()]);
        assert!(rig.chaos.stopped().is_empty(), "{chaos:?}");
        assert_eq!(record["misarch"]["chaos"], json!({"planned_secs": 0, "ending": "ran_out", "reason": null}));

        // The configurator: checked, reset, failure set 1 at T0, set 2 at T0 + 1 s, reset at the end.
        let puts: Vec<_> = rig.configurator.requests().into_iter().filter(|r| r.method == "PUT").collect();
        assert_eq!(puts.len(), 16, "4 resets, 2 sets of 4, 4 resets");
        assert!(puts.iter().all(|put| put.path_and_query.starts_with("/configuration/catalog/variables/")));
        // One after another, each awaited: a change in flight with another of the same service could be published
        // after it and undo it.
        for (index, put) in puts.iter().enumerate() {
            assert!(!puts[index + 1..].iter().any(|later| put.overlaps(later)), "PUT {index} overlaps a later one");
        }
        let set = puts.iter().find(|put| put.body != r#"{"value":null}"#).unwrap();
        assert_eq!(set.path_and_query, "/configuration/catalog/variables/serviceInvocationDeterioration");
        assert_eq!(
            serde_json::from_str::<Value>(&set.body).unwrap(),
            json!({"value": [{"path": "/", "delay": 1000, "delayProbability": 1.0, "errorProbability": 1.0, "errorCode": 404}]})
        );
        // The timeline runs from T0 (never early): set 1 at T0, set 2 after set 1's 1-second pause.
        let t0 = instant(&record["misarch"]["started_at"]);
        let failures = record["misarch"]["failures"].as_array().unwrap();
        assert!(instant(&failures[0]["applied_at"]) >= t0);
        assert!(instant(&failures[1]["applied_at"]) >= t0 + chrono::Duration::seconds(1));
        assert_eq!(failures[1]["at_secs"], 1);
        rig.assert_reset("catalog");
        assert_eq!(failures.len(), 2);
        assert!(failures.iter().all(|failure| failure["outcome"] == "succeeded"), "{failures:?}");
        // Each change the configurator acknowledged is in the record, in order.
        for failure in failures {
            let acknowledged = failure["acknowledged"].as_array().unwrap();
            let variables: Vec<&str> = acknowledged.iter().map(|change| change["variable"].as_str().unwrap()).collect();
            assert_eq!(variables, eris::misarch::components::FAILURE_VARIABLES, "{failure}");
            assert!(acknowledged.iter().all(|change| change["service"] == "catalog"));
            assert!(instant(&acknowledged[0]["at"]) >= instant(&failure["applied_at"]));
        }

        // Grafana: one dashboard, uid per trial, with the token; the link carries the run's range.
        let dashboards = rig.grafana.requests();
        assert_eq!(dashboards.len(), 1);
        assert_eq!(dashboards[0].path_and_query, "/api/dashboards/db");
        assert_eq!(dashboards[0].authorization.as_deref(), Some("Bearer grafana-token"));
        let uid = format!("eris-{}", id.replace('-', ""));
        let body: Value = serde_json::from_str(&dashboards[0].body).unwrap();
        assert_eq!(body["dashboard"]["uid"], uid.as_str());
        let link = trial["grafana_url"].as_str().unwrap();
        assert!(link.starts_with(&format!("https://grafana.example.com/d/{uid}?from=")), "{link}");
        // InfluxDB: one write, tagged with the trial.
        let writes = rig.influx.requests();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes[0].path_and_query, "/api/v2/write?org=misarch&bucket=gatling&precision=ms");
        assert_eq!(writes[0].authorization.as_deref(), Some("Token influx-token"));
        assert!(writes[0].body.lines().count() > 1000);
        assert!(writes[0].body.lines().all(|line| line.contains(&format!("trial={id}"))));

        // The record: every phase, in order, with timestamps; the steps ran alongside.
        let phases: Vec<(&str, &str)> = record["misarch"]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|phase| (phase["phase"].as_str().unwrap(), phase["outcome"].as_str().unwrap()))
            .collect();
        assert_eq!(
            phases,
            [
                ("pre-flight", "succeeded"),
                ("reset", "succeeded"),
                ("start", "succeeded"),
                ("barrier", "succeeded"),
                ("run", "succeeded"),
                ("chaos", "succeeded"),
                ("goals", "failed"),
                ("export: Grafana", "succeeded"),
                ("export: InfluxDB", "succeeded"),
                ("cleanup", "succeeded"),
            ]
        );
        assert_eq!(record["steps"][0]["outcome"], "succeeded");

        // The report, as JSON with the original's fields, and as JUnit.
        let report = rig.app.get(&format!("/api/v1/trial/{id}/report")).await.expect_status(StatusCode::OK).json();
        assert_eq!(report["testUUID"], id.as_str());
        assert_eq!(
            report["goalViolations"][0],
            json!({"metricName": "max response time", "threshold": "2000", "actualValue": "3646.0"})
        );
        assert_eq!(report["status"], "Failed");
        assert_eq!(report["grafana_url"], trial["grafana_url"]);
        let junit = rig.app.get(&format!("/api/v1/trial/{id}/report?format=junit")).await.expect_status(StatusCode::OK);
        let xml = junit.text();
        assert_eq!(xml.matches("<testcase ").count(), 31, "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
        // Gatling's own report is kept, exactly as uploaded, and served with its content types.
        let fixture = |name: &str| {
            std::fs::read_to_string(format!(
                "{}/tests/fixtures/gatling-realistic-30min/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        };
        let html = rig.app.get(&format!("/api/v1/trial/{id}/gatling/index.html")).await.expect_status(StatusCode::OK);
        assert_eq!(html.headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(html.headers["content-security-policy"], "sandbox allow-scripts");
        assert!(html.text() == fixture("index.html"), "index.html as uploaded");
        let stats = rig.app.get(&format!("/api/v1/trial/{id}/gatling/stats.js")).await.expect_status(StatusCode::OK);
        assert_eq!(stats.headers["content-type"], "text/javascript; charset=utf-8");
        assert!(stats.text() == fixture("stats.js"), "stats.js as uploaded");
        // ... and counted (other tests of this binary may have kept reports too: the counters only grow).
        let metrics = rig.app.get("/metrics").await.expect_status(StatusCode::OK).text();
        let counter = |series: &str| -> f64 {
            let line = metrics.lines().find(|line| line.starts_with(&format!("{series} "))).expect(series);
            line.rsplit_once(' ').unwrap().1.parse().unwrap()
        };
        assert!(counter(r#"eris_gatling_reports_total{outcome="kept"}"#) >= 1.0, "{metrics}");
        let kept = (fixture("index.html").len() + fixture("stats.js").len()) as f64;
        assert!(counter("eris_gatling_report_kept_bytes_total") >= kept, "{metrics}");
        let unknown = rig.app.get(&format!("/api/v1/trial/{id}/report?format=pdf")).await;
        unknown.expect_error(StatusCode::BAD_REQUEST, "invalid_query_parameter", Some("format"));

        // After the run, the callbacks answer nothing any more.
        let trigger = rig.app.get(&format!("/trigger/{id}/v1")).await;
        trigger.expect_error(StatusCode::NOT_FOUND, "misarch_run_not_found", None);
    }
}

/// The page of a trial measured by the real 30-minute Gatling report: its 1000 intervals of percentiles and
/// throughput, the failure set's window, the MiSArch phases and the four goals, drawn in Chromium when one is set up.
#[tokio::test]
async fn the_report_page_draws_the_real_report_with_its_failure_window() {
    for app in TestApp::all() {
        let gatling = GatlingBehaviour { main_run: Duration::from_millis(1500), ..Default::default() };
        let (rig, id, trial) = Rig::run_to_end(app, Options { gatling, ..Options::default() }, experiment()).await;
        let backend = rig.app.backend();
        let path = format!("/api/v1/trial/{id}/page");
        let response = rig.app.get(&path).await.expect_status(StatusCode::OK);
        let html = response.text();
        println!("{backend}: the page of a MiSArch trial with the real 30-minute report: {} bytes", html.len());
        let intervals =
            trial["metrics"]["series"]["percentiles"].as_array().unwrap().iter().filter(|p| !p[1].is_null()).count();
        assert_eq!(intervals, 991, "{backend}: the report's intervals with OK answers");
        assert!(html.contains(&format!(r#"data-series="p95" data-points="{intervals}""#)), "{backend}");
        assert!(html.contains(r#"data-series="requests sent" data-points="1000""#), "{backend}");
        // Set 1 injects from T0 until set 2 clears it, one second later; set 2 is a reset, marked, not shaded.
        assert_eq!(html.matches(r#"<rect class="window""#).count(), 2, "{backend}: one window in each workload chart");
        assert!(
            html.contains("failure set 1 of 2 at T0+0 s: catalog sets serviceInvocationDeterioration"),
            "{backend}"
        );
        assert_eq!(html.matches(r#"<rect class="span failure-set""#).count(), 1, "{backend}");
        assert!(html.contains("MiSArch pre-flight") && html.contains("T0: every component registered"), "{backend}");
        assert_eq!(html.matches(r#"<rect class="bar violated""#).count(), 2, "{backend}: {}", trial["violations"]);
        assert!(html.contains(&format!("/api/v1/trial/{id}/gatling/index.html")), "{backend}");
        let shot =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("page-screenshots/{backend}-misarch.png"));
        if let Some(drawn) = common::browser_check(&format!("{}{path}", rig.url), Some(&shot)).await {
            assert_eq!(
                drawn["requests"].as_array().unwrap().len(),
                1,
                "{backend}: only the page: {}",
                drawn["requests"]
            );
            let charts = drawn["charts"].as_array().unwrap();
            let percentiles = charts.iter().find(|c| c["chart"] == "percentiles").expect("the percentile chart");
            assert_eq!(percentiles["windows"], 1, "{backend}");
            assert!(percentiles["series"][2]["length"].as_f64().unwrap() > 1000.0, "{backend}: {percentiles}");
            let goals = charts.iter().find(|c| c["chart"] == "goals").expect("the goals chart");
            // The four goals of the experiment and those derived from the steady state.
            assert_eq!(goals["bars"], trial["goals"].as_array().unwrap().len(), "{backend}");
        }
    }
}

#[tokio::test]
async fn a_run_that_meets_every_goal_succeeds() {
    for app in TestApp::all() {
        let (_, _, trial) = Rig::run_to_end(app, Options::default(), met_goals(experiment())).await;
        assert_eq!(trial["status"], "Succeeded", "{trial}");
        assert_eq!(trial["violations"], json!([]));
        assert_eq!(trial["status_reason"], "all steps succeeded and every goal was met");
        // The workload (300 ms) ended before failure set 2 was due (T0 + 1 s): it is skipped, and says why.
        let failures = &trial["trial_record"]["misarch"]["failures"];
        assert_eq!(failures[0]["outcome"], "succeeded");
        assert_eq!(failures[1]["outcome"], "skipped");
        assert_eq!(failures[1]["error"], "the workload ended before its time");
    }
}

#[tokio::test]
async fn a_component_down_at_pre_flight_aborts_the_trial_before_anything_is_touched() {
    for app in TestApp::all() {
        let (rig, id, trial) =
            Rig::run_to_end(app, Options { gatling_down: true, ..Options::default() }, experiment()).await;
        assert_eq!(trial["status"], "Aborted", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("MiSArch pre-flight failed: GET http://127.0.0.1:"), "{reason}");
        assert!(reason.contains("/actuator/health failed: cannot connect"), "{reason}");
        assert!(rig.configurator.requests().iter().all(|r| r.method == "GET"));
        assert!(rig.chaos.requests().is_empty());
        assert!(trial["metrics"].is_null() && trial["report"].is_null());
        rig.app.get(&format!("/api/v1/trial/{id}/report")).await.expect_error(
            StatusCode::CONFLICT,
            "report_unavailable",
            None,
        );
        let none = rig.app.get(&format!("/api/v1/trial/{id}/gatling/index.html")).await;
        none.expect_error(StatusCode::NOT_FOUND, "gatling_report_unavailable", None);
        let missing = format!("/api/v1/trial/{}/gatling/stats.js", uuid::Uuid::new_v4());
        rig.app.get(&missing).await.expect_error(StatusCode::NOT_FOUND, "trial_not_found", None);
    }
}

#[tokio::test]
async fn a_service_the_configurator_does_not_know_aborts_the_trial() {
    for app in TestApp::all() {
        let (rig, _, trial) =
            Rig::run_to_end(app, Options { services: vec!["gateway"], ..Options::default() }, experiment()).await;
        assert_eq!(trial["status"], "Aborted", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.contains("the configurator does not know the service(s) catalog"), "{reason}");
        assert!(rig.gatling.requests().iter().all(|r| r.method == "GET"));
    }
}

#[tokio::test]
async fn a_barrier_timeout_fails_the_trial_and_cleans_up() {
    for app in TestApp::all() {
        let options = Options {
            gatling: GatlingBehaviour { register: false, ..Default::default() },
            barrier_timeout: Duration::from_secs(1),
            ..Options::default()
        };
        let (rig, id, trial) = Rig::run_to_end(app, options, experiment()).await;
        assert_eq!(trial["status"], "Failed", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        // 1 s of ERIS_BARRIER_TIMEOUT_SECS and 1 s of steady state.
        assert!(reason.starts_with("barrier timeout: after 2 s"), "{reason}");
        assert!(reason.contains("gatling never registered") && reason.contains("registered: chaostoolkit"), "{reason}");
        assert_eq!(rig.gatling.stopped(), [id.as_str()]);
        assert_eq!(rig.chaos.stopped(), [id.as_str()]);
        assert!(rig.chaos.ran().is_empty(), "the chaos never ran");
        assert!(rig.puts_with_values().is_empty(), "no failure was applied");
        rig.assert_reset("catalog");
    }
}

#[tokio::test]
async fn metrics_that_never_arrive_fail_the_trial_at_the_deadline_and_clean_up() {
    for app in TestApp::all() {
        let options = Options {
            gatling: GatlingBehaviour { post_metrics: false, ..Default::default() },
            metrics_timeout: Duration::from_secs(1),
            ..Options::default()
        };
        let (rig, id, trial) = Rig::run_to_end(app, options, experiment()).await;
        assert_eq!(trial["status"], "Failed", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        // The 2-second workload and 1 s of ERIS_METRICS_TIMEOUT_SECS.
        assert!(
            reason.starts_with("the metrics never arrived: the Gatling executor did not upload them within 3 s"),
            "{reason}"
        );
        assert!(trial["metrics"].is_null());
        assert_eq!(rig.gatling.stopped(), [id.as_str()]);
        rig.assert_reset("catalog");
    }
}

#[tokio::test]
async fn a_chaos_plan_longer_than_the_workload_runs_to_its_end_and_is_not_stopped() {
    for app in TestApp::all() {
        // The 2-second workload ends first; the chaos plan kills at T0 and restarts after a 3-second pause.
        let mut misarch = met_goals(experiment());
        misarch["chaosToolkit"]["method"][0]["pauses"] = json!({"before": 0, "after": 3});
        let (rig, id, trial) = Rig::run_to_end(app, Options::default(), misarch).await;
        assert_eq!(trial["status"], "Succeeded", "{trial}");
        let misarch = &trial["trial_record"]["misarch"];
        let t0 = instant(&misarch["started_at"]);
        let phases = misarch["phases"].as_array().unwrap();
        let chaos = phases.iter().find(|phase| phase["phase"] == "chaos").expect("a chaos phase");
        assert_eq!(chaos["outcome"], "succeeded", "{chaos}");
        assert!(instant(&chaos["finished_at"]) >= t0 + chrono::Duration::seconds(3), "waited out: {chaos}");
        assert!(chaos["logs"][0].as_str().unwrap().contains("Waiting"), "{chaos}");
        assert_eq!(misarch["chaos"], json!({"planned_secs": 3, "ending": "ran_out", "reason": null}));
        assert_eq!(rig.chaos.ran(), [id.as_str()]);
        assert!(rig.chaos.stopped().is_empty(), "the chaos run is never cut short by a normal end");
        assert_eq!(rig.gatling.stopped(), [id.as_str()], "Gatling is stopped as before (404: nothing ran)");
    }
}

#[tokio::test]
async fn a_failure_set_that_cannot_be_applied_ends_the_run_at_once_with_a_short_reason() {
    for app in TestApp::all() {
        // A 60-second workload whose metrics may take a minute more; failure set 2 comes at T0 + 3 s.
        let gatling = GatlingBehaviour { main_run: Duration::from_secs(60), ..Default::default() };
        let options = Options { gatling, metrics_timeout: Duration::from_secs(60), ..Options::default() };
        let rig = Rig::start(app, options).await;
        let mut misarch = experiment();
        for file in misarch["gatling"].as_array_mut().unwrap() {
            file["encodedUserStepsFileContent"] = json!(encode(&format!("usersteps\n{}", "1\n".repeat(10))));
        }
        misarch["misarchFailures"][0]["pauses"] = json!({"before": 0, "after": 3});
        let id = rig.run(misarch).await;
        rig.wait_for_t0(&id).await;
        wait_until(Duration::from_secs(10), "failure set 1 applied", || async {
            rig.trial(&id).await["trial_record"]["misarch"]["failures"][0]["outcome"] == "succeeded"
        })
        .await;
        // As after a restart of the configurator: the service has not registered again.
        rig.configurator.forget("catalog");

        // The run ends now, not when the workload or the metrics deadline would have (wait_for_end waits 20 s).
        let trial = rig.app.wait_for_end(&id).await;
        assert_eq!(trial["status"], "Failed", "{trial}");
        assert!(trial["metrics"].is_null(), "the workload did not run to its end");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("failure set 2 of 2 at T0+3 s: catalog reset could not be applied: PUT "),
            "{reason}"
        );
        // Each cause once, by its first error: the failure set, and the clean-up that could not reset the service.
        let (failure_set, cleanup) = reason.split_once("; MiSArch cleanup failed: ").expect(reason);
        assert!(
            failure_set.ends_with(
                "answered 404: Service configuration with name \"catalog\" not found. (and 3 more, in the trial record)"
            ),
            "{reason}"
        );
        assert!(cleanup.starts_with("PUT ") && cleanup.ends_with("(and 3 more, in the trial record)"), "{reason}");
        assert!(reason.chars().count() < 700, "a short reason: {reason}");
        let failures = trial["trial_record"]["misarch"]["failures"].as_array().unwrap().clone();
        assert_eq!(failures[1]["outcome"], "failed");
        let detail = failures[1]["error"].as_str().unwrap();
        assert!(
            FAILURE_VARIABLES.iter().all(|variable| detail.contains(variable)),
            "the record has every cause: {detail}"
        );
        assert_eq!(rig.gatling.stopped(), [id.as_str()], "the workload was stopped at once");
    }
}

#[tokio::test]
async fn an_unreadable_upload_is_refused_and_fails_the_trial_at_once() {
    for app in TestApp::all() {
        let options = Options {
            gatling: GatlingBehaviour { report_body: "<html>no report</html>".into(), ..Default::default() },
            metrics_timeout: Duration::from_secs(60),
            ..Options::default()
        };
        let (rig, _, trial) = Rig::run_to_end(app, options, experiment()).await;
        assert_eq!(trial["status"], "Failed", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.contains("upload could not be read: the metrics body has no line `SPLIT_HERE`"), "{reason}");
        // The steady-state upload is the first callback; it was refused with a JSON error.
        let refused = &rig.gatling.callbacks()[0];
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains("invalid_gatling_report"), "{}", refused.body);
    }
}

#[tokio::test]
async fn grafana_answering_500_is_recorded_without_losing_the_results() {
    for app in TestApp::all() {
        let (rig, _, trial) =
            Rig::run_to_end(app, Options { grafana_status: 500, ..Options::default() }, met_goals(experiment())).await;
        assert_eq!(trial["status"], "Succeeded", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.contains("the Grafana export failed: POST http://127.0.0.1:"), "{reason}");
        assert!(reason.contains("answered 500"), "{reason}");
        assert!(trial["grafana_url"].is_null());
        assert!(!trial["metrics"].is_null() && !trial["report"].is_null());
        // Grafana errors are retried, as the call is idempotent (overwrite by uid).
        assert_eq!(rig.grafana.requests().len(), 3);
        assert_eq!(rig.influx.requests().len(), 1);
    }
}

/// A guard that fails during the MiSArch run (its service stops answering) stops the run as a stop does: the
/// components are stopped and the failures reset.
#[tokio::test]
async fn a_tripped_guard_stops_the_misarch_run_and_resets_the_failures() {
    for app in TestApp::all() {
        let gatling = GatlingBehaviour { main_run: Duration::from_secs(60), ..Default::default() };
        let mut rig = Rig::start(app, Options { gatling, ..Options::default() }).await;
        let unreachable = unreachable_url().await;
        let definition = json!({
            "name": "guarded buy process",
            "steps": [],
            "guards": [{"name": "gateway", "gate": false, "interval_secs": 0.2, "trip_after": 3,
                "check": {"do": "cm.http_probe", "where": {"url": unreachable, "timeout": 1}}}],
            "misarch": experiment(),
        });
        let id = rig.app.run_experiment(definition, json!({})).await;
        let trial = rig.app.wait_for_end(&id).await;
        rig.stop_worker().await;
        let backend = rig.app.backend();
        assert_eq!(trial["status"], "Stopped", "{backend}: {trial:#}");
        assert!(trial["status_reason"].as_str().unwrap().starts_with("stopped by guard `gateway`: "), "{backend}");
        assert_eq!(rig.gatling.stopped(), [id.as_str()], "{backend}");
        rig.assert_reset("catalog");
        let phases = trial["trial_record"]["misarch"]["phases"].as_array().unwrap();
        assert_eq!(phases.last().unwrap()["phase"], "cleanup", "{backend}");
        assert_eq!(trial["trial_record"]["guards"][0]["samples"].as_array().unwrap().len(), 3, "{backend}");
    }
}

/// A blackout that begins during the MiSArch run stops it as a stop does: components stopped, failures reset.
#[tokio::test]
async fn a_blackout_that_begins_during_the_run_stops_it_and_resets_the_failures() {
    for app in TestApp::all() {
        let (mut rig, id) = Rig::start_long_run(app).await;
        let now = chrono::Utc::now();
        let freeze = json!({"reason": "incident", "from": now, "to": now + chrono::Duration::hours(1)});
        rig.app.post("/api/v1/blackout", &freeze).await.expect_status(StatusCode::CREATED);
        let trial = rig.app.wait_for_end(&id).await;
        rig.stop_worker().await;
        let backend = rig.app.backend();
        assert_eq!(trial["status"], "Stopped", "{backend}: {trial:#}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("stopped: blackout ") && reason.contains("(incident) began"), "{backend}: {reason}");
        assert_eq!(rig.gatling.stopped(), [id.as_str()], "{backend}");
        assert_eq!(rig.chaos.stopped(), [id.as_str()], "{backend}");
        rig.assert_reset("catalog");
    }
}

/// A dry run of a MiSArch experiment sends the components nothing but read-only health checks (and asks the
/// configurator which services it knows): no start, no failure variable, no stop; the failure timeline is recorded
/// as what would have been applied when.
#[tokio::test]
async fn a_dry_run_sends_the_components_only_read_only_checks() {
    for app in TestApp::all() {
        let mut rig = Rig::start(app, Options::default()).await;
        let backend = rig.app.backend();
        let definition = json!({
            "name": "nightly buy process, rehearsed",
            "steps": [{"step": "alongside the load", "do": "cm.wait", "where": {"time_in_seconds": 0.2}}],
            "misarch": experiment(),
        });
        let experiment = rig.app.create_experiment(definition).await;
        let body = json!({"experiment": experiment["id"], "dry_run": true});
        let trial = rig.app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
        let trial = rig.app.wait_for_end(trial["id"].as_str().unwrap()).await;
        rig.stop_worker().await;
        assert_eq!(trial["status"], "Succeeded", "{backend}: {trial:#}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.contains("the MiSArch pre-flight passed"), "{backend}: {reason}");
        for (component, requests) in [
            ("gatling", rig.gatling.requests()),
            ("chaos", rig.chaos.requests()),
            ("configurator", rig.configurator.requests()),
        ] {
            assert!(!requests.is_empty(), "{backend}: {component} was checked");
            let changes: Vec<String> = requests
                .iter()
                .filter(|r| r.method != "GET")
                .map(|r| format!("{} {}", r.method, r.path_and_query))
                .collect();
            assert_eq!(changes, Vec::<String>::new(), "{backend}: {component} got only reads");
        }
        let misarch = &trial["trial_record"]["misarch"];
        let phases: Vec<&str> =
            misarch["phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
        assert_eq!(phases, ["pre-flight"], "{backend}");
        let failures = misarch["failures"].as_array().unwrap();
        assert!(!failures.is_empty() && failures.iter().all(|f| f["outcome"] == "skipped"), "{backend}: {failures:#?}");
        assert!(failures[0]["description"].as_str().unwrap().starts_with("dry run, not applied: failure set 1"));
        assert_eq!(trial["trial_record"]["steps"][0]["outcome"], "skipped", "{backend}");
        assert!(trial["metrics"].is_null() && trial["score"].is_null(), "{backend}");
    }
}

#[tokio::test]
async fn a_stop_during_the_run_stops_the_components_and_resets_the_failures() {
    for app in TestApp::all() {
        let (mut rig, id) = Rig::start_long_run(app).await;
        rig.app.put(&format!("/api/v1/trial/{id}/stop"), &json!({})).await.expect_status(StatusCode::OK);
        let trial = rig.app.wait_for_end(&id).await;
        rig.stop_worker().await;
        assert_eq!(trial["status"], "Stopped", "{trial}");
        assert_eq!(rig.gatling.stopped(), [id.as_str()]);
        assert_eq!(rig.chaos.stopped(), [id.as_str()]);
        rig.assert_reset("catalog");
        let phases = trial["trial_record"]["misarch"]["phases"].as_array().unwrap();
        assert_eq!(phases.last().unwrap()["phase"], "cleanup");
        assert_eq!(phases.last().unwrap()["outcome"], "succeeded");
        // The Gatling executor never uploaded; nothing was measured.
        assert!(trial["metrics"].is_null());
    }
}

#[tokio::test]
async fn a_stop_while_the_chaos_plan_runs_out_stops_the_chaos_run_at_once() {
    for app in TestApp::all() {
        let mut misarch = met_goals(experiment());
        misarch["chaosToolkit"]["method"][0]["pauses"] = json!({"before": 0, "after": 60});
        let mut rig = Rig::start(app, Options::default()).await;
        let id = rig.run(misarch).await;
        wait_until(Duration::from_secs(20), "the chaos phase", || async {
            let phases = rig.trial(&id).await["trial_record"]["misarch"]["phases"].clone();
            phases.as_array().is_some_and(|phases| phases.iter().any(|phase| phase["phase"] == "chaos"))
        })
        .await;
        rig.app.put(&format!("/api/v1/trial/{id}/stop"), &json!({})).await.expect_status(StatusCode::OK);
        let trial = rig.app.wait_for_end(&id).await;
        rig.stop_worker().await;
        assert_eq!(trial["status"], "Stopped", "{trial}");
        assert_eq!(rig.chaos.stopped(), [id.as_str()], "a stop stops the chaos run at once");
        let chaos = &trial["trial_record"]["misarch"]["chaos"];
        assert_eq!((chaos["planned_secs"].as_u64(), chaos["ending"].as_str()), (Some(60), Some("stopped")), "{chaos}");
        assert!(chaos["reason"].as_str().unwrap().contains("the trial was stopped"), "{chaos}");
    }
}

#[tokio::test]
async fn a_restart_during_the_run_is_recovered_and_cleaned_up() {
    for app in TestApp::all() {
        let (mut rig, id) = Rig::start_long_run(app).await;
        rig.kill_worker();
        assert!(rig.gatling.stopped().is_empty());
        rig.start_worker();
        let trial = rig.app.wait_for_end(&id).await;
        rig.stop_worker().await;
        assert_eq!(trial["status"], "Failed", "{trial}");
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.starts_with("interrupted: the eris process running it stopped heartbeating"), "{reason}");
        assert_eq!(rig.gatling.stopped(), [id.as_str()]);
        assert_eq!(rig.chaos.stopped(), [id.as_str()]);
        rig.assert_reset("catalog");
        let phases: Vec<&str> = trial["trial_record"]["misarch"]["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|phase| phase["phase"].as_str().unwrap())
            .collect();
        assert_eq!(phases, ["pre-flight", "reset", "start", "barrier", "run", "cleanup after recovery"]);
        // The trigger of the recovered run answers nothing: its components cannot start again.
        rig.app.get(&format!("/trigger/{id}/v1")).await.expect_error(
            StatusCode::NOT_FOUND,
            "misarch_run_not_found",
            None,
        );
    }
}

#[tokio::test]
async fn callbacks_for_a_trial_that_is_not_running_change_nothing() {
    for app in TestApp::all() {
        let unknown = uuid::Uuid::new_v4();
        app.post(&format!("/trigger/{unknown}/v1?client=gatling"), &json!({})).await.expect_error(
            StatusCode::NOT_FOUND,
            "misarch_run_not_found",
            None,
        );
        app.get(&format!("/trigger/{unknown}/v1")).await.expect_error(
            StatusCode::NOT_FOUND,
            "misarch_run_not_found",
            None,
        );
        let upload = app
            .raw(
                axum::http::Method::POST,
                &format!("/experiment/{unknown}/v1/gatling/metrics"),
                Some("plain/text"),
                real_report_body().into_bytes(),
            )
            .await;
        upload.expect_error(StatusCode::NOT_FOUND, "misarch_run_not_found", None);
        // A queued MiSArch trial is not running either.
        let id = app
            .run_experiment(json!({"name": "queued", "steps": [], "misarch": met_goals(experiment())}), json!({}))
            .await;
        app.post(&format!("/trigger/{id}/v1?client=gatling"), &json!({})).await.expect_error(
            StatusCode::NOT_FOUND,
            "misarch_run_not_found",
            None,
        );
    }
}

/// The fake configurator checks values as the real one's ajv does, so that a value eris should have normalised or
/// refused at write time fails the fast tests too.
#[tokio::test]
async fn the_fake_configurator_refuses_what_the_real_one_refuses() {
    let configurator = FakeConfigurator::start(&["catalog"]).await;
    let client = eris::http_client::build();
    let put = |variable: &str, value: Value| {
        let request = client
            .put(format!("{}/configuration/catalog/variables/{variable}", configurator.url))
            .header("content-type", "application/json")
            .body(json!({ "value": value }).to_string());
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let accepted = [
        ("pubsubDeterioration", json!({"delay": 100.0, "delayProbability": 0.5})),
        ("pubsubDeterioration", json!({})),
        ("serviceInvocationDeterioration", json!({"path": "/x", "errorCode": 500})),
        ("serviceInvocationDeterioration", json!([{"delay": 1}, {"errorProbability": 1}])),
        ("artificialMemoryUsage", json!(1024)),
        ("artificialCPUUsage", json!([{"usageDuration": 10, "pauseDuration": 5.0}])),
        ("artificialCPUUsage", Value::Null),
    ];
    for (variable, value) in accepted {
        assert_eq!(put(variable, value.clone()).await.0, 200, "{variable} = {value}");
    }
    let refused = [
        ("pubsubDeterioration", json!({"delay": 100.5}), "/delay must be integer"),
        ("pubsubDeterioration", json!({"latency": 1}), " must NOT have additional properties"),
        ("serviceInvocationDeterioration", json!([{"path": 1}]), "/0/path must be string"),
        ("artificialMemoryUsage", json!("1024"), " must be integer"),
        ("artificialCPUUsage", json!({"usageDuration": 10}), " must have required property 'pauseDuration'"),
    ];
    for (variable, value, error) in refused {
        let (status, text) = put(variable, value).await;
        assert_eq!((status, text), (400, format!("[{variable}] Validation failed: {error}")));
    }
}
