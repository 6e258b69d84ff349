//! The actions run against local servers, and their arguments are checked.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap as AxumHeaders, Method as AxumMethod, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use std::time::Instant;

use serde_json::json;

use super::*;

/// [`super::run`], with the result alone (these actions measure nothing).
async fn run(action: &str, arguments: &JsonObject, ctx: &ActionContext) -> Result<Value, ActionError> {
    super::run(action, arguments, ctx).await.map(|output| output.result)
}

fn context() -> ActionContext {
    ActionContext::new(Duration::from_secs(5))
}

fn args(value: Value) -> JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

/// What the echo route saw.
struct Received {
    method: AxumMethod,
    headers: AxumHeaders,
    body: Bytes,
}

/// A small server with the routes the tests use; `/echo` reports each request on the returned channel.
async fn server() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], r#"{"status":"UP","checks":[1,2]}"#) }),
        )
        .route("/down", get(|| async { (AxumStatus::SERVICE_UNAVAILABLE, "down") }))
        .route("/teapot", any(|| async { (AxumStatus::IM_A_TEAPOT, "short and stout") }))
        .route("/odd-status", get(|| async { AxumStatus::from_u16(599).expect("a valid code") }))
        .route("/redirect", get(|| async { Redirect::to("/json") }))
        .route("/loop", get(|| async { Redirect::to("/loop") }))
        .route(
            "/multi",
            get(|| async {
                let mut headers = AxumHeaders::new();
                headers.append("x-multi", "a".parse().expect("a value"));
                headers.append("x-multi", "b".parse().expect("a value"));
                (headers, "multi")
            }),
        )
        .route("/big", get(|| async { format!("\"{}\"", "x".repeat(10_000)) }))
        .route("/exact", get(|| async { format!("\"{}\"", "y".repeat(998)) }))
        .route("/accents", get(|| async { "é".repeat(1_000) }))
        .route(
            "/echo",
            any(move |method: AxumMethod, headers: AxumHeaders, body: Bytes| {
                let tx = tx.clone();
                async move {
                    tx.send(Received { method, headers, body }).expect("the test listens");
                    "received".into_response()
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{address}"), rx)
}

/// A raw server: for each connection it reads the request head, writes `head` (possibly nothing), reports on
/// the channel, then either writes `endless` filler forever (until the client goes away) or holds the
/// connection open without another byte.
async fn raw_server(head: &'static str, endless: bool) -> (String, mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let tx = tx.clone();
            tokio::spawn(async move { raw_connection(stream, head, endless, tx).await });
        }
    });
    (format!("http://{address}"), rx)
}

async fn raw_connection(mut stream: TcpStream, head: &str, endless: bool, tx: mpsc::UnboundedSender<()>) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let _ = tx.send(());
    if endless {
        let filler = [b'z'; 16 * 1024];
        // Bounded by the Content-Length the head announces; ends as soon as the client hangs up.
        for _ in 0..(1 << 16) {
            if stream.write_all(&filler).await.is_err() {
                return;
            }
        }
    } else {
        std::future::pending::<()>().await;
    }
}

/// An address where nothing listens: bound, then released.
async fn refused_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

