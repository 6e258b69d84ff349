//! Scheduling and worker figures, printed (not asserted): `cargo bench --bench scheduling`.
//!
//! On SQLite always, and on PostgreSQL when `ERIS_TEST_DATABASE_URL` is set (each run in a schema of its own):
//! - fire latency (trial created − cron instant) over 200+ fires of every-second schedules, p50/p99/max;
//! - pickup latency (`executed_at` − trial created) of an idle worker;
//! - the gap between one trial's `completed_at` and the next one's `executed_at` in a queue;
//! - the same fire latency with 100,000 active schedules in the database, and this process's RSS there.

mod common;

use common::{ms, report};

use std::time::{Duration, Instant};

use eris::actions::ActionContext;
use eris::db::page::PageRequest;
use eris::db::trials::TrialFilter;
use eris::db::{self, Db, ScheduleRow};
use eris::executor::Executor;
use eris::experiments::{self, ExperimentInput};
use eris::scheduler::{Scheduler, SchedulerConfig};
use eris::schedules::{self, ScheduleInput};
use eris::trials::{self, Trial, TrialInput};
use eris::wakeups::Wakeups;
use eris::worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const FIRING_SCHEDULES: usize = 20;
const FIRING_SECONDS: u64 = 11;
const QUEUED_TRIALS: usize = 50;
const IDLE_TRIALS: usize = 30;
const BACKGROUND_SCHEDULES: usize = 100_000;

fn main() {
    common::each_database(|runtime, db| runtime.block_on(measure(db)));
}

async fn measure(db: &Db) {
    let experiment = experiments::create(
        db,
        serde_json::from_value::<ExperimentInput>(serde_json::json!({"name": "bench", "steps": []})).unwrap(),
        "bench",
    )
    .await
    .unwrap();

    let latencies = fire_latencies(db, experiment.id).await;
    report("fire latency (created - cron instant)", &latencies);
    cancel_queued(db).await;

    let (pickups, gaps) = worker_figures(db, experiment.id).await;
    report("pickup latency when idle (executed_at - created)", &pickups);
    report("gap between trials (next executed_at - completed_at)", &gaps);

    add_background_schedules(db, experiment.id).await;
    let latencies = fire_latencies(db, experiment.id).await;
    report(&format!("fire latency with {BACKGROUND_SCHEDULES} more active schedules"), &latencies);
    println!("RSS of this process (scheduler, API types, pool, SQLite cache): {} MB", rss_kb() / 1024);
    cancel_queued(db).await;
}

/// Runs a scheduler over every-second schedules for a while; returns each trial's fire latency in ms.
async fn fire_latencies(db: &Db, experiment: Uuid) -> Vec<f64> {
    let mut ids = Vec::new();
    for _ in 0..FIRING_SCHEDULES {
        let input: ScheduleInput = serde_json::from_value(serde_json::json!({
            "recurrence_pattern": "* * * * * *", "recurrence_count": FIRING_SECONDS - 1
        }))
        .unwrap();
        ids.push(schedules::create(db, experiment, input, "bench").await.unwrap().id);
    }
    let shutdown = CancellationToken::new();
    let scheduler = Scheduler::new(db.clone(), Wakeups::default(), SchedulerConfig::default());
    let running = tokio::spawn(scheduler.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(FIRING_SECONDS + 1)).await;
    shutdown.cancel();
    running.await.unwrap();
    let mut latencies = Vec::new();
    for id in ids {
        let filter = TrialFilter { schedule_id: Some(id.to_string()), ..TrialFilter::default() };
        for trial in trials::list(db, filter, PageRequest { limit: 1000, after: None }).await.unwrap().items {
            latencies.push(ms(trial.created_at - trial.scheduled_for));
        }
        schedules::delete(db, experiment, id).await.unwrap();
    }
    latencies
}

