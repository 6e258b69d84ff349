//! `eris demo-target`: a small shop on loopback to run chaos trials against on one machine, so the quick start
//! ends with a real result. It has a health route, a few business routes, and its own fault API: a step changes
//! the latency and the error rate of the business routes (or makes the health route fail) with one HTTP request,
//! and resets them the same way.
//!
//! Routes:
//! - `GET /health`: `200 {"status":"UP"}`, or `503 {"status":"DOWN"}` while the faults say `healthy: false`.
//! - `GET /products`, `GET /products/{id}`, `POST /orders`: the business routes; the faults apply to them.
//! - `GET /faults`: the faults in force. `PUT /faults`: changes the fields given (`latency_ms`, `error_rate`,
//!   `healthy`), keeps the others. `DELETE /faults`: back to none.
//!
//! Errors are spread evenly, not drawn at random, so that a trial with `error_rate: 0.1` sees exactly one request in
//! ten fail and its goals give the same verdict every run.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The longest latency the fault API accepts: a minute, longer than any sensible request timeout.
pub const MAX_LATENCY_MS: u64 = 60_000;

/// What the demo target does wrong, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Added to every business request before it is answered.
    pub latency_ms: u64,
    /// The share of business requests answered `500`, from 0 to 1.
    pub error_rate: f64,
    /// `false`: `/health` answers `503`.
    pub healthy: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Self { latency_ms: 0, error_rate: 0.0, healthy: true }
    }
}

/// A `PUT /faults` body: each field given replaces the one in force.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultChange {
    latency_ms: Option<u64>,
    error_rate: Option<f64>,
    healthy: Option<bool>,
}

#[derive(Default)]
struct Shop {
    faults: Mutex<Faults>,
    /// Business requests seen, for spreading errors evenly.
    requests: AtomicU64,
    orders: AtomicU64,
}

impl Shop {
    fn faults(&self) -> Faults {
        *self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies the faults to one business request: waits the latency, and says whether this one fails.
    async fn suffer(&self) -> bool {
        let faults = self.faults();
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        let seen = self.requests.fetch_add(1, Ordering::Relaxed);
        fails(seen, faults.error_rate)
    }
}

/// Whether request number `seen` (from 0) fails at `rate`: exactly when the count of failures owed so far grows,
/// so failures are spread evenly (one in ten at 0.1, every other one at 0.5).
fn fails(seen: u64, rate: f64) -> bool {
    let owed = |count: u64| (count as f64 * rate).floor();
    owed(seen + 1) > owed(seen)
}

type Shared = Arc<Shop>;

/// The demo target's routes, to serve or to test.
pub fn router() -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/products", get(products))
        .route("/products/{id}", get(product))
        .route("/orders", axum::routing::post(order))
        .route("/faults", get(faults).put(change_faults).delete(reset_faults))
        .with_state(Shared::default())
}

/// Serves the demo target on `bind` until `shutdown` resolves.
pub async fn serve(bind: SocketAddr, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|error| anyhow::anyhow!("the demo target cannot listen on {bind}: {error}"))?;
    let address = listener.local_addr()?;
    println!("eris demo target on http://{address} (health: /health, faults: /faults)");
    axum::serve(listener, router()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

async fn health(State(shop): State<Shared>) -> Response {
    if shop.faults().healthy {
        Json(json!({"status": "UP"})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "DOWN"}))).into_response()
    }
}

const CATALOGUE: [(u64, &str, u64); 3] = [(1, "Apple", 50), (2, "Pear", 70), (3, "Fig", 120)];

fn item((id, name, price_cents): (u64, &str, u64)) -> Value {
    json!({"id": id, "name": name, "price_cents": price_cents})
}

fn injected() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "failure injected by the demo target"}))).into_response()
}

async fn products(State(shop): State<Shared>) -> Response {
    if shop.suffer().await {
        return injected();
    }
    Json(Value::Array(CATALOGUE.into_iter().map(item).collect())).into_response()
}

async fn product(State(shop): State<Shared>, Path(id): Path<String>) -> Response {
    if shop.suffer().await {
        return injected();
    }
    match CATALOGUE.into_iter().find(|(known, _, _)| known.to_string() == id) {
        Some(found) => Json(item(found)).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no product {id}")}))).into_response(),
    }
}

async fn order(State(shop): State<Shared>) -> Response {
    if shop.suffer().await {
        return injected();
    }
    let number = shop.orders.fetch_add(1, Ordering::Relaxed) + 1;
    (StatusCode::CREATED, Json(json!({"order": number, "status": "placed"}))).into_response()
}

async fn faults(State(shop): State<Shared>) -> Json<Faults> {
    Json(shop.faults())
}

async fn change_faults(State(shop): State<Shared>, body: axum::body::Bytes) -> Response {
    let change: FaultChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(error) => return refuse(format!("the body is not a fault change: {error}")),
    };
    if change.latency_ms.is_some_and(|latency| latency > MAX_LATENCY_MS) {
        return refuse(format!("latency_ms must be from 0 to {MAX_LATENCY_MS}"));
    }
    if change.error_rate.is_some_and(|rate| !(0.0..=1.0).contains(&rate)) {
        return refuse("error_rate must be from 0 to 1".to_owned());
    }
    let mut faults = shop.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    faults.latency_ms = change.latency_ms.unwrap_or(faults.latency_ms);
    faults.error_rate = change.error_rate.unwrap_or(faults.error_rate);
    faults.healthy = change.healthy.unwrap_or(faults.healthy);
    Json(*faults).into_response()
}

async fn reset_faults(State(shop): State<Shared>) -> Json<Faults> {
    let mut faults = shop.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *faults = Faults::default();
    Json(*faults)
}

fn refuse(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::fails;

    #[test]
    fn errors_are_spread_evenly() {
        let count = |rate: f64| (0..1000).filter(|&seen| fails(seen, rate)).count();
        assert_eq!(count(0.0), 0);
        assert_eq!(count(0.1), 100);
        assert_eq!(count(0.5), 500);
        assert_eq!(count(1.0), 1000);
        let tenth: Vec<u64> = (0..30).filter(|&seen| fails(seen, 0.1)).collect();
        assert_eq!(tenth, [9, 19, 29]);
    }
}
