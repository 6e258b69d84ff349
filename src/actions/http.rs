//! `cm.http_probe` and `cm.http_request`: one HTTP request, its answer the step's result.
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

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::arguments::{Rendered, Stage, seconds};
use super::{ActionContext, ActionError, JsonObject, millis};

/// The methods a step may use.
const METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS];
/// An hour: longer is more likely a unit mistake (milliseconds) than a request anyone waits for.
const MAX_TIMEOUT_SECONDS: f64 = 3_600.0;

/// The arguments of `cm.http_probe` and `cm.http_request`. `null` for an optional argument means not given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct HttpArguments<S: Stage> {
    url: S::Value<HttpUrl>,
    /// GET when not given.
    method: Option<S::Value<HttpMethod>>,
    headers: Option<S::Value<Headers<S>>>,
    /// A string is sent as it is, any other value as JSON.
    body: Option<Value>,
    /// Bounds the whole request, body included; [`ActionContext::default_timeout`] when not given.
    timeout: Option<S::Value<StepTimeout>>,
}

/// An absolute http or https URL.
pub struct HttpUrl(pub(super) Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let url = Url::parse(&text).map_err(|e| de::Error::custom(format!("'{text}' is not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(de::Error::custom(format!("'{text}' must be an http or https URL")));
        }
        Ok(Self(url))
    }
}

/// One of [`METHODS`], in any case.
pub struct HttpMethod(Method);

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let upper = text.to_ascii_uppercase();
        let method = METHODS.into_iter().find(|method| method.as_str() == upper).ok_or_else(|| {
            let names: Vec<_> = METHODS.iter().map(Method::as_str).collect();
            de::Error::custom(format!("'{text}' is not an HTTP method; use one of {}", names.join(", ")))
        })?;
        Ok(Self(method))
    }
}

/// Header names to values, in the order given.
pub struct Headers<S: Stage>(Vec<(HeaderName, S::Value<HeaderText>)>);

impl<'de, S: Stage> Deserialize<'de> for Headers<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadersVisitor(PhantomData))
    }
}

struct HeadersVisitor<S>(PhantomData<S>);

impl<'de, S: Stage> Visitor<'de> for HeadersVisitor<S> {
    type Value = Headers<S>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of header names and values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut headers = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| de::Error::custom(format!("'{name}' is not a valid header name")))?;
            headers.push((header, map.next_value()?));
        }
        Ok(Headers(headers))
    }
}

/// A header value: a string of visible ASCII, spaces and tabs.
pub struct HeaderText(HeaderValue);

impl<'de> Deserialize<'de> for HeaderText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let value = HeaderValue::from_str(&text).map_err(|_| de::Error::custom("not a valid header value"))?;
        Ok(Self(value))
    }
}

/// More than 0 and at most [`MAX_TIMEOUT_SECONDS`].
pub struct StepTimeout(pub(super) Duration);

impl<'de> Deserialize<'de> for StepTimeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        seconds(deserializer, false, MAX_TIMEOUT_SECONDS).map(Self)
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum HttpAction {
    /// A 4xx or 5xx answer is a failure.
    Probe,
    /// Any answer is a result.
    Request,
}

pub(super) enum Body {
    None,
    Text(String),
    Json(Value),
}

/// The request the arguments describe.
pub(super) struct Request {
    pub url: Url,
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Body,
    pub timeout: Option<Duration>,
}

impl From<HttpArguments<Rendered>> for Request {
    fn from(arguments: HttpArguments<Rendered>) -> Self {
        Self::new(arguments.url, arguments.method, arguments.headers, arguments.body, arguments.timeout)
    }
}

impl Request {
    /// The request of rendered arguments: GET when no method is given, a string body sent as it is, any other
    /// body as JSON.
    pub(super) fn new(
        url: HttpUrl,
        method: Option<HttpMethod>,
        headers: Option<Headers<Rendered>>,
        body: Option<Value>,
        timeout: Option<StepTimeout>,
    ) -> Self {
        let mut header_map = HeaderMap::new();
        for (name, HeaderText(value)) in headers.map(|Headers(given)| given).unwrap_or_default() {
            header_map.append(name, value);
        }
        let body = match body {
            None => Body::None,
            Some(Value::String(text)) => Body::Text(text),
            Some(other) => Body::Json(other),
        };
        Self {
            url: url.0,
            method: method.map_or(Method::GET, |HttpMethod(method)| method),
            headers: header_map,
            body,
            timeout: timeout.map(|StepTimeout(timeout)| timeout),
        }
    }

    /// A request builder for this request on `client`, body and content type included.
    pub(super) fn builder(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let builder = client.request(self.method.clone(), self.url.clone()).headers(self.headers.clone());
        match &self.body {
            Body::None => builder,
            Body::Text(text) => builder.body(text.clone()),
            Body::Json(value) if !self.headers.contains_key(CONTENT_TYPE) => {
                builder.header(CONTENT_TYPE, "application/json").body(value.to_string())
            }
            Body::Json(value) => builder.body(value.to_string()),
        }
    }

    /// The URL for messages, with any password hidden.
    pub(super) fn display_url(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

pub async fn run(
    kind: HttpAction,
    arguments: HttpArguments<Rendered>,
    ctx: &ActionContext,
) -> Result<Value, ActionError> {
    let request = Request::from(arguments);
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
    request: &Request,
    max_body_bytes: usize,
) -> Result<(StatusCode, Value), ActionError> {
    let started = Instant::now();
    let mut response = request.builder(client).send().await.map_err(|e| ActionError::Failed {
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
pub(super) fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// The error and its causes, e.g. "error sending request: client error (Connect): tcp connect error: Connection
/// refused (os error 111)". reqwest's own text would name the URL, which the caller's message already does.
pub(super) fn error_chain(error: reqwest::Error) -> String {
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
