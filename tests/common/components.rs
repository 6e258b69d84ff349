//! Small servers that speak the real protocol of the MiSArch components (the Gatling executor, the Chaos Toolkit
//! executor and the experiment configurator, plus the Grafana and InfluxDB APIs a trial exports to), for the MiSArch
//! trial tests.
//!
//! eris plays the original Experiment Executor's part (docs/misarch.md), so these fakes play the
//! other side: they answer what the real components answer and make the same callbacks
//! to eris's `/trigger` and `/gatling/metrics` routes, with the same timing rules
//! (100 ms polls, the trigger body compared the way each component compares it). Where a real component gives up,
//! the fake gives up the same way, so a test sees what a deployment would see.
//!
//! Every fake listens on `127.0.0.1:0` only and records every request it receives, unknown routes included, before
//! it answers; the executors also record every call they make to eris together with eris's answer. The servers
//! run as tasks of the test's runtime and end with it.

#![allow(dead_code, reason = "each test binary uses a different part of the harness")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::AbortHandle;

/// The components poll the trigger every 100 ms.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How many polls a fake executor makes before it gives up on the trigger. The real ones make 6000 (plus
/// `testDelay` for Chaos Toolkit, which this fake adds too), ten minutes; a minute is ample for a test and ends a
/// forgotten run sooner.
const MAX_POLLS: usize = 600;
/// How long the fake configurator takes to answer a variable PUT (the real one publishes the service's whole map
/// first), so that PUTs sent at once are seen in flight at once.
const PUBLISH_DELAY: Duration = Duration::from_millis(20);
/// A bound on each call to eris, so that an eris that never answers shows up as a failed callback (status 0).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The sidecar variables the configurator accepts; any other key is a 500 there.
const SIDECAR_VARIABLES: [&str; 4] =
    ["pubsubDeterioration", "serviceInvocationDeterioration", "artificialMemoryUsage", "artificialCPUUsage"];

/// One request a fake received, as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path_and_query: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    /// The body as text (lossy UTF-8); empty when there was none.
    pub body: String,
    /// When the request arrived.
    pub at: Instant,
    /// When its answer was sent; empty while it is being answered.
    pub answered: Arc<OnceLock<Instant>>,
}

impl Recorded {
    /// Whether `later` arrived before this one was answered: the two were in flight at once.
    pub fn overlaps(&self, later: &Recorded) -> bool {
        later.at < self.answered.get().copied().unwrap_or(later.at + Duration::from_secs(1))
    }
}

/// One outgoing call a fake component made to eris, and what eris answered.
#[derive(Debug, Clone)]
pub struct Callback {
    pub method: String,
    /// Path and query of the called URL (including any path of the executor URL).
    pub path_and_query: String,
    /// The answer's status, or 0 when no answer came (connection refused, timeout).
    pub status: u16,
    /// The answer's body, or the error's text when `status` is 0.
    pub body: String,
    /// When the answer (or the error) arrived.
    pub at: Instant,
}

/// The body the Gatling executor uploads: the real report of a 30-minute run, `index.html` and `js/stats.js`
/// joined by `\nSPLIT_HERE\n`, exactly as `gatling-test/buildSrc/.../Util.kt` builds it.
pub fn real_report_body() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gatling-realistic-30min");
    let read = |name: &str| {
        let path = format!("{dir}/{name}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the Gatling report fixture {path}: {e}"))
    };
    format!("{}\nSPLIT_HERE\n{}", read("index.html"), read("stats.js"))
}

/// A loopback URL where nothing listens (the port was free a moment ago), for "component unreachable" tests.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let port = listener.local_addr().expect("the bound address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// How the fake Gatling executor behaves; the defaults are a healthy executor that runs a short main simulation.
#[derive(Debug, Clone)]
pub struct GatlingBehaviour {
    /// `GET /actuator/health`: 200 `{"status":"UP"}`, or 503 `{"status":"DOWN"}` when false.
    pub healthy: bool,
    /// Whether the main simulation ever gets to register at the barrier. When false the run stays "in Gradle"
    /// (after its steady-state upload, if any) until it is stopped: it neither registers nor polls, as a real
    /// executor whose compilation or warm-up outlasts eris's barrier timeout.
    pub register: bool,
    /// Whether the final report is uploaded after the main simulation; false for the metrics-timeout test.
    pub post_metrics: bool,
    /// How long the main simulation runs once the trigger answered `true`.
    pub main_run: Duration,
    /// The body of both uploads (steady state and final).
    pub report_body: String,
}

