//! `limit` and `cursor` query parameters, and the `Link` header that points at the next page.

use axum::Json;
use axum::http::header::LINK;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::errors::ApiError;
use crate::db::page::{Cursor, Page, PageRequest};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Builds the page request from `?limit=` and `?cursor=`.
pub fn page_request(limit: Option<i64>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            format!("limit must be from 1 to {MAX_LIMIT}, not {limit}"),
            Some("limit".into()),
        ));
    }
    let after = cursor
        .map(|text| {
            Cursor::decode(text).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query_parameter",
                    "cursor is not one eris gave out; take it from the Link header of the previous page",
                    Some("cursor".into()),
                )
            })
        })
        .transpose()?;
    Ok(PageRequest { limit, after })
}

/// A page as a response: the items as a JSON array, and the next page's URL in the `Link` header.
pub struct PageResponse<T> {
    pub uri: Uri,
    pub page: Page<T>,
}

impl<T: Serialize> IntoResponse for PageResponse<T> {
    fn into_response(self) -> Response {
        (link_headers(&self.uri, self.page.next.as_ref()), Json(self.page.items)).into_response()
    }
}

/// `Link: <…?cursor=…>; rel="next"` when there is a next page: the same request with the new cursor.
fn link_headers(uri: &Uri, next: Option<&Cursor>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let Some(next) = next else { return headers };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if key != "cursor" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("cursor", &next.encode());
    let link = format!("<{}?{}>; rel=\"next\"", uri.path(), query.finish());
    if let Ok(value) = HeaderValue::from_str(&link) {
        headers.insert(LINK, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_keeps_the_filters_and_replaces_the_cursor() {
        let uri: Uri = "/api/v1/trial?status=In%20Progress&cursor=old&limit=2".parse().unwrap();
        let cursor = Cursor {
            created_at: chrono::DateTime::from_timestamp_micros(5).unwrap().naive_utc(),
            id: "7b0c6d1e-8f5a-4c39-9d2e-1a2b3c4d5e6f".into(),
        };
        let headers = link_headers(&uri, Some(&cursor));
        assert_eq!(
            headers[LINK],
            "</api/v1/trial?status=In+Progress&limit=2&cursor=5.7b0c6d1e-8f5a-4c39-9d2e-1a2b3c4d5e6f>; rel=\"next\""
        );
        assert!(link_headers(&uri, None).is_empty());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(page_request(None, None).unwrap().limit, DEFAULT_LIMIT);
        for bad in [0, -1, MAX_LIMIT + 1] {
            assert_eq!(page_request(Some(bad), None).unwrap_err().body.field.as_deref(), Some("limit"));
        }
        assert!(page_request(None, Some("nonsense")).is_err());
    }
}
