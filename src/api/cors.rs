//! Cross-origin requests (`ERIS_CORS_ORIGINS`): browsers on the configured origins (the MiSArch frontend's page,
//! `http://localhost:5173` in MiSArch's compose file) may call eris; a request from any other page is refused
//! with 403 before anything runs, as the MiSArch executor's Spring configuration refuses it. Only adding headers,
//! as a plain CORS layer does, would still let another site's page start a trial with a simple `POST`. Requests
//! without `Origin`, or from eris's own origin (Swagger UI), are not cross-origin and pass.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use super::errors::ApiError;

/// The origins allowed to call eris from a browser, as `scheme://host[:port]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(Vec<HeaderValue>);

/// Why `ERIS_CORS_ORIGINS` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("'{0}' is not a URL such as http://localhost:5173")]
    NotAUrl(String),
    #[error("'{0}' is not an origin: give scheme://host[:port] without a path, query or fragment")]
    NotAnOrigin(String),
}

impl CorsOrigins {
    /// A comma-separated list of origins; empty allows none.
    pub fn parse(list: &str) -> Result<Self, OriginError> {
        let mut origins = Vec::new();
        for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let url = url::Url::parse(item).map_err(|_| OriginError::NotAUrl(item.to_owned()))?;
            let bare =
                url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
            let origin = url.origin();
            if !bare
                || !origin.is_tuple()
                || !item.trim_end_matches('/').eq_ignore_ascii_case(&origin.ascii_serialization())
            {
                return Err(OriginError::NotAnOrigin(item.to_owned()));
            }
            let value = HeaderValue::from_str(&origin.ascii_serialization())
                .map_err(|_| OriginError::NotAnOrigin(item.to_owned()))?;
            origins.push(value);
        }
        Ok(Self(origins))
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        self.0.iter().any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
    }

    /// Answers preflights of the allowed origins and adds `Access-Control-Allow-Origin` to their requests' answers:
    /// every method eris serves, whatever headers the page asks for, cached for an hour (the executor's settings).
    pub fn layer(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.0.clone()))
            .allow_methods([Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::PATCH, Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(Duration::from_secs(3600))
    }
}

/// Whether `origin` is the origin the client called (the `Host` it sent): eris's own pages.
fn same_origin(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Some(origin), Some(host)) = (origin.to_str().ok(), host.and_then(|host| host.to_str().ok())) else {
        return false;
    };
    let Ok(url) = url::Url::parse(origin) else { return false };
    let Some(origin_host) = url.host_str() else { return false };
    let origin_authority = match url.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_owned(),
    };
    let default_port = url.port_or_known_default().map(|port| format!(":{port}"));
    let host = host.trim().to_ascii_lowercase();
    host == origin_authority.to_ascii_lowercase()
        || default_port.is_some_and(|port| host == format!("{}{port}", origin_host.to_ascii_lowercase()))
}

/// Refuses, with 403, a request that a page of an origin not in `ERIS_CORS_ORIGINS` sends (a preflight too).
pub async fn refuse_foreign_origin(
    State(origins): State<std::sync::Arc<CorsOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !origins.allows(origin)
        && !same_origin(origin, request.headers().get(header::HOST))
    {
        let shown = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("requests from pages of {shown} are not accepted; add the origin to ERIS_CORS_ORIGINS"),
            None,
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        let origins = CorsOrigins::parse(" http://localhost:5173, https://misarch-experiment.gropius.dev/ ,").unwrap();
        assert!(origins.allows(&HeaderValue::from_static("http://localhost:5173")));
        assert!(origins.allows(&HeaderValue::from_static("https://misarch-experiment.gropius.dev")));
        assert!(!origins.allows(&HeaderValue::from_static("http://localhost:5174")));
        assert_eq!(CorsOrigins::parse("").unwrap(), CorsOrigins::default());
        assert_eq!(
            CorsOrigins::parse("http://localhost:5173/frontend").unwrap_err(),
            OriginError::NotAnOrigin("http://localhost:5173/frontend".to_owned())
        );
        assert_eq!(CorsOrigins::parse("localhost").unwrap_err(), OriginError::NotAUrl("localhost".to_owned()));
    }

    #[test]
    fn a_page_of_eris_itself_is_not_cross_origin() {
        let origin = HeaderValue::from_static("http://127.0.0.1:8080");
        assert!(same_origin(&origin, Some(&HeaderValue::from_static("127.0.0.1:8080"))));
        assert!(!same_origin(&origin, Some(&HeaderValue::from_static("127.0.0.1:9090"))));
        let default_port = HeaderValue::from_static("https://eris.example.com");
        assert!(same_origin(&default_port, Some(&HeaderValue::from_static("eris.example.com"))));
        assert!(same_origin(&default_port, Some(&HeaderValue::from_static("eris.example.com:443"))));
        assert!(!same_origin(&HeaderValue::from_static("null"), Some(&HeaderValue::from_static("eris"))));
    }
}
