//! The run's part of the trial record (`trial_record.misarch`): each phase with its times, outcome and log lines,
//! and each failure set of the timeline with when it was applied. Saved as the run goes, so the record of a run
//! that is still going, or that a crash cut short, says how far it got.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::Run;
use super::error::RunError;
use crate::executor::record::{Acknowledged, MisarchPhaseRecord, MisarchRecord, StepOutcome, TrialRecord, log_line};

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    /// Starts a phase; its index, for the calls below.
    pub(super) async fn begin(&self, phase: &str) -> usize {
        let entry = MisarchPhaseRecord {
            phase: phase.to_owned(),
            started_at: Utc::now(),
            finished_at: None,
            outcome: StepOutcome::Running,
            logs: Vec::new(),
        };
        self.recorder
            .update(|record| {
                let misarch = record.misarch.get_or_insert_with(MisarchRecord::default);
                misarch.phases.push(entry);
                misarch.phases.len() - 1
            })
            .await
    }

    pub(super) async fn log(&self, phase: usize, level: &str, message: &str) {
        let line = log_line(level, message);
        self.recorder
            .update(|record| {
                if let Some(entry) = record.misarch.as_mut().and_then(|misarch| misarch.phases.get_mut(phase)) {
                    entry.logs.push(line);
                }
            })
            .await;
    }

    pub(super) async fn end(&self, phase: usize, outcome: StepOutcome, message: &str) {
        let level = match outcome {
            StepOutcome::Failed | StepOutcome::Cancelled => "ERROR",
            _ => "INFO",
        };
        let line = log_line(level, message);
        self.recorder
            .update(|record| {
                if let Some(entry) = record.misarch.as_mut().and_then(|misarch| misarch.phases.get_mut(phase)) {
                    entry.logs.push(line);
                    entry.outcome = outcome;
                    entry.finished_at = Some(Utc::now());
                }
            })
            .await;
    }

    /// Ends a phase with the outcome of `result` and passes it on.
    pub(super) async fn close<T>(
        &self,
        phase: usize,
        result: Result<T, RunError>,
        success: &str,
    ) -> Result<T, RunError> {
        match &result {
            Ok(_) => self.end(phase, StepOutcome::Succeeded, success).await,
            Err(reason) if self.cancel.is_cancelled() => {
                self.end(phase, StepOutcome::Cancelled, &format!("Stopped. {reason}")).await
            }
            Err(reason) => self.end(phase, StepOutcome::Failed, &reason.to_string()).await,
        }
        result
    }

    /// Records what became of failure set `index` of the timeline.
    pub(super) async fn set_failure(
        &self,
        index: usize,
        outcome: StepOutcome,
        applied_at: Option<DateTime<Utc>>,
        error: Option<String>,
        acknowledged: Vec<Acknowledged>,
    ) {
        self.recorder
            .update(|record| {
                if let Some(entry) = record.misarch.as_mut().and_then(|misarch| misarch.failures.get_mut(index)) {
                    entry.outcome = outcome;
                    entry.applied_at = applied_at;
                    entry.error = error;
                    entry.acknowledged = acknowledged;
                }
            })
            .await;
    }

    /// Records the failure sets in `range` as skipped, and why.
    pub(super) async fn skip_failures(&self, range: std::ops::Range<usize>, why: &str) {
        for index in range {
            self.set_failure(index, StepOutcome::Skipped, None, Some(why.to_owned()), Vec::new()).await;
        }
    }

    /// Records T0, when every component registered at the barrier.
    pub(super) async fn set_t0(&self, t0: DateTime<Utc>) {
        self.recorder
            .update(|record| record.misarch.get_or_insert_with(MisarchRecord::default).started_at = Some(t0))
            .await;
    }
}
