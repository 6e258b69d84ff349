//! Phases 1–4 of the run: pre-flight, reset, start and the barrier.

use std::future::Future;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::Run;
use super::error::RunError;
use super::transport::Stoppable;
use crate::executor::record::{StepOutcome, TrialRecord};
use crate::json::from_text;
use crate::misarch::components::{self, Component, ServiceChanges};
use crate::misarch::definition;
use crate::time;

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    // ---- 1. pre-flight ------------------------------------------------------------------------------------------

    pub(super) async fn preflight(&self) -> Result<(), RunError> {
        let phase = self.begin("pre-flight").await;
        let result = self.check_components(phase).await;
        self.close(phase, result, "Every component the experiment needs answers.").await
    }

    async fn check_components(&self, phase: usize) -> Result<(), RunError> {
        let required = components::required_components(self.experiment());
        let unset: Vec<RunError> = required
            .iter()
            .filter_map(|component| self.settings().component_url(*component).err())
            .map(RunError::from)
            .collect();
        RunError::all(unset)?;
        for component in required {
            let check = components::health_check(component);
            let call = self.component_call(component, check.request.clone())?;
            let answer = self.send(&call, Stoppable::Yes).await?;
            if !check.is_healthy(answer.status, &answer.body) {
                return Err(RunError::Unhealthy {
                    component: component.name(),
                    base: call.base.to_string(),
                    call: format!("{} {}", check.request.method, check.request.path_and_query),
                    status: answer.status,
                    body: super::transport::shorten(&answer.body),
                });
            }
            self.log(phase, "INFO", &format!("The {} at {} is up.", component.name(), call.base)).await;
        }
        if self.experiment().uses_configurator() {
            let call = self.component_call(Component::Configurator, components::configurator_services())?;
            let answer = self.expect_success(phase, &call, true, Stoppable::Yes).await?;
            let known = components::parse_configurator_services(&answer.body)?;
            let missing = components::missing_services(self.experiment(), &known);
            if !missing.is_empty() {
                return Err(RunError::UnknownServices(missing));
            }
        }
        Ok(())
    }

    // ---- 2. reset -----------------------------------------------------------------------------------------------

    pub(super) async fn reset(&self) -> Result<(), RunError> {
        let phase = self.begin("reset").await;
        let services = definition::targeted_services(self.experiment());
        if services.is_empty() {
            self.end(phase, StepOutcome::Skipped, "No failure set targets a service.").await;
            return Ok(());
        }
        let resets: Vec<ServiceChanges> = services.iter().map(|service| ServiceChanges::reset(service)).collect();
        let result = RunError::all(self.change_variables(phase, &resets, Stoppable::Yes).await.errors);
        self.close(phase, result, &format!("Cleared the failure variables of {}.", services.join(", "))).await
    }

    // ---- 3. start -----------------------------------------------------------------------------------------------

    pub(super) async fn start(&self) -> Result<(), RunError> {
        let phase = self.begin("start").await;
        let result = self.start_components(phase).await;
        self.close(phase, result, "The components are running; waiting for them at the barrier.").await
    }

    async fn start_components(&self, phase: usize) -> Result<(), RunError> {
        let (test_uuid, test_version) = self.identity();
        let gatling = components::gatling_start(self.experiment(), &test_uuid, &test_version);
        self.expect_success(phase, &self.component_call(Component::Gatling, gatling)?, false, Stoppable::Yes).await?;
        let chaos = components::chaos_toolkit_start(
            self.experiment(),
            &test_uuid,
            &test_version,
            self.settings().barrier_timeout,
        );
        if let Some(chaos) = chaos {
            let call = self.component_call(Component::ChaosToolkit, chaos)?;
            self.expect_success(phase, &call, false, Stoppable::Yes).await?;
        }
        Ok(())
    }

    // ---- 4. barrier ---------------------------------------------------------------------------------------------

    /// Waits for every expected client; returns T0.
    pub(super) async fn barrier(&self) -> Result<DateTime<Utc>, RunError> {
        let phase = self.begin("barrier").await;
        let result = self.wait_for_barrier(phase).await;
        let result = self.close(phase, result, "Every component registered: T0.").await;
        if let Ok(t0) = result {
            self.set_t0(t0).await;
        }
        result
    }

    async fn wait_for_barrier(&self, phase: usize) -> Result<DateTime<Utc>, RunError> {
        let allowed = self.settings().barrier_timeout + definition::pre_trigger_duration(self.experiment());
        let deadline = Instant::now() + allowed;
        let expected = components::expected_barrier_clients(self.experiment());
        self.log(phase, "INFO", &format!("Waiting up to {} s for: {}.", allowed.as_secs(), expected.join(", "))).await;
        let mut seen: Vec<String> = Vec::new();
        loop {
            let run = self.current_run().await?;
            let registered: Vec<String> = from_text(&run.registered_clients).unwrap_or_default();
            for client in registered.iter().filter(|client| !seen.contains(client)) {
                self.log(phase, "INFO", &format!("'{client}' registered.")).await;
            }
            seen = registered;
            if let Some(error) = run.upload_error {
                return Err(RunError::Upload(error));
            }
            if let Some(t0) = run.started_at {
                return Ok(time::from_db(t0));
            }
            if Instant::now() >= deadline {
                let missing = expected.iter().filter(|client| !seen.contains(client)).cloned().collect();
                return Err(RunError::BarrierTimeout { seconds: allowed.as_secs(), missing, registered: seen });
            }
            self.pause().await?;
        }
    }
}
