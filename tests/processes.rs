//! Whole `eris serve` processes on one database: SIGTERM and SIGKILL during a trial, and two processes sharing the
//! database (the worker lease and the scheduler's once-per-instant guarantee across processes).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TargetServer, TestApp, TestDatabase, wait_until};
use eris::db::DatabaseUrl;
use serde_json::{Value, json};

struct Serve {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn database_url(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
    }
}

impl Serve {
    async fn start(database: &TestDatabase) -> Self {
        Self::start_logging(database, Stdio::null()).await
    }

    async fn start_logging(database: &TestDatabase, logs: Stdio) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_eris"))
            .arg("serve")
            .env("DATABASE_URL", database_url(&database.url))
            .env("ERIS_BIND", format!("127.0.0.1:{port}"))
            .env("ERIS_WORKER_LEASE_SECS", "2")
            .env("ERIS_LOG", "info")
            .env("ERIS_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(logs)
            .spawn()
            .unwrap();
        let serve = Self { child, base: format!("http://127.0.0.1:{port}"), http: eris::http_client::build() };
        wait_until(Duration::from_secs(30), "eris to be ready", || async {
            serve.http.get(format!("{}/ready", serve.base)).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        serve
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    fn signal(&self, signal: &str) {
        assert!(Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap().success());
    }

    async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let mut status = None;
        wait_until(Duration::from_secs(20), "eris to exit", || {
            status = self.child.try_wait().unwrap();
            std::future::ready(status.is_some())
        })
        .await;
        status.unwrap()
    }
}

async fn start_long_trial(serve: &Serve, target: &TargetServer, cleanup: &str) -> String {
    let experiment = serve
        .post(
            "/api/v1/experiment",
            json!({"name": "long", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 600}}],
                   "post_steps": [{"do": "cm.http_probe", "where": {"url": format!("{}/{cleanup}", target.url)}}]}),
        )
        .await;
    let trial = serve.post("/api/v1/trial", json!({"experiment": experiment["id"]})).await;
    trial["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_running_trial_at_a_safe_point_and_records_it() {
    let target = TargetServer::start().await;
    for database in TestDatabase::all() {
        let mut serve = Serve::start(&database).await;
        let trial = start_long_trial(&serve, &target, "cleanup-sigterm").await;
        let app = TestApp::new(database);
        let path = format!("/api/v1/trial/{trial}");
        wait_until(Duration::from_secs(10), "the trial to run", || async {
            app.get(&path).await.json()["status"] == "In Progress"
        })
        .await;
        serve.signal("-TERM");
        assert!(serve.wait_for_exit().await.success());
        let trial = app.get(&path).await.json();
        assert_eq!(trial["status"], "Failed", "{}: {trial:#}", app.backend());
        assert_eq!(trial["status_reason"], "interrupted: eris shut down while the trial ran");
        assert_eq!(trial["trial_record"]["post_steps"][0]["outcome"], "succeeded");
    }
    assert!(!target.hits().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trial_of_a_killed_process_is_recovered_by_the_next_one() {
    let target = TargetServer::start().await;
    for database in TestDatabase::all() {
        let mut first = Serve::start(&database).await;
        let trial = start_long_trial(&first, &target, "cleanup-sigkill").await;
        let app = TestApp::new(database);
        let path = format!("/api/v1/trial/{trial}");
        wait_until(Duration::from_secs(10), "the trial's step to run", || async {
            app.get(&path).await.json()["trial_record"]["steps"][0]["outcome"] == "running"
        })
        .await;
        first.signal("-KILL");
        first.wait_for_exit().await;
        assert_eq!(app.get(&path).await.json()["status"], "In Progress", "nothing ended it");

        let _second = Serve::start(&app.database).await;
        let trial = app.wait_for_end(&trial).await;
        assert_eq!(trial["status"], "Failed", "{}: {trial:#}", app.backend());
        assert!(trial["status_reason"].as_str().unwrap().starts_with("interrupted"));
        assert_eq!(trial["trial_record"]["post_steps"][0]["outcome"], "succeeded");
        // The step that ran when the process died is closed, not left running.
        let step = &trial["trial_record"]["steps"][0];
        assert_eq!(step["outcome"], "interrupted", "{step}");
        assert!(step["finished_at"].is_string(), "{step}");
    }
    assert_eq!(target.hits().len(), TestDatabase::all().len(), "the clean-up ran once per killed trial");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_on_one_database_fire_each_instant_once_and_run_one_trial_at_a_time() {
    for database in TestDatabase::all() {
        let first = Serve::start(&database).await;
        let _second = Serve::start(&database).await;
        let experiment = first
            .post(
                "/api/v1/experiment",
                json!({"name": "short", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 0.3}}]}),
            )
            .await;
        let experiment_id = experiment["id"].as_str().unwrap();
        let schedule = first
            .post(
                &format!("/api/v1/experiment/{experiment_id}/schedule"),
                json!({"recurrence_pattern": "* * * * * *", "recurrence_count": 4}),
            )
            .await;
        let app = TestApp::new(database);
        let list = format!("/api/v1/trial?schedule={}", schedule["id"].as_str().unwrap());
        wait_until(Duration::from_secs(30), "4 trials to end", || async {
            let trials = app.get(&list).await.json();
            trials.as_array().unwrap().len() == 4
                && trials.as_array().unwrap().iter().all(|t| t["status"] == "Succeeded")
        })
        .await;
        let trials = app.get(&list).await.json();
        let trials = trials.as_array().unwrap();
        let mut instants: Vec<_> = trials.iter().map(|t| t["scheduled_for"].as_str().unwrap().to_owned()).collect();
        instants.dedup();
        assert_eq!(instants.len(), 4, "{}: each instant fired once", app.backend());
        let mut runs: Vec<(String, String)> = trials
            .iter()
            .map(|t| (t["executed_at"].as_str().unwrap().to_owned(), t["completed_at"].as_str().unwrap().to_owned()))
            .collect();
        runs.sort();
        for pair in runs.windows(2) {
            assert!(pair[1].0 >= pair[0].1, "{}: two trials ran at once: {pair:?}", app.backend());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_request_and_trial_ids() {
    let database = TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("eris.log");
    let mut serve = Serve::start_logging(&database, std::fs::File::create(&log_path).unwrap().into()).await;
    let response = serve
        .http
        .get(format!("{}/api/v1/experiment", serve.base))
        .header("x-request-id", "req-from-client-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-from-client-42", "the id comes back");
    let generated = serve.http.get(format!("{}/health", serve.base)).send().await.unwrap();
    assert!(uuid::Uuid::parse_str(generated.headers()["x-request-id"].to_str().unwrap()).is_ok(), "or one is made");

    // A secret that a templated URL carries into the failure reason: the log must show it masked.
    let secret = "s3cr3t-in-a-url";
    let experiment = serve
        .post(
            "/api/v1/experiment",
            json!({"name": "logged", "parameters": {"api_token": secret},
                "steps": [{"do": "cm.http_probe", "where": {"url": "http://127.0.0.1:1/x?key={{ api_token }}"}}]}),
        )
        .await;
    let trial = serve.post("/api/v1/trial", json!({"experiment": experiment["id"]})).await;
    let trial_id = trial["id"].as_str().unwrap().to_owned();
    let app = TestApp::new(database);
    app.wait_for_end(&trial_id).await;
    serve.signal("-TERM");
    serve.wait_for_exit().await;

    let lines: Vec<Value> = std::fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == "req-from-client-42" && l["span"]["path"] == "/api/v1/experiment"),
        "a request's log line carries its id"
    );
    let ended = lines.iter().find(|l| l["fields"]["message"] == "trial ended").expect("the trial's end is logged");
    assert_eq!(ended["span"]["trial"], trial_id.as_str());
    assert_eq!(ended["span"]["experiment"], experiment["id"]);
    assert_eq!(ended["span"]["schedule"], "-");
    assert!(ended["fields"]["reason"].as_str().unwrap().contains("key=*****"), "{ended}");
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(!logs.contains(secret), "the secret is in the log");
}
