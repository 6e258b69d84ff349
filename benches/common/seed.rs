//! The rows the read benchmark serves: trials, experiments and audit entries, seeded as eris writes them.

use std::time::{Duration, Instant};

use eris::db::{self, AuditRow, DatabaseUrl, Db, PoolOptions, TrialRow, write_transaction};
use eris::experiments::{self, ExperimentInput};
use eris::trial_status::TrialStatus;
use eris::trials::{self, TrialInput};

use super::serve::Server;

pub const TRIALS: usize = 1_000_000;
pub const EXPERIMENTS: usize = 100_000;
pub const AUDIT_ENTRIES: usize = 100_000;
/// The experiments the million trials belong to.
const TRIAL_EXPERIMENTS: usize = 10;
/// Rows per insert statement: under both backends' limits on bound parameters (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// What [`everything`] seeded.
pub struct Seeded {
    /// A small ended trial, run by a real worker.
    pub trial: uuid::Uuid,
    /// An ended MiSArch trial with the metrics of the real 30-minute Gatling report.
    pub misarch_trial: uuid::Uuid,
    /// The first of the experiments of the million trials.
    pub experiment: uuid::Uuid,
}

pub async fn everything(url: &DatabaseUrl) -> Seeded {
    let db = Db::connect(url.clone(), PoolOptions::default()).unwrap();
    let trial = small_trial(&db).await;
    let misarch_trial = misarch_trial(&db).await;
    let experiment = lists(&db).await;
    settle(&db).await;
    Seeded { trial, misarch_trial, experiment }
}

/// Leaves the database as it would be a while after the bulk load, so that the figures do not measure its aftermath:
/// on PostgreSQL what autovacuum does within a minute (the statistics, the visibility map) and a checkpoint (the
/// load's dirty pages written); on SQLite the write-ahead log checkpointed into the file.
async fn settle(db: &Db) {
    use diesel::connection::SimpleConnection as _;
    db.run(|conn| {
        match conn {
            db::DbConnection::Postgres(postgres) => {
                // Each on its own: VACUUM cannot run in the transaction a multi-statement batch makes.
                postgres.batch_execute("VACUUM ANALYZE trials, experiments, audit_log")?;
                postgres.batch_execute("CHECKPOINT")?;
            }
            db::DbConnection::Sqlite(sqlite) => sqlite.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?,
        }
        Ok(())
    })
    .await
    .unwrap();
}

