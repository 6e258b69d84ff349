//! Hostile input: cron patterns built to be expensive, NUL characters in every kind of field, path segment and query
//! parameter, lone surrogates, deep nesting, huge strings and wrong charsets. Each gets a 4xx naming the problem, on
//! both backends, and nothing is stored.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, sample_experiment};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn cron_corpus(kind: &str) -> Vec<String> {
    let corpus: Value = serde_json::from_str(include_str!("fixtures/hostile/cron-patterns.json")).unwrap();
    corpus[kind].as_array().unwrap().iter().map(|pattern| pattern.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn hostile_cron_patterns_are_refused_naming_the_field_and_nothing_is_stored() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedules = format!("/api/v1/experiment/{experiment}/schedule");
        let created = app.post(&schedules, &json!({"recurrence_pattern": "@daily"})).await.json();
        let one = format!("{schedules}/{}", created["id"].as_str().unwrap());
        for pattern in cron_corpus("refused") {
            let body = json!({ "recurrence_pattern": pattern });
            // A NUL is refused before the pattern is looked at, as in any other field.
            let code = if pattern.contains('\0') { "invalid_body" } else { "invalid_recurrence_pattern" };
            let error = app.post(&schedules, &body).await;
            let error = error.expect_error(StatusCode::BAD_REQUEST, code, Some("recurrence_pattern"));
            assert!(error["message"].as_str().unwrap().starts_with("recurrence_pattern"), "{error}");
            app.patch(&one, &body).await.expect_error(StatusCode::BAD_REQUEST, code, Some("recurrence_pattern"));
        }
        for pattern in cron_corpus("accepted") {
            let created = app.post(&schedules, &json!({ "recurrence_pattern": pattern })).await;
            app.delete(&format!(
                "{schedules}/{}",
                created.expect_status(StatusCode::CREATED).json()["id"].as_str().unwrap()
            ))
            .await
            .expect_status(StatusCode::NO_CONTENT);
        }
        let stored = app.get(&schedules).await.json();
        assert_eq!(stored.as_array().unwrap().len(), 1, "only the first schedule: {stored}");
        assert_eq!(app.get(&one).await.json()["recurrence_pattern"], "@daily", "{}", app.backend());
    }
}

#[tokio::test]
async fn nul_characters_are_refused_in_every_kind_of_field() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let with = |path: &[&str], value: Value| {
            let mut body = sample_experiment();
            let mut place = &mut body;
            for key in &path[..path.len() - 1] {
                place = match key.parse::<usize>() {
                    Ok(index) => &mut place[index],
                    Err(_) => &mut place[*key],
                };
            }
            place[path[path.len() - 1]] = value;
            body
        };
        for (body, field) in [
            (with(&["name"], json!("a\u{0}b")), "name"),
            (with(&["description"], json!("\u{0}")), "description"),
            (with(&["metadata", "team"], json!("s\u{0}re")), "metadata.team"),
            (with(&["parameters", "a\u{0}"], json!(1)), "parameters.a\u{0}"),
            (
                with(&["steps", "0", "where", "time_in_seconds"], json!("{{ x\u{0} }}")),
                "steps[0].where.time_in_seconds",
            ),
        ] {
            let error = app.post("/api/v1/experiment", &body).await;
            let error = error.expect_error(StatusCode::BAD_REQUEST, "invalid_body", Some(field));
            assert!(error["message"].as_str().unwrap().contains("contains a NUL character"), "{error}");
        }
        let schedules = format!("/api/v1/experiment/{experiment}/schedule");
        let nul_pattern = json!({"recurrence_pattern": "@daily\u{0}"});
        app.post(&schedules, &nul_pattern).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("recurrence_pattern"),
        );
        let nul_ticket = json!({"recurrence_pattern": "@daily", "ticket": {"id": ["\u{0}"]}});
        app.post(&schedules, &nul_ticket).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("ticket.id[0]"),
        );
        let trial = json!({"experiment": experiment, "parameters": {"x": "\u{0}"}});
        app.post("/api/v1/trial", &trial).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("parameters.x"),
        );
        app.patch(&format!("/api/v1/experiment/{experiment}"), &json!({"name": "\u{0}"})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("name"),
        );

        // Path segments and query parameters, percent-encoded.
        for path in [
            "/api/v1/experiment/%00",
            "/trigger/%00/1",
            "/trigger/a/%00",
            "/experiment/%00/1/gatling/metrics",
            "/experiment/x/%00/gatling/metrics/steadyState",
            "/api/v1/trial/%00/report",
            "/no/such/%00",
        ] {
            for method in [Method::GET, Method::POST] {
                let response = app.raw(method.clone(), path, Some("text/plain"), "x").await;
                let error = response.expect_error(StatusCode::BAD_REQUEST, "invalid_path_parameter", None);
                assert!(error["message"].as_str().unwrap().contains("NUL"), "{method} {path}: {error}");
            }
        }
        // A lone surrogate, percent-encoded as UTF-8 would (were it allowed): not UTF-8, so no path parameter.
        for (method, path) in [
            (Method::GET, "/trigger/%ED%A0%80/1"),
            (Method::POST, "/experiment/x/%ED%A0%80/gatling/metrics"),
            (Method::GET, "/api/v1/trial/%ED%A0%80"),
        ] {
            let response = app.raw(method, path, Some("text/plain"), "x").await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{path}: {}", response.text());
        }
        for query in [
            "/api/v1/experiment?name=a%00b",
            "/api/v1/trial?experiment=%00",
            "/api/v1/trial?status=Failed%00",
            "/api/v1/audit?actor=%00",
            "/api/v1/experiment?%00=1",
        ] {
            app.get(query).await.expect_error(StatusCode::BAD_REQUEST, "invalid_query_parameter", None);
        }
        // A NUL in a Gatling upload.
        let metrics = "/experiment/x/1/gatling/metrics";
        let upload = app.raw(Method::POST, metrics, Some("plain/text"), "<html>\u{0}</html>\nSPLIT_HERE\n").await;
        upload.expect_error(StatusCode::BAD_REQUEST, "invalid_body", Some("body"));

        // Nothing of it was stored.
        let experiments = app.get("/api/v1/experiment").await.json();
        assert_eq!(experiments.as_array().unwrap().len(), 1, "{}: {experiments}", app.backend());
        assert!(app.get(&schedules).await.json().as_array().unwrap().is_empty());
        assert!(app.get("/api/v1/trial").await.json().as_array().unwrap().is_empty());
    }
}

