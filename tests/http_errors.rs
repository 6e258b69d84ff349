//! Bad input of every kind gets a JSON error with the right status, never a 500; paths, health and docs.

mod common;

use axum::http::{Method, StatusCode};
use common::{TEST_BODY_LIMIT, TestApp, sample_experiment};
use serde_json::json;

#[tokio::test]
async fn malformed_bodies_content_types_and_sizes() {
    for app in TestApp::all() {
        app.raw(Method::POST, "/api/v1/experiment", Some("application/json"), "{\"name\": ").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        );
        app.raw(Method::POST, "/api/v1/experiment", Some("application/json"), "").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        );
        app.raw(Method::POST, "/api/v1/experiment", Some("application/json"), "[1, 2]").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        );
        app.raw(Method::POST, "/api/v1/experiment", Some("text/plain"), sample_experiment().to_string())
            .await
            .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None);
        app.raw(Method::POST, "/api/v1/trial", None, "{}").await.expect_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        );
        app.raw(
            Method::POST,
            "/api/v1/experiment",
            Some("application/json; charset=utf-8"),
            sample_experiment().to_string(),
        )
        .await
        .expect_status(StatusCode::CREATED);

        let huge = json!({"name": "big", "steps": [], "description": "x".repeat(TEST_BODY_LIMIT)});
        app.post("/api/v1/experiment", &huge).await.expect_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        );
        // Invalid UTF-8 inside a JSON string.
        app.raw(
            Method::POST,
            "/api/v1/experiment",
            Some("application/json"),
            b"{\"name\": \"\xff\", \"steps\": []}".to_vec(),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid_json", None);
    }
}

#[tokio::test]
async fn no_garbage_body_produces_a_server_error() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    let experiment = app.experiment_id().await;
    let endpoints = [
        (Method::POST, "/api/v1/experiment".to_owned()),
        (Method::PUT, format!("/api/v1/experiment/{experiment}")),
        (Method::PATCH, format!("/api/v1/experiment/{experiment}")),
        (Method::POST, format!("/api/v1/experiment/{experiment}/schedule")),
        (Method::POST, "/api/v1/trial".to_owned()),
    ];
    let bodies = [
        json!(null),
        json!(0),
        json!("text"),
        json!([]),
        json!({}),
        json!({"name": null, "steps": null}),
        json!({"name": "x", "steps": [null]}),
        json!({"name": "x", "steps": [{"do": 1}]}),
        json!({"name": "x", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 1e308}}]}),
        json!({"name": "x", "steps": [{"do": "cm.http_probe", "where": {"url": "http://[::1"}}]}),
        json!({"recurrence_pattern": "* * * * * * * *"}),
        json!({"recurrence_pattern": "@daily", "recurrence_count": 1e20}),
        json!({"recurrence_pattern": "\u{0000}"}),
        json!({"recurrence_pattern": "0 0 * * 8"}),
        json!({"experiment": experiment, "parameters": []}),
        json!({"name": "\u{202e}", "steps": []}),
    ];
    for (method, path) in &endpoints {
        for body in &bodies {
            let response = app.request(method.clone(), path, Some(body)).await;
            assert!(
                response.status.is_client_error() || response.status.is_success(),
                "{method} {path} {body}: {} {}",
                response.status,
                response.text()
            );
            if response.status.is_client_error() {
                response.expect_status(StatusCode::BAD_REQUEST).json();
            }
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    app.get("/api/v1/nothing").await.expect_error(StatusCode::NOT_FOUND, "route_not_found", None);
    app.get("/api/v2/experiment").await.expect_error(StatusCode::NOT_FOUND, "route_not_found", None);
    app.request(Method::DELETE, "/api/v1/experiment", None).await.expect_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
}

#[tokio::test]
async fn a_trailing_slash_is_optional() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    let created = app.post("/api/v1/experiment/", &sample_experiment()).await.expect_status(StatusCode::CREATED).json();
    let id = created["id"].as_str().unwrap();
    app.get(&format!("/api/v1/experiment/{id}/")).await.expect_status(StatusCode::OK);
    app.get("/api/v1/experiment/?limit=1").await.expect_status(StatusCode::OK);
    app.post(&format!("/api/v1/experiment/{id}/schedule/"), &json!({"recurrence_pattern": "@daily"}))
        .await
        .expect_status(StatusCode::CREATED);
    app.get("/api/v1/trial/").await.expect_status(StatusCode::OK);
    app.get("/health/").await.expect_status(StatusCode::OK);
    // Swagger UI's page keeps its slash: its own redirect adds it, and trimming it again would loop.
    let redirect = app.get("/swagger-ui").await;
    assert!(redirect.status.is_redirection(), "{}", redirect.status);
    assert_eq!(redirect.headers["location"], "/swagger-ui/");
    app.get("/swagger-ui/").await.expect_status(StatusCode::OK);
}

#[tokio::test]
async fn health_ready_and_the_documentation_are_served() {
    for app in TestApp::all() {
        assert_eq!(app.get("/health").await.expect_status(StatusCode::OK).json(), json!({"status": "up"}));
        assert_eq!(app.get("/ready").await.expect_status(StatusCode::OK).json(), json!({"status": "ready"}));
    }
    let app = TestApp::new(common::TestDatabase::sqlite());
    let document = app.get("/api-docs/openapi.json").await.expect_status(StatusCode::OK).json();
    assert_eq!(document, serde_json::to_value(eris::api::openapi()).unwrap());
    let page = app.get("/swagger-ui/").await.expect_status(StatusCode::OK);
    assert!(page.text().contains("swagger-ui"), "Swagger UI's page, served from the binary");
    let config = app.get("/swagger-ui/swagger-initializer.js").await.expect_status(StatusCode::OK);
    assert!(config.text().contains("/api-docs/openapi.json"));
}

#[tokio::test]
async fn ready_fails_when_the_database_does_not_answer() {
    // Nothing listens on port 1.
    let url = eris::db::DatabaseUrl::parse("postgres://eris@127.0.0.1:1/eris").unwrap();
    let options = eris::db::PoolOptions {
        max_size: 1,
        connection_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let app = TestApp::with_db(eris::db::Db::lazy(url, options), common::TestDatabase::sqlite());
    let body = app.get("/ready").await.expect_status(StatusCode::SERVICE_UNAVAILABLE).json();
    assert_eq!(body["status"], "unavailable");
    assert!(body["reason"].as_str().unwrap().contains("database"), "{body}");
    app.get("/api/v1/experiment").await.expect_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", None);
    assert_eq!(app.get("/health").await.expect_status(StatusCode::OK).json(), json!({"status": "up"}));
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_a_json_503() {
    // A pool that waits 2 s for a database that never answers, behind a 200 ms request limit.
    let url = eris::db::DatabaseUrl::parse("postgres://eris@127.0.0.1:1/eris").unwrap();
    let options = eris::db::PoolOptions {
        max_size: 1,
        connection_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    let db = eris::db::Db::lazy(url, options);
    let state = eris::api::AppState::with_defaults(db);
    let limits = eris::api::Limits { request_timeout: std::time::Duration::from_millis(200), ..Default::default() };
    let router = eris::api::app(state, limits);
    use tower::ServiceExt;
    let request = axum::http::Request::get("/api/v1/experiment").body(axum::body::Body::empty()).unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "request_timeout", "{body}");
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    for path in ["/api/v1/experiment", "/swagger-ui/", "/api/v1/nothing"] {
        let response = app.get(path).await;
        assert_eq!(response.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(response.headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(response.headers["referrer-policy"], "no-referrer", "{path}");
    }
}
