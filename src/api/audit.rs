//! `GET /api/v1/audit`: reads the audit log (admin scope). There is no route that changes it.

use axum::extract::{OriginalUri, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::errors::{ApiResult, CommonErrors};
use super::extract::ApiQuery;
use super::pagination::{PageResponse, page_request};
use crate::audit::{self, AuditEntry, Outcome};
use crate::db::audit::AuditFilter;
use crate::time;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries of this actor, e.g. `token:ci-pipeline`.
    actor: Option<String>,
    /// Only entries of this action, e.g. `experiment.purge`.
    action: Option<String>,
    /// Only entries about this resource id.
    target_id: Option<String>,
    /// Only entries with this outcome.
    outcome: Option<Outcome>,
    /// Only entries at or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only entries before this instant (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
}

/// List the audit log, oldest first: every change asked of the API, who asked, and how it ended.
#[utoipa::path(get, path = "/api/v1/audit", security(("bearer" = ["admin"])), tag = "audit", params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries; the `Link` header points at the next one.",
            body = Vec<AuditEntry>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors,
    ))]
async fn list_audit(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<PageResponse<AuditEntry>> {
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        target_id: query.target_id,
        outcome: query.outcome.map(|outcome| outcome.as_str().to_owned()),
        from: query.from.map(time::to_db),
        to: query.to.map(time::to_db),
    };
    Ok(PageResponse { uri, page: audit::list(&state.db, filter, page).await? })
}
