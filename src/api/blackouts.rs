//! `/api/v1/blackout`: thin handlers over [`crate::blackouts`].

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
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::pagination::{PageResponse, page_request};
use crate::blackouts::{self, Blackout, BlackoutInput};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_blackouts, create_blackout))
        .routes(routes!(find_blackout, delete_blackout))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BlackoutPath {
    /// The blackout's id.
    blackout_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BlackoutListQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
}

/// List the blackouts, oldest first, each saying whether it is in force now.
#[utoipa::path(get, path = "/api/v1/blackout", security(("bearer" = ["read"])), tag = "safety", params(BlackoutListQuery),
    responses(
        (status = 200, description = "A page of blackouts; the `Link` header points at the next one.",
            body = Vec<Blackout>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors,
    ))]
async fn list_blackouts(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<BlackoutListQuery>,
) -> ApiResult<PageResponse<Blackout>> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    Ok(PageResponse { uri, page: blackouts::list(&state.db, page).await? })
}

/// Make a blackout (admin): one-off (`from`, `to`) or recurring (`timezone`, `windows`). While it is in force no
/// trial starts (409 `blackout_active`), schedule fires are skipped and counted, queued trials are stopped, and a
/// running trial is stopped with its clean-up.
#[utoipa::path(post, path = "/api/v1/blackout", security(("bearer" = ["admin"])), tag = "safety", request_body = BlackoutInput,
    responses((status = 201, description = "The blackout.", body = Blackout), CommonErrors, ConflictError, BodyErrors))]
async fn create_blackout(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(input): JsonBody<BlackoutInput>,
) -> ApiResult<(StatusCode, Json<Blackout>)> {
    let blackout = blackouts::create(&state.db, input, &caller.name).await?;
    // The worker looks at once: a blackout in force stops what is queued.
    state.wakeups.trial_queued();
    Ok((StatusCode::CREATED, Json(blackout)))
}

/// Read a blackout.
#[utoipa::path(get, path = "/api/v1/blackout/{blackout_id}", security(("bearer" = ["read"])), tag = "safety",
    params(BlackoutPath), responses((status = 200, description = "The blackout.", body = Blackout), CommonErrors, NotFoundError))]
async fn find_blackout(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<BlackoutPath>,
) -> ApiResult<Json<Blackout>> {
    Ok(Json(blackouts::find(&state.db, path.blackout_id).await?))
}

/// Delete a blackout (admin): one in force ends at once; trials may start again.
#[utoipa::path(delete, path = "/api/v1/blackout/{blackout_id}", security(("bearer" = ["admin"])), tag = "safety",
    params(BlackoutPath), responses((status = 204, description = "Deleted."), CommonErrors, NotFoundError))]
async fn delete_blackout(State(state): State<AppState>, ApiPath(path): ApiPath<BlackoutPath>) -> ApiResult<StatusCode> {
    blackouts::delete(&state.db, path.blackout_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
