//! The catalogue of actions a step can `do` (Kallisti's `cm` module): `cm.http_probe`, `cm.http_request` and
//! `cm.wait`, each with its typed arguments and what it runs.
//!
//! The same arguments are read twice: by [`check`] when an experiment is written, where a value may still be a
//! `{{ parameter }}` template, and by [`run`] when the trial runs, after the templates were rendered (a template
//! may render to anything, e.g. "{{ port }}" to "abc" where a number goes).

mod arguments;
mod http;
mod wait;

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use arguments::{Rendered, Stage, Written};
use http::{HttpAction, HttpArguments};
use wait::WaitArguments;

type JsonObject = serde_json::Map<String, Value>;

const HTTP_PROBE: &str = "cm.http_probe";
const HTTP_REQUEST: &str = "cm.http_request";
const WAIT: &str = "cm.wait";

/// The names of the actions eris can run.
pub const NAMES: [&str; 3] = [HTTP_PROBE, HTTP_REQUEST, WAIT];

/// An action with its arguments, read at a [`Stage`].
enum Action<S: Stage> {
    /// An HTTP request; a 4xx or 5xx answer fails the step.
    HttpProbe(HttpArguments<S>),
    /// An HTTP request; any answer is a result.
    HttpRequest(HttpArguments<S>),
    /// Waits a number of seconds.
    Wait(WaitArguments<S>),
}

impl<S: Stage> Action<S> {
    /// Reads a step's `do` and `where`.
    fn parse(name: &str, given: &JsonObject) -> Result<Self, ArgumentError> {
        match name {
            HTTP_PROBE => arguments::parse(HTTP_PROBE, given).map(Self::HttpProbe),
            HTTP_REQUEST => arguments::parse(HTTP_REQUEST, given).map(Self::HttpRequest),
            WAIT => arguments::parse(WAIT, given).map(Self::Wait),
            _ => Err(ArgumentError::UnknownAction(name.to_owned())),
        }
    }
}

impl Action<Rendered> {
    async fn run(self, ctx: &ActionContext) -> Result<Value, ActionError> {
        match self {
            Self::HttpProbe(arguments) => http::run(HttpAction::Probe, arguments, ctx).await,
            Self::HttpRequest(arguments) => http::run(HttpAction::Request, arguments, ctx).await,
            Self::Wait(arguments) => wait::run(arguments, ctx).await,
        }
    }
}

/// Checks a step's `do` and `where` as written in an experiment: a `{{ parameter }}` template stands for any
/// value; everything else must be what [`run`] accepts.
pub fn check(action: &str, arguments: &JsonObject) -> Result<(), ArgumentError> {
    Action::<Written>::parse(action, arguments).map(drop)
}

/// Runs `action` with its rendered arguments.
pub async fn run(action: &str, arguments: &JsonObject, ctx: &ActionContext) -> Result<Value, ActionError> {
    Action::<Rendered>::parse(action, arguments)?.run(ctx).await
}

/// Why a step's `do` or `where` cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgumentError {
    #[error("unknown action '{0}'; eris can run: {names}", names = NAMES.join(", "))]
    UnknownAction(String),
    #[error("{action} needs the argument '{argument}'")]
    Missing { action: &'static str, argument: String },
    #[error("{action} has no argument '{argument}'; its arguments are: {}", known.join(", "))]
    Unknown { action: &'static str, argument: String, known: &'static [&'static str] },
    /// `field` is the path inside `where`, e.g. `headers.X-Count`.
    #[error("'{field}': {reason}")]
    Invalid { field: String, reason: String },
}

/// How much of a response body [`ActionContext::new`] keeps in a result: enough for any health or status
/// document, small enough for a trial record of a hundred steps.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

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
    #[error(transparent)]
    InvalidArguments(#[from] ArgumentError),
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
