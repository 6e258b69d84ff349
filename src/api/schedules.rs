//! `/api/v1/experiment/{experiment_id}/schedule`: thin handlers over [`crate::schedules`].

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::errors::{ApiResult, BodyErrors, CommonErrors, ConflictError, NotFoundError};
use super::experiments::ExperimentPath;
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::pagination::{PageResponse, page_request};
use crate::schedules::{self, Change, Schedule, ScheduleInput, SchedulePatch};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_schedules, create_schedule)).routes(routes!(
        find_schedule,
        replace_schedule,
        update_schedule,
        delete_schedule
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScheduleListQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SchedulePath {
    /// The experiment's id.
    experiment_id: Uuid,
    /// The schedule's id.
    schedule_id: Uuid,
}

/// List an experiment's schedules, oldest first.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}/schedule", security(("bearer" = ["read"])), tag = "schedules",
    params(ExperimentPath, ScheduleListQuery),
    responses(
        (status = 200, description = "A page of schedules; the `Link` header points at the next one.",
            body = Vec<Schedule>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors, NotFoundError,
    ))]
async fn list_schedules(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiPath(path): ApiPath<ExperimentPath>,
    ApiQuery(query): ApiQuery<ScheduleListQuery>,
) -> ApiResult<PageResponse<Schedule>> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let page = schedules::list(&state.db, path.experiment_id, page).await?;
    Ok(PageResponse { uri, page })
}

/// Create a schedule: the experiment runs by itself on a cron pattern.
#[utoipa::path(post, path = "/api/v1/experiment/{experiment_id}/schedule", security(("bearer" = ["write"])), tag = "schedules", params(ExperimentPath),
    request_body = ScheduleInput,
    responses((status = 201, description = "The schedule, with its `next_run_at`.", body = Schedule),
        CommonErrors, NotFoundError, ConflictError, BodyErrors))]
async fn create_schedule(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<ExperimentPath>,
    JsonBody(input): JsonBody<ScheduleInput>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    let schedule = schedules::create(&state.db, path.experiment_id, input, &caller.name).await?;
    state.wakeups.schedules_changed();
    Ok((StatusCode::CREATED, Json(schedule)))
}

/// Read a schedule, with its most recent trials.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}", security(("bearer" = ["read"])), tag = "schedules",
    params(SchedulePath),
    responses((status = 200, description = "The schedule.", body = Schedule), CommonErrors, NotFoundError))]
async fn find_schedule(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<SchedulePath>,
) -> ApiResult<Json<Schedule>> {
    Ok(Json(schedules::find(&state.db, path.experiment_id, path.schedule_id).await?))
}

/// Replace a schedule; fields left out take their defaults (no `recurrence_count` means forever). A changed
/// `recurrence_count` resets `recurrence_left`.
#[utoipa::path(put, path = "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}", security(("bearer" = ["write"])), tag = "schedules",
    params(SchedulePath), request_body = ScheduleInput,
    responses((status = 200, description = "The schedule.", body = Schedule),
        CommonErrors, NotFoundError, ConflictError, BodyErrors))]
async fn replace_schedule(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<SchedulePath>,
    JsonBody(input): JsonBody<ScheduleInput>,
) -> ApiResult<Json<Schedule>> {
    let schedule = schedules::update(&state.db, path.experiment_id, path.schedule_id, Change::Replace(input)).await?;
    state.wakeups.schedules_changed();
    Ok(Json(schedule))
}

/// Change some fields of a schedule; each field given replaces that field. A changed `recurrence_count` resets
/// `recurrence_left`.
#[utoipa::path(patch, path = "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}", security(("bearer" = ["write"])), tag = "schedules",
    params(SchedulePath), request_body = SchedulePatch,
    responses((status = 200, description = "The schedule.", body = Schedule),
        CommonErrors, NotFoundError, ConflictError, BodyErrors))]
async fn update_schedule(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<SchedulePath>,
    JsonBody(patch): JsonBody<SchedulePatch>,
) -> ApiResult<Json<Schedule>> {
    let schedule = schedules::update(&state.db, path.experiment_id, path.schedule_id, Change::Merge(patch)).await?;
    state.wakeups.schedules_changed();
    Ok(Json(schedule))
}

/// Delete a schedule. Its trials stay.
#[utoipa::path(delete, path = "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}", security(("bearer" = ["write"])), tag = "schedules",
    params(SchedulePath),
    responses((status = 204, description = "Deleted."), CommonErrors, NotFoundError))]
async fn delete_schedule(State(state): State<AppState>, ApiPath(path): ApiPath<SchedulePath>) -> ApiResult<StatusCode> {
    schedules::delete(&state.db, path.experiment_id, path.schedule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
