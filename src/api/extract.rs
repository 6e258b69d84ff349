//! Extractors that turn every kind of bad input into a JSON error naming the problem (axum's own answer in
//! plain text, some with 422).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::errors::ApiError;

/// A JSON request body that is an object.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        json_of_kind(request, state, b'{', "the body must be a JSON object").await.map(Self)
    }
}

/// A JSON request body that is a list (the MiSArch executor's `gatlingConfig`).
pub struct JsonListBody<T>(pub Vec<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonListBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        json_of_kind(request, state, b'[', "the body must be a JSON list").await.map(Self)
    }
}

/// A JSON body whose first character is `opening` (serde would read a struct from a JSON array, by position).
async fn json_of_kind<S: Send + Sync, T: DeserializeOwned>(
    request: Request,
    state: &S,
    opening: u8,
    refusal: &'static str,
) -> Result<T, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE);
    if !is_json(content_type) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with the header 'Content-Type: application/json'",
            None,
        ));
    }
    if let Some(charset) = charset(content_type).filter(|charset| !charset.eq_ignore_ascii_case("utf-8")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the body as UTF-8 JSON: charset={charset} is not supported"),
            None,
        ));
    }
    let bytes = Bytes::from_request(request, state).await.map_err(body_rejection)?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(first) if *first == opening => {}
        None => {}
        Some(_) => return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", refusal, None)),
    }
    parse_json(&bytes)
}

/// A raw text body of any content type (the Gatling executor sends `Content-Type: plain/text`, sic), at most
/// `ERIS_CALLBACK_MAX_BODY_BYTES` long on the routes that accept one.
pub struct TextBody(pub String);

impl<S: Send + Sync> FromRequest<S> for TextBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the body is larger than this server accepts (ERIS_MAX_BODY_BYTES; ERIS_CALLBACK_MAX_BODY_BYTES for the components' uploads)",
                    None,
                )
            } else {
                body_rejection(rejection)
            }
        })?;
        let text = String::from_utf8(bytes.into()).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the body is not UTF-8 text: {error}"),
                Some("body".into()),
            )
        })?;
        if let Some(at) = text.find('\0') {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the body contains a NUL character (at byte {at}), which no text eris keeps may hold"),
                Some("body".into()),
            ));
        }
        Ok(Self(text))
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(mime) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The `charset` parameter of a content type, unquoted, if it has one.
fn charset(content_type: Option<&header::HeaderValue>) -> Option<String> {
    let mime = content_type.and_then(|v| v.to_str().ok())?;
    mime.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"').to_owned())
    })
}

pub(super) fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this server accepts (ERIS_MAX_BODY_BYTES)",
            None,
        );
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        format!("the request body could not be read: {rejection}"),
        None,
    )
}

/// Parses JSON, naming the field at fault in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first: serde_json reports some type errors as syntax errors (a number or an object where an enum is
    // expected), which would otherwise be answered as `invalid_json` without the field.
    if let Err(error) = std::str::from_utf8(bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the body is not UTF-8: {error}"),
            None,
        ));
    }
    // serde_json refuses nesting deeper than 128, so the walk for NUL characters below is bounded too.
    let parsed = serde_json::from_slice::<serde_json::Value>(bytes).map_err(|inner| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {inner}"), None)
    })?;
    // PostgreSQL cannot store a NUL in text, and no name, URL or template needs one: refused on both backends.
    if let Some(path) = nul_path(&parsed, &mut String::new()) {
        let at = if path.is_empty() { "the body" } else { path.as_str() };
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("{at}: contains a NUL character (\\u0000), which no text eris keeps may hold"),
            (!path.is_empty()).then_some(path),
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        invalid_field("invalid_body", &path, &inner.to_string())
    })?;
    Ok(value)
}

/// The path (`steps[1].where.url`, as the other errors name fields) of the first string or key holding a NUL.
fn nul_path(value: &serde_json::Value, path: &mut String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0').then(|| path.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
            let length = path.len();
            path.push_str(&format!("[{index}]"));
            let found = nul_path(item, path);
            path.truncate(length);
            found
        }),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            let length = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            let found = if key.contains('\0') { Some(path.clone()) } else { nul_path(member, path) };
            path.truncate(length);
            found
        }),
        _ => None,
    }
}

/// Builds an error for a field a deserializer rejected. serde reports a missing or unknown field at its parent's
/// path, with the name only in the message; this puts the name into the path.
fn invalid_field(code: &str, path: &str, message: &str) -> ApiError {
    let message = strip_position(message);
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match (path, named) {
        (".", Some(name)) => name.to_owned(),
        // For unknown fields serde_path_to_error's path already ends with the name.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) => String::new(),
        (path, None) => path.to_owned(),
    };
    let text = if field.is_empty() { message.to_owned() } else { format!("{field}: {message}") };
    ApiError::new(StatusCode::BAD_REQUEST, code, text, (!field.is_empty()).then_some(field))
}

/// serde_json appends " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

/// Path parameters (UUIDs).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    if let PathRejection::FailedToDeserializePathParams(error) = &rejection {
        match error.kind() {
            ErrorKind::ParseErrorAtKey { key, value, .. } | ErrorKind::DeserializeError { key, value, .. } => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path_parameter",
                    format!("{key}: '{value}' is not a valid UUID"),
                    Some(key.clone()),
                );
            }
            _ => {}
        }
    }
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_path_parameter", rejection.body_text(), None)
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(Self).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            invalid_field("invalid_query_parameter", &path, &message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialized")]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialized")]
    struct Inner {
        count: u32,
    }

    fn error_for(body: &str) -> (String, Option<String>) {
        let error = parse_json::<Outer>(body.as_bytes()).unwrap_err();
        (error.body.code, error.body.field)
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(error_for("{"), ("invalid_json".into(), None));
        assert_eq!(error_for(r#"{"inner": []}"#), ("invalid_body".into(), Some("name".into())));
        assert_eq!(error_for(r#"{"name": 1, "inner": []}"#), ("invalid_body".into(), Some("name".into())));
        assert_eq!(error_for(r#"{"name": "a", "inner": [], "x": 1}"#), ("invalid_body".into(), Some("x".into())));
        assert_eq!(
            error_for(r#"{"name": "a", "inner": [{"count": -1}]}"#),
            ("invalid_body".into(), Some("inner[0].count".into()))
        );
        assert_eq!(
            error_for(r#"{"name": "a", "inner": [{}]}"#),
            ("invalid_body".into(), Some("inner[0].count".into()))
        );
    }

    #[test]
    fn recognises_json_content_types() {
        let value = |s: &'static str| header::HeaderValue::from_static(s);
        assert!(is_json(Some(&value("application/json"))));
        assert!(is_json(Some(&value("application/json; charset=utf-8"))));
        assert!(is_json(Some(&value("application/merge-patch+json"))));
        assert!(!is_json(Some(&value("text/plain"))));
        assert!(!is_json(None));
    }
}