impl Default for GatlingBehaviour {
    fn default() -> Self {
        Self {
            healthy: true,
            register: true,
            post_metrics: true,
            main_run: Duration::from_millis(300),
            report_body: real_report_body(),
        }
    }
}

/// The Gatling executor (`MiSArch/gatling-executor`): `POST /start-experiment` answers 202 and "runs Gradle":
/// the steady-state upload when asked for, then `MainSimulation.before()` (register as `gatling`, poll the trigger),
/// the main simulation, and the final upload. `POST /stop-experiment` kills the run wherever it is.
pub struct FakeGatling {
    pub url: String,
    requests: Log<Recorded>,
    callbacks: Log<Callback>,
    stopped: Log<String>,
}

impl FakeGatling {
    pub async fn start(executor_url: &str, behaviour: GatlingBehaviour) -> Self {
        let eris = Eris::new(executor_url);
        let callbacks = eris.callbacks.clone();
        let stopped = Log::default();
        let runs = Runs::default();
        let handler = {
            let stopped = stopped.clone();
            move |request: &Incoming| match (request.method.as_str(), request.path.as_str()) {
                ("POST", "/start-experiment") => gatling_start(request, &eris, &behaviour, &runs),
                ("POST", "/stop-experiment") => gatling_stop(request, &runs, &stopped),
                ("GET", "/actuator/health") => {
                    let (status, health) = if behaviour.healthy {
                        (StatusCode::OK, "UP")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "DOWN")
                    };
                    let mut response = json_response(status, json!({"status": health}));
                    // Spring Boot actuator's own media type.
                    response.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("application/vnd.spring-boot.actuator.v3+json"),
                    );
                    response
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        };
        let (url, requests) = serve(handler).await;
        Self { url, requests, callbacks, stopped }
    }

    /// What eris sent to it.
    pub fn requests(&self) -> Vec<Recorded> {
        snapshot(&self.requests)
    }

    /// What it sent to eris, and the answers.
    pub fn callbacks(&self) -> Vec<Callback> {
        snapshot(&self.callbacks)
    }

    /// The testUUIDs of every well-formed `POST /stop-experiment` it received (known run or not), in order.
    pub fn stopped(&self) -> Vec<String> {
        snapshot(&self.stopped)
    }
}

