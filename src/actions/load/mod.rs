//! `load.http`: eris's own HTTP workload, an open model measured the way Gatling measures, so a trial without the
//! MiSArch stack still has load, metrics and goals.
//!
//! - Arrivals follow a timetable ([`plan`]): a constant `rate`, or a `ramp` from one rate to another, over
//!   `duration` seconds. Each arrival sends the next of `requests`, picked by weight.
//! - Latency is measured from the arrival's due time, so a target (or a generator) that falls behind shows in
//!   the figures instead of hiding (no coordinated omission). `max_in_flight` bounds the requests open at once;
//!   an arrival that must wait for a free slot waits on the clock of its latency.
//! - Connections are kept alive and reused (up to `max_in_flight` of them), as a browser or a service client
//!   does; a probe (`cm.http_probe`) instead opens a new connection each time.
//! - The figures are Gatling's ([`tally`]) and become the trial's `metrics`; `goals` (MiSArch's goal metrics, as
//!   in `misarch.goals`) are checked against them, and the trial's violations and report follow from them.
//! - A stop ends the load at once: the requests in flight are dropped.

mod plan;
mod tally;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hdrhistogram::Histogram;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::arguments::{Rendered, Stage, seconds};
use super::http::{Headers, HttpMethod, HttpUrl, Request, StepTimeout, error_chain};
use super::{ActionContext, ActionError, ArgumentError, Measured};
use crate::misarch::goals::{self, Goal, GoalSource};
use plan::{Arrivals, Timetable, WeightedTurns};
use tally::{Answer, Sample, Tally};

/// The highest arrival rate accepted, per second: above what one eris process can send (see docs/trials.md).
const MAX_RATE: f64 = 10_000.0;
/// A day: a longer load is more likely a unit mistake than a test.
const MAX_DURATION_SECONDS: f64 = 86_400.0;
const MAX_REQUESTS: usize = 100;
const MAX_WEIGHT: u32 = 1_000;
const DEFAULT_MAX_IN_FLIGHT: usize = 1_000;
const MAX_IN_FLIGHT: usize = 10_000;

/// The arguments of `load.http`. `null` for an optional argument means not given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct LoadArguments<S: Stage> {
    /// Arrivals per second, the same over the whole run. Either this or `ramp`.
    rate: Option<S::Value<Rate>>,
    /// Arrivals per second changing in a straight line over the run: `{"from": 10, "to": 100}`.
    ramp: Option<S::Value<Ramp>>,
    /// How long arrivals keep coming, in seconds; the step then waits for the answers still due.
    duration: S::Value<LoadDuration>,
    /// What to send: each `{name, url, method, headers, body, weight}`.
    requests: Vec<LoadRequest<S>>,
    /// Bounds each request, answer included; the step timeout default when not given.
    timeout: Option<S::Value<StepTimeout>>,
    /// Requests open at once, at most (default 1000).
    max_in_flight: Option<S::Value<InFlight>>,
    /// MiSArch goals checked against the load's figures; a violated goal fails the step.
    goals: Option<Vec<Goal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct LoadRequest<S: Stage> {
    /// The request's name in the figures (Gatling's request name); unique within the load.
    name: String,
    url: S::Value<HttpUrl>,
    method: Option<S::Value<HttpMethod>>,
    headers: Option<S::Value<Headers<S>>>,
    /// A string is sent as it is, any other value as JSON.
    body: Option<Value>,
    /// Its share of the arrivals, relative to the others' (default 1).
    weight: Option<S::Value<Weight>>,
}

impl<S: Stage> LoadArguments<S> {
    /// What the types cannot say: one of `rate` and `ramp`, at least one request, unique names.
    pub fn check(self) -> Result<Self, ArgumentError> {
        let invalid =
            |field: &str, reason: &str| ArgumentError::Invalid { field: field.to_owned(), reason: reason.to_owned() };
        match (&self.rate, &self.ramp) {
            (Some(_), Some(_)) => return Err(invalid("ramp", "give either rate or ramp, not both")),
            (None, None) => {
                return Err(ArgumentError::Missing { action: super::LOAD_HTTP, argument: "rate".to_owned() });
            }
            _ => {}
        }
        if self.requests.is_empty() || self.requests.len() > MAX_REQUESTS {
            return Err(invalid("requests", &format!("must list from 1 to {MAX_REQUESTS} requests")));
        }
        for (index, request) in self.requests.iter().enumerate() {
            if request.name.trim().is_empty() {
                return Err(invalid(&format!("requests[{index}].name"), "must not be empty"));
            }
            if self.requests[..index].iter().any(|earlier| earlier.name == request.name) {
                let reason = format!("'{}' names an earlier request too; names tell the figures apart", request.name);
                return Err(invalid(&format!("requests[{index}].name"), &reason));
            }
        }
        Ok(self)
    }
}

