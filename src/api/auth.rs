//! The guard in front of `/api/v1`: authenticates every request, checks the scope its route declares
//! ([`super::scopes`]), and appends an audit entry for every change (any method but GET). The rules live in
//! [`crate::auth`] and [`crate::audit`]; this module only reads and writes HTTP.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};

use super::AppState;
use super::errors::ApiError;
use super::scopes::{Access, BEARER, RouteScopes};
use crate::audit::{self, AuditEntry, Outcome};
use crate::auth::{Principal, Rejection, Scope};

/// The authenticated caller of a `/api/v1` request, for `created_by` and `initiated_by`.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // Only a route outside the guard lacks it: a defect, never a reason to let the request through.
        parts.extensions.get::<Principal>().cloned().map(Caller).ok_or_else(|| {
            ApiError::from(crate::error::Error::internal(format!(
                "no principal on {}: the route is not guarded",
                parts.uri
            )))
        })
    }
}

/// What the guard needs: the application's state and the access each route declares.
#[derive(Clone)]
pub struct Guarded {
    pub app: AppState,
    pub scopes: std::sync::Arc<RouteScopes>,
}

/// Authenticates, authorizes and audits one request (a middleware over every route).
pub async fn guard(State(guarded): State<Guarded>, request: Request, next: Next) -> Response {
    // No matched route: the 404 and 405 fallbacks, which run nothing.
    // A clone of the matched path shares its text: no allocation per request.
    let Some(matched) = request.extensions().get::<MatchedPath>().cloned() else {
        return next.run(request).await;
    };
    let route = matched.as_str();
    let method = request.method().clone();
    let needed = match guarded.scopes.access(&method, route) {
        Some(Access::Scoped(scope)) => scope,
        Some(Access::Public) => return next.run(request).await,
        None if RouteScopes::undocumented_is_public(route) => return next.run(request).await,
        None => {
            return ApiError::from(crate::error::Error::internal(format!(
                "{method} {route} is not in the API document, so its scope is unknown: the route is refused"
            )))
            .into_response();
        }
    };
    let state = &guarded.app;
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let principal = match state.auth.authenticator.authenticate(&state.db, authorization).await {
        Ok(principal) => principal,
        Err(rejection) => return rejected(rejection),
    };
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !changes {
        if !principal.may(needed) {
            return forbidden(&principal, needed, &method, route).into_response();
        }
        let mut request = request;
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    }

    // A change: keep what the audit entry needs, then let the handler have the body back.
    let path = request.uri().path().to_owned();
    let request_id = request.headers().get("x-request-id").and_then(|id| id.to_str().ok()).map(str::to_owned);
    let (mut parts, body) = request.into_parts();
    let body = match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(bytes) => bytes,
        Err(rejection) => return super::extract::body_rejection(rejection).into_response(),
    };
    let mut entry = AuditEntry {
        id: uuid::Uuid::new_v4(),
        at: crate::time::now(),
        actor: principal.name.clone(),
        action: audit::action(method.as_str(), route),
        method: method.to_string(),
        target_id: path_target(route, &path),
        path,
        body_sha256: audit::body_digest(&body),
        status: 0,
        outcome: Outcome::Failed,
        request_id,
    };
    let response = if principal.may(needed) {
        parts.extensions.insert(principal);
        let response = next.run(Request::from_parts(parts, Body::from(body))).await;
        created_target(response, &mut entry).await
    } else {
        forbidden(&principal, needed, &method, route).into_response()
    };
    entry.status = response.status().as_u16();
    entry.outcome = Outcome::of_status(entry.status);
    entry.at = crate::time::now();
    record(state, entry).await;
    response
}

/// Appends the entry. The change is made by then, so a failure cannot undo it: the entry goes to the log instead,
/// whole, at error level.
async fn record(state: &AppState, entry: AuditEntry) {
    if let Err(error) = audit::append(&state.db, entry.clone()).await {
        tracing::error!(
            actor = %entry.actor, action = %entry.action, path = %entry.path, target = ?entry.target_id,
            status = entry.status, body_sha256 = ?entry.body_sha256,
            "cannot append to the audit log: {error}"
        );
    }
}

/// The id a path names: the segment under the route's last `{…}` parameter.
fn path_target(route: &str, path: &str) -> Option<String> {
    route
        .split('/')
        .zip(path.split('/'))
        .filter(|(template, _)| template.starts_with('{'))
        .map(|(_, segment)| segment.to_owned())
        .last()
}

/// For a 201, the created resource's `id` is the target; the response is passed on unchanged.
async fn created_target(response: Response, entry: &mut AuditEntry) -> Response {
    if response.status() != StatusCode::CREATED {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::from(crate::error::Error::internal("the response body could not be read")).into_response();
    };
    if let Some(id) =
        serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|json| json["id"].as_str().map(str::to_owned))
    {
        entry.target_id = Some(id);
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn rejected(rejection: Rejection) -> Response {
    let (status, code, message) = match rejection {
        Rejection::Missing => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "this request needs a credential: send the header 'Authorization: Bearer <token>'".to_owned(),
        ),
        Rejection::Invalid(reason) => {
            tracing::warn!(reason, "rejected a credential");
            (
                StatusCode::UNAUTHORIZED,
                "invalid_credential",
                "the credential is not valid: it is malformed, unknown, expired or revoked".to_owned(),
            )
        }
        Rejection::Unavailable(reason) => {
            tracing::error!(reason, "cannot check a credential");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "authentication_unavailable",
                "the credential cannot be checked right now; retry later".to_owned(),
            )
        }
    };
    let mut response = ApiError::new(status, code, message, None).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"eris\""));
    }
    response
}

fn forbidden(principal: &Principal, needed: Scope, method: &Method, route: &str) -> ApiError {
    let has = principal.scope.map_or("no scope".to_owned(), |scope| format!("the '{scope}' scope"));
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        format!("{method} {route} needs the '{needed}' scope; {} has {has}", principal.name),
        None,
    )
}

/// Describes the guard in the API document: the bearer scheme (Swagger UI's "Authorize" button), and on every
/// guarded operation the scope it declares, in words, and its 401 and 403 answers.
pub fn document(openapi: &mut OpenApi, scopes: &RouteScopes) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        BEARER.to_owned(),
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An eris API token (`eris token create`, `POST /api/v1/token`) or, with ERIS_AUTH=jwt, a JWT. \
Not needed when eris runs with ERIS_AUTH=none (the default on a loopback address).",
                ))
                .build(),
        ),
    );
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build()
    };
    for (route, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation.as_mut() else { continue };
            let Some(Access::Scoped(scope)) = scopes.access(&method, route) else { continue };
            let description = operation.description.get_or_insert_with(String::new);
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(&format!("Needs the `{scope}` scope."));
            let responses = &mut operation.responses.responses;
            responses.insert("401".into(), error("No credential, or one that is not valid (the same answer for an unknown, expired or revoked token).").into());
            responses.insert("403".into(), error(&format!("The credential lacks the `{scope}` scope.")).into());
        }
    }
}
