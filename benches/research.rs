//! Research figures, printed (not asserted): `cargo bench --bench research`.
//!
//! On SQLite always, and on PostgreSQL when `ERIS_TEST_DATABASE_URL` is set. A sweep of 1000 trials of a one-step
//! experiment runs through a real worker: the bench prints the overhead between trials (from one trial's end to
//! the next one's start, p50/p99/max) and the sweep's wall time per trial. Each trial then gets the metrics of the
//! real 30-minute Gatling report, and the bench prints the time to build the comparison of 100 trials and the
//! trend of 1000, each as a ratio to reading one trial through `trials::find`.

mod common;

use std::time::{Duration, Instant};

use eris::db::{Db, PoolOptions};
use eris::experiments::{self, ExperimentInput};
use eris::research::KeyMetric;
use eris::sweeps::{self, SweepInput, SweepStatus};
use eris::trials;
use eris::trials::figures;

const TRIALS: usize = 1000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in common::databases() {
        println!("== {}", database.name);
        eris::db::migrate(&database.url).unwrap();
        let db = Db::connect(database.url.clone(), PoolOptions::default()).unwrap();
        runtime.block_on(run(&db));
    }
}

async fn run(db: &Db) {
    let input: ExperimentInput = serde_json::from_value(serde_json::json!({
        "name": "research", "parameters": {"wait": 0},
        "steps": [{"do": "cm.wait", "where": {"time_in_seconds": "{{ wait }}"}}]
    }))
    .unwrap();
    let experiment = experiments::create(db, input, "bench").await.unwrap();
    let points: Vec<serde_json::Value> = (0..TRIALS).map(|_| serde_json::json!({"wait": 0})).collect();
    let sweep: SweepInput =
        serde_json::from_value(serde_json::json!({"experiment": experiment.id, "points": points})).unwrap();
    let queued = Instant::now();
    let sweep = sweeps::create(db, sweep, "bench").await.unwrap();
    println!("queueing a sweep of {TRIALS} trials: {:.0} ms", queued.elapsed().as_secs_f64() * 1000.0);

    let (shutdown, worker) = common::spawn_worker(db);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    loop {
        let now = sweeps::find(db, sweep.summary.id).await.unwrap();
        if now.summary.status == SweepStatus::Completed {
            break;
        }
        assert!(Instant::now() < deadline, "the sweep did not complete");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed();
    shutdown.cancel();
    worker.await.unwrap();

    let done = sweeps::find(db, sweep.summary.id).await.unwrap();
    let mut rows = Vec::new();
    for trial in &done.trials {
        rows.push(trials::find(db, trial.trial).await.unwrap());
    }
    let mut gaps: Vec<f64> = rows
        .windows(2)
        .map(|pair| {
            let (end, next) = (pair[0].completed_at.unwrap(), pair[1].executed_at.unwrap());
            (next - end).num_microseconds().unwrap() as f64 / 1000.0
        })
        .collect();
    gaps.sort_by(f64::total_cmp);
    let at = |q: f64| gaps[((gaps.len() - 1) as f64 * q) as usize];
    println!(
        "sweep overhead between trials: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; wall time per trial {:.1} ms",
        at(0.5),
        at(0.99),
        gaps[gaps.len() - 1],
        wall.as_secs_f64() * 1000.0 / TRIALS as f64
    );

    // Every trial with the real 30-minute report's metrics, as a MiSArch trial has them.
    let metrics = eris::misarch::gatling::parse(
        include_str!("../tests/fixtures/gatling-realistic-30min/index.html"),
        include_str!("../tests/fixtures/gatling-realistic-30min/stats.js"),
    )
    .unwrap();
    let metrics = serde_json::to_string(&metrics).unwrap();
    let ids: Vec<uuid::Uuid> = done.trials.iter().map(|t| t.trial).collect();
    let keys: Vec<String> = ids.iter().map(uuid::Uuid::to_string).collect();
    db.run(move |conn| {
        for key in &keys {
            let results = eris::db::trials::TrialResults {
                metrics: Some(&metrics),
                goals: "[]",
                violations: "[]",
                grafana_url: None,
                report: "{}",
            };
            eris::db::trials::store_results(conn, key, &results)?;
        }
        Ok(())
    })
    .await
    .unwrap();

    let one = time(5, || async { trials::find(db, ids[0]).await.unwrap() }).await;
    let compare = time(5, || async { figures::compare(db, ids[..100].to_vec(), None).await.unwrap() }).await;
    // An experiment's trend leaves sweeps' trials out by rule, so the trend of 1000 trials is built the same way
    // from the sweep's: their figures read, then the series made.
    let trend = time(3, || async {
        let (_, figures) = sweeps::figures(db, sweep.summary.id).await.unwrap();
        eris::research::trend::trend(KeyMetric::P95, figures)
    })
    .await;
    println!("reading one trial (trials::find): {:.2} ms", one * 1000.0);
    println!("comparison of 100 trials: {:.1} ms ({:.0} × one trial read)", compare * 1000.0, compare / one);
    println!("trend of 1000 trials: {:.1} ms ({:.0} × one trial read)", trend * 1000.0, trend / one);
}

/// The best of `runs` timings of `work`, in seconds.
async fn time<F, Fut, T>(runs: usize, mut work: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(work().await);
        best = best.min(started.elapsed().as_secs_f64());
    }
    best
}