/// Pickup latency of an idle worker, then the gaps in a queue of trials.
async fn worker_figures(db: &Db, experiment: Uuid) -> (Vec<f64>, Vec<f64>) {
    let wakeups = Wakeups::default();
    let shutdown = CancellationToken::new();
    let worker = Worker::new(
        db.clone(),
        wakeups.clone(),
        WorkerConfig::default(),
        Executor {
            actions: ActionContext::new(Duration::from_secs(5)),
            misarch: eris::executor::misarch::MisarchRuntime { db: db.clone(), settings: Default::default() },
        },
    );
    let running = tokio::spawn(worker.run(shutdown.clone()));
    let queue = |wakeups: Wakeups| async move {
        let input: TrialInput = serde_json::from_value(serde_json::json!({"experiment": experiment})).unwrap();
        let trial = trials::create(db, input, "bench").await.unwrap();
        wakeups.trial_queued();
        trial.id
    };
    let mut pickups = Vec::new();
    for _ in 0..IDLE_TRIALS {
        let id = queue(wakeups.clone()).await;
        let trial = wait_for_end(db, id).await;
        pickups.push(ms(trial.executed_at.unwrap() - trial.created_at));
    }
    let mut ids = Vec::new();
    for _ in 0..QUEUED_TRIALS {
        ids.push(queue(wakeups.clone()).await);
    }
    let mut ended = Vec::new();
    for id in ids {
        ended.push(wait_for_end(db, id).await);
    }
    shutdown.cancel();
    running.await.unwrap();
    let gaps = ended.windows(2).map(|pair| ms(pair[1].executed_at.unwrap() - pair[0].completed_at.unwrap())).collect();
    (pickups, gaps)
}

async fn wait_for_end(db: &Db, id: Uuid) -> Trial {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let trial = trials::find(db, id).await.unwrap();
        if trial.status.is_final() {
            return trial;
        }
        assert!(Instant::now() < deadline, "trial {id} did not end");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Schedules that are active but due tomorrow: they make the table large without firing.
async fn add_background_schedules(db: &Db, experiment: Uuid) {
    let now = eris::time::to_db(eris::time::now());
    let tomorrow = now + chrono::Duration::days(1);
    let rows: Vec<ScheduleRow> = (0..BACKGROUND_SCHEDULES)
        .map(|n| ScheduleRow {
            id: Uuid::new_v4().to_string(),
            experiment_id: experiment.to_string(),
            metadata: "{}".into(),
            parameters: "{}".into(),
            ticket: "{}".into(),
            recurrence_pattern: "0 3 * * *".into(),
            timezone: "UTC".into(),
            recurrence_count: None,
            recurrence_left: None,
            paused: false,
            misfire_policy: "run_once".into(),
            concurrency_policy: "queue".into(),
            next_run_at: Some(tomorrow + chrono::Duration::seconds(n as i64 % 3600)),
            last_run_at: None,
            created_by: "bench".into(),
            created_at: now,
            updated_at: now,
            missed_fires: 0,
            skipped_fires: 0,
            fire_error: None,
            fire_retry_at: None,
            run_windows: None,
        })
        .collect();
    let started = Instant::now();
    db.run(move |conn| db::write_transaction(conn, |conn| db::schedules::insert_many(conn, &rows))).await.unwrap();
    println!("inserted {BACKGROUND_SCHEDULES} active schedules in {:.1} s", started.elapsed().as_secs_f64());
}

/// Stops the benchmark's queued trials so the next measurement starts from an empty queue.
async fn cancel_queued(db: &Db) {
    let filter = TrialFilter { status: Some(eris::trial_status::TrialStatus::Scheduled), ..TrialFilter::default() };
    loop {
        let page = trials::list(db, filter.clone(), PageRequest { limit: 1000, after: None }).await.unwrap();
        if page.items.is_empty() {
            return;
        }
        for trial in page.items {
            trials::stop(db, trial.id, Default::default()).await.unwrap();
        }
    }
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
