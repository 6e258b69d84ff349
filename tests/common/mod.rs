//! Test harness: the real router over a real database, one fresh database per test.
//!
//! Every test runs on SQLite (a temporary file) and, when `ERIS_TEST_DATABASE_URL` is set, again on PostgreSQL
//! in a schema of its own that is dropped afterwards. When PostgreSQL is configured but unreachable the test
//! fails: it is never skipped. Under CI (`CI` set) the variable must be set.

#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use eris::api::{self, AppState};
use eris::db::{self, DatabaseUrl, Db, PoolOptions};

pub mod components;

pub const TEST_BODY_LIMIT: usize = 64 * 1024;

/// One isolated database, removed when dropped.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(#[allow(dead_code, reason = "kept for its Drop")] tempfile::TempDir),
    PostgresSchema {
        admin_url: String,
        schema: String,
    },
    /// Another replica's view of a database some other value removes.
    Nothing,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::PostgresSchema { admin_url, schema } = &self.cleanup
            && let Ok(mut conn) = diesel::PgConnection::establish(admin_url)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("eris.db");
        let url = DatabaseUrl::Sqlite(path.to_str().expect("UTF-8 path").to_owned());
        db::migrate(&url).expect("SQLite migrations apply");
        Self { url, cleanup: Cleanup::SqliteDir(dir) }
    }

    pub fn postgres(admin_url: &str) -> Self {
        let schema = format!("eris_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = diesel::PgConnection::establish(admin_url).unwrap_or_else(|e| {
            panic!("ERIS_TEST_DATABASE_URL is set but PostgreSQL is unreachable at {admin_url}: {e}")
        });
        conn.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("create a test schema");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        // libpq's `options` puts every connection of this database into the test's own schema.
        let url = DatabaseUrl::Postgres(format!("{admin_url}{separator}options=-c%20search_path%3D{schema}"));
        let database = Self { url, cleanup: Cleanup::PostgresSchema { admin_url: admin_url.to_owned(), schema } };
        db::migrate(&database.url).expect("PostgreSQL migrations apply");
        database
    }

    /// The same database for a second replica; dropping it removes nothing (the original removes it).
    pub fn replica(&self) -> Self {
        Self { url: self.url.clone(), cleanup: Cleanup::Nothing }
    }

    /// SQLite, plus PostgreSQL when `ERIS_TEST_DATABASE_URL` is set.
    pub fn all() -> Vec<Self> {
        let mut databases = vec![Self::sqlite()];
        match std::env::var("ERIS_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => databases.push(Self::postgres(url.trim())),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI must run the PostgreSQL tests: set ERIS_TEST_DATABASE_URL (see .ci/run)")
            }
            _ => {}
        }
        databases
    }

    pub fn connect(&self) -> Db {
        Db::connect(self.url.clone(), PoolOptions { max_size: 4, ..PoolOptions::default() }).expect("connect")
    }
}

/// The HTTP application over one test database.
pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub database: TestDatabase,
}

impl TestApp {
    pub fn new(database: TestDatabase) -> Self {
        Self::with_db(database.connect(), database)
    }

    /// An app whose pool is `db`, which need not be `database`'s (to test a database that does not answer).
    pub fn with_db(db: Db, database: TestDatabase) -> Self {
        Self::with_auth(db, database, Default::default())
    }

    /// An app that checks credentials as `auth` says.
    pub fn with_auth(db: Db, database: TestDatabase, auth: eris::auth::settings::AuthSettings) -> Self {
        Self::configured(db, database, auth, Default::default())
    }

    /// An app with these credentials, browser origins (`ERIS_CORS_ORIGINS`) and generator templates.
    pub fn configured(
        db: Db,
        database: TestDatabase,
        auth: eris::auth::settings::AuthSettings,
        cors: eris::api::cors::CorsOrigins,
    ) -> Self {
        let router = api::app(
            AppState {
                auth: std::sync::Arc::new(auth),
                cors: std::sync::Arc::new(cors),
                ..AppState::with_defaults(db.clone())
            },
            eris::api::Limits { max_body_bytes: TEST_BODY_LIMIT, ..Default::default() },
        );
        Self { router, db, database }
    }

    /// One app per backend under test.
    pub fn all() -> Vec<Self> {
        TestDatabase::all().into_iter().map(Self::new).collect()
    }

    pub fn backend(&self) -> &'static str {
        self.database.url.backend()
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("a body").to_bytes();
        TestResponse { status, headers, body: bytes.to_vec() }
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> TestResponse {
        self.request_as(None, method, path, body).await
    }

