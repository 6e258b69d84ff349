//! `/api/v1/token`: thin handlers over [`crate::auth::tokens`]. Admin scope only.

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
use crate::auth::tokens::{self, CreatedToken, TokenInfo, TokenInput};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(revoke_token))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenListQuery {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// The token's id.
    token_id: Uuid,
}

/// List the API tokens, revoked and expired ones included, oldest first. Their text is never shown again.
#[utoipa::path(get, path = "/api/v1/token", security(("bearer" = ["admin"])), tag = "tokens", params(TokenListQuery),
    responses(
        (status = 200, description = "A page of tokens; the `Link` header points at the next one.",
            body = Vec<TokenInfo>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors,
    ))]
async fn list_tokens(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<TokenListQuery>,
) -> ApiResult<PageResponse<TokenInfo>> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    Ok(PageResponse { uri, page: tokens::list(&state.db, page).await? })
}

/// Create an API token. Its text is in this response only: eris keeps a hash.
#[utoipa::path(post, path = "/api/v1/token", security(("bearer" = ["admin"])), tag = "tokens", request_body = TokenInput,
    responses((status = 201, description = "The token, with its text.", body = CreatedToken),
        CommonErrors, ConflictError, BodyErrors))]
async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(input): JsonBody<TokenInput>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let created = tokens::create(&state.db, input, &caller.name).await?;
    tracing::info!(token = %created.info.name, scope = %created.info.scope, "API token created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke an API token: it stops working at once, on every replica. Its name stays taken. Revoking twice is
/// harmless.
#[utoipa::path(delete, path = "/api/v1/token/{token_id}", security(("bearer" = ["admin"])), tag = "tokens", params(TokenPath),
    responses((status = 200, description = "The revoked token.", body = TokenInfo), CommonErrors, NotFoundError))]
async fn revoke_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<TokenPath>,
) -> ApiResult<Json<TokenInfo>> {
    let revoked = tokens::revoke(&state.db, &path.token_id.to_string(), &caller.name).await?;
    tracing::info!(token = %revoked.name, "API token revoked");
    Ok(Json(revoked))
}
