//! Failover with the default settings, printed (not asserted): `cargo bench --bench failover`.
//!
//! On SQLite always, and on PostgreSQL when `ERIS_TEST_DATABASE_URL` is set. Each of [`RUNS`] runs starts two
//! `eris serve` replicas on one database with nothing but their address and database set, so the worker lease,
//! heartbeat and polling are the defaults. A trial runs on the lease holder with a second trial queued behind it;
//! the holder is killed with SIGKILL, and the bench prints the time from the kill to the queued trial starting on the
//! other replica (its `executed_at`), and to the killed trial being recovered (its `completed_at`). The issue's
//! target: at most 10 s.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use eris::db::DatabaseUrl;
use serde_json::{Value, json};

const RUNS: usize = 5;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in common::databases() {
        println!("== {}", database.name);
        let url = match &database.url {
            DatabaseUrl::Postgres(url) => url.clone(),
            DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
        };
        let mut to_next = Vec::new();
        let mut to_recovered = Vec::new();
        for run in 1..=RUNS {
            let (next, recovered) = runtime.block_on(failover(&url));
            println!(
                "run {run}: next trial started {next:.1} s after the kill, the killed one recovered after {recovered:.1} s"
            );
            to_next.push(next * 1000.0);
            to_recovered.push(recovered * 1000.0);
        }
        common::report("kill → next trial started on the other replica", &to_next);
        common::report("kill → killed trial recovered", &to_recovered);
    }
}

/// One `eris serve`, killed when dropped.
struct Replica {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    async fn start(url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_eris"))
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("ERIS_BIND", format!("127.0.0.1:{port}"))
            .env("ERIS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let replica = Self { child, base: format!("http://127.0.0.1:{port}"), http: eris::http_client::build() };
        wait_for(Duration::from_secs(60), || async { replica.get_text("/ready").await.is_some() }).await;
        replica
    }

    async fn get_text(&self, path: &str) -> Option<String> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    }

    async fn get(&self, path: &str) -> Value {
        serde_json::from_str(&self.get_text(path).await.expect("an answer")).unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let request = self.http.post(format!("{}{path}", self.base)).header("content-type", "application/json");
        let response = request.body(body.to_string()).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    async fn holds_lease(&self) -> bool {
        self.get_text("/metrics").await.is_some_and(|text| text.lines().any(|line| line == "eris_worker_lease_held 1"))
    }
}

/// Returns the seconds from the kill to the next trial's start and to the killed trial's end.
async fn failover(url: &str) -> (f64, f64) {
    let replicas = [Replica::start(url).await, Replica::start(url).await];
    let long = replicas[0]
        .post(
            "/api/v1/experiment",
            json!({"name": "long", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 600}}]}),
        )
        .await;
    let quick = replicas[0].post("/api/v1/experiment", json!({"name": "quick", "steps": []})).await;
    let running = replicas[0].post("/api/v1/trial", json!({"experiment": long["id"]})).await["id"].clone();
    let running = format!("/api/v1/trial/{}", running.as_str().unwrap());
    wait_for(Duration::from_secs(30), || async { replicas[0].get(&running).await["status"] == "In Progress" }).await;
    let queued = replicas[0].post("/api/v1/trial", json!({"experiment": quick["id"]})).await["id"].clone();
    let queued = format!("/api/v1/trial/{}", queued.as_str().unwrap());
    let [first, second] = replicas;
    let (holder, survivor) = if first.holds_lease().await { (first, second) } else { (second, first) };
    assert!(holder.holds_lease().await, "one replica holds the lease");
    // The kill's instant on the same clock as the database's timestamps (both this machine's).
    let killed_at = Utc::now();
    assert!(Command::new("kill").args(["-KILL", &holder.child.id().to_string()]).status().unwrap().success());
    drop(holder);
    let at = |trial: &Value, field: &str| trial[field].as_str().and_then(|text| text.parse::<DateTime<Utc>>().ok());
    wait_for(Duration::from_secs(60), || async { at(&survivor.get(&queued).await, "executed_at").is_some() }).await;
    wait_for(Duration::from_secs(60), || async { at(&survivor.get(&running).await, "completed_at").is_some() }).await;
    let seconds = |instant: DateTime<Utc>| (instant - killed_at).num_milliseconds() as f64 / 1000.0;
    let next = seconds(at(&survivor.get(&queued).await, "executed_at").unwrap());
    let recovered = seconds(at(&survivor.get(&running).await, "completed_at").unwrap());
    (next, recovered)
}

/// Waits for `condition`, polling every 20 ms, up to `timeout`.
async fn wait_for<F, Fut>(timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