/// Arrivals per second, more than 0 and at most [`MAX_RATE`].
pub struct Rate(f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        value.as_f64().filter(|rate| *rate > 0.0 && *rate <= MAX_RATE).map(Self).ok_or_else(|| {
            de::Error::custom(format!("must be a rate per second greater than 0 and at most {MAX_RATE}, got {value}"))
        })
    }
}

/// From one rate to another; either may be 0, not both.
pub struct Ramp {
    from: f64,
    to: f64,
}

impl<'de> Deserialize<'de> for Ramp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Given {
            from: f64,
            to: f64,
        }
        let Given { from, to } = Given::deserialize(deserializer)?;
        let in_range = |rate: f64| (0.0..=MAX_RATE).contains(&rate);
        if !in_range(from) || !in_range(to) || from + to == 0.0 {
            return Err(de::Error::custom(format!(
                "from and to must be rates per second from 0 to {MAX_RATE}, not both 0"
            )));
        }
        Ok(Self { from, to })
    }
}

/// More than 0 and at most [`MAX_DURATION_SECONDS`].
pub struct LoadDuration(Duration);

impl<'de> Deserialize<'de> for LoadDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        seconds(deserializer, false, MAX_DURATION_SECONDS).map(Self)
    }
}

/// From 1 to [`MAX_WEIGHT`].
pub struct Weight(u32);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let weight = whole_number(deserializer, u64::from(MAX_WEIGHT))?;
        Ok(Self(u32::try_from(weight).expect("at most MAX_WEIGHT")))
    }
}

/// From 1 to [`MAX_IN_FLIGHT`].
pub struct InFlight(usize);

impl<'de> Deserialize<'de> for InFlight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let count = whole_number(deserializer, MAX_IN_FLIGHT as u64)?;
        Ok(Self(usize::try_from(count).expect("at most MAX_IN_FLIGHT")))
    }
}

/// A whole number from 1 to `max`.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D, max: u64) -> Result<u64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value
        .as_u64()
        .filter(|number| (1..=max).contains(number))
        .ok_or_else(|| de::Error::custom(format!("must be a whole number from 1 to {max}, got {value}")))
}

/// What the generator itself did, beside what it measured: how closely it kept its timetable.
#[derive(Debug, Clone, Serialize)]
struct Generator {
    planned: u64,
    sent: u64,
    /// How late requests left against their due time: the generator's own error (it counts in their latency).
    send_lag_p99_ms: f64,
    send_lag_max_ms: f64,
}

pub async fn run(arguments: LoadArguments<Rendered>, ctx: &ActionContext) -> Result<(Value, Measured), ActionError> {
    let arrivals = match (arguments.rate, arguments.ramp) {
        (Some(Rate(per_second)), _) => Arrivals::Constant { per_second },
        (None, Some(Ramp { from, to })) => Arrivals::Ramp { from_per_second: from, to_per_second: to },
        (None, None) => unreachable!("check() requires rate or ramp"),
    };
    let planned = arguments.duration.0;
    let timetable = Timetable::new(arrivals, planned);
    let timeout = arguments.timeout.map_or(ctx.default_timeout, |StepTimeout(timeout)| timeout);
    let in_flight = arguments.max_in_flight.map_or(DEFAULT_MAX_IN_FLIGHT, |InFlight(count)| count);
    let names: Vec<String> = arguments.requests.iter().map(|request| request.name.clone()).collect();
    let weights: Vec<u32> =
        arguments.requests.iter().map(|request| request.weight.as_ref().map_or(1, |Weight(weight)| *weight)).collect();
    let requests: Arc<Vec<Request>> = Arc::new(
        arguments
            .requests
            .into_iter()
            .map(|request| Request::new(request.url, request.method, request.headers, request.body, None))
            .collect(),
    );

    let started_ms = Utc::now().timestamp_millis();
    let (tally, lags) = drive(&timetable, &requests, &weights, names, timeout, in_flight, ctx).await?;
    let metrics = tally.metrics(started_ms, planned);
    let user_goals: Vec<_> =
        arguments.goals.unwrap_or_default().into_iter().map(|goal| (goal, GoalSource::User)).collect();
    let (evaluated, violations) = goals::evaluate(&user_goals, &metrics);
    let generator = Generator {
        planned: timetable.count(),
        sent: tally.count(),
        send_lag_p99_ms: lags.value_at_quantile(0.99) as f64 / 1000.0,
        send_lag_max_ms: lags.max() as f64 / 1000.0,
    };
    let result = json!({
        "generator": generator,
        "answers": tally.answers(),
        "total": metrics.total,
        "requests": metrics.requests,
        "goals": evaluated,
        "violations": violations,
    });
    Ok((result, Measured { metrics, evaluated, violations }))
}

