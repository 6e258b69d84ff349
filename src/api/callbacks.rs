//! The callbacks of the MiSArch components, at the paths and in the formats the real components use (docs/misarch.md,
//! "The callbacks"), so that they can point `EXPERIMENT_EXECUTOR_URL` at eris unchanged. Thin handlers over
//! [`crate::misarch::callbacks`]. They answer only for the MiSArch trial that is running (404 otherwise), and,
//! with `ERIS_COMPONENT_ALLOW_CIDRS`, only to callers from those addresses (403 otherwise): the real components
//! cannot send credentials.

use crate::transient::{Retrier, retry};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::errors::{ApiError, ApiResult, CommonErrors, ComponentErrors, ErrorBody, NotFoundError};
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

/// A caller allowed to use the callbacks: any caller, or with `ERIS_COMPONENT_ALLOW_CIDRS` one whose address is in
/// those networks. The address is the TCP peer's; headers such as `X-Forwarded-For` are not believed.
pub struct FromComponent;

impl FromRequestParts<AppState> for FromComponent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        if crate::auth::settings::component_allowed(&state.auth.component_allow, peer) {
            return Ok(FromComponent);
        }
        let shown = peer.map_or("an unknown address".to_owned(), |ip| ip.to_string());
        tracing::warn!(peer = %shown, "refused a MiSArch callback from outside ERIS_COMPONENT_ALLOW_CIDRS");
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "component_address_not_allowed",
            format!("callbacks are not accepted from {shown} (ERIS_COMPONENT_ALLOW_CIDRS)"),
            None,
        ))
    }
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
    #[param(required = true, min_length = 1, max_length = 100)]
    client: Option<String>,
}

/// A component is ready for the run (the readiness barrier). Answers `kotlin.Unit`, as the original does.
#[utoipa::path(post, path = "/trigger/{testUUID}/{testVersion}", security(()), tag = "misarch callbacks",
    params(RunPath, RegisterQuery),
    responses((status = 200, description = "Registered.", content_type = "text/plain", body = String, example = "kotlin.Unit"),
        CommonErrors, NotFoundError, ComponentErrors))]
async fn register(
    State(state): State<AppState>,
    _allowed: FromComponent,
    ApiPath(path): ApiPath<RunPath>,
    ApiQuery(query): ApiQuery<RegisterQuery>,
) -> ApiResult<impl IntoResponse> {
    let client = query.client.as_deref();
    retry(Retrier::Callback, || callbacks::register(&state.db, &path.test_uuid, &path.test_version, client)).await?;
    Ok(super::plain_text(TRIGGER_REGISTERED))
}

/// Whether the run has started: exactly `true` from T0 until the metrics arrive, `false` before and after.
#[utoipa::path(get, path = "/trigger/{testUUID}/{testVersion}", security(()), tag = "misarch callbacks", params(RunPath),
    responses((status = 200, description = "`true` or `false`.", content_type = "text/plain", body = String, example = "false"),
        CommonErrors, NotFoundError, ComponentErrors))]
async fn trigger(
    State(state): State<AppState>,
    _allowed: FromComponent,
    ApiPath(path): ApiPath<RunPath>,
) -> ApiResult<impl IntoResponse> {
    let started =
        retry(Retrier::Callback, || callbacks::triggered(&state.db, &path.test_uuid, &path.test_version)).await?;
    Ok(super::plain_text(trigger_state(started)))
}

/// The Gatling report of the main run: one raw body, `index.html`, a line `SPLIT_HERE`, `stats.js` (any content
/// type; the Gatling executor sends `plain/text`). It becomes the trial's metrics and ends the workload.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/gatling/metrics", security(()), tag = "misarch callbacks",
    params(RunPath), request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "Received."),
        (status = 413, description = "Larger than `ERIS_CALLBACK_MAX_BODY_BYTES`.", body = ErrorBody),
        CommonErrors, NotFoundError, ComponentErrors))]
async fn upload_metrics(
    State(state): State<AppState>,
    _allowed: FromComponent,
    ApiPath(path): ApiPath<RunPath>,
    TextBody(body): TextBody,
) -> ApiResult<()> {
    let upload = || callbacks::upload_metrics(&state.db, &path.test_uuid, &path.test_version, &body, false);
    retry(Retrier::Callback, upload).await?;
    Ok(())
}

/// The Gatling report of the steady-state run, in the same format; its `stats.js` gives the steady-state goals.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/gatling/metrics/steadyState", security(()),
    tag = "misarch callbacks", params(RunPath), request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "Received."),
        (status = 413, description = "Larger than `ERIS_CALLBACK_MAX_BODY_BYTES`.", body = ErrorBody),
        CommonErrors, NotFoundError, ComponentErrors))]
async fn upload_steady_state_metrics(
    State(state): State<AppState>,
    _allowed: FromComponent,
    ApiPath(path): ApiPath<RunPath>,
    TextBody(body): TextBody,
) -> ApiResult<()> {
    let upload = || callbacks::upload_metrics(&state.db, &path.test_uuid, &path.test_version, &body, true);
    retry(Retrier::Callback, upload).await?;
    Ok(())
}
