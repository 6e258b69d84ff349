//! The MiSArch Experiment Executor's own API, driven the way the MiSArch frontend drives it (paths, bodies, content
//! types, `Origin`, preflights, the order of its calls), on every backend: eris served over real HTTP, the worker
//! driving small servers that speak the components' real protocol. Each step checks what the frontend reads.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use regex::Regex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use url::Url;

use common::components::{FakeChaosToolkit, FakeConfigurator, FakeGatling, GatlingBehaviour};
use common::{TestApp, TestDatabase, TestResponse, start_worker_full, wait_until};
use eris::api::cors::CorsOrigins;
use eris::auth::settings::AuthSettings;
use eris::misarch::settings::MisarchSettings;

/// The frontend's page, as MiSArch's compose file serves it.
const FRONTEND: &str = "http://localhost:5173";

/// The frontend's success test of an event message (`Header.vue`).
fn success_link() -> Regex {
    Regex::new(r"(?i)^https?://[^/]+/d/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-v\d+$").unwrap()
}

/// eris with `ERIS_CORS_ORIGINS=http://localhost:5173`, the fake components and a worker.
struct Rig {
    app: TestApp,
    gatling: FakeGatling,
    _chaos: FakeChaosToolkit,
    _configurator: FakeConfigurator,
    worker: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

impl Rig {
    async fn start(database: TestDatabase, gatling: GatlingBehaviour) -> Self {
        let cors = CorsOrigins::parse(FRONTEND).unwrap();
        let app = TestApp::configured(database.connect(), database, AuthSettings::default(), cors);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let executor_url = format!("http://{}", listener.local_addr().unwrap());
        let router = app.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let gatling = FakeGatling::start(&executor_url, gatling).await;
        let chaos = FakeChaosToolkit::start(&executor_url).await;
        let configurator = FakeConfigurator::start(&["catalog"]).await;
        let url = |text: &str| Some(Url::parse(text).unwrap());
        let settings = MisarchSettings {
            gatling: url(&gatling.url),
            chaos_toolkit: url(&chaos.url),
            configurator: url(&configurator.url),
            barrier_timeout: Duration::from_secs(5),
            metrics_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            ..Default::default()
        };
        let worker = Some(start_worker_full(&app.db, Default::default(), Default::default(), settings));
        Self { app, gatling, _chaos: chaos, _configurator: configurator, worker }
    }

    async fn stop_worker(&mut self) {
        if let Some((shutdown, handle)) = self.worker.take() {
            shutdown.cancel();
            handle.await.unwrap();
        }
    }

    /// A request as the frontend's `fetch` sends it from its page: with `Origin`, and `Content-Type:
    /// application/json` where the frontend sets it (`json`), after the preflight the browser makes for it.
    async fn frontend(&self, method: Method, path: &str, json: bool, body: Option<String>) -> TestResponse {
        let safelisted = matches!(method, Method::GET | Method::POST) && !json;
        if !safelisted {
            let preflight = self.preflight(method.as_str(), path, json).await;
            assert_eq!(preflight.status, StatusCode::OK, "preflight of {method} {path}");
        }
        let mut request = Request::builder().method(method.clone()).uri(path).header("origin", FRONTEND);
        if json {
            request = request.header("content-type", "application/json");
        }
        let body = body.map_or_else(Body::empty, Body::from);
        let response = self.app.send(request.body(body).unwrap()).await;
        assert_eq!(
            response.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
            Some(FRONTEND),
            "{method} {path} answers the page's origin"
        );
        response
    }

    async fn preflight(&self, method: &str, path: &str, json: bool) -> TestResponse {
        let mut request = Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header("origin", FRONTEND)
            .header("access-control-request-method", method);
        if json {
            request = request.header("access-control-request-headers", "content-type");
        }
        let response = self.app.send(request.body(Body::empty()).unwrap()).await;
        let header = |name: &str| response.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert_eq!(header("access-control-allow-origin"), FRONTEND);
        assert!(header("access-control-allow-methods").contains(method), "{method} allowed");
        if json {
            assert!(header("access-control-allow-headers").to_lowercase().contains("content-type"));
        }
        response
    }

