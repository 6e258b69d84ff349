//! The built-in `cm` actions (Kallisti's `common` module): `cm.http_probe`, `cm.http_request` and `cm.wait`.
//!
//! [`run`] takes a step's `do` and its `where` after templates were rendered. Arguments are checked again here,
//! with the same rules as at write time (`experiments::steps`), because a template may render to anything.
//!
//! Behaviour worth knowing:
//! - Redirects are followed, at most [`MAX_REDIRECTS`](crate::http_client::MAX_REDIRECTS) of them (Kallisti's `requests` follows up to 30); the
//!   result is the final response's. More is a failure.
//! - Every request opens a new connection (no pooling), as Kallisti's one-off `requests.get` did: a probe then
//!   sees the system as a new client does, and is not pinned to one pod behind a Service by a kept-alive
//!   connection.
//! - Connecting gives up after [`CONNECT_TIMEOUT`](crate::http_client::CONNECT_TIMEOUT) (a failure, as for a refused connection); the step's
//!   `timeout` (else the context's default) bounds the whole request, body included.
//! - HTTP/1.1 only; no compression is asked for. Proxies from `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY` (or
//!   lower-case) are honoured, as `requests` does. Headers the step gives replace the defaults (`user-agent`). Server certificates are checked against the system's CA certificates
//!   (`SSL_CERT_FILE` / `SSL_CERT_DIR` are honoured).
//! - The body is read as it arrives and at most `max_body_bytes` of it are kept; `body_truncated` then says so
//!   and `json` is left out. A multi-byte character cut in two at the end is dropped; other invalid UTF-8 becomes
//!   U+FFFD.
//! - A response header given several times is one entry, its values joined with `", "` in the order received.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

type JsonObject = serde_json::Map<String, Value>;

/// How much of a response body [`ActionContext::new`] keeps in a result: enough for any health or status
/// document, small enough for a trial record of a hundred steps.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The same limits as at write time.
const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const HTTP_ARGUMENTS: &[&str] = &["url", "method", "headers", "body", "timeout"];
const WAIT_ARGUMENTS: &[&str] = &["time_in_seconds"];
const MAX_TIMEOUT_SECONDS: f64 = 3_600.0;
const MAX_WAIT_SECONDS: f64 = 86_400.0;

/// Everything an action needs besides its arguments.
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub http: reqwest::Client,
    /// Cancelled when the trial is stopped or eris shuts down; every action must return promptly (< 100 ms) after it.
    pub cancel: CancellationToken,
    /// The step timeout when the step gives none (eris default 30 s).
    pub default_timeout: Duration,
    /// Largest response body kept in a result; the rest is cut and the result says so.
    pub max_body_bytes: usize,
}

