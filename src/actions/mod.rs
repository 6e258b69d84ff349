//! The catalogue of actions a step can `do`, each with its typed arguments and what it runs: Kallisti's `cm`
//! module (`cm.http_probe`, `cm.http_request`, `cm.wait`), eris's load generator (`load.http`), the real Chaos
//! Toolkit CLI (`chaostoolkit.run`), Prometheus (`prometheus.query`) and the MiSArch configurator
//! (`misarch.set`, `misarch.reset`).
//!
//! The same arguments are read twice: by [`check`] when an experiment is written, where a value may still be a
//! `{{ parameter }}` template, and by [`run`] when the trial runs, after the templates were rendered (a template
//! may render to anything, e.g. "{{ port }}" to "abc" where a number goes).

mod arguments;
pub mod chaostoolkit;
mod http;
mod load;
pub mod misarch;
pub mod prometheus;
mod wait;

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use arguments::{Rendered, Stage, Written};
use chaostoolkit::ChaosArguments;
use http::{HttpAction, HttpArguments};
use load::LoadArguments;
use misarch::{ResetArguments, SetArguments};
use prometheus::PrometheusArguments;
use wait::WaitArguments;

use crate::misarch::gatling::GatlingMetrics;
use crate::misarch::goals::{EvaluatedGoal, Violation};

type JsonObject = serde_json::Map<String, Value>;

const HTTP_PROBE: &str = "cm.http_probe";
const HTTP_REQUEST: &str = "cm.http_request";
const WAIT: &str = "cm.wait";
/// The built-in load generator; its figures are the trial's metrics, so an experiment has at most one.
pub const LOAD_HTTP: &str = "load.http";

/// The real `chaos` CLI on a Chaos Toolkit experiment, its verdict read from the journal.
pub const CHAOSTOOLKIT_RUN: &str = "chaostoolkit.run";
const PROMETHEUS_QUERY: &str = "prometheus.query";
/// A failure variable set through the configurator; reset after the post steps unless a step reset it.
pub const MISARCH_SET: &str = "misarch.set";
pub const MISARCH_RESET: &str = "misarch.reset";

/// The names of the actions eris can run.
pub const NAMES: [&str; 8] =
    [HTTP_PROBE, HTTP_REQUEST, WAIT, LOAD_HTTP, CHAOSTOOLKIT_RUN, PROMETHEUS_QUERY, MISARCH_SET, MISARCH_RESET];

/// An action with its arguments, read at a [`Stage`].
enum Action<S: Stage> {
    /// An HTTP request; a 4xx or 5xx answer fails the step.
    HttpProbe(HttpArguments<S>),
    /// An HTTP request; any answer is a result.
    HttpRequest(HttpArguments<S>),
    /// Waits a number of seconds.
    Wait(WaitArguments<S>),
    /// An open-model HTTP load, measured like Gatling.
    LoadHttp(LoadArguments<S>),
    /// A Chaos Toolkit experiment through the `chaos` CLI.
    ChaosToolkitRun(ChaosArguments<S>),
    /// A PromQL query.
    PrometheusQuery(PrometheusArguments<S>),
    /// One failure variable set through the configurator.
    MisarchSet(SetArguments<S>),
    /// Failure variables reset through the configurator.
    MisarchReset(ResetArguments<S>),
}

impl<S: Stage> Action<S> {
    /// Reads a step's `do` and `where`.
    fn parse(name: &str, given: &JsonObject) -> Result<Self, ArgumentError> {
        match name {
            HTTP_PROBE => arguments::parse(HTTP_PROBE, given).map(Self::HttpProbe),
            HTTP_REQUEST => arguments::parse(HTTP_REQUEST, given).map(Self::HttpRequest),
            WAIT => arguments::parse(WAIT, given).map(Self::Wait),
            LOAD_HTTP => arguments::parse(LOAD_HTTP, given).and_then(LoadArguments::check).map(Self::LoadHttp),
            CHAOSTOOLKIT_RUN => {
                arguments::parse(CHAOSTOOLKIT_RUN, given).and_then(ChaosArguments::check).map(Self::ChaosToolkitRun)
            }
            PROMETHEUS_QUERY => arguments::parse(PROMETHEUS_QUERY, given)
                .and_then(PrometheusArguments::check)
                .map(Self::PrometheusQuery),
            MISARCH_SET => {
                let arguments = arguments::parse(MISARCH_SET, given)?;
                misarch::check_set(given).map(|()| Self::MisarchSet(arguments))
            }
            MISARCH_RESET => {
                let arguments = arguments::parse(MISARCH_RESET, given)?;
                misarch::check_reset(given).map(|()| Self::MisarchReset(arguments))
            }
            _ => Err(ArgumentError::UnknownAction(name.to_owned())),
        }
    }
}

