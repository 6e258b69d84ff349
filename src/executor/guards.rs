//! Guards while a trial runs (docs/safety.md#guards): each gate guard checked once before anything is injected, then
//! every guard checked at its interval alongside the steps (or the MiSArch run). A guard that fails `trip_after`
//! checks in a row stops the trial at once ([`StopReason::Guard`]): the running step is cancelled and the clean-up
//! runs, as for any stop. Every check is kept in the record (`trial_record.guards`).

use std::future::Future;

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::record::{GuardRecord, GuardSample, Recorder, TrialRecord};
use super::{Rendered, Stop, StopReason, expect, hide_secret};
use crate::actions::{self, ActionContext};
use crate::experiments::guards::Guard;
use crate::redact;

/// At most this many checks of one guard are kept in the record; later ones are counted, not kept.
pub const MAX_SAMPLES: usize = 10_000;

/// The experiment's guards, each with its check rendered.
pub struct Guards<'a> {
    guards: Vec<(&'a Guard, Rendered)>,
}

impl<'a> Guards<'a> {
    pub fn new(guards: &'a [Guard], checks: Vec<Rendered>) -> Self {
        Self { guards: guards.iter().zip(checks).collect() }
    }

    /// Checks every gate guard once; returns why the trial must not start, if one failed.
    pub async fn gate<S, F>(&self, ctx: &ActionContext, recorder: &Recorder<S>) -> Option<String>
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        if self.guards.is_empty() {
            return None;
        }
        self.start_records(recorder).await;
        for (index, (guard, check)) in self.guards.iter().enumerate().filter(|(_, (guard, _))| guard.gate) {
            let sample = check_once(check, ctx).await;
            let failed =
                (!sample.passed).then(|| format!("guard `{}` failed before the start: {}", guard.name, sample.message));
            recorder.update(|record| record.guards[index].gate = Some(sample)).await;
            if failed.is_some() {
                return failed;
            }
        }
        None
    }

    /// Runs `work` with every guard checked at its interval beside it; returns what `work` returned. A tripped guard
    /// stops the trial through `stop`, which ends `work`.
    pub async fn watching<S, F, T>(
        &self,
        ctx: &ActionContext,
        stop: &Stop,
        recorder: &Recorder<S>,
        work: impl Future<Output = T>,
    ) -> T
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        if self.guards.is_empty() {
            return work.await;
        }
        self.start_records(recorder).await;
        let done = CancellationToken::new();
        let watches = join_all(
            self.guards
                .iter()
                .enumerate()
                .map(|(index, (guard, check))| watch(index, guard, check, ctx, stop, recorder, &done)),
        );
        let work = async {
            let output = work.await;
            done.cancel();
            output
        };
        let (output, _) = tokio::join!(work, watches);
        output
    }

    async fn start_records<S, F>(&self, recorder: &Recorder<S>)
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        recorder
            .update(|record| {
                if record.guards.is_empty() {
                    record.guards = self
                        .guards
                        .iter()
                        .map(|(guard, _)| GuardRecord {
                            name: guard.name.clone(),
                            gate: None,
                            samples: Vec::new(),
                            checks: 0,
                            tripped_at: None,
                        })
                        .collect();
                }
            })
            .await;
    }
}

/// One guard's checks until `done`, or until it trips.
async fn watch<S, F>(
    index: usize,
    guard: &Guard,
    check: &Rendered,
    ctx: &ActionContext,
    stop: &Stop,
    recorder: &Recorder<S>,
    done: &CancellationToken,
) where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    let interval = std::time::Duration::from_secs_f64(guard.interval_secs);
    let mut failed_in_a_row = 0;
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            () = ctx.cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        // A check under way when the work ends is left unfinished: the trial no longer needs it.
        let sample = tokio::select! {
            () = done.cancelled() => return,
            sample = check_once(check, ctx) => sample,
        };
        failed_in_a_row = if sample.passed { 0 } else { failed_in_a_row + 1 };
        let tripped = failed_in_a_row >= guard.trip_after;
        let reason = format!(
            "stopped by guard `{}`: {} ({} failed check(s) in a row)",
            guard.name, sample.message, failed_in_a_row
        );
        recorder
            .update(|record| {
                let kept = &mut record.guards[index];
                kept.checks += 1;
                if kept.samples.len() < MAX_SAMPLES {
                    kept.samples.push(sample);
                }
                if tripped {
                    kept.tripped_at = Some(Utc::now());
                }
            })
            .await;
        if tripped {
            stop.stop(StopReason::Guard(reason));
            return;
        }
    }
}

/// Runs a guard's check once: it passes when the action succeeds and every expectation holds.
async fn check_once(check: &Rendered, ctx: &ActionContext) -> GuardSample {
    let at = Utc::now();
    let secrets = Value::Object(check.arguments.clone());
    let (passed, message) = match actions::run(&check.step.action, &check.arguments, ctx).await {
        Ok(output) => {
            let outcomes: Vec<_> =
                expect::evaluate_all(&check.expect, &output.result).into_iter().map(hide_secret).collect();
            let failed: Vec<String> = outcomes.iter().filter(|o| !o.passed).map(|o| o.message.clone()).collect();
            if failed.is_empty() {
                let held: Vec<String> = outcomes.iter().map(|o| o.message.clone()).collect();
                (true, if held.is_empty() { "ok".to_owned() } else { held.join("; ") })
            } else {
                (false, failed.join("; "))
            }
        }
        Err(error) => (false, error.to_string()),
    };
    GuardSample { at, passed, message: redact::redact_text(&message, &secrets) }
}
