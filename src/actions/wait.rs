//! `cm.wait`: sleeps `time_in_seconds`, or until cancelled.
//!
//! Deliberately not bounded by the step timeout: waiting is the whole point of the step, so a 60 s wait in a
//! step that gives no timeout (default 30 s) must not fail. Its length has its own limit instead, and
//! cancellation ends it at once.

use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::arguments::{Rendered, Stage, seconds};
use super::{ActionContext, ActionError};

/// One day: a longer wait is more likely a unit mistake (milliseconds) than intended.
const MAX_WAIT_SECONDS: f64 = 86_400.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct WaitArguments<S: Stage> {
    time_in_seconds: S::Value<WaitTime>,
}

/// From 0 to [`MAX_WAIT_SECONDS`].
pub struct WaitTime(Duration);

impl<'de> Deserialize<'de> for WaitTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        seconds(deserializer, true, MAX_WAIT_SECONDS).map(Self)
    }
}

pub async fn run(arguments: WaitArguments<Rendered>, ctx: &ActionContext) -> Result<Value, ActionError> {
    let started = Instant::now();
    tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => Err(ActionError::Cancelled),
        () = tokio::time::sleep(arguments.time_in_seconds.0) => Ok(json!({"elapsed_ms": super::millis(started.elapsed())})),
    }
}
