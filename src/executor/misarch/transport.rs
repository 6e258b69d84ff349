//! Calls to the components, Grafana and InfluxDB: one request with the run's timeout, cancelled by the trial's stop
//! unless it is part of the clean-up, and retried when it is idempotent.

use std::future::Future;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::Run;
use super::error::RunError;
use crate::executor::record::TrialRecord;
use crate::misarch::components::{Component, ComponentRequest};

/// How much of a component's answer is kept in a log line or an error.
const MAX_LOGGED_BODY: usize = 500;
/// Attempts of an idempotent call (a variable PUT, a stop, an export): connection errors and 5xx are retried.
const ATTEMPTS: u32 = 3;

/// One call to a component, Grafana or InfluxDB.
pub(in crate::executor) struct Call<'a> {
    pub base: &'a Url,
    pub request: ComponentRequest,
    pub auth: Option<Auth<'a>>,
}

/// How a call signs in.
pub(in crate::executor) enum Auth<'a> {
    /// `Authorization: Bearer <token>` (a Grafana service account token).
    Bearer(&'a SecretString),
    /// HTTP basic authentication (a Grafana user).
    Basic { user: &'a str, password: &'a SecretString },
    /// `Authorization: Token <token>`, InfluxDB 2's own scheme.
    InfluxToken(&'a SecretString),
}

/// What a component answered.
pub(in crate::executor) struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Whether a call is cut short by the trial's stop (every call but the clean-up's).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Stoppable {
    Yes,
    No,
}

impl Call<'_> {
    /// Sends the call once, within `timeout`; the answer whatever its status, or why there is none.
    pub(in crate::executor) async fn send_once(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let mut request = http.request(self.request.method.clone(), self.url()).timeout(timeout);
        if let Some(content_type) = self.request.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        request = match &self.auth {
            Some(Auth::Bearer(token)) => request.bearer_auth(token.expose_secret()),
            Some(Auth::Basic { user, password }) => request.basic_auth(user, Some(password.expose_secret())),
            Some(Auth::InfluxToken(token)) => {
                match HeaderValue::from_str(&format!("Token {}", token.expose_secret())) {
                    Ok(mut value) => {
                        value.set_sensitive(true);
                        request.header(AUTHORIZATION, value)
                    }
                    // A token that cannot be a header value is sent without: InfluxDB then answers 401, which is logged.
                    Err(_) => request,
                }
            }
            None => request,
        };
        if let Some(body) = &self.request.body {
            request = request.body(body.clone());
        }
        let response = request.send().await.map_err(|error| describe_error(&error))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok(Answer { status, body })
    }

    fn url(&self) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), self.request.path_and_query)
    }

    /// `POST http://…/start-experiment?…`, for logs and errors.
    pub(in crate::executor) fn described(&self) -> String {
        format!("{} {}", self.request.method, self.url())
    }
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    pub(super) fn component_call(&self, component: Component, request: ComponentRequest) -> Result<Call<'_>, RunError> {
        Ok(Call { base: self.settings().component_url(component)?, request, auth: None })
    }

    /// Sends one call; the answer whatever its status, or why there is none.
    pub(super) async fn send(&self, call: &Call<'_>, stoppable: Stoppable) -> Result<Answer, RunError> {
        let exchange = call.send_once(self.http, self.settings().request_timeout);
        let result = match stoppable {
            Stoppable::Yes => tokio::select! {
                result = exchange => result,
                () = self.cancel.cancelled() => Err(RunError::Stopped.to_string()),
            },
            Stoppable::No => exchange.await,
        };
        result.map_err(|reason| RunError::NoAnswer { call: call.described(), reason })
    }

    /// Sends a call that must succeed (2xx), logging it in `phase`; idempotent calls are retried.
    pub(super) async fn expect_success(
        &self,
        phase: usize,
        call: &Call<'_>,
        idempotent: bool,
        stoppable: Stoppable,
    ) -> Result<Answer, RunError> {
        let attempts = if idempotent { ATTEMPTS } else { 1 };
        let mut last = None;
        for attempt in 1..=attempts {
            match self.send(call, stoppable).await {
                Ok(answer) if answer.succeeded() => {
                    self.log(phase, "INFO", &format!("{} → {}", call.described(), answer.status)).await;
                    return Ok(answer);
                }
                Ok(answer) => {
                    let status = answer.status;
                    last = Some(RunError::Refused { call: call.described(), status, body: shorten(&answer.body) });
                    if status < 500 {
                        break;
                    }
                }
                Err(error) => last = Some(error),
            }
            if stoppable == Stoppable::Yes && self.cancel.is_cancelled() {
                break;
            }
            if attempt < attempts {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
        let error = last.unwrap_or(RunError::Stopped);
        self.log(phase, "ERROR", &error.to_string()).await;
        Err(error)
    }
}

fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        message
    }
}

/// A component's answer, cut to what a log line keeps.
pub(super) fn shorten(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(MAX_LOGGED_BODY) {
        Some((at, _)) => format!("{}…", &body[..at]),
        None => body.to_owned(),
    }
}
