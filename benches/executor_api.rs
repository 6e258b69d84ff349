//! The MiSArch Experiment Executor's API from the frontend's point of view, printed (not asserted):
//! `cargo bench --bench executor_api`. eris is served over loopback HTTP (with `ERIS_CORS_ORIGINS` set to the
//! frontend's origin) and called as the frontend calls it: with `Origin`, the JSON content type where it sets one,
//! and the browser's preflight before every call that needs one (included in the time). One keep-alive connection,
//! the parts of a generated 30-minute NormalLoadTest, on each database of `benches/common`.

mod common;

use std::time::Instant;

use common::{each_database, report};
use eris::api::{self, AppState, Limits};
use reqwest::{Client, Method};

const ORIGIN: &str = "http://localhost:5173";
const SAMPLES: usize = 200;

fn main() {
    each_database(|runtime, db| runtime.block_on(measure(db.clone())));
}

async fn measure(db: eris::db::Db) {
    let cors = eris::api::cors::CorsOrigins::parse(ORIGIN).unwrap();
    let state = AppState { cors: std::sync::Arc::new(cors), ..AppState::with_defaults(db) };
    let app = api::app(state, Limits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let frontend = Frontend { client: eris::http_client::build(), base };

    let generate =
        "/experiment/generate?loadType=NormalLoadTest&testDuration=1800&maximumArrivingUsersPerSecond=10&rate=0.9";
    let text = frontend.call(Method::POST, generate, true, None).await;
    let uuid = text.split(':').next().unwrap().to_owned();
    let v1 = format!("/experiment/{uuid}/v1");
    let gatling = frontend.call(Method::GET, &format!("{v1}/gatlingConfig"), false, None).await;
    let config = frontend.call(Method::GET, &format!("{v1}/config"), true, None).await;
    let chaos = frontend.call(Method::GET, &format!("{v1}/chaosToolkitConfig"), false, None).await;
    let failures = frontend.call(Method::GET, &format!("{v1}/misarchExperimentConfig"), false, None).await;
    println!("gatlingConfig of a generated 30-minute NormalLoadTest: {} bytes", gatling.len());

    let calls: Vec<(&str, Method, String, bool, Option<String>)> = vec![
        ("POST generate (+ preflight)", Method::POST, generate.to_owned(), true, None),
        ("GET list", Method::GET, "/experiment/list".to_owned(), false, None),
        ("GET versions", Method::GET, format!("/experiment/{uuid}/versions"), false, None),
        ("GET gatlingConfig", Method::GET, format!("{v1}/gatlingConfig"), false, None),
        ("GET config (+ preflight)", Method::GET, format!("{v1}/config"), true, None),
        ("GET chaosToolkitConfig", Method::GET, format!("{v1}/chaosToolkitConfig"), false, None),
        ("PUT gatlingConfig (+ preflight)", Method::PUT, format!("{v1}/gatlingConfig"), true, Some(gatling)),
        ("PUT config (+ preflight)", Method::PUT, format!("{v1}/config"), true, Some(config)),
        ("PUT chaosToolkitConfig (+ preflight)", Method::PUT, format!("{v1}/chaosToolkitConfig"), true, Some(chaos)),
        (
            "PUT misarchExperimentConfig (+ preflight)",
            Method::PUT,
            format!("{v1}/misarchExperimentConfig"),
            true,
            Some(failures),
        ),
        ("POST newVersion", Method::POST, format!("{v1}/newVersion"), false, None),
        ("POST start (queues a trial)", Method::POST, format!("{v1}/start"), false, None),
        ("POST stop (+ preflight)", Method::POST, format!("{v1}/stop"), true, None),
    ];
    for (name, method, path, json, body) in calls {
        let mut samples = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            frontend.call(method.clone(), &path, json, body.clone()).await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        report(name, &samples);
    }
}

struct Frontend {
    client: Client,
    base: String,
}

impl Frontend {
    /// One call as the frontend's `fetch` makes it, preceded by the browser's preflight where one is needed.
    async fn call(&self, method: Method, path: &str, json: bool, body: Option<String>) -> String {
        let url = format!("{}{path}", self.base);
        if json || !matches!(method, Method::GET | Method::POST) {
            let preflight = self
                .client
                .request(Method::OPTIONS, &url)
                .header("origin", ORIGIN)
                .header("access-control-request-method", method.as_str())
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .unwrap();
            assert_eq!(preflight.status(), 200, "preflight of {method} {path}");
        }
        let mut request = self.client.request(method.clone(), &url).header("origin", ORIGIN);
        if json {
            request = request.header("content-type", "application/json");
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{method} {path}: {text}");
        text
    }
}
