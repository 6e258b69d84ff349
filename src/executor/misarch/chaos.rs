//! The Chaos Toolkit run's end. The executor reports nothing back: no journal, no exit code, and its
//! `POST /stop-experiment` kills `chaos run` at once (the rollbacks do not run). So at a normal end eris waits until
//! the plan's planned duration from T0 has passed and then leaves the executor to finish, as the original executor
//! does; only a stop, a failure or a recovery stops it.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::Run;
use super::error::RunError;
use crate::executor::record::{ChaosEnding, ChaosRecord, MisarchRecord, StepOutcome, TrialRecord};
use crate::misarch::definition;

/// What the cleanup does with the Chaos Toolkit executor.
pub(super) enum ChaosEnd {
    /// The plan had its planned time: leave the executor to finish.
    RanOut,
    /// Stop it at once, for this reason.
    Stop(String),
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    /// After a workload that ended normally: waits until the chaos plan's planned duration from T0 has passed, so
    /// that nothing of it is cut short. Fails only when the trial is stopped meanwhile.
    pub(super) async fn wait_out_chaos_plan(&self, t0: DateTime<Utc>) -> Result<(), RunError> {
        if !self.experiment().uses_chaos_toolkit() {
            return Ok(());
        }
        let phase = self.begin("chaos").await;
        let planned = definition::chaos_plan_duration(self.experiment());
        let left = (t0 + planned - Utc::now()).to_std().unwrap_or_default();
        if left.is_zero() {
            self.end(
                phase,
                StepOutcome::Succeeded,
                &format!("The chaos plan's {} s from T0 have passed.", planned.as_secs()),
            )
            .await;
            return Ok(());
        }
        let message = format!(
            "Waiting {} s for the chaos plan to run to its planned end, T0 + {} s.",
            left.as_secs_f64().ceil(),
            planned.as_secs()
        );
        self.log(phase, "INFO", &message).await;
        let result = tokio::select! {
            () = tokio::time::sleep(left) => Ok(()),
            () = self.cancel.cancelled() => Err(RunError::Stopped),
        };
        self.close(phase, result, "The chaos plan ran to its planned end.").await
    }

    /// Records what the cleanup did with the Chaos Toolkit run.
    pub(super) async fn record_chaos_end(&self, end: &ChaosEnd) {
        if !self.experiment().uses_chaos_toolkit() {
            return;
        }
        let (ending, reason) = match end {
            ChaosEnd::RanOut => (ChaosEnding::RanOut, None),
            ChaosEnd::Stop(reason) => (ChaosEnding::Stopped, Some(reason.clone())),
        };
        let planned_secs = definition::chaos_plan_duration(self.experiment()).as_secs();
        self.recorder
            .update(|record| {
                record.misarch.get_or_insert_with(MisarchRecord::default).chaos =
                    Some(ChaosRecord { planned_secs, ending, reason });
            })
            .await;
    }
}