/// `GatlingController.getGatlingData`: Spring rejects a missing or malformed parameter or body before the service
/// runs (400, or 415 for a body that is not JSON), then the run starts and the answer is 202 with Kotlin's `Unit`.
fn gatling_start(request: &Incoming, eris: &Eris, behaviour: &GatlingBehaviour, runs: &Runs) -> Response {
    let Some((uuid, version)) = spring_run_id(request) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(steady_state) = spring_bool(request.param("steadyState")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let other_parameters_valid = spring_bool(request.param("warmUp")).is_some()
        && ["warmUpRate", "warmUpDuration", "steadyStateRate", "steadyStateDuration"]
            .iter()
            .all(|name| request.param(name).is_none_or(|value| value.is_empty() || value.parse::<i32>().is_ok()));
    if !other_parameters_valid {
        return StatusCode::BAD_REQUEST.into_response();
    }
    if !request.content_type.as_deref().is_some_and(is_json_media_type) {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    if !is_encoded_file_list(&request.body) {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let run = tokio::spawn(gatling_run(eris.clone(), behaviour.clone(), uuid.clone(), version.clone(), steady_state));
    // As `GatlingService`, a second start of the same run replaces the entry; the first keeps running.
    runs.lock().unwrap().insert(format!("{uuid}:{version}"), run.abort_handle());
    json_response(StatusCode::ACCEPTED, json!({}))
}

/// What the Gradle tasks do after `start-experiment`, stopping where the real build stops: a steady-state upload
/// that is not answered 200 fails `steadyStateForwardMetrics`; `MainSimulation.httpRequest` throws on a
/// registration or poll that is not answered 200, 202 or 204 (or not at all); after 6000 (here [`MAX_POLLS`])
/// polls the simulation throws. In each case Gradle stops and nothing more is sent.
async fn gatling_run(eris: Eris, behaviour: GatlingBehaviour, uuid: String, version: String, steady_state: bool) {
    let metrics = format!("/experiment/{uuid}/{version}/gatling/metrics");
    let trigger = format!("/trigger/{uuid}/{version}");
    if steady_state
        && eris.call(Method::POST, &format!("{metrics}/steadyState"), Some(&behaviour.report_body)).await.0 != 200
    {
        return;
    }
    if !behaviour.register {
        return;
    }
    let answered = |status: u16| matches!(status, 200 | 202 | 204);
    if !answered(eris.call(Method::POST, &format!("{trigger}?client=gatling"), None).await.0) {
        return;
    }
    let mut pulled = false;
    for _ in 0..MAX_POLLS {
        let (status, body) = eris.call(Method::GET, &trigger, None).await;
        if !answered(status) {
            return;
        }
        // Kotlin's `triggerResponse == "true"`: exactly, no trimming.
        if body == "true" {
            pulled = true;
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    if !pulled {
        return;
    }
    tokio::time::sleep(behaviour.main_run).await;
    if behaviour.post_metrics {
        eris.call(Method::POST, &metrics, Some(&behaviour.report_body)).await;
    }
}

/// `GatlingController.stopExperiment`: destroys the process of `uuid:version` and forgets it (so a second stop is
/// a 404, as is a stop for a run it never started).
fn gatling_stop(request: &Incoming, runs: &Runs, stopped: &Log<String>) -> Response {
    let Some((uuid, version)) = spring_run_id(request) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    stopped.lock().unwrap().push(uuid.clone());
    match runs.lock().unwrap().remove(&format!("{uuid}:{version}")) {
        Some(run) => {
            run.abort();
            (StatusCode::OK, format!("Experiment {uuid} stopped successfully.")).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The Chaos Toolkit executor (`MiSArch/chaostoolkit-executor`, a Flask app): `POST /start-experiment` answers
/// at once and starts a thread that registers as `chaostoolkit`, polls the trigger and then runs `chaos run`
/// (here: records the testUUID in [`FakeChaosToolkit::ran`]). It has no health route; eris probes
/// `GET /start-experiment`, which Flask answers 405.
pub struct FakeChaosToolkit {
    pub url: String,
    requests: Log<Recorded>,
    callbacks: Log<Callback>,
    ran: Log<String>,
    stopped: Log<String>,
}

impl FakeChaosToolkit {
    pub async fn start(executor_url: &str) -> Self {
        let eris = Eris::new(executor_url);
        let callbacks = eris.callbacks.clone();
        let (ran, stopped) = (Log::default(), Log::default());
        let runs = Runs::default();
        let handler = {
            let (ran, stopped) = (ran.clone(), stopped.clone());
            move |request: &Incoming| match (request.method.as_str(), request.path.as_str()) {
                ("POST", "/start-experiment") => chaos_start(request, &eris, &runs, &ran),
                ("POST", "/stop-experiment") => chaos_stop(request, &runs, &stopped),
                (_, "/start-experiment" | "/stop-experiment") => flask_page(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Method Not Allowed",
                    "The method is not allowed for the requested URL.",
                ),
                _ => flask_page(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                    "The requested URL was not found on the server. If you entered the URL manually please check your \
                     spelling and try again.",
                ),
            }
        };
        let (url, requests) = serve(handler).await;
        Self { url, requests, callbacks, ran, stopped }
    }

    /// What eris sent to it.
    pub fn requests(&self) -> Vec<Recorded> {
        snapshot(&self.requests)
    }

    /// What it sent to eris, and the answers.
    pub fn callbacks(&self) -> Vec<Callback> {
        snapshot(&self.callbacks)
    }

    /// The testUUIDs whose `chaos run` started (the trigger was seen `true` before any stop), in order.
    pub fn ran(&self) -> Vec<String> {
        snapshot(&self.ran)
    }

    /// The testUUIDs of every `POST /stop-experiment` it received (known run or not), in order.
    pub fn stopped(&self) -> Vec<String> {
        snapshot(&self.stopped)
    }
}

/// `start_experiment()`: no validation but `int(testDelay)` (a ValueError is Flask's 500); a missing testUUID or
/// testVersion becomes Python's `None` in the run id, as in the original.
fn chaos_start(request: &Incoming, eris: &Eris, runs: &Runs, ran: &Log<String>) -> Response {
    let uuid = request.param("testUUID").unwrap_or("None").to_owned();
    let version = request.param("testVersion").unwrap_or("None").to_owned();
    if request.param("testDelay").is_some_and(|delay| delay.trim().parse::<i64>().is_err()) {
        return flask_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "The server encountered an internal error and was unable to complete your request. Either the server is \
             overloaded or there is an error in the application.",
        );
    }
    let delay = request.param("testDelay").and_then(|delay| delay.trim().parse::<usize>().ok()).unwrap_or(0);
    let run = tokio::spawn(chaos_run(eris.clone(), uuid.clone(), version.clone(), MAX_POLLS + delay, ran.clone()));
    runs.lock().unwrap().insert(format!("{uuid}:{version}"), run.abort_handle());
    json_response(StatusCode::OK, json!({"status": "Experiment started"}))
}

/// `run_experiment()`: the registration's errors are only printed; a failed poll is printed and retried; the
/// trigger counts when the status is 200 and the body, stripped and lowercased, is `true`.
async fn chaos_run(eris: Eris, uuid: String, version: String, polls: usize, ran: Log<String>) {
    let trigger = format!("/trigger/{uuid}/{version}");
    eris.call(Method::POST, &format!("{trigger}?client=chaostoolkit"), None).await;
    for _ in 0..polls {
        let (status, body) = eris.call(Method::GET, &trigger, None).await;
        if status == 200 && body.trim().eq_ignore_ascii_case("true") {
            ran.lock().unwrap().push(uuid);
            return;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// `stop_experiment()`: sets the stop event (ending the trigger wait or killing `chaos run`) and forgets the run.
fn chaos_stop(request: &Incoming, runs: &Runs, stopped: &Log<String>) -> Response {
    let uuid = request.param("testUUID").unwrap_or("None").to_owned();
    let version = request.param("testVersion").unwrap_or("None");
    stopped.lock().unwrap().push(uuid.clone());
    match runs.lock().unwrap().remove(&format!("{uuid}:{version}")) {
        Some(run) => {
            run.abort();
            json_response(StatusCode::OK, json!({"status": "Experiment stopped"}))
        }
        None => json_response(StatusCode::NOT_FOUND, json!({"error": "Experiment not found"})),
    }
}

/// The MiSArch experiment configurator (NestJS): knows the services it was started with (as if their
/// sidecars had sent heartbeats) and stores the four sidecar variables eris sets with
/// `PUT /configuration/{service}/variables/{variable}`.
pub struct FakeConfigurator {
    pub url: String,
    requests: Log<Recorded>,
    variables: Arc<Mutex<HashMap<(String, String), Value>>>,
    services: Arc<Mutex<Vec<String>>>,
}

impl FakeConfigurator {
    pub async fn start(services: &[&str]) -> Self {
        let services: Arc<Mutex<Vec<String>>> =
            Arc::new(Mutex::new(services.iter().map(|service| (*service).to_owned()).collect()));
        let variables: Arc<Mutex<HashMap<(String, String), Value>>> = Arc::default();
        let handler = {
            let (variables, services) = (variables.clone(), services.clone());
            move |request: &Incoming| {
                let variable_path = request
                    .path
                    .strip_prefix("/configuration/")
                    .and_then(|rest| rest.split_once("/variables/"))
                    .filter(|(service, variable)| {
                        // A service, or one replica of it: `{service}/replicas/{replica}`.
                        let parts = service.split('/').count();
                        (parts == 1 || (parts == 3 && service.split('/').nth(1) == Some("replicas")))
                            && !variable.contains('/')
                    });
                match (request.method.as_str(), request.path.as_str(), variable_path) {
                    ("GET", "/health", _) => json_response(StatusCode::OK, json!({"status": "OK"})),
                    ("GET", "/configuration/names", _) => {
                        json_response(StatusCode::OK, json!(*services.lock().unwrap()))
                    }
                    ("PUT", _, Some((service, variable))) => {
                        put_variable(request, &services.lock().unwrap(), &variables, service, variable)
                    }
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        };
        let publishing =
            |request: &Incoming| if request.method == Method::PUT { PUBLISH_DELAY } else { Duration::ZERO };
        let (url, requests) = serve_answering_after(handler, publishing).await;
        Self { url, requests, variables, services }
    }

    /// Forgets a service, as a restarted configurator does until the service's sidecar registers again: its PUTs
    /// answer 404 from now on.
    pub fn forget(&self, service: &str) {
        self.services.lock().unwrap().retain(|known| known != service);
    }

    /// What eris sent to it.
    pub fn requests(&self) -> Vec<Recorded> {
        snapshot(&self.requests)
    }

    /// The variable's current value: None when it was never set, `Some(Value::Null)` after a reset.
    pub fn variable(&self, service: &str, variable: &str) -> Option<Value> {
        self.variables.lock().unwrap().get(&(service.to_owned(), variable.to_owned())).cloned()
    }
}

/// `ConfigurationController.updateServiceVariable`, in NestJS's order: the body is parsed and validated first (a
/// body that is not JSON, or JSON without `value`, is a 400; a body of another content type is not parsed, so it
/// has no `value` either), then the service is looked up (404), then the variable is checked against the sidecar's
/// definitions (a plain `Error`, so 500), then the value against the variable's JSON schema (ajv, 400).
fn put_variable(
    request: &Incoming,
    services: &[String],
    variables: &Mutex<HashMap<(String, String), Value>>,
    service: &str,
    variable: &str,
) -> Response {
    let parsed = if request.content_type.as_deref().is_some_and(is_json_media_type) {
        match serde_json::from_str::<Value>(&request.body) {
            Ok(parsed) => parsed,
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    } else {
        json!({})
    };
    let Some(value) = parsed.get("value").cloned() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    // A replica's variable is kept as `{service}@{replica}`.
    let (service, kept_as) = match service.split_once("/replicas/") {
        Some((service, replica)) => (service, format!("{service}@{replica}")),
        None => (service, service.to_owned()),
    };
    if !services.iter().any(|known| known == service) {
        return (StatusCode::NOT_FOUND, format!("Service configuration with name \"{service}\" not found."))
            .into_response();
    }
    if !SIDECAR_VARIABLES.contains(&variable) {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"statusCode": 500, "message": "Internal server error"}),
        );
    }
    if let Some(violation) = schema_violation(variable, &value) {
        return (StatusCode::BAD_REQUEST, format!("[{variable}] Validation failed: {violation}")).into_response();
    }
    let mut variables = variables.lock().unwrap();
    variables.insert((kept_as, variable.to_owned()), value);
    // A registered service has all four sidecar variables, at their default (null) until set.
    let global_variables: Vec<Value> = SIDECAR_VARIABLES
        .iter()
        .map(|key| {
            let value = variables.get(&(service.to_owned(), (*key).to_owned())).cloned().unwrap_or(Value::Null);
            json!({"key": key, "value": value})
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"name": service, "replicas": [], "globalVariables": global_variables, "variableDefinitions": []}),
    )
}

/// What a member of a sidecar variable's object must be.
#[derive(Clone, Copy)]
enum Kind {
    Integer,
    Number,
    Text,
}

impl Kind {
    fn holds(self, value: &Value) -> bool {
        match self {
            // ajv's "integer": any JSON number without a fractional part (100.0 is one, 100.5 is not).
            Kind::Integer => value.as_f64().is_some_and(|number| number.fract() == 0.0),
            Kind::Number => value.is_number(),
            Kind::Text => value.is_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Text => "string",
        }
    }
}

/// The sidecar's JSON schemas for its four variables (ConfigPropertyDefinitions.cs in experiment-config-sidecar), as
/// the configurator's ajv applies them to a PUT's value: `null` always allowed, typed members, no other members,
/// and an object or a list of them where the schema says either. Returns ajv's error text for the first violation.
fn schema_violation(variable: &str, value: &Value) -> Option<String> {
    use Kind::{Integer, Number, Text};
    let object = |value: &Value, path: &str, members: &[(&str, Kind)], required: &[&str]| -> Option<String> {
        let Some(object) = value.as_object() else { return Some(format!("{path} must be object")) };
        if let Some(missing) = required.iter().find(|name| !object.contains_key(**name)) {
            return Some(format!("{path} must have required property '{missing}'"));
        }
        object.iter().find_map(|(name, member)| match members.iter().find(|(known, _)| known == name) {
            None => Some(format!("{path} must NOT have additional properties")),
            Some((_, kind)) if !kind.holds(member) => Some(format!("{path}/{name} must be {}", kind.name())),
            Some(_) => None,
        })
    };
    let one_or_many = |value: &Value, members: &[(&str, Kind)], required: &[&str]| match value.as_array() {
        Some(items) => {
            items.iter().enumerate().find_map(|(index, item)| object(item, &format!("/{index}"), members, required))
        }
        None => object(value, "", members, required),
    };
    if value.is_null() {
        return None;
    }
    match variable {
        "pubsubDeterioration" => {
            object(value, "", &[("delayProbability", Number), ("errorProbability", Number), ("delay", Integer)], &[])
        }
        "serviceInvocationDeterioration" => one_or_many(
            value,
            &[
                ("path", Text),
                ("delayProbability", Number),
                ("delay", Integer),
                ("errorProbability", Number),
                ("errorCode", Integer),
            ],
            &[],
        ),
        "artificialMemoryUsage" => (!Integer.holds(value)).then(|| " must be integer".to_owned()),
        "artificialCPUUsage" => one_or_many(
            value,
            &[("usageDuration", Integer), ("pauseDuration", Integer)],
            &["usageDuration", "pauseDuration"],
        ),
        _ => None,
    }
}

/// Grafana's HTTP API as far as eris uses it: `POST /api/dashboards/db` answers like Grafana when `status`
/// is 200, and with that status and an error message otherwise (to test a failed export).
pub struct FakeGrafana {
    pub url: String,
    requests: Log<Recorded>,
}

impl FakeGrafana {
    pub async fn start(status: u16) -> Self {
        let status = StatusCode::from_u16(status).expect("an HTTP status code");
        let handler = move |request: &Incoming| match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/dashboards/db") if status != StatusCode::OK => {
                json_response(status, json!({"message": "internal error"}))
            }
            ("POST", "/api/dashboards/db") => match serde_json::from_str::<Value>(&request.body) {
                Ok(body) if body["dashboard"].is_object() => {
                    let uid = body["dashboard"]["uid"].as_str().unwrap_or_default();
                    json_response(
                        StatusCode::OK,
                        json!({"id": 1, "uid": uid, "url": format!("/d/{uid}/eris"), "status": "success",
                               "version": 1, "slug": "eris"}),
                    )
                }
                _ => json_response(StatusCode::BAD_REQUEST, json!({"message": "bad request data"})),
            },
            ("GET", "/api/health") => json_response(StatusCode::OK, json!({"database": "ok"})),
            _ => json_response(StatusCode::NOT_FOUND, json!({"message": "Not found"})),
        };
        let (url, requests) = serve(handler).await;
        Self { url, requests }
    }

    /// What eris sent to it.
    pub fn requests(&self) -> Vec<Recorded> {
        snapshot(&self.requests)
    }
}

/// InfluxDB 2's write API: accepts every `POST /api/v2/write` with 204, as a write of valid lines does.
pub struct FakeInflux {
    pub url: String,
    requests: Log<Recorded>,
}

impl FakeInflux {
    pub async fn start() -> Self {
        let handler = |request: &Incoming| match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/v2/write") => StatusCode::NO_CONTENT.into_response(),
            ("GET", "/health") => json_response(StatusCode::OK, json!({"status": "pass"})),
            _ => json_response(StatusCode::NOT_FOUND, json!({"code": "not found", "message": "path not found"})),
        };
        let (url, requests) = serve(handler).await;
        Self { url, requests }
    }

    /// What eris sent to it.
    pub fn requests(&self) -> Vec<Recorded> {
        snapshot(&self.requests)
    }
}

type Log<T> = Arc<Mutex<Vec<T>>>;

/// The runs an executor has started, by `testUUID:testVersion` (both real executors key them so), with the handle
/// that stops one wherever it is, as killing the process or setting the stop event does.
type Runs = Arc<Mutex<HashMap<String, AbortHandle>>>;

fn snapshot<T: Clone>(log: &Log<T>) -> Vec<T> {
    log.lock().unwrap().clone()
}

/// A request as the fakes' handlers see it, after it was recorded.
struct Incoming {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: String,
}

impl Incoming {
    /// The first value of a query parameter, as both Spring's `@RequestParam` and Flask's `args.get` take it.
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// Serves `handler` on a fresh loopback port, recording every request before the handler sees it. Returns the
/// base URL and the record.
async fn serve<H>(handler: H) -> (String, Log<Recorded>)
where
    H: Fn(&Incoming) -> Response + Clone + Send + Sync + 'static,
{
    serve_answering_after(handler, |_| Duration::ZERO).await
}

/// [`serve`], answering each request `delay(request)` after the handler made its answer.
async fn serve_answering_after<H>(handler: H, delay: fn(&Incoming) -> Duration) -> (String, Log<Recorded>)
where
    H: Fn(&Incoming) -> Response + Clone + Send + Sync + 'static,
{
    let requests = Log::default();
    let record = requests.clone();
    let app = axum::Router::new().fallback(move |request: Request| {
        let (record, handler) = (record.clone(), handler.clone());
        async move {
            let at = Instant::now();
            let answered = Arc::new(OnceLock::new());
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await;
            let header_of = |name| header_text(&parts.headers, name);
            record.lock().unwrap().push(Recorded {
                method: parts.method.to_string(),
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.to_string()),
                content_type: header_of(header::CONTENT_TYPE),
                authorization: header_of(header::AUTHORIZATION),
                body: body.as_ref().map(|bytes| String::from_utf8_lossy(bytes).into_owned()).unwrap_or_default(),
                at,
                answered: answered.clone(),
            });
            let Ok(body) = body else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let query = url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect();
            let incoming = Incoming {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                query,
                content_type: header_of(header::CONTENT_TYPE),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let response = handler(&incoming);
            tokio::time::sleep(delay(&incoming)).await;
            let _ = answered.set(Instant::now());
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("the bound address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, requests)
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Werkzeug's HTML error page, which Flask sends for 404, 405 and an uncaught exception.
fn flask_page(status: StatusCode, title: &str, description: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=en>\n<title>{} {title}</title>\n<h1>{title}</h1>\n<p>{description}</p>\n",
        status.as_u16()
    );
    let mut response = (status, axum::response::Html(page)).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("OPTIONS, POST"));
    }
    response
}

/// Spring's `application/json` and `application/*+json` readers.
fn is_json_media_type(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media_type == "application/json" || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// `@RequestParam testUUID: UUID, @RequestParam testVersion: String`: both required, the UUID in its canonical
/// 8-4-4-4-12 form (what eris sends; `UUID.fromString` is laxer), returned as `UUID.toString()` prints it.
fn spring_run_id(request: &Incoming) -> Option<(String, String)> {
    let uuid = request.param("testUUID")?;
    let version = request.param("testVersion").filter(|version| !version.is_empty())?;
    let canonical = uuid.len() == 36
        && uuid
            .char_indices()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    canonical.then(|| (uuid.to_ascii_lowercase(), version.to_owned()))
}

/// An optional Spring `Boolean` parameter (default false); None when Spring would reject it.
fn spring_bool(value: Option<&str>) -> Option<bool> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("" | "false" | "off" | "no" | "0") => Some(false),
        Some("true" | "on" | "yes" | "1") => Some(true),
        Some(_) => None,
    }
}

/// The `List<EncodedFileDTO>` body: a JSON array of objects with the three non-null string fields Jackson needs
/// for the Kotlin data class.
fn is_encoded_file_list(body: &str) -> bool {
    serde_json::from_str::<Vec<Value>>(body).is_ok_and(|files| {
        files.iter().all(|file| {
            ["fileName", "encodedWorkFileContent", "encodedUserStepsFileContent"]
                .iter()
                .all(|field| file.get(field).is_some_and(Value::is_string))
        })
    })
}

/// The way a fake calls eris: one client, every call recorded as a [`Callback`].
#[derive(Clone)]
struct Eris {
    client: reqwest::Client,
    base: String,
    callbacks: Log<Callback>,
}

impl Eris {
    fn new(executor_url: &str) -> Self {
        Self {
            client: eris::http_client::build(),
            base: executor_url.trim_end_matches('/').to_owned(),
            callbacks: Log::default(),
        }
    }

    /// Calls `{executor_url}{path}`, with `upload` as a Gatling report upload (`Content-Type: plain/text`, sic),
    /// records the call, and returns the answer's status (0 for no answer) and body.
    async fn call(&self, method: Method, path: &str, upload: Option<&str>) -> (u16, String) {
        let target = format!("{}{path}", self.base);
        let path_and_query = match url::Url::parse(&target) {
            Ok(parsed) => match parsed.query() {
                Some(query) => format!("{}?{query}", parsed.path()),
                None => parsed.path().to_owned(),
            },
            Err(_) => path.to_owned(),
        };
        let mut request = self.client.request(method.clone(), &target).timeout(CALL_TIMEOUT);
        if let Some(upload) = upload {
            request = request.header(header::CONTENT_TYPE, "plain/text").body(upload.to_owned());
        }
        let (status, body) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(body) => (status, body),
                    Err(error) => (status, error_text(&error)),
                }
            }
            Err(error) => (0, error_text(&error)),
        };
        self.callbacks.lock().unwrap().push(Callback {
            method: method.to_string(),
            path_and_query,
            status,
            body: body.clone(),
            at: Instant::now(),
        });
        (status, body)
    }
}

/// An error with its causes, since reqwest's own message ("error sending request") hides the reason.
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Settings that export to these fakes, as the tests' Grafana (`https://grafana.example.com`, a token) and
/// InfluxDB (org `misarch`, bucket `gatling`, a token) expect.
pub fn export_settings(
    grafana: &FakeGrafana,
    influx: &FakeInflux,
) -> (eris::misarch::settings::GrafanaSettings, eris::misarch::settings::InfluxSettings) {
    use eris::misarch::settings::{GrafanaAuth, GrafanaSettings, InfluxSettings};
    use secrecy::SecretString;
    let grafana = GrafanaSettings {
        url: url::Url::parse(&grafana.url).unwrap(),
        public_url: "https://grafana.example.com".into(),
        auth: Some(GrafanaAuth::Token(SecretString::from("grafana-token"))),
        datasource_uid: "influxdb_uid".into(),
        bucket: "gatling".into(),
    };
    let influx = InfluxSettings {
        url: url::Url::parse(&influx.url).unwrap(),
        token: Some(SecretString::from("influx-token")),
        org: "misarch".into(),
        bucket: "gatling".into(),
    };
    (grafana, influx)
}
