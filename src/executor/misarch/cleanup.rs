//! Phase 8, the clean-up: whatever happened (success, failure, timeout, stop, or a crash before, in recovery),
//! nothing of the run is left behind. It follows `components::teardown`, the one list of what ends a run.

use std::future::Future;

use super::Run;
use super::chaos::ChaosEnd;
use super::error::RunError;
use super::transport::{Stoppable, shorten};
use crate::db;
use crate::executor::record::{StepOutcome, TrialRecord};
use crate::misarch::components::{self, Component};
use crate::time;

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    /// The trigger answers `false` from now on, the components are stopped (404: nothing was running; the Chaos
    /// Toolkit executor only when `chaos` says so) and the failure variables of the targeted services reset. Never
    /// cancelled; every call is made even when one fails.
    pub(super) async fn cleanup(&self, name: &str, chaos: ChaosEnd) -> Result<(), RunError> {
        let phase = self.begin(name).await;
        let (trial, now) = (self.trial.trial.to_string(), time::to_db(time::now()));
        let mut errors = Vec::new();
        if let Err(error) = self.db().run(move |conn| db::misarch_runs::complete(conn, &trial, now)).await {
            errors.push(RunError::Storage { doing: "end the run's state", message: error.message });
        }
        let (test_uuid, test_version) = self.identity();
        let teardown = components::teardown(self.experiment(), &test_uuid, &test_version);
        for (component, request) in teardown.stops {
            if component == Component::ChaosToolkit && matches!(chaos, ChaosEnd::RanOut) {
                let message = "The Chaos Toolkit executor is left to finish: its plan had its planned time.";
                self.log(phase, "INFO", message).await;
                continue;
            }
            // A component that is not configured was never started.
            let Ok(call) = self.component_call(component, request) else { continue };
            match self.send(&call, Stoppable::No).await {
                Ok(answer) if answer.succeeded() => {
                    self.log(phase, "INFO", &format!("The {} stopped the run.", component.name())).await;
                }
                Ok(answer) if answer.status == 404 => {
                    self.log(phase, "INFO", &format!("The {} had nothing running.", component.name())).await;
                }
                Ok(answer) => {
                    let error = RunError::StopRefused {
                        component: component.name(),
                        status: answer.status,
                        body: shorten(&answer.body),
                    };
                    self.log(phase, "ERROR", &error.to_string()).await;
                    errors.push(error);
                }
                Err(error) => {
                    self.log(phase, "ERROR", &error.to_string()).await;
                    errors.push(error);
                }
            }
        }
        if !teardown.resets.is_empty() {
            let services: Vec<&str> = teardown.resets.iter().map(|changes| changes.service.as_str()).collect();
            let applied = self.change_variables(phase, &teardown.resets, Stoppable::No).await;
            match RunError::all(applied.errors) {
                Ok(()) => {
                    let message = format!("Cleared the failure variables of {}.", services.join(", "));
                    self.log(phase, "INFO", &message).await;
                }
                Err(error) => errors.push(error),
            }
        }
        self.record_chaos_end(&chaos).await;
        let result = RunError::all(errors);
        match &result {
            Ok(()) => self.end(phase, StepOutcome::Succeeded, "Clean.").await,
            Err(reason) => self.end(phase, StepOutcome::Failed, &reason.to_string()).await,
        }
        result
    }
}
