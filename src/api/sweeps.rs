//! `/api/v1/sweep`: thin handlers over [`crate::sweeps`].

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::errors::{ApiResult, BodyErrors, CommonErrors, ConflictError, NotFoundError};
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::pagination::{PageResponse, page_request};
use super::research::{ComparisonFormat, comparison_response};
use crate::research::compare::{self, Comparison};
use crate::sweeps::{self, Sweep, SweepInput, SweepSummary};
use crate::trial_status::TrialStatus;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sweeps, create_sweep))
        .routes(routes!(find_sweep))
        .routes(routes!(stop_sweep))
        .routes(routes!(compare_sweep))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SweepPath {
    /// The sweep's id.
    pub(super) sweep_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SweepListQuery {
    /// Only sweeps of this experiment.
    experiment: Option<Uuid>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
}

/// List sweeps, oldest first, with their status and progress.
#[utoipa::path(get, path = "/api/v1/sweep", security(("bearer" = ["read"])), tag = "research", params(SweepListQuery),
    responses(
        (status = 200, description = "A page of sweeps; the `Link` header points at the next one.",
            body = Vec<SweepSummary>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors,
    ))]
async fn list_sweeps(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<SweepListQuery>,
) -> ApiResult<PageResponse<SweepSummary>> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    Ok(PageResponse { uri, page: sweeps::list(&state.db, query.experiment, page).await? })
}

/// Sweep an experiment over a grid of parameter sets: the cartesian product of the axes in `parameters`, or the
/// `points` listed, `repeat` trials a point. All its trials are queued at once, in the sweep's `order`, and run
/// one after another through the sequential worker, each with its point's values as trial parameters.
#[utoipa::path(post, path = "/api/v1/sweep", security(("bearer" = ["write"])), tag = "research", request_body = SweepInput,
    responses((status = 201, description = "The sweep, its trials queued.", body = Sweep),
        CommonErrors, ConflictError, BodyErrors))]
async fn create_sweep(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(input): JsonBody<SweepInput>,
) -> ApiResult<(StatusCode, Json<Sweep>)> {
    let sweep = sweeps::create(&state.db, input, &caller.name).await?;
    state.wakeups.trial_queued();
    Ok((StatusCode::CREATED, Json(sweep)))
}

/// Read a sweep: its status and progress, its trials in running order, and its results table (per point, each key
/// metric's mean, minimum, maximum and standard deviation over its repetitions).
#[utoipa::path(get, path = "/api/v1/sweep/{sweep_id}", security(("bearer" = ["read"])), tag = "research", params(SweepPath),
    responses((status = 200, description = "The sweep.", body = Sweep), CommonErrors, NotFoundError))]
async fn find_sweep(State(state): State<AppState>, ApiPath(path): ApiPath<SweepPath>) -> ApiResult<Json<Sweep>> {
    Ok(Json(sweeps::find(&state.db, path.sweep_id).await?))
}

/// Stop a sweep: its queued trials become `Stopped`, its running trial `Stop Initiated` (then `Stopped` once its
/// clean-up ran). Repeating a stop is harmless.
#[utoipa::path(put, path = "/api/v1/sweep/{sweep_id}/stop", security(("bearer" = ["write"])), tag = "research", params(SweepPath),
    responses((status = 200, description = "The sweep, stopped.", body = Sweep), CommonErrors, NotFoundError, ConflictError))]
async fn stop_sweep(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<SweepPath>,
) -> ApiResult<Json<Sweep>> {
    let (sweep, stopped_queued) = sweeps::stop(&state.db, path.sweep_id, &caller.name, state.webhooks.clone()).await?;
    for _ in 0..stopped_queued {
        // Stopped before they ran: the worker never sees them, so they are counted here.
        crate::telemetry::trial_finished(TrialStatus::Stopped, None);
    }
    state.wakeups.webhooks_queued();
    Ok(Json(sweep))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SweepCompareQuery {
    /// The trial the others are compared with; default the sweep's first.
    baseline: Option<Uuid>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    format: Option<ComparisonFormat>,
}

/// Compare a sweep's trials, in running order, as `GET /compare` does.
#[utoipa::path(get, path = "/api/v1/sweep/{sweep_id}/compare", security(("bearer" = ["read"])), tag = "research",
    params(SweepPath, SweepCompareQuery),
    responses(
        (status = 200, description = "The comparison (JSON), or CSV with `format=csv`: one row a trial.",
            content((Comparison = "application/json"), (String = "text/csv"))),
        CommonErrors, NotFoundError,
    ))]
async fn compare_sweep(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<SweepPath>,
    ApiQuery(query): ApiQuery<SweepCompareQuery>,
) -> ApiResult<Response> {
    let (_, figures) = sweeps::figures(&state.db, path.sweep_id).await?;
    let comparison = compare::compare(figures, query.baseline)?;
    comparison_response(&comparison, query.format)
}
