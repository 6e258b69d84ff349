//! `/health` and `/ready`, outside `/api/v1`, for load balancers and Kubernetes probes.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `up`, `ready` or `unavailable`.
    status: &'static str,
    /// Why eris is not ready, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", security(()), tag = "health",
    responses((status = 200, description = "Alive.", body = HealthStatus, example = json!({"status": "up"}))))]
async fn health() -> Json<HealthStatus> {
    Json(HealthStatus { status: "up", reason: None })
}

/// The database answers, so eris can serve requests.
#[utoipa::path(get, path = "/ready", security(()), tag = "health",
    responses(
        (status = 200, description = "Ready.", body = HealthStatus, example = json!({"status": "ready"})),
        (status = 503, description = "The database does not answer.", body = HealthStatus,
            example = json!({"status": "unavailable", "reason": "no database connection available"})),
    ))]
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(HealthStatus { status: "ready", reason: None })),
        Err(error) => {
            tracing::warn!("not ready: {}", error.message);
            (StatusCode::SERVICE_UNAVAILABLE, Json(HealthStatus { status: "unavailable", reason: Some(error.message) }))
        }
    }
}

/// Prometheus metrics of this process (trials, schedule fires, the worker lease, HTTP requests, the database pool);
/// the names are listed in docs/operations.md.
#[utoipa::path(get, path = "/metrics", security(()), tag = "health",
    responses((status = 200, description = "Prometheus text exposition format.", content_type = "text/plain; version=0.0.4",
        body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.run_quick(|conn| crate::blackouts::active_at(conn, crate::time::now())).await {
        Ok(active) => crate::telemetry::blackout_active(active.is_some()),
        Err(error) => tracing::warn!("metrics: cannot read the blackouts: {}", error.message),
    }
    let text = crate::telemetry::render(&state.db).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}
