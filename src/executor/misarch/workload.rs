//! Phase 5, the run: from T0, the failure timeline and the experiment's `steps` alongside the Gatling workload,
//! until the metrics arrive.

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Run;
use super::error::RunError;
use super::transport::Stoppable;
use crate::executor::Failure;
use crate::executor::record::{FailureRecord, MisarchRecord, StepOutcome, TrialRecord};
use crate::misarch::components::{self, TimedAction};
use crate::misarch::definition;
use crate::time;

pub(super) struct WorkloadOutcome {
    /// When the metrics arrived; None when they did not.
    pub metrics_at: Option<DateTime<Utc>>,
    pub problems: Vec<RunError>,
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    pub(super) async fn workload(
        &self,
        t0: DateTime<Utc>,
        steps: impl Future<Output = Option<Failure>>,
    ) -> WorkloadOutcome {
        let phase = self.begin("run").await;
        // T0 on this process's monotonic clock (T0 was stamped by whichever replica released the barrier).
        let since_t0 = (Utc::now() - t0).to_std().unwrap_or_default();
        let t0_instant = Instant::now().checked_sub(since_t0).unwrap_or_else(Instant::now);
        let workload_over = CancellationToken::new();
        // Cancelled when a failure set cannot be applied: the experiment can no longer run as written, so the run
        // ends at once instead of at the metrics deadline.
        let abandoned = CancellationToken::new();
        let timeline = components::failure_timeline(self.experiment());
        self.recorder
            .update(|record| {
                let misarch = record.misarch.get_or_insert_with(MisarchRecord::default);
                misarch.failures = timeline
                    .iter()
                    .map(|action| FailureRecord {
                        description: action.description.clone(),
                        at_secs: action.at.as_secs(),
                        injects: action.injects,
                        applied_at: None,
                        outcome: StepOutcome::Running,
                        error: None,
                        acknowledged: Vec::new(),
                    })
                    .collect();
            })
            .await;
        let metrics = async {
            let result = self.wait_for_metrics(phase, t0_instant, &abandoned).await;
            workload_over.cancel();
            result
        };
        let failures = self.apply_timeline(phase, t0_instant, &timeline, &workload_over, &abandoned);
        let (metrics, failures, step_failure) = tokio::join!(metrics, failures, steps);
        let mut problems = Vec::new();
        if let Some(failure) = step_failure {
            problems.push(RunError::StepFailed { index: failure.index, message: failure.message });
        }
        problems.extend(failures);
        let metrics_at = match metrics {
            Ok(at) => Some(at),
            // The failure set that could not be applied is the cause, and is told already.
            Err(RunError::Abandoned) => None,
            Err(reason) => {
                problems.insert(0, reason);
                None
            }
        };
        let outcome = match (&metrics_at, self.cancel.is_cancelled()) {
            (_, true) => StepOutcome::Cancelled,
            (Some(_), false) if problems.is_empty() => StepOutcome::Succeeded,
            _ => StepOutcome::Failed,
        };
        let message = if problems.is_empty() {
            "The workload ended and its metrics arrived.".to_owned()
        } else {
            super::error::join(&problems)
        };
        self.end(phase, outcome, &message).await;
        WorkloadOutcome { metrics_at, problems }
    }

    async fn wait_for_metrics(
        &self,
        phase: usize,
        t0: Instant,
        abandoned: &CancellationToken,
    ) -> Result<DateTime<Utc>, RunError> {
        let allowed = definition::main_duration(self.experiment()) + self.settings().metrics_timeout;
        let deadline = t0 + allowed;
        loop {
            let run = self.current_run().await?;
            if let Some(error) = run.upload_error {
                return Err(RunError::Upload(error));
            }
            if let Some(at) = run.metrics_received_at {
                self.log(phase, "INFO", "The Gatling executor uploaded the metrics.").await;
                return Ok(time::from_db(at));
            }
            if Instant::now() >= deadline {
                return Err(RunError::MetricsTimeout { seconds: allowed.as_secs() });
            }
            tokio::select! {
                paused = self.pause() => paused?,
                () = abandoned.cancelled() => return Err(RunError::Abandoned),
            }
        }
    }

    /// Applies the failure sets at their offsets from T0; returns why one could not be applied. Sets still pending
    /// when the workload is over (or the trial is stopped) are skipped; a set that cannot be applied abandons the run
    /// and skips the rest.
    async fn apply_timeline(
        &self,
        phase: usize,
        t0: Instant,
        timeline: &[TimedAction],
        workload_over: &CancellationToken,
        abandoned: &CancellationToken,
    ) -> Vec<RunError> {
        let mut problems = Vec::new();
        for (index, action) in timeline.iter().enumerate() {
            let interrupted = tokio::select! {
                () = tokio::time::sleep_until(t0 + action.at) => None,
                () = workload_over.cancelled() => Some("the workload ended before its time"),
                () = self.cancel.cancelled() => Some("the trial was stopped before its time"),
            };
            if let Some(why) = interrupted {
                self.skip_failures(index..timeline.len(), why).await;
                break;
            }
            let applied_at = Utc::now();
            self.log(phase, "INFO", &format!("Applying {}.", action.description)).await;
            let applied = self.change_variables(phase, &action.services, Stoppable::Yes).await;
            match RunError::all(applied.errors) {
                Ok(()) => {
                    self.set_failure(index, StepOutcome::Succeeded, Some(applied_at), None, applied.acknowledged).await
                }
                Err(error) => {
                    let text = error.to_string();
                    problems.push(RunError::FailureNotApplied {
                        description: action.description.clone(),
                        error: Box::new(error),
                    });
                    self.set_failure(index, StepOutcome::Failed, Some(applied_at), Some(text), applied.acknowledged)
                        .await;
                    self.skip_failures(index + 1..timeline.len(), "an earlier failure set could not be applied").await;
                    abandoned.cancel();
                    break;
                }
            }
        }
        problems
    }
}