    /// Save (`Header.vue`): the four PUTs one after the other, in the frontend's formats.
    async fn save(&self, version: &str, parts: &Parts) {
        let put = |part: &'static str, body: String| async move {
            self.frontend(Method::PUT, &format!("{version}/{part}"), true, Some(body))
                .await
                .expect_status(StatusCode::OK);
        };
        put("gatlingConfig", serde_json::to_string_pretty(&parts.gatling).unwrap()).await;
        put("config", serde_json::to_string_pretty(&parts.config).unwrap()).await;
        put("chaosToolkitConfig", serde_json::to_string_pretty(&parts.chaos_toolkit).unwrap()).await;
        put("misarchExperimentConfig", serde_json::to_string_pretty(&parts.misarch).unwrap()).await;
    }

    /// Load the four parts (`WorkEditor.vue`, `JsonEditor.vue`, `GoalEditor.vue`), reading them as the frontend does.
    async fn load(&self, version: &str) -> Parts {
        let gatling = self.frontend(Method::GET, &format!("{version}/gatlingConfig"), false, None).await;
        let chaos = self.frontend(Method::GET, &format!("{version}/chaosToolkitConfig"), false, None).await;
        let misarch = self.frontend(Method::GET, &format!("{version}/misarchExperimentConfig"), false, None).await;
        let config = self.frontend(Method::GET, &format!("{version}/config"), true, None).await;
        Parts {
            gatling: gatling.expect_status(StatusCode::OK).json(),
            chaos_toolkit: serde_json::from_str(&chaos.expect_status(StatusCode::OK).text()).expect("JSON.parse"),
            misarch: serde_json::from_str(&misarch.expect_status(StatusCode::OK).text()).expect("JSON.parse"),
            config: config.expect_status(StatusCode::OK).json(),
        }
    }
}

#[derive(Debug, Clone)]
struct Parts {
    gatling: Value,
    config: Value,
    chaos_toolkit: Value,
    misarch: Value,
}

fn atob(text: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.as_str().unwrap()).expect("Base64");
    String::from_utf8(bytes).unwrap()
}

fn btoa(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The user steps as the work editor reads them: the lines `parseInt` makes a number of.
fn user_steps(file: &Value) -> Vec<i64> {
    atob(&file["encodedUserStepsFileContent"]).lines().filter_map(|line| line.trim().parse().ok()).collect()
}

/// An open event stream of the executor's format.
struct Events {
    body: Body,
    pending: String,
}

impl Events {
    async fn open(app: &TestApp, path: &str, last_event_id: Option<&str>) -> Self {
        let mut request = Request::builder().uri(path).header("origin", FRONTEND).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = app.router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        assert!(response.headers().contains_key("access-control-allow-origin"), "EventSource needs CORS too");
        Self { body: response.into_body(), pending: String::new() }
    }

    /// The next message `onmessage` gets (no `event:` name), within `within`; None when none came.
    async fn next(&mut self, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                let lines: Vec<&str> = block.lines().collect();
                assert!(!lines.iter().any(|line| line.starts_with("event:")), "a named event: {block}");
                let data: Vec<&str> = lines.iter().filter_map(|line| line.strip_prefix("data:")).collect();
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some(
                    data.iter().map(|line| line.strip_prefix(' ').unwrap_or(line)).collect::<Vec<_>>().join("\n"),
                );
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.push_str(&String::from_utf8_lossy(&data));
                    }
                }
                Ok(_) => panic!("the event stream ended; the executor's never does"),
                Err(_) => return None,
            }
        }
    }
}