/// A finished trial of an experiment with one step, run by a real worker.
async fn small_trial(db: &Db) -> uuid::Uuid {
    let input: ExperimentInput = serde_json::from_value(serde_json::json!({
        "name": "reads", "metadata": {"team": "sre"}, "parameters": {"token": "secret", "health_url": "http://127.0.0.1:1/"},
        "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 0}}]
    }))
    .unwrap();
    let experiment = experiments::create(db, input, "bench").await.unwrap();
    let trial: TrialInput = serde_json::from_value(serde_json::json!({"experiment": experiment.id})).unwrap();
    let trial = trials::create(db, trial, "bench").await.unwrap().id;
    let (shutdown, worker) = super::spawn_worker(db);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !trials::find(db, trial).await.unwrap().status.is_final() {
        assert!(Instant::now() < deadline, "the seeded trial did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    worker.await.unwrap();
    trial
}

/// An ended MiSArch trial of the fixture experiment, its metrics stored as the Gatling callback stores them.
async fn misarch_trial(db: &Db) -> uuid::Uuid {
    let misarch: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/misarch-experiment.json")).unwrap();
    let input: ExperimentInput =
        serde_json::from_value(serde_json::json!({"name": "misarch reads", "steps": [], "misarch": misarch})).unwrap();
    let experiment = experiments::create(db, input, "bench").await.unwrap();
    let trial: TrialInput = serde_json::from_value(serde_json::json!({"experiment": experiment.id})).unwrap();
    let trial = trials::create(db, trial, "bench").await.unwrap().id;
    let metrics = eris::misarch::gatling::parse(
        include_str!("../../tests/fixtures/gatling-realistic-30min/index.html"),
        include_str!("../../tests/fixtures/gatling-realistic-30min/stats.js"),
    )
    .unwrap();
    let metrics = serde_json::to_string(&metrics).unwrap();
    println!("MiSArch trial: {} KB of metrics", metrics.len() / 1024);
    db.run(move |conn| {
        let (key, now) = (trial.to_string(), eris::time::to_db(eris::time::now()));
        db::trials::transition(conn, &key, TrialStatus::Scheduled, TrialStatus::InProgress, "bench", now)?;
        db::misarch_runs::store_metrics(conn, &key, &metrics, None, now)?;
        db::trials::transition(conn, &key, TrialStatus::InProgress, TrialStatus::Succeeded, "bench", now)?;
        Ok(())
    })
    .await
    .unwrap();
    trial
}

/// [`EXPERIMENTS`] experiments made through the rules (with the view each keeps), [`TRIALS`] ended trials of the
/// first ten (one in ten of each `Failed`) and [`AUDIT_ENTRIES`] audit entries of ten actors; returns the first
/// experiment.
async fn lists(db: &Db) -> uuid::Uuid {
    let start = eris::time::to_db(eris::time::now()) - chrono::TimeDelta::days(30);
    let at = move |i: usize| start + chrono::TimeDelta::milliseconds(i as i64);
    let input: ExperimentInput = serde_json::from_value(serde_json::json!({
        "name": "experiment", "description": "seeded for the read benchmark", "metadata": {"team": "sre"},
        "parameters": {"health_url": "http://127.0.0.1:9000/health", "api_token": "secret"},
        "pre_steps": [{"step": "healthy", "do": "cm.http_probe", "where": {"url": "{{ health_url }}"}}],
        "steps": [{"step": "wait", "do": "cm.wait", "where": {"time_in_seconds": 1}}]
    }))
    .unwrap();
    let mut owners = Vec::new();
    for _ in 0..TRIAL_EXPERIMENTS {
        owners.push(experiments::create(db, input.clone(), "bench").await.unwrap().id.to_string());
    }
    // The others four at a time: the rules' checks use the second core while one writes.
    let creators: Vec<_> = (0..4)
        .map(|_| {
            let (db, input) = (db.clone(), input.clone());
            tokio::spawn(async move {
                for _ in 0..(EXPERIMENTS - TRIAL_EXPERIMENTS) / 4 {
                    experiments::create(&db, input.clone(), "bench").await.unwrap();
                }
            })
        })
        .collect();
    for creator in creators {
        creator.await.unwrap();
    }
    let first = owners[0].parse().unwrap();
    let snapshot = serde_json::json!({
        "name": "experiment", "description": "", "metadata": {"team": "sre"}, "parameters": {"api_token": "secret"},
        "pre_steps": [], "steps": [{"step": "wait", "do": "cm.wait", "where": {"time_in_seconds": 1}}], "post_steps": [],
        "misarch": null, "notify": []
    })
    .to_string();
    let record =
        r#"{"steps":[{"step":"wait","status":"succeeded","started_at":"2026-11-01T00:00:00Z"}],"result":"succeeded"}"#;
    let trial = move |i: usize| {
        // Trial i belongs to experiment i % 10; one in ten of each experiment's trials failed.
        let status = if (i / TRIAL_EXPERIMENTS) % 10 == 3 { "Failed" } else { "Succeeded" };
        TrialRow {
            id: uuid::Uuid::new_v4().to_string(),
            experiment_id: owners[i % TRIAL_EXPERIMENTS].clone(),
            schedule_id: None,
            experiment_revision: 1,
            experiment_snapshot: snapshot.clone(),
            metadata: r#"{"team":"sre"}"#.to_owned(),
            parameters: "{}".to_owned(),
            ticket: "{}".to_owned(),
            status: status.to_owned(),
            status_reason: Some(format!("the trial ended {status}")),
            scheduled_for: at(i),
            created_at: at(i),
            executed_at: Some(at(i)),
            completed_at: Some(at(i)),
            heartbeat_at: Some(at(i)),
            initiated_by: "bench".to_owned(),
            initiated_from: "api".to_owned(),
            trial_record: record.to_owned(),
            metrics: None,
            goals: None,
            violations: None,
            grafana_url: None,
            report: None,
            claimed_by: Some("bench".to_owned()),
            sweep_id: None,
            sweep_point: None,
            sweep_repetition: None,
            regressions: None,
            held: false,
            dry_run: false,
        }
    };
    let entry = move |i: usize| AuditRow {
        id: uuid::Uuid::new_v4().to_string(),
        created_at: at(i),
        actor: format!("token:ci-{}", i % 10),
        action: "trial.create".to_owned(),
        method: "POST".to_owned(),
        path: "/api/v1/trial".to_owned(),
        target_id: None,
        body_sha256: None,
        status: 201,
        outcome: "succeeded".to_owned(),
        request_id: None,
    };
    db.run(move |conn| {
        for batch in (0..TRIALS).collect::<Vec<_>>().chunks(50_000) {
            let rows: Vec<TrialRow> = batch.iter().map(|&i| trial(i)).collect();
            write_transaction(conn, |conn| {
                rows.chunks(ROWS_PER_STATEMENT).try_for_each(|chunk| db::trials::insert_many(conn, chunk))
            })?;
        }
        let entries: Vec<AuditRow> = (0..AUDIT_ENTRIES).map(entry).collect();
        write_transaction(conn, |conn| entries.iter().try_for_each(|row| db::audit::insert(conn, row)))
    })
    .await
    .unwrap();
    first
}

/// The path of the page `links` `Link: rel="next"` hops after `path`.
pub async fn follow(server: &Server, path: &str, links: usize) -> String {
    let client = eris::http_client::build();
    let mut path = path.to_owned();
    for _ in 0..links {
        let response = client.get(format!("http://{}{path}", server.address)).send().await.unwrap();
        let link = response.headers()["link"].to_str().unwrap().to_owned();
        let next = link.trim_start_matches('<').split('>').next().unwrap();
        path = next.split_once("://").map_or(next, |(_, rest)| &rest[rest.find('/').unwrap()..]).to_owned();
    }
    path
}
