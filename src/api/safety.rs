//! `/api/v1/emergency-stop`: thin handlers over [`crate::safety`].

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::errors::{ApiResult, BodyErrors, CommonErrors};
use super::extract::JsonBody;
use crate::safety::{self, EmergencyStop};
use crate::trial_status::TrialStatus;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(emergency_stop))
        .routes(routes!(engage_emergency_stop))
        .routes(routes!(release_emergency_stop))
}

/// Why the emergency stop is engaged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "checkout is down in production, INC-4711"}))]
pub struct EngageInput {
    /// Why, in 1 to 1000 characters: shown on every trial it stops and on every start it refuses.
    pub reason: String,
}

/// Read the emergency stop: whether it holds, and the engagement that holds now (or the last one).
#[utoipa::path(get, path = "/api/v1/emergency-stop", security(("bearer" = ["read"])), tag = "safety",
    responses((status = 200, description = "The emergency stop.", body = EmergencyStop), CommonErrors))]
async fn emergency_stop(State(state): State<AppState>) -> ApiResult<Json<EmergencyStop>> {
    Ok(Json(safety::find(&state.db).await?))
}

/// Engage the emergency stop (admin): every queued trial becomes `Stopped` at once, every running one
/// `Stop Initiated` and then `Stopped` once its clean-up ran (post_steps, MiSArch failures reset), on whichever
/// replica runs it. Until it is released no trial starts: `POST /trial`, sweeps and MiSArch starts answer 409
/// `emergency_stop_engaged`, schedule fires are skipped and counted. Engaging it while it holds changes nothing.
#[utoipa::path(post, path = "/api/v1/emergency-stop/engage", security(("bearer" = ["admin"])), tag = "safety",
    request_body = EngageInput,
    responses((status = 200, description = "The emergency stop, engaged.", body = EmergencyStop), CommonErrors, BodyErrors))]
async fn engage_emergency_stop(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(input): JsonBody<EngageInput>,
) -> ApiResult<Json<EmergencyStop>> {
    let (stop, stopped) = safety::engage(&state.db, &caller.name, &input.reason, state.webhooks.clone()).await?;
    if let Some(stopped) = stopped {
        tracing::warn!(by = %caller.name, reason = %input.reason, queued = stopped.queued, running = stopped.running,
            "emergency stop engaged");
        for _ in 0..stopped.queued {
            // Stopped before they ran: the worker never sees them, so they are counted here.
            crate::telemetry::trial_finished(TrialStatus::Stopped, None);
        }
        state.wakeups.webhooks_queued();
    }
    Ok(Json(stop))
}

/// Release the emergency stop (admin): trials may start again. Nothing it stopped is started again. Releasing it
/// when it does not hold changes nothing.
#[utoipa::path(post, path = "/api/v1/emergency-stop/release", security(("bearer" = ["admin"])), tag = "safety",
    responses((status = 200, description = "The emergency stop, released.", body = EmergencyStop), CommonErrors))]
async fn release_emergency_stop(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<EmergencyStop>> {
    let (stop, released) = safety::release(&state.db, &caller.name).await?;
    if released {
        tracing::warn!(by = %caller.name, "emergency stop released");
    }
    Ok(Json(stop))
}