#[tokio::test]
async fn lone_surrogates_deep_nesting_huge_strings_and_wrong_charsets() {
    for app in TestApp::all() {
        let post = |content_type: &'static str, body: Vec<u8>| {
            app.raw(Method::POST, "/api/v1/experiment", Some(content_type), body)
        };
        let lone = br#"{"name": "\ud800", "steps": []}"#.to_vec();
        let error = post("application/json", lone).await.expect_error(StatusCode::BAD_REQUEST, "invalid_json", None);
        assert!(error["message"].as_str().unwrap().contains("hex escape"), "{error}");
        let deep =
            format!(r#"{{"name": "deep", "steps": [], "metadata": {{"x": {}1{}}}}}"#, "[".repeat(500), "]".repeat(500));
        let error = post("application/json", deep.into_bytes()).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        );
        assert!(error["message"].as_str().unwrap().contains("recursion limit exceeded"), "{error}");
        let not_utf8 = b"{\"name\": \"caf\xe9\", \"steps\": []}".to_vec();
        let error =
            post("application/json", not_utf8).await.expect_error(StatusCode::BAD_REQUEST, "invalid_json", None);
        assert!(error["message"].as_str().unwrap().contains("not UTF-8"), "{error}");
        let utf16: Vec<u8> = sample_experiment().to_string().encode_utf16().flat_map(u16::to_le_bytes).collect();
        for charset in ["utf-16", "UTF-16LE", "\"latin1\"", "iso-8859-1"] {
            let content_type: &'static str = Box::leak(format!("application/json; charset={charset}").into_boxed_str());
            let error = post(content_type, utf16.clone()).await;
            let error = error.expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None);
            assert!(error["message"].as_str().unwrap().contains("is not supported"), "{error}");
        }
        let ten_megabytes = json!({"name": "x".repeat(10 * 1024 * 1024), "steps": []}).to_string().into_bytes();
        post("application/json", ten_megabytes).await.expect_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        );
        // A regular expression too large to compile.
        let mut huge_regex = sample_experiment();
        huge_regex["steps"][1]["expect"][1]["body"] = json!("(a{1000}){1000}");
        let error = app.post("/api/v1/experiment", &huge_regex).await;
        let error = error.expect_error(StatusCode::BAD_REQUEST, "invalid_expectation", Some("steps[1].expect[1].body"));
        assert!(error["message"].as_str().unwrap().contains("exceeds size limit"), "{error}");
        let experiments = app.get("/api/v1/experiment").await.json();
        assert!(experiments.as_array().unwrap().is_empty(), "{}: {experiments}", app.backend());
    }
}

/// Over a real connection: an answer to a refused body says `Connection: close`, so a keep-alive client knows to
/// open a new connection; an answer to a good request keeps the connection open.
#[tokio::test]
async fn a_refused_body_says_connection_close() {
    let app = TestApp::new(common::TestDatabase::sqlite());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    // Writes the request while reading the answer's head: the server answers a body too large before it has read
    // it all, and then stops reading.
    let exchange = |head: String, body: Vec<u8>| async move {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let writing = tokio::spawn(async move {
            let _ = writer.write_all(head.as_bytes()).await;
            let _ = writer.write_all(&body).await;
            writer
        });
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") && reader.read(&mut byte).await.unwrap() == 1 {
            answer.push(byte[0]);
        }
        writing.abort();
        String::from_utf8(answer).unwrap().to_ascii_lowercase()
    };
    let body = json!({"name": "x".repeat(10 * 1024 * 1024), "steps": []}).to_string().into_bytes();
    let head = format!(
        "POST /api/v1/experiment HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let head = exchange(head, body).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
    let head = exchange(
        "POST /api/v1/trial HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n{}".into(),
        Vec::new(),
    )
    .await;
    assert!(head.starts_with("http/1.1 415") && head.contains("\r\nconnection: close\r\n"), "{head}");
    let head = exchange("GET /health HTTP/1.1\r\nhost: x\r\n\r\n".into(), Vec::new()).await;
    assert!(head.starts_with("http/1.1 200") && !head.contains("connection: close"), "{head}");
}