    /// A request with `Authorization: Bearer <bearer>` when `bearer` is given.
    pub async fn request_as(
        &self,
        bearer: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(bearer) = bearer {
            builder = builder.header("authorization", format!("Bearer {bearer}"));
        }
        let body = match body {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(value).expect("JSON"))
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("a request")).await
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        self.send(builder.body(body.into()).expect("a request")).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> TestResponse {
        self.request(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates an experiment from `body` and returns it.
    pub async fn create_experiment(&self, body: Value) -> Value {
        self.post("/api/v1/experiment", &body).await.expect_status(StatusCode::CREATED).json()
    }

    /// Creates a small valid experiment and returns its id.
    pub async fn experiment_id(&self) -> String {
        let experiment = self.create_experiment(sample_experiment()).await;
        experiment["id"].as_str().expect("an id").to_owned()
    }
}

pub fn sample_experiment() -> Value {
    serde_json::json!({
        "name": "Checkout survives a slow inventory",
        "description": "probe a local health endpoint",
        "metadata": {"team": "sre"},
        "parameters": {"health_url": "http://127.0.0.1:8799/health"},
        "pre_steps": [{"step": "Pre health check", "do": "cm.http_probe", "where": {"url": "{{ health_url }}"}}],
        "steps": [
            {"step": "Wait", "do": "cm.wait", "where": {"time_in_seconds": 1}},
            {"step": "Health check", "do": "cm.http_probe", "where": {"url": "{{ health_url }}", "headers": {"X-Token": "abc"}},
             "expect": [{"operator": "eq", "status_code": 200}, {"operator": "regex", "body": "(UP|RUNNING)"}]}
        ],
        "post_steps": [{"step": "Post check", "do": "cm.http_probe", "where": {"url": "{{ health_url }}"}}]
    })
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    #[track_caller]
    pub fn expect_status(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        self
    }

    /// Asserts a JSON error with this status, code and field, and a non-empty message.
    #[track_caller]
    pub fn expect_error(self, status: StatusCode, code: &str, field: Option<&str>) -> Value {
        let body = self.expect_status(status).json();
        assert_eq!(body["code"], code, "error body: {body}");
        assert_eq!(body["field"].as_str(), field, "error body: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "error body: {body}");
        body
    }

    /// The `rel="next"` URL of the `Link` header.
    pub fn next_link(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        let (url, rel) = link.split_once(';')?;
        assert_eq!(rel.trim(), "rel=\"next\"");
        Some(url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    }
}

/// Waits until `condition` holds, polling; panics after `timeout`. For tests that wait on another process.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small HTTP service for steps to probe: records every request's method and path.
pub struct TargetServer {
    pub url: String,
    pub hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TargetServer {
    /// Routes: `/health` (200 `{"status":"UP"}`), `/fail` (503), `/slow` (answers after a minute), and any other
    /// path 200 with an empty JSON object.
    pub async fn start() -> Self {
        use axum::routing::any;
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = hits.clone();
        let app = Router::new().fallback(any(move |request: axum::extract::Request| {
            let recorded = recorded.clone();
            async move {
                let path = request.uri().path().to_owned();
                recorded.lock().unwrap().push(format!("{} {path}", request.method()));
                match path.as_str() {
                    "/health" => (StatusCode::OK, axum::Json(serde_json::json!({"status": "UP", "count": 3}))),
                    "/fail" => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "DOWN"}))),
                    "/slow" => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        (StatusCode::OK, axum::Json(serde_json::json!({})))
                    }
                    _ => (StatusCode::OK, axum::Json(serde_json::json!({}))),
                }
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, hits }
    }

    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

/// Serves `eris demo-target` (the shop with a fault API) on a loopback port; returns its base URL.
pub async fn demo_target() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, eris::demo_target::router()).await });
    url
}

/// Sets the shop's latency from `latency_ms`, loads it for 1 s at 20 requests a second with a p95 goal of 100 ms,
/// and heals it afterwards.
pub fn shop_study(shop: &str) -> Value {
    serde_json::json!({
        "name": "The shop stays fast under latency",
        "parameters": {"shop": shop, "latency_ms": 0},
        "steps": [
            {"step": "Inject latency", "do": "cm.http_request",
             "where": {"method": "PUT", "url": "{{ shop }}/faults", "body": {"latency_ms": "{{ latency_ms }}"}},
             "expect": [{"operator": "eq", "status_code": 200}]},
            {"step": "Shoppers arrive", "do": "load.http", "where": {
                "rate": 20, "duration": 1,
                "requests": [{"name": "browse", "url": "{{ shop }}/products"}],
                "goals": [
                    {"metric": "95th percentile response time", "threshold": 100, "color": "red"},
                    {"metric": "percentage failed requests", "threshold": 1, "color": "red"}
                ]
            }}
        ],
        "post_steps": [{"step": "Heal the shop", "do": "cm.http_request", "where": {"method": "DELETE", "url": "{{ shop }}/faults"}}]
    })
}

/// A worker with short intervals, running until the returned token is cancelled.
pub fn start_worker(db: &Db) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    start_worker_with(db, Default::default(), Default::default())
}

/// A worker that queues webhooks with `webhooks` and wakes `wakeups`.
pub fn start_worker_with(
    db: &Db,
    wakeups: eris::wakeups::Wakeups,
    webhooks: eris::webhooks::delivery::WebhookConfig,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    start_worker_full(db, wakeups, webhooks, Default::default())
}