impl Action<Rendered> {
    async fn run(self, ctx: &ActionContext) -> Result<Output, ActionError> {
        let result = match self {
            Self::HttpProbe(arguments) => http::run(HttpAction::Probe, arguments, ctx).await,
            Self::HttpRequest(arguments) => http::run(HttpAction::Request, arguments, ctx).await,
            Self::Wait(arguments) => wait::run(arguments, ctx).await,
            Self::ChaosToolkitRun(arguments) => chaostoolkit::run(arguments, ctx).await,
            Self::PrometheusQuery(arguments) => prometheus::run(arguments, ctx).await,
            Self::MisarchSet(arguments) => misarch::run_set(arguments, ctx).await,
            Self::MisarchReset(arguments) => misarch::run_reset(arguments, ctx).await,
            Self::LoadHttp(arguments) => {
                let (result, measured) = load::run(arguments, ctx).await?;
                return Ok(Output { result, measured: Some(Box::new(measured)) });
            }
        };
        result.map(|result| Output { result, measured: None })
    }
}

/// What an action gives back: its result (what expectations look at, kept in the step's record), and for a load
/// what it measured, which becomes the trial's metrics.
#[derive(Debug)]
pub struct Output {
    pub result: Value,
    pub measured: Option<Box<Measured>>,
}

/// A load's figures, with its goals checked against them.
#[derive(Debug)]
pub struct Measured {
    pub metrics: GatlingMetrics,
    pub evaluated: Vec<EvaluatedGoal>,
    pub violations: Vec<Violation>,
}

/// What must be there before a trial that runs these actions starts anything: today the `chaos` CLI of a
/// `chaostoolkit.run` step. The error says what is missing.
pub fn preflight<'a>(actions: impl IntoIterator<Item = &'a str>, ctx: &ActionContext) -> Result<(), String> {
    if actions.into_iter().any(|action| action == CHAOSTOOLKIT_RUN) {
        chaostoolkit::locate(&ctx.chaos_cli)?;
    }
    Ok(())
}

/// Checks a step's `do` and `where` as written in an experiment: a `{{ parameter }}` template stands for any
/// value; everything else must be what [`run`] accepts.
pub fn check(action: &str, arguments: &JsonObject) -> Result<(), ArgumentError> {
    Action::<Written>::parse(action, arguments).map(drop)
}

/// Runs `action` with its rendered arguments.
pub async fn run(action: &str, arguments: &JsonObject, ctx: &ActionContext) -> Result<Output, ActionError> {
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
    /// The client of `load.http`, which keeps connections alive ([`crate::http_client::build_pooled`]).
    pub load_http: reqwest::Client,
    /// Cancelled when the trial is stopped or eris shuts down; every action must return promptly (< 100 ms) after it.
    pub cancel: CancellationToken,
    /// The step timeout when the step gives none (eris default 30 s).
    pub default_timeout: Duration,
    /// Largest response body kept in a result; the rest is cut and the result says so.
    pub max_body_bytes: usize,
    /// The Chaos Toolkit CLI: a name looked up on `PATH`, or a path (`ERIS_CHAOS_CLI`, default `chaos`).
    pub chaos_cli: std::path::PathBuf,
    /// Where `prometheus.query` asks when its step names no URL (`ERIS_PROMETHEUS_URL`).
    pub prometheus: Option<reqwest::Url>,
    /// The MiSArch configurator of `misarch.set` and `misarch.reset` (`ERIS_MISARCH_CONFIG_URL`).
    pub configurator: Option<reqwest::Url>,
}

impl ActionContext {
    /// A context with a new [`http_client::build`](crate::http_client::build), a token of its own (replace it per trial with
    /// `ActionContext { cancel, ..ctx.clone() }`) and at most [`DEFAULT_MAX_BODY_BYTES`] of each response body.
    pub fn new(default_timeout: Duration) -> Self {
        Self {
            http: crate::http_client::build(),
            load_http: crate::http_client::build_pooled(),
            cancel: CancellationToken::new(),
            default_timeout,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            chaos_cli: std::path::PathBuf::from(chaostoolkit::DEFAULT_CLI),
            prometheus: None,
            configurator: None,
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
    /// Cancelled by a stop, after it wound down (a Chaos Toolkit run interrupted and its rollbacks played); `result`
    /// is what it got to do.
    #[error("the step was interrupted by the stop")]
    Interrupted { result: Option<Value> },
    /// The system was not in its steady state to begin with: the step fails as a health gate does, and the trial
    /// ends `Aborted` (a Chaos Toolkit hypothesis not met before the method).
    #[error("{message}")]
    GateFailed { message: String, result: Option<Value> },
    /// Arguments wrong at run time (after templates were rendered, e.g. "{{ port }}" rendered to "abc" where a number was needed).
    #[error(transparent)]
    InvalidArguments(#[from] ArgumentError),
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
