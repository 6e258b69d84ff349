//! Read throughput and latency of a real `eris serve`, printed (not asserted): `cargo bench --bench reads`.
//!
//! On SQLite always, and on PostgreSQL when `ERIS_TEST_DATABASE_URL` is set. The bench seeds a database (a finished
//! trial), starts the `eris` binary on it with its default settings, and drives it over loopback with [`common::serve::CONNECTIONS`]
//! keep-alive HTTP/1.1 connections for [`common::serve::SECONDS`] per route, as wrk does. For `GET /health` (the server's own floor),
//! `GET /api/v1/trial/{id}` of a small trial and of a MiSArch trial with the metrics of the real 30-minute Gatling
//! report (`tests/fixtures/gatling-realistic-30min`) it prints requests per second, p50 and p99, the trial reads'
//! throughput as a share of `/health`'s, the server's CPU time per request and its RSS.

mod common;

use common::serve::{Server, drive, drive_with};

use std::time::{Duration, Instant};

use eris::db::{self, DatabaseUrl, Db, PoolOptions};
use eris::experiments::{self, ExperimentInput};
use eris::trial_status::TrialStatus;
use eris::trials::{self, TrialInput};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in common::databases() {
        println!("== {}", database.name);
        db::migrate(&database.url).unwrap();
        let trial = runtime.block_on(seed(&database.url));
        let misarch_trial = runtime.block_on(seed_misarch(&database.url));
        let server = Server::start(&database.url);
        runtime.block_on(async {
            server.wait_ready().await;
            let health = drive(&server, "/health").await;
            let read = drive(&server, &format!("/api/v1/trial/{trial}")).await;
            let misarch = drive(&server, &format!("/api/v1/trial/{misarch_trial}")).await;
            let misarch_alone = drive_with(&server, &format!("/api/v1/trial/{misarch_trial}"), 1).await;
            health.print("GET /health");
            read.print("GET /api/v1/trial/{id}");
            misarch.print("GET /api/v1/trial/{id} of a MiSArch trial");
            misarch_alone.print("GET /api/v1/trial/{id} of a MiSArch trial, alone");
            println!(
                "trial read throughput / health throughput: {:.0} % (MiSArch trial: {:.0} %)",
                100.0 * read.per_second() / health.per_second(),
                100.0 * misarch.per_second() / health.per_second()
            );
            println!("server RSS: {} MB", server.rss_kb() / 1024);
        });
    }
}

/// A finished trial of an experiment without steps, run by a real worker.
async fn seed(url: &DatabaseUrl) -> uuid::Uuid {
    let db = Db::connect(url.clone(), PoolOptions::default()).unwrap();
    let input: ExperimentInput = serde_json::from_value(serde_json::json!({
        "name": "reads", "metadata": {"team": "sre"}, "parameters": {"token": "secret", "health_url": "http://127.0.0.1:1/"},
        "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 0}}]
    }))
    .unwrap();
    let experiment = experiments::create(&db, input, "bench").await.unwrap();
    let trial: TrialInput = serde_json::from_value(serde_json::json!({"experiment": experiment.id})).unwrap();
    let trial = trials::create(&db, trial, "bench").await.unwrap().id;
    let (shutdown, worker) = common::spawn_worker(&db);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !trials::find(&db, trial).await.unwrap().status.is_final() {
        assert!(Instant::now() < deadline, "the seeded trial did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
    trial
}

/// An ended MiSArch trial of the fixture experiment with the metrics of the real 30-minute report, stored as the
/// Gatling callback stores them.
async fn seed_misarch(url: &DatabaseUrl) -> uuid::Uuid {
    let db = Db::connect(url.clone(), PoolOptions::default()).unwrap();
    let misarch: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/misarch-experiment.json")).unwrap();
    let input: ExperimentInput =
        serde_json::from_value(serde_json::json!({"name": "misarch reads", "steps": [], "misarch": misarch})).unwrap();
    let experiment = experiments::create(&db, input, "bench").await.unwrap();
    let trial: TrialInput = serde_json::from_value(serde_json::json!({"experiment": experiment.id})).unwrap();
    let trial = trials::create(&db, trial, "bench").await.unwrap().id;
    let metrics = eris::misarch::gatling::parse(
        include_str!("../tests/fixtures/gatling-realistic-30min/index.html"),
        include_str!("../tests/fixtures/gatling-realistic-30min/stats.js"),
    )
    .unwrap();
    let metrics = serde_json::to_string(&metrics).unwrap();
    println!("MiSArch trial: {} KB of metrics", metrics.len() / 1024);
    db.run(move |conn| {
        let (key, now) = (trial.to_string(), eris::time::to_db(eris::time::now()));
        eris::db::trials::transition(conn, &key, TrialStatus::Scheduled, TrialStatus::InProgress, "bench", now)?;
        eris::db::misarch_runs::store_metrics(conn, &key, &metrics, None, now)?;
        eris::db::trials::transition(conn, &key, TrialStatus::InProgress, TrialStatus::Succeeded, "bench", now)?;
        Ok(())
    })
    .await
    .unwrap();
    trial
}
