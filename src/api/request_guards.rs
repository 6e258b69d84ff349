//! Middleware around every route: what no handler should ever see, and what a client must be told about its
//! connection.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;

/// Refuses a request whose path or query holds a NUL once percent-decoded (`/trigger/%00/1`, `?name=a%00b`):
/// PostgreSQL cannot store or even compare such text, and no id or name needs one. Refused the same way on both
/// backends, before any route runs.
pub async fn refuse_nul_in_uri(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let decodes_to_nul = |text: &str| percent_encoding::percent_decode_str(text).any(|byte| byte == 0);
    let (code, part) = if decodes_to_nul(uri.path()) {
        ("invalid_path_parameter", "path")
    } else if uri.query().is_some_and(decodes_to_nul) {
        ("invalid_query_parameter", "query string")
    } else {
        return next.run(request).await;
    };
    let message = format!("the {part} contains a NUL character (%00), which no id, name or value may hold");
    ApiError::new(StatusCode::BAD_REQUEST, code, message, None).into_response()
}

/// Says `Connection: close` on an error answer to a request that sent a body: its body may not have been read (a
/// 413, a 415, a refused token), and then the server closes the connection after the answer. Said, a keep-alive
/// client opens a new connection for its next request instead of failing on the closed one.
pub async fn close_after_refused_body(request: Request, next: Next) -> Response {
    let sent_body = request.headers().contains_key(header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok())
            .is_some_and(|length| length.trim() != "0");
    let mut response = next.run(request).await;
    if sent_body && (response.status().is_client_error() || response.status().is_server_error()) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
