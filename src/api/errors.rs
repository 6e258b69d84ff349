//! The JSON error body and how eris's errors become HTTP responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoResponses, ToSchema};

use crate::error::{Error, ErrorKind};

/// Every error eris answers with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"code": "invalid_recurrence_pattern", "field": "recurrence_pattern",
    "message": "recurrence_pattern '61 * * * *': minute value 61 is out of range 0-59"}))]
pub struct ErrorBody {
    /// Stable and machine-readable, e.g. `experiment_not_found`, `invalid_json`, `invalid_recurrence_pattern`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
    /// The request field at fault as a path (`steps[1].where.url`, a path or query parameter name), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>, field: Option<String>) -> Self {
        Self { status, body: ErrorBody { code: code.to_owned(), message: message.into(), field } }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match error.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(code = error.code, "{}", error.message);
        }
        // A defect's details are for the log, not for the client.
        let message = match error.kind {
            ErrorKind::Internal => "eris failed to handle the request; the server log has the details".to_owned(),
            _ => error.message,
        };
        Self::new(status, error.code, message, error.field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Errors any endpoint can answer with.
#[derive(IntoResponses)]
pub enum CommonErrors {
    /// Malformed or invalid request: the body names the field.
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// A defect in eris; the server log has the details (the body does not).
    #[response(status = 500)]
    Internal(#[to_schema] ErrorBody),
    /// The database is unreachable or busy, or the request took longer than `ERIS_REQUEST_TIMEOUT_SECS`; retry later.
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// Errors of endpoints that name a resource in their path.
#[derive(IntoResponses)]
pub enum NotFoundError {
    /// The resource does not exist.
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
}

/// Errors of endpoints that take a JSON body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// The body is larger than `ERIS_MAX_BODY_BYTES`.
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorBody),
    /// The body is not sent as `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(#[to_schema] ErrorBody),
}

/// Errors of endpoints that change a resource whose state may forbid it.
#[derive(IntoResponses)]
pub enum ConflictError {
    /// The resource's present state forbids the change (archived experiment, finished trial, concurrent update).
    #[response(status = 409)]
    Conflict(#[to_schema] ErrorBody),
}

/// The answer of a MiSArch callback from outside `ERIS_COMPONENT_ALLOW_CIDRS`.
#[derive(IntoResponses)]
pub enum ComponentErrors {
    /// The caller's address is not in `ERIS_COMPONENT_ALLOW_CIDRS`.
    #[response(status = 403)]
    Forbidden(#[to_schema] ErrorBody),
}