fn failed(outcome: Result<Value, ActionError>) -> (String, Option<Value>) {
    match outcome {
        Err(ActionError::Failed { message, result }) => (message, result),
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn invalid_message(outcome: Result<Value, ActionError>) -> String {
    match outcome {
        Err(ActionError::InvalidArguments(message)) => message.to_string(),
        other => panic!("expected InvalidArguments, got {other:?}"),
    }
}

#[tokio::test]
async fn probe_parses_a_json_body() {
    let (base, _) = server().await;
    let ctx = context();
    for action in ["cm.http_probe", "cm.http_request"] {
        let result = run(action, &args(json!({"url": format!("{base}/json")})), &ctx).await.expect("a result");
        assert_eq!(result["status_code"], 200);
        assert_eq!(result["json"], json!({"status": "UP", "checks": [1, 2]}));
        assert_eq!(result["body"], r#"{"status":"UP","checks":[1,2]}"#);
        assert_eq!(result["body_truncated"], false);
        assert_eq!(result["headers"]["content-type"], "application/json");
        assert!(result["elapsed_ms"].is_u64(), "{result}");
    }
}

#[tokio::test]
async fn a_plain_text_body_has_no_json_key() {
    let (base, _) = server().await;
    let result = run("cm.http_request", &args(json!({"url": format!("{base}/down")})), &context()).await;
    let result = result.expect("a result");
    assert_eq!(result["body"], "down");
    assert!(result.get("json").is_none(), "{result}");
}

#[tokio::test]
async fn error_status_fails_the_probe_but_not_the_request() {
    let (base, _) = server().await;
    let ctx = context();
    let url = format!("{base}/down");
    let (message, result) = failed(run("cm.http_probe", &args(json!({"url": url})), &ctx).await);
    assert_eq!(message, format!("GET {url} answered 503 Service Unavailable"));
    let result = result.expect("the observed response");
    assert_eq!(result["status_code"], 503);
    assert_eq!(result["body"], "down");

    let result = run("cm.http_request", &args(json!({"url": url})), &ctx).await.expect("no failure on status");
    assert_eq!(result["status_code"], 503);

    let url = format!("{base}/teapot");
    let (message, _) = failed(run("cm.http_probe", &args(json!({"url": url, "method": "delete"})), &ctx).await);
    assert_eq!(message, format!("DELETE {url} answered 418 I'm a teapot"));
    let url = format!("{base}/odd-status");
    let (message, _) = failed(run("cm.http_probe", &args(json!({"url": url})), &ctx).await);
    assert_eq!(message, format!("GET {url} answered 599"));
}

#[tokio::test]
async fn a_json_body_and_headers_reach_the_server_exactly() {
    let (base, mut received) = server().await;
    let body = json!({"name": "ünïcode", "n": 1.5, "list": [true, null], "nested": {"a": "b"}});
    let arguments = json!({
        "url": format!("{base}/echo"),
        "method": "post",
        "headers": {"X-Custom": "value with spaces", "Authorization": "Bearer abc"},
        "body": body,
    });
    let result = run("cm.http_request", &args(arguments), &context()).await.expect("a result");
    assert_eq!(result["status_code"], 200);
    let seen = received.recv().await.expect("the request");
    assert_eq!(seen.method, AxumMethod::POST);
    assert_eq!(seen.headers["x-custom"], "value with spaces");
    assert_eq!(seen.headers["authorization"], "Bearer abc");
    assert_eq!(seen.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(seen.headers.get_all(header::CONTENT_TYPE).iter().count(), 1);
    assert_eq!(seen.headers[header::USER_AGENT], concat!("eris/", env!("CARGO_PKG_VERSION")));
    assert_eq!(serde_json::from_slice::<Value>(&seen.body).expect("JSON"), body);
}

#[tokio::test]
async fn a_content_type_given_in_the_headers_is_kept() {
    let (base, mut received) = server().await;
    let arguments = json!({
        "url": format!("{base}/echo"),
        "method": "PATCH",
        "headers": {"Content-TYPE": "application/merge-patch+json"},
        "body": [1, 2],
    });
    run("cm.http_request", &args(arguments), &context()).await.expect("a result");
    let seen = received.recv().await.expect("the request");
    assert_eq!(seen.method, AxumMethod::PATCH);
    let types: Vec<_> = seen.headers.get_all(header::CONTENT_TYPE).iter().collect();
    assert_eq!(types, ["application/merge-patch+json"]);
    assert_eq!(&seen.body[..], b"[1,2]");
}

#[tokio::test]
async fn a_string_body_is_sent_raw() {
    let (base, mut received) = server().await;
    let ctx = context();
    let raw = "a=1&b={\"not\": json}\n";
    let arguments = json!({"url": format!("{base}/echo"), "method": "PUT", "body": raw});
    run("cm.http_probe", &args(arguments), &ctx).await.expect("a result");
    let seen = received.recv().await.expect("the request");
    assert_eq!(seen.method, AxumMethod::PUT);
    assert_eq!(&seen.body[..], raw.as_bytes());
    assert!(seen.headers.get(header::CONTENT_TYPE).is_none(), "no content type is made up for a string body");

    let arguments = json!({"url": format!("{base}/echo"), "method": "POST", "body": "{\"x\": 1}",
        "headers": {"content-type": "text/plain", "User-Agent": "probe/1"}});
    run("cm.http_probe", &args(arguments), &ctx).await.expect("a result");
    let seen = received.recv().await.expect("the request");
    assert_eq!(&seen.body[..], b"{\"x\": 1}");
    assert_eq!(seen.headers[header::CONTENT_TYPE], "text/plain");
    let agents: Vec<_> = seen.headers.get_all(header::USER_AGENT).iter().collect();
    assert_eq!(agents, ["probe/1"], "the step's user agent replaces eris's");
}

#[tokio::test]
async fn a_null_body_sends_no_body() {
    let (base, mut received) = server().await;
    let arguments = json!({"url": format!("{base}/echo"), "method": "POST", "body": null, "timeout": null});
    run("cm.http_request", &args(arguments), &context()).await.expect("a result");
    let seen = received.recv().await.expect("the request");
    assert!(seen.body.is_empty());
    assert!(seen.headers.get(header::CONTENT_TYPE).is_none());
}

#[tokio::test]
async fn a_refused_connection_fails_both_actions() {
    let url = format!("http://{}/health", refused_address().await);
    let ctx = context();
    for action in ["cm.http_probe", "cm.http_request"] {
        let (message, result) = failed(run(action, &args(json!({"url": url})), &ctx).await);
        assert!(message.starts_with(&format!("GET {url} failed: ")), "{message}");
        assert!(message.to_lowercase().contains("connection refused"), "{message}");
        assert_eq!(result, None);
    }
}

#[tokio::test]
async fn https_is_available_without_a_global_crypto_provider() {
    // A TLS handshake against a plain-HTTP server: fails as a TLS error, not a panic about providers.
    let (base, _) = server().await;
    let url = base.replace("http://", "https://") + "/json";
    let (message, result) = failed(run("cm.http_request", &args(json!({"url": url})), &context()).await);
    assert!(message.starts_with(&format!("GET {url} failed: ")), "{message}");
    assert_eq!(result, None);
}

#[tokio::test]
async fn redirects_are_followed_up_to_a_limit() {
    let (base, _) = server().await;
    let ctx = context();
    let result = run("cm.http_probe", &args(json!({"url": format!("{base}/redirect")})), &ctx).await;
    assert_eq!(result.expect("followed")["json"]["status"], "UP");
    let url = format!("{base}/loop");
    let (message, result) = failed(run("cm.http_request", &args(json!({"url": url})), &ctx).await);
    assert!(message.contains("too many redirects"), "{message}");
    assert_eq!(result, None);
}

#[tokio::test]
async fn repeated_headers_are_joined() {
    let (base, _) = server().await;
    let result = run("cm.http_request", &args(json!({"url": format!("{base}/multi")})), &context()).await;
    assert_eq!(result.expect("a result")["headers"]["x-multi"], "a, b");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let (base, mut requests) = raw_server("", false).await;
    let ctx = context();
    let started = Instant::now();
    let outcome = run("cm.http_probe", &args(json!({"url": base, "timeout": 0.3})), &ctx).await;
    let elapsed = started.elapsed();
    assert_eq!(outcome, Err(ActionError::TimedOut(Duration::from_secs_f64(0.3))));
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(requests.try_recv(), Ok(()), "the request reached the server");
}

#[tokio::test]
async fn the_default_timeout_bounds_the_body_read() {
    let (base, _) = raw_server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", false).await;
    let ctx = ActionContext { default_timeout: Duration::from_millis(300), ..context() };
    let started = Instant::now();
    let outcome = run("cm.http_request", &args(json!({"url": base})), &ctx).await;
    assert_eq!(outcome, Err(ActionError::TimedOut(Duration::from_millis(300))));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

async fn assert_cancelled_promptly(head: &'static str) {
    let (base, mut requests) = raw_server(head, false).await;
    let ctx = context();
    let task = {
        let ctx = ctx.clone();
        tokio::spawn(async move { run("cm.http_probe", &args(json!({"url": base, "timeout": 60})), &ctx).await })
    };
    requests.recv().await.expect("the request reached the server");
    let started = Instant::now();
    ctx.cancel.cancel();
    let outcome = task.await.expect("the task");
    assert_eq!(outcome, Err(ActionError::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn cancellation_while_waiting_for_the_answer() {
    assert_cancelled_promptly("").await;
}

#[tokio::test]
async fn cancellation_while_reading_the_body() {
    assert_cancelled_promptly("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello").await;
}

#[tokio::test]
async fn an_action_started_after_cancellation_is_cancelled() {
    let (base, _) = server().await;
    let ctx = context();
    ctx.cancel.cancel();
    let outcome = run("cm.http_probe", &args(json!({"url": format!("{base}/json")})), &ctx).await;
    assert_eq!(outcome, Err(ActionError::Cancelled));
    let outcome = run("cm.wait", &args(json!({"time_in_seconds": 0})), &ctx).await;
    assert_eq!(outcome, Err(ActionError::Cancelled));
}

#[tokio::test]
async fn a_large_body_is_cut() {
    let (base, _) = server().await;
    let ctx = ActionContext { max_body_bytes: 1_000, ..context() };
    let result = run("cm.http_request", &args(json!({"url": format!("{base}/big")})), &ctx).await;
    let result = result.expect("a result");
    assert_eq!(result["body"].as_str().expect("text").len(), 1_000);
    assert_eq!(result["body_truncated"], true);
    assert!(result.get("json").is_none(), "{}", result["json"]);

    // Exactly at the cap is not cut.
    let result = run("cm.http_request", &args(json!({"url": format!("{base}/exact")})), &ctx).await;
    let result = result.expect("a result");
    assert_eq!(result["body"].as_str().expect("text").len(), 1_000);
    assert_eq!(result["body_truncated"], false);
    assert_eq!(result["json"], "y".repeat(998));
}

#[tokio::test]
async fn a_character_cut_at_the_cap_is_dropped() {
    let (base, _) = server().await;
    let ctx = ActionContext { max_body_bytes: 1_001, ..context() };
    let result = run("cm.http_request", &args(json!({"url": format!("{base}/accents")})), &ctx).await;
    let result = result.expect("a result");
    assert_eq!(result["body"], "é".repeat(500));
    assert_eq!(result["body_truncated"], true);
}

#[tokio::test]
async fn an_endless_body_is_not_buffered() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n";
    let (base, _) = raw_server(head, true).await;
    let ctx = ActionContext { max_body_bytes: 1_000, ..context() };
    let started = Instant::now();
    let result = run("cm.http_probe", &args(json!({"url": base})), &ctx).await.expect("a result");
    assert_eq!(result["body"], "z".repeat(1_000));
    assert_eq!(result["body_truncated"], true);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn wait_sleeps_beyond_the_default_timeout() {
    let ctx = ActionContext { default_timeout: Duration::from_millis(10), ..context() };
    let result = run("cm.wait", &args(json!({"time_in_seconds": 0.05})), &ctx).await.expect("a result");
    assert!(result["elapsed_ms"].as_u64().expect("a number") >= 50, "{result}");
    let result = run("cm.wait", &args(json!({"time_in_seconds": 0})), &ctx).await.expect("a result");
    assert!(result["elapsed_ms"].is_u64());
}

#[tokio::test]
async fn cancellation_during_wait() {
    let ctx = context();
    let arguments = args(json!({"time_in_seconds": 60}));
    let started = Instant::now();
    // `join!` polls the wait first, so it is asleep when the second branch cancels.
    let (outcome, ()) = tokio::join!(run("cm.wait", &arguments, &ctx), async {
        tokio::task::yield_now().await;
        ctx.cancel.cancel();
    });
    assert_eq!(outcome, Err(ActionError::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn unknown_actions_are_invalid() {
    let ctx = context();
    for action in ["cm.http_get", "k8s.delete_pods", ""] {
        let message = invalid_message(run(action, &JsonObject::new(), &ctx).await);
        assert!(message.contains(&format!("'{action}'")), "{message}");
    }
}

#[tokio::test]
async fn bad_rendered_arguments_are_invalid() {
    let ctx = context();
    let url = "http://127.0.0.1:9/never-called";
    let cases = [
        ("cm.http_probe", json!({}), "'url'"),
        ("cm.http_probe", json!({"url": "not a url"}), "'url'"),
        ("cm.http_probe", json!({"url": "ftp://example.com/file"}), "'url'"),
        ("cm.http_probe", json!({"url": 8080}), "'url'"),
        ("cm.http_request", json!({"url": url, "method": "FETCH"}), "'method'"),
        ("cm.http_request", json!({"url": url, "method": 1}), "'method'"),
        ("cm.http_request", json!({"url": url, "headers": "X-A: b"}), "'headers'"),
        ("cm.http_request", json!({"url": url, "headers": {"X-Count": 3}}), "'headers.X-Count'"),
        ("cm.http_request", json!({"url": url, "headers": {"bad name": "v"}}), "'headers'"),
        ("cm.http_request", json!({"url": url, "headers": {"X-A": "line\nbreak"}}), "'headers.X-A'"),
        ("cm.http_request", json!({"url": url, "timeout": "5"}), "'timeout'"),
        ("cm.http_request", json!({"url": url, "timeout": 0}), "'timeout'"),
        ("cm.http_request", json!({"url": url, "timeout": -1}), "'timeout'"),
        ("cm.http_request", json!({"url": url, "timeout": 3_601}), "'timeout'"),
        ("cm.http_probe", json!({"url": url, "authentication": {"type": "oauth2_token"}}), "'authentication'"),
        ("cm.wait", json!({"time_in_seconds": "5"}), "'time_in_seconds'"),
        ("cm.wait", json!({"time_in_seconds": -0.5}), "'time_in_seconds'"),
        ("cm.wait", json!({"time_in_seconds": 86_401}), "'time_in_seconds'"),
        ("cm.wait", json!({}), "'time_in_seconds'"),
        ("cm.wait", json!({"time_in_seconds": 1, "timeout": 5}), "'timeout'"),
    ];
    for (action, arguments, mentions) in cases {
        let message = invalid_message(run(action, &args(arguments.clone()), &ctx).await);
        assert!(message.contains(mentions), "{action} {arguments}: {message}");
    }
}

#[tokio::test]
async fn write_time_and_run_time_reject_the_same_bad_arguments() {
    let ctx = context();
    let url = "http://127.0.0.1:9/never-called";
    let cases = [
        ("cm.nap", json!({})),
        ("cm.http_probe", json!({})),
        ("cm.http_probe", json!({"url": "not a url"})),
        ("cm.http_probe", json!({"url": 8080})),
        ("cm.http_request", json!({"url": url, "method": "FETCH"})),
        ("cm.http_request", json!({"url": url, "headers": ["X-A: b"]})),
        ("cm.http_request", json!({"url": url, "headers": {"X-Count": 3}})),
        ("cm.http_request", json!({"url": url, "headers": {"bad name": "v"}})),
        // Names are not rendered, so a template there is a bad name when written too.
        ("cm.http_request", json!({"url": url, "headers": {"{{ name }}": "v"}})),
        ("cm.http_request", json!({"url": url, "headers": {"X-A": "line\nbreak"}})),
        ("cm.http_request", json!({"url": url, "timeout": 3_601})),
        ("cm.http_request", json!({"url": url, "tmeout": 5})),
        ("cm.wait", json!({"time_in_seconds": null})),
        ("cm.wait", json!({"time_in_seconds": -0.5})),
    ];
    for (action, arguments) in cases {
        let arguments = args(arguments);
        let written = check(action, &arguments).expect_err("refused when written");
        let ran = run(action, &arguments, &ctx).await;
        assert_eq!(ran, Err(ActionError::InvalidArguments(written)), "{action} {arguments:?}");
    }
}

#[tokio::test]
async fn a_template_stands_for_any_value_until_it_is_rendered() {
    let written = args(json!({"url": "{{ base }}/health", "method": "{{ method }}", "timeout": "{{ timeout }}",
        "headers": {"Authorization": "Bearer {{ token }}"}, "body": {"n": "{{ n }}"}}));
    check("cm.http_probe", &written).expect("templates are checked once rendered");
    check("cm.http_request", &args(json!({"url": "{{ url }}", "headers": "{{ headers }}"}))).expect("valid");
    check("cm.wait", &args(json!({"time_in_seconds": "{{ pause }}"}))).expect("valid");

    // "{{ timeout }}" rendered to "abc" where a number goes.
    let rendered = args(json!({"url": "http://127.0.0.1:9/health", "method": "GET", "timeout": "abc"}));
    let outcome = run("cm.http_probe", &rendered, &context()).await;
    let message = invalid_message(outcome.clone());
    assert_eq!(message, "'timeout': must be a number of seconds greater than 0 and at most 3600, got \"abc\"");
    assert!(
        matches!(outcome, Err(ActionError::InvalidArguments(ArgumentError::Invalid { field, .. })) if field == "timeout")
    );
    let outcome = run("cm.wait", &args(json!({"time_in_seconds": "{{ pause }}"})), &context()).await;
    assert!(invalid_message(outcome).starts_with("'time_in_seconds': must be a number of seconds from 0 to 86400"));
}

#[test]
fn null_means_an_optional_argument_is_not_given() {
    let arguments = args(json!({"url": "http://x", "method": null, "headers": null, "body": null, "timeout": null}));
    check("cm.http_probe", &arguments).expect("valid");
    let error = check("cm.http_probe", &args(json!({"url": null}))).expect_err("url is required");
    assert_eq!(
        error,
        ArgumentError::Invalid { field: "url".into(), reason: "invalid type: null, expected a string".into() }
    );
}

#[test]
fn messages_name_the_catalogue() {
    for name in NAMES {
        let error = check(name, &JsonObject::new()).expect_err("every action needs an argument");
        assert!(matches!(error, ArgumentError::Missing { action, .. } if action == name), "{error}");
    }
    let error = check("cm.nap", &JsonObject::new()).expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "unknown action 'cm.nap'; eris can run: cm.http_probe, cm.http_request, cm.wait, load.http, chaostoolkit.run, prometheus.query, misarch.set, misarch.reset"
    );
    let error = check("cm.http_probe", &args(json!({"url": "http://x", "tmeout": 1}))).expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "cm.http_probe has no argument 'tmeout'; its arguments are: url, method, headers, body, timeout"
    );
    let error = check("cm.wait", &JsonObject::new()).expect_err("missing");
    assert_eq!(error.to_string(), "cm.wait needs the argument 'time_in_seconds'");
}