/// Sends the arrivals on their timetable and collects the answers; the send lags in microseconds beside.
///
/// The timetable is kept by a thread of its own (the "pacer"), which sleeps with the operating system's timer: the
/// async runtime's timer has a resolution of one millisecond and would make every request up to a millisecond late.
/// The requests themselves run on the runtime.
async fn drive(
    timetable: &Timetable,
    requests: &Arc<Vec<Request>>,
    weights: &[u32],
    names: Vec<String>,
    timeout: Duration,
    in_flight: usize,
    ctx: &ActionContext,
) -> Result<(Tally, Histogram<u64>), ActionError> {
    let (samples, mut received) = mpsc::unbounded_channel();
    let pacer = Pacer {
        timetable: *timetable,
        requests: requests.clone(),
        turns: WeightedTurns::new(weights),
        timeout,
        slots: Arc::new(Semaphore::new(in_flight)),
        client: ctx.load_http.clone(),
        cancel: ctx.cancel.clone(),
        runtime: tokio::runtime::Handle::current(),
        samples,
    };
    let pacing = tokio::task::spawn_blocking(move || pacer.run());
    let mut tally = Tally::new(names, timetable.duration());
    // Ends when the pacer and every request it started are done: each holds a sender.
    loop {
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return Err(ActionError::Cancelled),
            sample = received.recv() => match sample {
                Some(sample) => tally.record(sample),
                None => break,
            },
        }
    }
    let lags = pacing.await.map_err(|error| ActionError::Failed {
        message: format!("the load generator's pacer failed: {error}"),
        result: None,
    })?;
    if ctx.cancel.is_cancelled() {
        return Err(ActionError::Cancelled);
    }
    Ok((tally, lags))
}

/// Keeps the timetable: starts each request at its due time, on the runtime.
struct Pacer {
    timetable: Timetable,
    requests: Arc<Vec<Request>>,
    turns: WeightedTurns,
    timeout: Duration,
    slots: Arc<Semaphore>,
    client: reqwest::Client,
    cancel: CancellationToken,
    runtime: tokio::runtime::Handle,
    samples: mpsc::UnboundedSender<Sample>,
}

/// The longest the pacer sleeps at once, so that a stop is seen within it.
const PACER_NAP: Duration = Duration::from_millis(20);

impl Pacer {
    fn run(mut self) -> Histogram<u64> {
        let mut lags = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("the bounds are valid");
        let start = std::time::Instant::now();
        for index in 0..self.timetable.count() {
            let due = self.timetable.due(index);
            let due_at = start + due;
            loop {
                if self.cancel.is_cancelled() {
                    return lags;
                }
                let now = std::time::Instant::now();
                if now >= due_at {
                    break;
                }
                std::thread::sleep((due_at - now).min(PACER_NAP));
            }
            let slot = match self.slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    let (slots, cancel) = (self.slots.clone(), self.cancel.clone());
                    let waited = self.runtime.block_on(async move {
                        tokio::select! {
                            biased;
                            () = cancel.cancelled() => None,
                            slot = slots.acquire_owned() => slot.ok(),
                        }
                    });
                    match waited {
                        Some(slot) => slot,
                        None => return lags,
                    }
                }
            };
            lags.saturating_record(u64::try_from(due_at.elapsed().as_micros()).unwrap_or(u64::MAX));
            let request = self.turns.next_index();
            let (client, requests, samples, cancel) =
                (self.client.clone(), self.requests.clone(), self.samples.clone(), self.cancel.clone());
            let timeout = self.timeout;
            self.runtime.spawn(async move {
                let answer = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return,
                    answer = tokio::time::timeout(timeout, send(&client, &requests[request])) => {
                        answer.unwrap_or(Answer::TimedOut)
                    }
                };
                let latency = due_at.elapsed();
                drop(slot);
                let _ = samples.send(Sample { request, due, latency, answer });
            });
        }
        lags
    }
}

/// Sends one request and reads its answer to the end (the body is dropped as it arrives).
async fn send(client: &reqwest::Client, request: &Request) -> Answer {
    let mut response = match request.builder(client).send().await {
        Ok(response) => response,
        Err(error) => return Answer::Failed(error_chain(error)),
    };
    let status = response.status().as_u16();
    loop {
        match response.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => return Answer::Status(status),
            Err(error) => return Answer::Failed(error_chain(error)),
        }
    }
}
