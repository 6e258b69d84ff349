//! The callbacks of the MiSArch components, at the paths and in the formats the real components use (protocol
//! §2.2 rows 19–22), so that they can point `EXPERIMENT_EXECUTOR_URL` at eris unchanged. Thin handlers over
//! [`crate::misarch::callbacks`]. They answer only for the MiSArch trial that is running (404 otherwise).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::errors::{ApiResult, CommonErrors, NotFoundError};
use super::extract::{ApiPath, ApiQuery, TextBody};
use crate::misarch::callbacks;
use crate::misarch::components::{TRIGGER_REGISTERED, trigger_state};

pub fn router(callback_max_body_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register, trigger))
        .routes(routes!(upload_metrics))
        .routes(routes!(upload_steady_state_metrics))
        // A Gatling report of a long run is several MB: these routes have a limit of their own.
        .layer(DefaultBodyLimit::max(callback_max_body_bytes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RunPath {
    /// The run's testUUID (eris uses the trial id).
    #[serde(rename = "testUUID")]
    #[param(rename = "testUUID")]
    test_uuid: String,
    /// The run's testVersion (eris uses `v1`).
    #[serde(rename = "testVersion")]
    #[param(rename = "testVersion")]
    test_version: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// The component: `gatling`, `chaostoolkit` or `misarchExperimentConfig`.
    client: Option<String>,
}

fn text(body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain;charset=UTF-8")], body)
}

/// A component is ready for the run (the readiness barrier). Answers `kotlin.Unit`, as the original does.
#[utoipa::path(post, path = "/trigger/{testUUID}/{testVersion}", tag = "misarch callbacks",
    params(RunPath, RegisterQuery),
    responses((status = 200, description = "Registered.", content_type = "text/plain", body = String, example = "kotlin.Unit"),
        CommonErrors, NotFoundError))]
async fn register(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<RunPath>,
    ApiQuery(query): ApiQuery<RegisterQuery>,
) -> ApiResult<impl IntoResponse> {
    callbacks::register(&state.db, &path.test_uuid, &path.test_version, query.client.as_deref()).await?;
    Ok(text(TRIGGER_REGISTERED))
}

/// Whether the run has started: exactly `true` from T0 until the metrics arrive, `false` before and after.
#[utoipa::path(get, path = "/trigger/{testUUID}/{testVersion}", tag = "misarch callbacks", params(RunPath),
    responses((status = 200, description = "`true` or `false`.", content_type = "text/plain", body = String, example = "false"),
        CommonErrors, NotFoundError))]
async fn trigger(State(state): State<AppState>, ApiPath(path): ApiPath<RunPath>) -> ApiResult<impl IntoResponse> {
    let started = callbacks::triggered(&state.db, &path.test_uuid, &path.test_version).await?;
    Ok(text(trigger_state(started)))
}

/// The Gatling report of the main run: one raw body, `index.html`, a line `SPLIT_HERE`, `stats.js` (any content
/// type; the Gatling executor sends `plain/text`). It becomes the trial's metrics and ends the workload.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/gatling/metrics", tag = "misarch callbacks",
    params(RunPath), request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "Received."),
        (status = 413, description = "Larger than `ERIS_CALLBACK_MAX_BODY_BYTES`.", body = super::errors::ErrorBody),
        CommonErrors, NotFoundError))]
async fn upload_metrics(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<RunPath>,
    TextBody(body): TextBody,
) -> ApiResult<()> {
    callbacks::upload_metrics(&state.db, &path.test_uuid, &path.test_version, &body, false).await?;
    Ok(())
}

/// The Gatling report of the steady-state run, in the same format; its `stats.js` gives the steady-state goals.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/gatling/metrics/steadyState",
    tag = "misarch callbacks", params(RunPath), request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "Received."),
        (status = 413, description = "Larger than `ERIS_CALLBACK_MAX_BODY_BYTES`.", body = super::errors::ErrorBody),
        CommonErrors, NotFoundError))]
async fn upload_steady_state_metrics(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<RunPath>,
    TextBody(body): TextBody,
) -> ApiResult<()> {
    callbacks::upload_metrics(&state.db, &path.test_uuid, &path.test_version, &body, true).await?;
    Ok(())
}
