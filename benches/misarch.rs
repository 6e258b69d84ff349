//! MiSArch figures, printed (not asserted): `cargo bench --bench misarch`.
//!
//! - the time to parse the real Gatling report (`tests/fixtures/gatling-realistic-30min/`, index.html and stats.js);
//! - the time from the metrics upload (its arrival, `report.endTime`) to the trial's final status (`completed_at`):
//!   goals, the Grafana and InfluxDB exports, the report, the components' cleanup and the final write, over trials run
//!   against the protocol-speaking fake components of the tests, on SQLite (and PostgreSQL with
//!   `ERIS_TEST_DATABASE_URL`).

#[path = "../tests/common/components.rs"]
mod components;

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use url::Url;

use components::{FakeChaosToolkit, FakeConfigurator, FakeGatling, FakeGrafana, FakeInflux, GatlingBehaviour};
use eris::actions::ActionContext;
use eris::api::{self, AppState};
use eris::db::{self, Db, PoolOptions};
use eris::executor::Executor;
use eris::executor::misarch::MisarchRuntime;
use eris::experiments::{self, ExperimentInput};
use eris::misarch::gatling;
use eris::misarch::settings::{GrafanaAuth, GrafanaSettings, InfluxSettings, MisarchSettings};
use eris::trials::{self, TrialInput};
use eris::worker::{Worker, WorkerConfig};
use secrecy::SecretString;

const PARSES: usize = 50;
const TRIALS: usize = 10;

fn main() {
    let html = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gatling-realistic-30min/index.html"
    ))
    .unwrap();
    let stats = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gatling-realistic-30min/stats.js"
    ))
    .unwrap();
    let mut parses = Vec::new();
    for _ in 0..PARSES {
        let started = Instant::now();
        std::hint::black_box(gatling::parse(&html, &stats).unwrap());
        parses.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        &format!("parse the real report ({} KB index.html + {} KB stats.js)", html.len() / 1024, stats.len() / 1024),
        &mut parses,
    );

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in common::databases() {
        println!("== {}", database.name);
        db::migrate(&database.url).unwrap();
        let db = Db::connect(database.url.clone(), PoolOptions::default()).unwrap();
        let mut latencies = runtime.block_on(upload_to_end(&db));
        report("metrics upload → final status", &mut latencies);
    }
}

async fn upload_to_end(db: &Db) -> Vec<f64> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let executor_url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::with_defaults(db.clone());
    let app = api::app(state, api::Limits::default());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gatling = FakeGatling::start(&executor_url, GatlingBehaviour::default()).await;
    let chaos = FakeChaosToolkit::start(&executor_url).await;
    let configurator = FakeConfigurator::start(&["catalog"]).await;
    let grafana = FakeGrafana::start(200).await;
    let influx = FakeInflux::start().await;
    let url = |text: &str| Url::parse(text).unwrap();
    let settings = MisarchSettings {
        gatling: Some(url(&gatling.url)),
        chaos_toolkit: Some(url(&chaos.url)),
        configurator: Some(url(&configurator.url)),
        grafana: Some(GrafanaSettings {
            url: url(&grafana.url),
            public_url: grafana.url.clone(),
            auth: Some(GrafanaAuth::Token(SecretString::from("token"))),
            datasource_uid: "influxdb_uid".into(),
            bucket: "gatling".into(),
        }),
        influxdb: Some(InfluxSettings {
            url: url(&influx.url),
            token: None,
            org: "misarch".into(),
            bucket: "gatling".into(),
        }),
        ..MisarchSettings::default()
    };
    let executor = Executor {
        actions: ActionContext::new(Duration::from_secs(5)),
        misarch: MisarchRuntime { db: db.clone(), settings: Arc::new(settings) },
    };
    let wakeups = eris::wakeups::Wakeups::default();
    let worker = Worker::new(db.clone(), wakeups.clone(), WorkerConfig::default(), executor);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(worker.run(shutdown.clone()));

    let input: ExperimentInput =
        serde_json::from_value(json!({"name": "bench", "steps": [], "misarch": experiment()})).unwrap();
    let experiment = experiments::create(db, input, "bench").await.unwrap();
    let mut latencies = Vec::new();
    for _ in 0..TRIALS {
        let input: TrialInput = serde_json::from_value(json!({"experiment": experiment.id})).unwrap();
        let id = trials::create(db, input, "bench").await.unwrap().id;
        wakeups.trial_queued();
        let trial = loop {
            let trial = trials::find(db, id).await.unwrap();
            if trial.status.is_final() {
                break trial;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let uploaded: i64 = trial.report.as_ref().unwrap()["endTime"].as_str().unwrap().parse().unwrap();
        let completed = trial.completed_at.unwrap().timestamp_micros() as f64 / 1000.0;
        latencies.push(completed - uploaded as f64);
    }
    shutdown.cancel();
    running.await.unwrap();
    latencies
}

/// The fixture shortened to a 2-second workload, with its failure sets at T0 and T0 + 1 s.
fn experiment() -> Value {
    let mut misarch: Value = serde_json::from_str(include_str!("../tests/fixtures/misarch-experiment.json")).unwrap();
    let steps = base64::engine::general_purpose::STANDARD.encode("usersteps\n1\n1\n");
    for file in misarch["gatling"].as_array_mut().unwrap() {
        file["encodedUserStepsFileContent"] = json!(steps);
    }
    for action in misarch["chaosToolkit"]["method"].as_array_mut().unwrap() {
        if action.get("pauses").is_some() {
            action["pauses"] = json!({"before": 0, "after": 0});
        }
    }
    misarch["misarchFailures"][0]["pauses"] = json!({"before": 0, "after": 1});
    misarch
}

fn report(what: &str, values: &mut [f64]) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    println!("{what}: n={} p50={:.1} ms p90={:.1} ms max={:.1} ms", values.len(), at(0.5), at(0.9), at(1.0));
}
