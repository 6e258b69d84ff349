//! `/api/v1/experiment`: thin handlers over [`crate::experiments`].

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
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
use crate::db::experiments::ExperimentFilter;
use crate::experiments::{self, Change, Experiment, ExperimentInput, ExperimentPatch};
use crate::time;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_experiments, create_experiment))
        .routes(routes!(find_experiment, replace_experiment, update_experiment, delete_experiment))
        .routes(routes!(purge_experiment))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExperimentListQuery {
    /// Only experiments created at or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only experiments created before this instant (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExperimentPath {
    /// The experiment's id.
    pub(super) experiment_id: Uuid,
}

/// List the experiments that are not archived, oldest first.
#[utoipa::path(get, path = "/api/v1/experiment", security(("bearer" = ["read"])), tag = "experiments", params(ExperimentListQuery),
    responses(
        (status = 200, description = "A page of experiments; the `Link` header points at the next one.",
            body = Vec<Experiment>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors,
    ))]
async fn list_experiments(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<ExperimentListQuery>,
) -> ApiResult<PageResponse<Box<serde_json::value::RawValue>>> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = ExperimentFilter { created_from: query.from.map(time::to_db), created_to: query.to.map(time::to_db) };
    let page = experiments::list_json(&state.db, filter, page).await?;
    Ok(PageResponse { uri, page })
}

/// Create an experiment.
#[utoipa::path(post, path = "/api/v1/experiment", security(("bearer" = ["write"])), tag = "experiments", request_body = ExperimentInput,
    responses((status = 201, description = "The experiment, at revision 1.", body = Experiment), CommonErrors, BodyErrors))]
async fn create_experiment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(input): JsonBody<ExperimentInput>,
) -> ApiResult<(StatusCode, Json<Experiment>)> {
    let experiment = experiments::create(&state.db, input, &caller.name).await?;
    Ok((StatusCode::CREATED, Json(experiment)))
}

/// Read an experiment, archived ones included.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}", security(("bearer" = ["read"])), tag = "experiments", params(ExperimentPath),
    responses((status = 200, description = "The experiment.", body = Experiment), CommonErrors, NotFoundError))]
async fn find_experiment(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentPath>,
) -> ApiResult<Json<Box<serde_json::value::RawValue>>> {
    Ok(Json(experiments::find_json(&state.db, path.experiment_id).await?))
}

/// Replace an experiment's definition; fields left out take their defaults. Bumps the revision.
#[utoipa::path(put, path = "/api/v1/experiment/{experiment_id}", security(("bearer" = ["write"])), tag = "experiments", params(ExperimentPath),
    request_body = ExperimentInput,
    responses((status = 200, description = "The experiment at its new revision.", body = Experiment),
        CommonErrors, NotFoundError, ConflictError, BodyErrors))]
async fn replace_experiment(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentPath>,
    JsonBody(input): JsonBody<ExperimentInput>,
) -> ApiResult<Json<Experiment>> {
    Ok(Json(experiments::update(&state.db, path.experiment_id, Change::Replace(input)).await?))
}

/// Change some fields of an experiment; each field given replaces that field. Bumps the revision.
#[utoipa::path(patch, path = "/api/v1/experiment/{experiment_id}", security(("bearer" = ["write"])), tag = "experiments", params(ExperimentPath),
    request_body = ExperimentPatch,
    responses((status = 200, description = "The experiment at its new revision.", body = Experiment),
        CommonErrors, NotFoundError, ConflictError, BodyErrors))]
async fn update_experiment(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentPath>,
    JsonBody(patch): JsonBody<ExperimentPatch>,
) -> ApiResult<Json<Experiment>> {
    Ok(Json(experiments::update(&state.db, path.experiment_id, Change::Merge(patch)).await?))
}

/// Archive an experiment: it leaves the lists, its schedules are deleted, its queued trials are stopped, and its
/// trials stay readable. Archiving twice is harmless.
#[utoipa::path(delete, path = "/api/v1/experiment/{experiment_id}", security(("bearer" = ["write"])), tag = "experiments", params(ExperimentPath),
    responses((status = 204, description = "Archived."), CommonErrors, NotFoundError))]
async fn delete_experiment(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentPath>,
) -> ApiResult<StatusCode> {
    let archived = experiments::archive(&state.db, path.experiment_id).await?;
    tracing::info!(
        experiment = %path.experiment_id,
        schedules_deleted = archived.schedules_deleted,
        trials_stopped = archived.trials_stopped,
        "experiment archived"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Delete an experiment for good, with its schedules and all its trials. Refused while one of its trials runs.
#[utoipa::path(post, path = "/api/v1/experiment/{experiment_id}/purge", security(("bearer" = ["admin"])), tag = "experiments", params(ExperimentPath),
    responses((status = 204, description = "Purged."), CommonErrors, NotFoundError, ConflictError))]
async fn purge_experiment(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentPath>,
) -> ApiResult<StatusCode> {
    experiments::purge(&state.db, path.experiment_id).await?;
    tracing::warn!(experiment = %path.experiment_id, "experiment purged with its schedules and trials");
    Ok(StatusCode::NO_CONTENT)
}
