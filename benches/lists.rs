//! List pages at scale from a real `eris serve`, printed (not asserted): `cargo bench --bench lists`.
//!
//! Seeds 1,000,000 trials (of 10 experiments, one in ten of each `Failed`), 100,000 experiments and 100,000 audit entries,
//! on SQLite and, with `ERIS_TEST_DATABASE_URL`, on PostgreSQL; then drives, with `common::serve`'s connections,
//! `GET /health` and, 100 items a page: the first page, the page 50 `Link`s deep and a filtered page
//! (`experiment` + `status`) of trials, the first and the 50th page of experiments, and the first page and an
//! `actor`-filtered page of the audit log. Prints each one's req/s and p50/p99, its throughput as a share of
//! `/health`'s, and its latency alone (one connection).

mod common;

use std::time::Instant;

use common::serve::{Server, drive, drive_with};
use eris::db::{self, AuditRow, DatabaseUrl, Db, PoolOptions, TrialRow, write_transaction};
use eris::experiments::{self, ExperimentInput};

const TRIALS: usize = 1_000_000;
const EXPERIMENTS: usize = 100_000;
const AUDIT_ENTRIES: usize = 100_000;
/// The experiments the trials belong to.
const TRIAL_EXPERIMENTS: usize = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in common::databases() {
        println!("== {}", database.name);
        db::migrate(&database.url).unwrap();
        let started = Instant::now();
        let first_experiment = runtime.block_on(seed(&database.url));
        println!(
            "seeded {TRIALS} trials, {EXPERIMENTS} experiments, {AUDIT_ENTRIES} audit entries in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let server = Server::start(&database.url);
        runtime.block_on(async {
            server.wait_ready().await;
            let deep_trials = follow(&server, "/api/v1/trial?limit=100", 50).await;
            let deep_experiments = follow(&server, "/api/v1/experiment?limit=100", 50).await;
            let routes = [
                ("GET /health", "/health".to_owned()),
                ("trials, first page", "/api/v1/trial?limit=100".to_owned()),
                ("trials, 50 pages deep", deep_trials),
                (
                    "trials of an experiment with a status",
                    format!("/api/v1/trial?limit=100&experiment={first_experiment}&status=Failed"),
                ),
                ("experiments, first page", "/api/v1/experiment?limit=100".to_owned()),
                ("experiments, 50 pages deep", deep_experiments),
                ("audit log, first page", "/api/v1/audit?limit=100".to_owned()),
                ("audit log of one actor", "/api/v1/audit?limit=100&actor=token:ci-3".to_owned()),
            ];
            let mut health = None;
            for (name, path) in routes {
                let load = drive(&server, &path).await;
                load.print(name);
                let floor = *health.get_or_insert(load.per_second());
                println!("  {:.0} % of /health's throughput", 100.0 * load.per_second() / floor);
                drive_with(&server, &path, 1).await.print(&format!("{name}, alone"));
            }
            println!("server RSS: {} MB", server.rss_kb() / 1024);
        });
    }
}

/// The path of the page `links` `Link: rel="next"` hops after `path`.
async fn follow(server: &Server, path: &str, links: usize) -> String {
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

/// Seeds the rows; returns the id of the first trials' experiment.
async fn seed(url: &DatabaseUrl) -> uuid::Uuid {
    let db = Db::connect(url.clone(), PoolOptions::default()).unwrap();
    let start = eris::time::to_db(eris::time::now()) - chrono::TimeDelta::days(30);
    let at = move |i: usize| start + chrono::TimeDelta::milliseconds(i as i64);
    // Through the rules, as the API makes them (with the view each keeps).
    let input: ExperimentInput = serde_json::from_value(serde_json::json!({
        "name": "experiment", "description": "seeded for the lists benchmark", "metadata": {"team": "sre"},
        "parameters": {"health_url": "http://127.0.0.1:9000/health", "api_token": "secret"},
        "pre_steps": [{"step": "healthy", "do": "cm.http_probe", "where": {"url": "{{ health_url }}"}}],
        "steps": [{"step": "wait", "do": "cm.wait", "where": {"time_in_seconds": 1}}]
    }))
    .unwrap();
    let mut owners = Vec::new();
    for i in 0..EXPERIMENTS {
        let experiment = experiments::create(&db, input.clone(), "bench").await.unwrap();
        if i < TRIAL_EXPERIMENTS {
            owners.push(experiment.id.to_string());
        }
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
    for batch in 0..TRIALS / 100_000 {
        let (owners, snapshot) = (owners.clone(), snapshot.clone());
        db.run(move |conn| {
            let rows: Vec<TrialRow> = (batch * 100_000..(batch + 1) * 100_000)
                .map(|i| {
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
                })
                .collect();
            // One statement a row: diesel's multi-row insert is not available through the one connection type of
            // both databases. The statement is prepared once per connection.
            for chunk in rows.chunks(10_000) {
                write_transaction(conn, |conn| chunk.iter().try_for_each(|row| db::trials::insert(conn, row)))?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
    db.run(move |conn| {
        for chunk in (0..AUDIT_ENTRIES).collect::<Vec<_>>().chunks(10_000) {
            write_transaction(conn, |conn| {
                chunk.iter().try_for_each(|&i| {
                    db::audit::insert(
                        conn,
                        &AuditRow {
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
                        },
                    )
                })
            })?;
        }
        Ok(())
    })
    .await
    .unwrap();
    first
}
