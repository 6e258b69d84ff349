//! What the metrics cost, printed (not asserted): `cargo bench --bench metrics`.
//! - the cost of the metrics middleware per request (the same route with and without it);
//! - the size of `GET /metrics`, and of `GET /api/v1/experiment/{id}/schedule?limit=1000`, with 10,000 schedules.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use eris::api::{self, AppState};
use eris::db::{self, DatabaseUrl, Db, PoolOptions};
use eris::experiments::{self, ExperimentInput};
use http_body_util::BodyExt;
use tower::ServiceExt;

const REQUESTS: usize = 50_000;
const SCHEDULES: usize = 10_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        eris::telemetry::install();
        let plain = Router::new().route("/api/v1/thing/{id}", get(|| async { "ok" }));
        let measured = plain.clone().layer(axum::middleware::from_fn(eris::telemetry::track_http));
        // Warm up both, then time them alternately to share the machine's noise.
        for router in [&plain, &measured] {
            time(router, 2_000).await;
        }
        let (mut without, mut with) = (0.0, 0.0);
        for _ in 0..5 {
            without += time(&plain, REQUESTS / 5).await;
            with += time(&measured, REQUESTS / 5).await;
        }
        let per = |total: f64| total / REQUESTS as f64 * 1e6;
        println!(
            "request through the router: {:.2} µs without metrics, {:.2} µs with (+{:.2} µs per request), n={REQUESTS}",
            per(without),
            per(with),
            per(with) - per(without)
        );

        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("bench.db").to_str().unwrap().to_owned());
        db::migrate(&url).unwrap();
        let db = Db::connect(url, PoolOptions::default()).unwrap();
        let input: ExperimentInput = serde_json::from_value(serde_json::json!({"name": "bench", "steps": []})).unwrap();
        let experiment = experiments::create(&db, input, "bench").await.unwrap();
        let app = api::app(AppState::with_defaults(db.clone()), api::Limits::default());
        let started = Instant::now();
        for _ in 0..SCHEDULES {
            let body = serde_json::json!({"recurrence_pattern": "0 3 * * *"}).to_string();
            let request = Request::post(format!("/api/v1/experiment/{}/schedule", experiment.id))
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert!(response.status().is_success());
        }
        let created = started.elapsed().as_secs_f64();
        println!(
            "created {SCHEDULES} schedules through the API in {created:.1} s ({:.2} ms each)",
            created * 1000.0 / SCHEDULES as f64
        );
        let metrics = fetch(&app, "/metrics").await;
        println!("GET /metrics with {SCHEDULES} schedules: {} bytes, {} lines", metrics.len(), metrics.lines().count());
        let started = Instant::now();
        let page = fetch(&app, &format!("/api/v1/experiment/{}/schedule?limit=1000", experiment.id)).await;
        println!(
            "GET a page of 1000 schedules: {} bytes in {:.1} ms",
            page.len(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    });
}

async fn time(router: &Router, requests: usize) -> f64 {
    let started = Instant::now();
    for n in 0..requests {
        let request = Request::get(format!("/api/v1/thing/{n}")).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let _ = response.into_body().collect().await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

async fn fetch(app: &Router, path: &str) -> String {
    let response = app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