/// Open the app, generate, load, edit and save each part, make a new version, execute it while following its
/// events to the dashboard link, check what eris made of it, and delete it: on every backend.
#[tokio::test]
async fn the_frontends_flows_work_against_eris() {
    let uuid_v4 = Regex::new(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    for database in TestDatabase::all() {
        let mut rig = Rig::start(database, GatlingBehaviour::default()).await;
        let backend = rig.app.backend();

        // Open the app: nothing yet.
        let list = rig.frontend(Method::GET, "/experiment/list", false, None).await;
        assert_eq!(list.expect_status(StatusCode::OK).json(), json!([]), "{backend}");

        // Create: all four parameters, a JSON content type and no body; the text is split on ':'.
        let generate =
            "/experiment/generate?loadType=NormalLoadTest&testDuration=12&maximumArrivingUsersPerSecond=10&rate=0.9";
        let answer = rig.frontend(Method::POST, generate, true, None).await.expect_status(StatusCode::OK);
        assert!(answer.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
        let text = answer.text();
        let (uuid, version) = text.split_once(':').expect("<uuid>:<version>");
        assert_eq!(version, "v1", "{backend}");
        assert!(uuid_v4.is_match(uuid), "the overlay accepts it: {uuid}");
        let list = rig.frontend(Method::GET, "/experiment/list", false, None).await.json();
        assert_eq!(list, json!([uuid]));
        let versions = rig.frontend(Method::GET, &format!("/experiment/{uuid}/versions"), false, None).await.json();
        assert_eq!(versions, json!(["v1"]));

        // Load the four parts and read them as the editors do.
        let v1 = format!("/experiment/{uuid}/v1");
        let mut parts = rig.load(&v1).await;
        let scenarios: Vec<&str> =
            parts.gatling.as_array().unwrap().iter().map(|f| f["fileName"].as_str().unwrap()).collect();
        assert_eq!(scenarios, ["buyProcessScenario", "abortedBuyProcessScenario"]);
        assert_eq!(user_steps(&parts.gatling[0]).len(), 12);
        assert!(atob(&parts.gatling[1]["encodedWorkFileContent"]).contains("val abortedBuyProcessScenario"));
        assert_eq!(parts.config["testUUID"], uuid);
        assert_eq!(
            parts.config["goals"][0],
            json!({"metric": "max response time", "threshold": "2000", "color": "red"})
        );
        assert_eq!(parts.config["warmUp"], Value::Null);
        assert_eq!(parts.chaos_toolkit["title"], format!("{uuid}:v1"));
        assert_eq!(parts.misarch[0]["pauses"], json!({"before": 4, "after": 2}));

        // Edit as the editors write: a goal line with a string threshold, steps with the frontend's header, no
        // final newline, the Chaos Toolkit experiment without its kill (and the restart it needs), and save.
        parts.config["goals"] = json!([{"metric": "max response time", "color": "red", "threshold": "60000"}]);
        for file in parts.gatling.as_array_mut().unwrap() {
            let steps: Vec<String> = user_steps(file).iter().map(|_| "3".to_owned()).collect();
            file["encodedUserStepsFileContent"] = json!(btoa(&format!("userSteps\n{}", steps.join("\n"))));
        }
        parts.chaos_toolkit["method"] = json!([]);
        rig.save(&v1, &parts).await;
        assert_eq!(rig.load(&v1).await.config["goals"], parts.config["goals"], "what was saved comes back");

        // One model: the version is an eris experiment, brought up to date by the save.
        let experiments = rig.app.get("/api/v1/experiment").await.expect_status(StatusCode::OK).json();
        let experiment = &experiments.as_array().unwrap()[0];
        assert_eq!(experiment["metadata"]["misarch_executor"], json!({"testUUID": uuid, "testVersion": "v1"}));
        assert_eq!(experiment["misarch"]["goals"][0]["threshold"], json!(60000));
        assert!(experiment["revision"].as_i64().unwrap() >= 2, "{backend}: the save changed it");
        let v1_experiment = experiment["id"].as_str().unwrap().to_owned();

        // New version: Save, then the answer's whole text is the version.
        rig.save(&v1, &parts).await;
        let v2_name = rig
            .frontend(Method::POST, &format!("{v1}/newVersion"), false, None)
            .await
            .expect_status(StatusCode::OK)
            .text();
        assert_eq!(v2_name, "v2");
        let v2 = format!("/experiment/{uuid}/{v2_name}");
        let versions = rig.frontend(Method::GET, &format!("/experiment/{uuid}/versions"), false, None).await.json();
        assert_eq!(versions, json!(["v1", "v2"]));
        let copied = rig.load(&v2).await;
        assert_eq!(copied.config["testVersion"], "v2");
        assert_eq!(copied.config["goals"], parts.config["goals"]);

        // Execute: Save, open the event stream without waiting, start with no header and no body.
        rig.save(&v2, &parts).await;
        let mut events = Events::open(&rig.app, &format!("{v2}/events"), None).await;
        let started = rig.frontend(Method::POST, &format!("{v2}/start"), false, None).await;
        assert_eq!(started.status, StatusCode::OK, "{backend}: {}", started.text());
        assert!(started.text().contains("queued as trial"), "{}", started.text());
        let message = events.next(Duration::from_secs(30)).await.expect("the run's outcome");
        assert!(success_link().is_match(&message), "{backend}: the frontend's success form: {message}");
        assert!(message.ends_with(&format!("/d/{uuid}-v2")));

        // The link leads to the trial that ran.
        let path = message.split_once("/d/").map(|(_, rest)| format!("/d/{rest}")).unwrap();
        let redirect = rig.app.get(&path).await.expect_status(StatusCode::SEE_OTHER);
        let location = redirect.headers["location"].to_str().unwrap().to_owned();
        let trial = rig.app.get(&location).await.expect_status(StatusCode::OK).json();
        assert_eq!(trial["status"], "Succeeded", "{backend}: {trial}");
        assert_eq!(trial["initiated_from"], "misarch-executor-api");

        // A reconnect (the frontend's, without Last-Event-ID) does not repeat it; a script's with one gets it.
        let mut again = Events::open(&rig.app, &format!("{v2}/events"), None).await;
        assert_eq!(again.next(Duration::from_millis(700)).await, None, "{backend}: told once already");
        let mut replay = Events::open(&rig.app, &format!("{v2}/events"), Some("0")).await;
        assert_eq!(replay.next(Duration::from_secs(5)).await, Some(message.clone()));

        // A run that ends before anyone subscribes (the frontend's race) is told to the first subscriber.
        let queued = rig.app.post(&format!("{v1}/start"), &json!({})).await.expect_status(StatusCode::OK).text();
        let late_trial = queued.split_whitespace().nth(5).unwrap().trim_end_matches(';').to_owned();
        assert_eq!(rig.app.wait_for_end(&late_trial).await["status"], "Succeeded", "{backend}");
        let mut late = Events::open(&rig.app, &format!("{v1}/events"), None).await;
        let told_late = late.next(Duration::from_secs(5)).await.expect("the missed outcome");
        assert!(told_late.ends_with(&format!("/d/{uuid}-v1")), "{told_late}");

        // A run of the same version that nobody asked for here (a schedule's, or /api/v1's) is told to those
        // subscribed when it ends, never replayed to the next Execute's subscription as if it were that run.
        let other = rig.app.post("/api/v1/trial", &json!({"experiment": v1_experiment})).await.json();
        rig.app.wait_for_end(other["id"].as_str().unwrap()).await;
        let told_live = late.next(Duration::from_secs(5)).await.expect("told to the subscriber that was there");
        assert!(told_live.ends_with(&format!("/d/{uuid}-v1")), "{told_live}");
        let mut next_execute = Events::open(&rig.app, &format!("{v1}/events"), None).await;
        assert_eq!(next_execute.next(Duration::from_millis(700)).await, None, "{backend}");

        // A start with the configuration in the body runs with it, for that trial only.
        let mut body = rig.load(&v2).await.config;
        body["goals"] = json!([{"metric": "mean response time", "color": "blue", "threshold": 45000}]);
        let queued = rig.app.post("/experiment/start", &body).await.expect_status(StatusCode::OK).text();
        let body_trial = queued.split_whitespace().nth(5).unwrap().trim_end_matches(';').to_owned();
        let ran = rig.app.wait_for_end(&body_trial).await;
        let goals = &ran["experiment_snapshot"]["misarch"]["goals"];
        assert_eq!(goals, &json!([{"metric": "mean response time", "color": "blue", "threshold": 45000}]), "{backend}");
        assert_eq!(rig.load(&v2).await.config["goals"], parts.config["goals"], "execution.json is not changed");

        // A bad part: saved as the executor saves it, refused at start with the part named, told on the stream.
        parts.config["goals"][0]["threshold"] = json!("");
        rig.save(&v2, &parts).await;
        let refused = rig.frontend(Method::POST, &format!("{v2}/start"), false, None).await;
        let error = refused.expect_error(StatusCode::BAD_REQUEST, "invalid_misarch", Some("config.goals[0].threshold"));
        assert_eq!(error["message"], "\"\" is not a number", "{error}");
        let told = again.next(Duration::from_secs(5)).await.expect("the refusal on the stream");
        assert!(told.starts_with("Error occurred during experiment execution: config.goals[0].threshold"), "{told}");

        // Delete a version, then the experiment: gone from the lists, archived in eris with its trials kept.
        let deleted = rig.frontend(Method::DELETE, &v2, true, None).await;
        deleted.expect_status(StatusCode::OK);
        let versions = rig.frontend(Method::GET, &format!("/experiment/{uuid}/versions"), false, None).await.json();
        assert_eq!(versions, json!(["v1"]));
        rig.frontend(Method::DELETE, &format!("/experiment/{uuid}"), true, None).await.expect_status(StatusCode::OK);
        assert_eq!(rig.frontend(Method::GET, "/experiment/list", false, None).await.json(), json!([]));
        let trial_again = rig.app.get(&location).await.expect_status(StatusCode::OK).json();
        assert_eq!(trial_again["id"], trial["id"], "the record stays for audit");
        rig.stop_worker().await;
    }
}

/// A start while another trial runs is queued behind it, and Stop Run stops the running one with its cleanup.
#[tokio::test]
async fn a_second_start_is_queued_and_stop_run_stops_the_running_trial() {
    for database in TestDatabase::all() {
        let long = GatlingBehaviour { main_run: Duration::from_secs(60), ..Default::default() };
        let mut rig = Rig::start(database, long).await;
        let backend = rig.app.backend();
        let generate =
            "/experiment/generate?loadType=ScalabilityLoadTest&testDuration=30&maximumArrivingUsersPerSecond=&rate=0.5";
        let text = rig.frontend(Method::POST, generate, true, None).await.expect_status(StatusCode::OK).text();
        let (uuid, _) = text.split_once(':').unwrap();
        let v1 = format!("/experiment/{uuid}/v1");

        let first = rig.frontend(Method::POST, &format!("{v1}/start"), false, None).await.expect_status(StatusCode::OK);
        let first_id = first.text().split_whitespace().nth(5).unwrap().trim_end_matches(';').to_owned();
        wait_until(Duration::from_secs(20), "the first run to reach Gatling", || async {
            !rig.gatling.requests().is_empty()
        })
        .await;
        let second =
            rig.frontend(Method::POST, &format!("{v1}/start"), false, None).await.expect_status(StatusCode::OK);
        assert!(second.text().ends_with("after the 1 trial ahead of it."), "{backend}: {}", second.text());

        // Stop Run: preflighted, JSON content type, no body; both trials end Stopped.
        rig.frontend(Method::POST, &format!("{v1}/stop"), true, None).await.expect_status(StatusCode::OK);
        let trial = rig.app.wait_for_end(&first_id).await;
        assert_eq!(trial["status"], "Stopped", "{backend}: {trial}");
        wait_until(Duration::from_secs(10), "Gatling to be told to stop", || async {
            !rig.gatling.stopped().is_empty()
        })
        .await;
        let trials = rig.app.get("/api/v1/trial").await.json();
        assert!(trials.as_array().unwrap().iter().all(|t| t["status"] == "Stopped"), "{backend}: {trials}");
        rig.stop_worker().await;
    }
}

/// What the executor refuses, eris refuses with a 4xx naming the problem; a page of another origin is refused
/// before anything runs; a missing version is 404, not the executor's 500.
#[tokio::test]
async fn bad_requests_and_foreign_pages_are_refused() {
    for database in TestDatabase::all() {
        let app = TestApp::configured(
            database.connect(),
            database,
            AuthSettings::default(),
            CorsOrigins::parse(FRONTEND).unwrap(),
        );
        let backend = app.backend();
        app.post("/experiment/generate?loadType=FastLoadTest", &json!({})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("loadType"),
        );
        app.post("/experiment/generate?loadType=NormalLoadTest&testDuration=soon", &json!({})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("testDuration"),
        );
        app.post("/experiment/generate?loadType=NormalLoadTest&testDuration=50000", &json!({})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_generate_request",
            Some("testDuration"),
        );
        app.get("/experiment/not-a-uuid/versions").await.expect_status(StatusCode::BAD_REQUEST);
        let unknown = uuid::Uuid::new_v4();
        assert_eq!(app.get(&format!("/experiment/{unknown}/versions")).await.json(), json!([]), "{backend}");
        app.get(&format!("/experiment/{unknown}/v1/config")).await.expect_error(
            StatusCode::NOT_FOUND,
            "misarch_version_not_found",
            None,
        );
        app.post(&format!("/experiment/{unknown}/v1/start"), &json!({})).await.expect_error(
            StatusCode::NOT_FOUND,
            "misarch_version_not_found",
            None,
        );

        // A version whose eris experiment is deleted (archived) through /api/v1 is gone from this API too.
        let text =
            app.post("/experiment/generate?loadType=ElasticityLoadTest&testDuration=60", &json!({})).await.text();
        let experiment = app.get("/api/v1/experiment").await.json()[0]["id"].as_str().unwrap().to_owned();
        app.delete(&format!("/api/v1/experiment/{experiment}")).await.expect_status(StatusCode::NO_CONTENT);
        assert_eq!(app.get("/experiment/list").await.json(), json!([]), "{backend}");
        let (gone, _) = text.split_once(':').unwrap();
        app.get(&format!("/experiment/{gone}/v1/config")).await.expect_status(StatusCode::NOT_FOUND);

        let text =
            app.post("/experiment/generate?loadType=ElasticityLoadTest&testDuration=60", &json!({})).await.text();
        let (uuid, _) = text.split_once(':').unwrap();
        let config = format!("/experiment/{uuid}/v1/config");
        app.put(&config, &json!({"testVersion": "v1", "testName": "x", "loadType": "NormalLoadTest", "goals": []}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_body", Some("testUUID"));
        app.raw(Method::PUT, &format!("/experiment/{uuid}/v1/chaosToolkitConfig"), Some("application/json"), "")
            .await
            .expect_error(StatusCode::BAD_REQUEST, "invalid_body", Some("body"));
        let body = json!({"testUUID": "not-a-uuid", "testVersion": "v1", "testName": "x", "loadType": "NormalLoadTest", "goals": []});
        app.post("/experiment/start", &body).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("testUUID"),
        );

        // Another site's page: a preflight and a simple POST alike get 403, and nothing is started.
        let foreign = |method: Method, path: &str| {
            Request::builder()
                .method(method)
                .uri(path)
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap()
        };
        let preflight = app.send(foreign(Method::OPTIONS, &format!("/experiment/{uuid}/v1/start"))).await;
        assert_eq!(preflight.status, StatusCode::FORBIDDEN);
        app.send(foreign(Method::POST, &format!("/experiment/{uuid}/v1/start"))).await.expect_error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            None,
        );
        assert_eq!(app.get("/api/v1/trial").await.json(), json!([]), "{backend}: nothing was queued");
        // eris's own pages (Swagger UI) are not cross-origin.
        let own = Request::builder()
            .uri("/experiment/list")
            .header("origin", "http://eris.example:8080")
            .header("host", "eris.example:8080")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(own).await.status, StatusCode::OK);
    }
}

/// With `ERIS_AUTH=token` these routes need a token like `/api/v1` (`read` to look, `write` to change), while
/// preflights, which carry none, are still answered.
#[tokio::test]
async fn the_executor_routes_obey_eris_auth() {
    for database in TestDatabase::all() {
        let auth = AuthSettings { authenticator: eris::auth::Authenticator::Token, component_allow: Vec::new() };
        let app = TestApp::configured(database.connect(), database, auth, CorsOrigins::parse(FRONTEND).unwrap());
        let token = |scope| {
            let db = app.db.clone();
            async move {
                let input = eris::auth::tokens::TokenInput { name: format!("{scope:?}"), scope, expires_at: None };
                eris::auth::tokens::create(&db, input, "test").await.unwrap().token
            }
        };
        let (read, write, admin) = (
            token(eris::auth::Scope::Read).await,
            token(eris::auth::Scope::Write).await,
            token(eris::auth::Scope::Admin).await,
        );
        app.get("/experiment/list").await.expect_status(StatusCode::UNAUTHORIZED);
        app.request_as(Some(&read), Method::GET, "/experiment/list", None).await.expect_status(StatusCode::OK);
        let generate = "/experiment/generate?loadType=ScalabilityLoadTest&testDuration=10";
        app.request_as(Some(&read), Method::POST, generate, None).await.expect_status(StatusCode::FORBIDDEN);
        let made = app.request_as(Some(&write), Method::POST, generate, None).await.expect_status(StatusCode::OK);
        assert!(made.text().ends_with(":v1"));
        let preflight = Request::builder()
            .method(Method::OPTIONS)
            .uri("/experiment/generate")
            .header("origin", FRONTEND)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(preflight).await.status, StatusCode::OK);
        // Every change through these routes is in the audit log, refused ones too.
        let audit =
            app.request_as(Some(&admin), Method::GET, "/api/v1/audit", None).await.expect_status(StatusCode::OK);
        let actions: Vec<(String, String, String)> = audit
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let text = |member: &str| entry[member].as_str().unwrap_or_default().to_owned();
                (text("actor"), text("action"), text("outcome"))
            })
            .collect();
        assert!(
            actions.contains(&("token:Read".into(), "misarch_executor.experiment.generate".into(), "denied".into())),
            "{actions:?}"
        );
        assert!(
            actions.contains(&(
                "token:Write".into(),
                "misarch_executor.experiment.generate".into(),
                "succeeded".into()
            )),
            "{actions:?}"
        );
    }
}