impl ActionContext {
    /// A context with a new [`http_client::build`](crate::http_client::build), a token of its own (replace it per trial with
    /// `ActionContext { cancel, ..ctx.clone() }`) and at most [`DEFAULT_MAX_BODY_BYTES`] of each response body.
    pub fn new(default_timeout: Duration) -> Self {
        Self {
            http: crate::http_client::build(),
            cancel: CancellationToken::new(),
            default_timeout,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The action ran and failed (e.g. http_probe got 503, connection refused). `result` holds what was observed, if anything.
    #[error("{message}")]
    Failed { message: String, result: Option<Value> },
    #[error("the step timed out after {0:?}")]
    TimedOut(Duration),
    #[error("the step was cancelled")]
    Cancelled,
    /// Arguments wrong at run time (after templates were rendered, e.g. "{{ port }}" rendered to "abc" where a number was needed).
    #[error("{0}")]
    InvalidArguments(String),
}

/// Runs `action` ("cm.http_probe", "cm.http_request", "cm.wait") with its rendered arguments. Unknown action → InvalidArguments.
pub async fn run(action: &str, arguments: &JsonObject, ctx: &ActionContext) -> Result<Value, ActionError> {
    match action {
        "cm.http_probe" => http(HttpAction::Probe, arguments, ctx).await,
        "cm.http_request" => http(HttpAction::Request, arguments, ctx).await,
        "cm.wait" => wait(arguments, ctx).await,
        _ => Err(ActionError::InvalidArguments(format!(
            "unknown action '{action}'; eris can run: cm.http_probe, cm.http_request, cm.wait"
        ))),
    }
}

/// `cm.wait`: sleeps `time_in_seconds`, or until cancelled.
///
/// Deliberately not bounded by the step timeout: waiting is the whole point of the step, so a 60 s wait in a
/// step that gives no timeout (default 30 s) must not fail. Its length has its own limit instead (one day, as
/// at write time), and cancellation ends it at once.
async fn wait(arguments: &JsonObject, ctx: &ActionContext) -> Result<Value, ActionError> {
    reject_unknown("cm.wait", arguments, WAIT_ARGUMENTS)?;
    let Some(duration) = seconds(arguments, "time_in_seconds", true, MAX_WAIT_SECONDS)? else {
        return Err(invalid("cm.wait needs the argument 'time_in_seconds'"));
    };
    let started = Instant::now();
    tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => Err(ActionError::Cancelled),
        () = tokio::time::sleep(duration) => Ok(json!({"elapsed_ms": millis(started.elapsed())})),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum HttpAction {
    /// A 4xx or 5xx answer is a failure.
    Probe,
    /// Any answer is a result.
    Request,
}

enum Body {
    None,
    Text(String),
    Json(Value),
}

struct HttpArguments {
    url: Url,
    method: Method,
    headers: HeaderMap,
    body: Body,
    timeout: Option<Duration>,
}

impl HttpArguments {
    fn parse(action: &str, arguments: &JsonObject) -> Result<Self, ActionError> {
        reject_unknown(action, arguments, HTTP_ARGUMENTS)?;
        let url = match present(arguments, "url") {
            None => return Err(invalid(format!("{action} needs the argument 'url'"))),
            Some(Value::String(url)) => {
                let parsed = Url::parse(url).map_err(|e| invalid(format!("'url': '{url}' is not a valid URL: {e}")))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                    return Err(invalid(format!("'url': '{url}' must be an http or https URL")));
                }
                parsed
            }
            Some(other) => return Err(invalid(format!("'url' must be a string, got {other}"))),
        };
        let method = match present(arguments, "method") {
            None => Method::GET,
            Some(Value::String(method)) => {
                let upper = method.to_ascii_uppercase();
                if !HTTP_METHODS.contains(&upper.as_str()) {
                    return Err(invalid(format!(
                        "'method': '{method}' is not an HTTP method; use one of {}",
                        HTTP_METHODS.join(", ")
                    )));
                }
                Method::from_bytes(upper.as_bytes()).expect("a listed method is a valid token")
            }
            Some(other) => return Err(invalid(format!("'method' must be a string, got {other}"))),
        };
        let mut headers = HeaderMap::new();
        match present(arguments, "headers") {
            None => {}
            Some(Value::Object(given)) => {
                for (name, value) in given {
                    let Value::String(value) = value else {
                        return Err(invalid(format!("'headers.{name}': header values must be strings, got {value}")));
                    };
                    let header_name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| invalid(format!("'headers': '{name}' is not a valid header name")))?;
                    let header_value = HeaderValue::from_str(value)
                        .map_err(|_| invalid(format!("'headers.{name}': the value is not a valid header value")))?;
                    headers.append(header_name, header_value);
                }
            }
            Some(other) => return Err(invalid(format!("'headers' must be an object, got {other}"))),
        }
        let body = match present(arguments, "body") {
            None => Body::None,
            Some(Value::String(text)) => Body::Text(text.clone()),
            Some(other) => Body::Json(other.clone()),
        };
        let timeout = seconds(arguments, "timeout", false, MAX_TIMEOUT_SECONDS)?;
        Ok(Self { url, method, headers, body, timeout })
    }

    /// The URL for messages, with any password hidden.
    fn display_url(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

/// `cm.http_probe` and `cm.http_request`.
async fn http(kind: HttpAction, arguments: &JsonObject, ctx: &ActionContext) -> Result<Value, ActionError> {
    let action = if kind == HttpAction::Probe { "cm.http_probe" } else { "cm.http_request" };
    let request = HttpArguments::parse(action, arguments)?;
    let timeout = request.timeout.unwrap_or(ctx.default_timeout);
    let exchange = exchange(&ctx.http, &request, ctx.max_body_bytes);
    let (status, result) = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => return Err(ActionError::Cancelled),
        outcome = tokio::time::timeout(timeout, exchange) => outcome.map_err(|_| ActionError::TimedOut(timeout))??,
    };
    if kind == HttpAction::Probe && (status.is_client_error() || status.is_server_error()) {
        return Err(ActionError::Failed {
            message: format!("{} {} answered {}", request.method, request.display_url(), status_text(status)),
            result: Some(result),
        });
    }
    Ok(result)
}

/// Sends the request and reads the answer, body included: everything the timeout bounds.
async fn exchange(
    client: &reqwest::Client,
    request: &HttpArguments,
    max_body_bytes: usize,
) -> Result<(StatusCode, Value), ActionError> {
    let mut builder = client.request(request.method.clone(), request.url.clone()).headers(request.headers.clone());
    builder = match &request.body {
        Body::None => builder,
        Body::Text(text) => builder.body(text.clone()),
        Body::Json(value) => {
            if !request.headers.contains_key(CONTENT_TYPE) {
                builder = builder.header(CONTENT_TYPE, "application/json");
            }
            builder.body(value.to_string())
        }
    };
    let started = Instant::now();
    let mut response = builder.send().await.map_err(|e| ActionError::Failed {
        message: format!("{} {} failed: {}", request.method, request.display_url(), error_chain(e)),
        result: None,
    })?;
    let status = response.status();
    let headers = joined_headers(response.headers());
    let (body, truncated) = read_capped(&mut response, max_body_bytes).await.map_err(|e| ActionError::Failed {
        message: format!(
            "{} {} answered {} but reading the body failed: {}",
            request.method,
            request.display_url(),
            status_text(status),
            error_chain(e)
        ),
        result: None,
    })?;
    let mut result = JsonObject::new();
    result.insert("status_code".into(), status.as_u16().into());
    result.insert("headers".into(), Value::Object(headers));
    result.insert("body".into(), body_text(&body, truncated).into());
    result.insert("body_truncated".into(), truncated.into());
    if !truncated && let Ok(parsed) = serde_json::from_slice::<Value>(&body) {
        result.insert("json".into(), parsed);
    }
    result.insert("elapsed_ms".into(), millis(started.elapsed()).into());
    Ok((status, Value::Object(result)))
}

/// Reads the body as it arrives, keeping at most `cap` bytes; `true` when there was more.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> reqwest::Result<(Vec<u8>, bool)> {
    const MAX_PREALLOCATION: usize = 1 << 20;
    let expected = response.content_length().map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut body = Vec::with_capacity(expected.min(cap).min(MAX_PREALLOCATION));
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Lossy UTF-8; when the body was cut, a character cut in two at the end is dropped rather than shown as U+FFFD.
fn body_text(body: &[u8], truncated: bool) -> String {
    let mut end = body.len();
    if truncated && let Some(last) = body.utf8_chunks().last() {
        let tail = last.invalid();
        if !tail.is_empty() && std::str::from_utf8(tail).is_err_and(|e| e.error_len().is_none()) {
            end -= tail.len();
        }
    }
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// Lower-case names; a header given several times is one entry, its values joined with ", ".
fn joined_headers(headers: &HeaderMap) -> JsonObject {
    headers
        .keys()
        .map(|name| {
            let values: Vec<_> =
                headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
            (name.as_str().to_owned(), Value::String(values.join(", ")))
        })
        .collect()
}

/// "503 Service Unavailable", or "599" for a code without a standard reason.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The error and its causes, e.g. "error sending request: client error (Connect): tcp connect error: Connection
/// refused (os error 111)". reqwest's own text would name the URL, which the caller's message already does.
fn error_chain(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn invalid(message: impl Into<String>) -> ActionError {
    ActionError::InvalidArguments(message.into())
}

/// An argument that is given and not null.
fn present<'a>(arguments: &'a JsonObject, name: &str) -> Option<&'a Value> {
    arguments.get(name).filter(|value| !value.is_null())
}

fn reject_unknown(action: &str, arguments: &JsonObject, known: &[&str]) -> Result<(), ActionError> {
    match arguments.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => {
            Err(invalid(format!("{action} has no argument '{unknown}'; its arguments are: {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// A number of seconds: `> 0` (or `>= 0` when `zero_allowed`) and at most `max`.
fn seconds(arguments: &JsonObject, name: &str, zero_allowed: bool, max: f64) -> Result<Option<Duration>, ActionError> {
    let Some(value) = present(arguments, name) else {
        return Ok(None);
    };
    let range = if zero_allowed { format!("from 0 to {max}") } else { format!("greater than 0 and at most {max}") };
    let out_of_range = || invalid(format!("'{name}' must be a number of seconds {range}, got {value}"));
    let seconds = value.as_f64().ok_or_else(out_of_range)?;
    let low_ok = if zero_allowed { seconds >= 0.0 } else { seconds > 0.0 };
    if !(low_ok && seconds <= max) {
        return Err(out_of_range());
    }
    Duration::try_from_secs_f64(seconds).map(Some).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::Router;
    use axum::body::Bytes;
    use axum::http::{HeaderMap as AxumHeaders, Method as AxumMethod, StatusCode as AxumStatus, header};
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::{any, get};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;

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
            Err(ActionError::InvalidArguments(message)) => message,
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
}