/// A worker that drives the MiSArch components of `misarch`.
pub fn start_worker_full(
    db: &Db,
    wakeups: eris::wakeups::Wakeups,
    webhooks: eris::webhooks::delivery::WebhookConfig,
    misarch: eris::misarch::settings::MisarchSettings,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    // The configurator of `misarch.set` steps is the MiSArch run's, as `eris serve` sets it.
    let actions = eris::actions::ActionContext {
        configurator: misarch.configurator.clone(),
        ..eris::actions::ActionContext::new(Duration::from_secs(5))
    };
    spawn_worker(db, wakeups, webhooks, misarch, actions)
}

/// A worker whose steps run with `actions` (a `chaos` CLI, a Prometheus).
pub fn start_worker_acting(
    db: &Db,
    actions: eris::actions::ActionContext,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    spawn_worker(db, Default::default(), Default::default(), Default::default(), actions)
}

fn spawn_worker(
    db: &Db,
    wakeups: eris::wakeups::Wakeups,
    webhooks: eris::webhooks::delivery::WebhookConfig,
    misarch: eris::misarch::settings::MisarchSettings,
    actions: eris::actions::ActionContext,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    use eris::worker::{Worker, WorkerConfig};
    let config = WorkerConfig {
        lease_ttl: Duration::from_secs(2),
        heartbeat_every: Duration::from_millis(100),
        poll_interval: Duration::from_millis(100),
    };
    let executor = eris::executor::Executor {
        actions,
        misarch: eris::executor::misarch::MisarchRuntime { db: db.clone(), settings: std::sync::Arc::new(misarch) },
    };
    let worker = Worker::new(db.clone(), wakeups, config, executor).with_webhooks(webhooks);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    (shutdown, handle)
}

impl TestApp {
    /// Waits until the trial has ended and returns it.
    pub async fn wait_for_end(&self, trial_id: &str) -> Value {
        let path = format!("/api/v1/trial/{trial_id}");
        wait_until(Duration::from_secs(20), &format!("trial {trial_id} to end"), || async {
            let status = self.get(&path).await.json()["status"].as_str().unwrap_or_default().to_owned();
            ["Succeeded", "Failed", "Aborted", "Invalid", "Stopped"].contains(&status.as_str())
        })
        .await;
        self.get(&path).await.json()
    }

    /// Queues a trial of a new experiment made from `definition`; returns the trial's id.
    pub async fn run_experiment(&self, definition: Value, parameters: Value) -> String {
        let experiment = self.create_experiment(definition).await;
        let trial = self
            .post("/api/v1/trial", &serde_json::json!({"experiment": experiment["id"], "parameters": parameters}))
            .await
            .expect_status(StatusCode::CREATED)
            .json();
        trial["id"].as_str().unwrap().to_owned()
    }
}

/// A valid `experiment.misarch` (MiSArch's generated NormalLoadTest, kept equal to the unit tests' sample).
pub fn misarch_sample() -> Value {
    serde_json::from_str(include_str!("../fixtures/misarch-experiment.json")).expect("the fixture is JSON")
}

/// The path in `variable` of a real tool a test runs (the `chaos` CLI, a Prometheus, the MiSArch components), as
/// `.ci/run` sets it. Without it a plain `cargo test` passes over the test and says so (`what`, and how to get
/// it); under CI (`CI` set) the test fails, so the real thing is never silently skipped there.
pub fn real_tool(variable: &str, what: &str) -> Option<std::path::PathBuf> {
    match std::env::var_os(variable) {
        Some(path) => Some(std::path::PathBuf::from(path)),
        None if std::env::var_os("CI").is_some() => {
            panic!("{variable} is not set: under CI {what} must run (.ci/run sets it)")
        }
        None => {
            eprintln!("{what} not run: set {variable}");
            None
        }
    }
}

/// What headless Chromium drew of the page at `url` (tests/browser/check-page.cjs): its status, title, every request
/// it made, its console errors and, per SVG chart, its size, series and marks. A screenshot of the whole page is
/// written to `screenshot` when given. `None` when no browser is set up (`ERIS_TEST_BROWSER`, by `.ci/browser`),
/// which under CI is a failure.
pub async fn browser_check(url: &str, screenshot: Option<&std::path::Path>) -> Option<Value> {
    let playwright = real_tool("ERIS_TEST_BROWSER", "the report pages in headless Chromium")?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/check-page.cjs");
    // Awaited, not waited for: the page is served by this test's own runtime.
    let mut command = tokio::process::Command::new("node");
    command.arg(script).arg(url).env("NODE_PATH", playwright.join("node_modules"));
    if let Some(path) = screenshot {
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("the screenshot's directory");
        command.arg(path);
    }
    let output = command.output().await.expect("node runs");
    assert!(output.status.success(), "the browser check of {url} failed: {}", String::from_utf8_lossy(&output.stderr));
    Some(serde_json::from_slice(&output.stdout).expect("the check prints JSON"))
}

/// Serves `app` on a loopback port, as `eris serve` does; returns its base URL.
pub async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Runs one SQL statement on the app's database (to set up what the API cannot, such as a past instant).
pub async fn sql(app: &TestApp, statement: String) {
    use diesel::RunQueryDsl;
    app.db
        .run(move |conn| {
            diesel::sql_query(statement).execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}
