//! The MiSArch run of a trial: eris plays the MiSArch Experiment Executor's part towards the real components
//! (the Gatling executor, the Chaos Toolkit executor, the configurator), with the original's wire formats and without its defects.
//!
//! Phases, each recorded with timestamps and logs in the trial record's `misarch` section:
//! 1. **pre-flight**: every component the experiment needs is configured and healthy; the configurator knows every
//!    targeted service. A failure → `Aborted`, nothing was touched.
//! 2. **reset**: the four failure variables of every targeted service are cleared.
//! 3. **start**: the Gatling executor and (if used) the Chaos Toolkit executor, once each (a start that timed out may
//!    have started, so it is never repeated).
//! 4. **barrier**: wait until every expected client registered (`POST /trigger/…`, answered by any replica, see
//!    `misarch::callbacks`), with a real deadline: `ERIS_BARRIER_TIMEOUT_SECS` + warm-up + steady state.
//! 5. **run**: from T0, the failure timeline and the experiment's `steps` alongside the workload, until the metrics
//!    arrive (deadline: the planned workload + `ERIS_METRICS_TIMEOUT_SECS`).
//! 6. **goals**: the user's goals and the steady-state goals against the metrics; a violation fails the trial.
//! 7. **export**: a Grafana dashboard per trial and one InfluxDB write; skipped when not configured, and a failed
//!    export is recorded (and named in the status reason) without changing the verdict on the system under test.
//! 8. **cleanup**, always once anything was touched (success, failure, timeout, stop, and in recovery after a
//!    crash): the trigger answers `false`, the components are stopped, the failure variables reset.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use super::record::{FailureRecord, MisarchPhaseRecord, MisarchRecord, Recorder, StepOutcome, TrialRecord, log_line};
use super::{Failure, Stop};
use crate::db::{self, Db, MisarchRunRow};
use crate::json::{from_text, to_text};
use crate::misarch::components::{self, Component, ComponentRequest, TimedAction};
use crate::misarch::definition::{self, MisarchExperiment};
use crate::misarch::export;
use crate::misarch::gatling::GatlingMetrics;
use crate::misarch::goals::{self, Goal, GoalSource};
use crate::misarch::report::{self, ReportInput};
use crate::misarch::settings::{GrafanaAuth, MisarchSettings};
use crate::time;
use crate::trial_status::TrialStatus;
use secrecy::ExposeSecret as _;

/// How often the worker looks at the run's state while it waits for the barrier or the metrics. The components
/// themselves poll every 100 ms.
const POLL: Duration = Duration::from_millis(100);
/// How much of a component's answer is kept in a log line.
const MAX_LOGGED_BODY: usize = 500;
/// Attempts of an idempotent call (a variable PUT, a stop): connection errors and 5xx are retried.
const ATTEMPTS: u32 = 3;

/// What the MiSArch part of the executor needs.
#[derive(Clone)]
pub struct MisarchRuntime {
    pub db: Db,
    pub settings: Arc<MisarchSettings>,
}

/// A MiSArch trial to run.
pub struct MisarchTrial {
    pub trial: Uuid,
    pub experiment_id: Uuid,
    pub experiment_name: String,
    pub revision: i64,
    pub experiment: MisarchExperiment,
}

/// How the MiSArch part ended: `failure` None when everything held; `notes` are told in the status reason either way
/// (an export that failed).
#[derive(Default)]
pub struct MisarchEnd {
    pub failure: Option<(TrialStatus, String)>,
    pub notes: Vec<String>,
}

impl MisarchEnd {
    fn failed(status: TrialStatus, reason: impl Into<String>) -> Self {
        Self { failure: Some((status, reason.into())), notes: Vec::new() }
    }
}

/// One call to a component, Grafana or InfluxDB.
struct Call<'a> {
    base: &'a Url,
    request: ComponentRequest,
    authorization: Option<HeaderValue>,
}

/// What a component answered.
struct Answer {
    status: u16,
    body: String,
}

impl MisarchRuntime {
    /// Runs phases 1–8 (module documentation). `steps` is the experiment's steps phase; it starts at T0.
    pub(super) async fn run<S, F>(
        &self,
        trial: &MisarchTrial,
        http: &reqwest::Client,
        steps: impl Future<Output = Option<Failure>>,
        stop: &Stop,
        recorder: &Recorder<S>,
    ) -> MisarchEnd
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        let run = Run { runtime: self, trial, http, recorder, cancel: stop.token() };
        let (test_uuid, test_version) = components::test_identity(trial.trial);
        recorder
            .update(|record| {
                record.misarch = Some(MisarchRecord { test_uuid, test_version, ..MisarchRecord::default() });
            })
            .await;
        if let Err(reason) = run.preflight().await {
            return MisarchEnd::failed(TrialStatus::Aborted, format!("MiSArch pre-flight failed: {reason}"));
        }
        let end = run.run_components(steps).await;
        // Clean-up whatever happened, not cut short by a stop.
        let mut end = end;
        if let Err(reason) = run.cleanup("cleanup").await {
            let reason = format!("MiSArch cleanup failed: {reason}");
            match &mut end.failure {
                Some((_, existing)) => *existing = format!("{existing}; {reason}"),
                None => end.failure = Some((TrialStatus::Failed, reason)),
            }
        }
        end
    }

    /// After a crash: the components the lost run may have left running are stopped and the failure variables
    /// reset. The identity is derived from the trial id, so nothing of the lost process is needed.
    pub(super) async fn recover<S, F>(&self, trial: &MisarchTrial, http: &reqwest::Client, recorder: &Recorder<S>)
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        let run = Run { runtime: self, trial, http, recorder, cancel: CancellationToken::new() };
        recorder
            .update(|record| {
                if record.misarch.is_none() {
                    let (test_uuid, test_version) = components::test_identity(trial.trial);
                    record.misarch = Some(MisarchRecord { test_uuid, test_version, ..MisarchRecord::default() });
                }
            })
            .await;
        if let Err(reason) = run.cleanup("cleanup after recovery").await {
            tracing::error!("MiSArch cleanup after recovery failed: {reason}");
        }
    }
}

/// One MiSArch run in progress.
struct Run<'a, S> {
    runtime: &'a MisarchRuntime,
    trial: &'a MisarchTrial,
    http: &'a reqwest::Client,
    recorder: &'a Recorder<S>,
    /// The trial's stop; the clean-up ignores it.
    cancel: CancellationToken,
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    fn settings(&self) -> &MisarchSettings {
        &self.runtime.settings
    }

    fn experiment(&self) -> &MisarchExperiment {
        &self.trial.experiment
    }

    fn identity(&self) -> (String, String) {
        components::test_identity(self.trial.trial)
    }

    fn db(&self) -> &Db {
        &self.runtime.db
    }

    // ---- the record ---------------------------------------------------------------------------------------------

    async fn begin(&self, phase: &str) -> usize {
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

    async fn log(&self, phase: usize, level: &str, message: &str) {
        let line = log_line(level, message);
        self.recorder
            .update(|record| {
                if let Some(entry) = record.misarch.as_mut().and_then(|misarch| misarch.phases.get_mut(phase)) {
                    entry.logs.push(line);
                }
            })
            .await;
    }

    async fn end(&self, phase: usize, outcome: StepOutcome, message: &str) {
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
    async fn close<T>(&self, phase: usize, result: Result<T, String>, success: &str) -> Result<T, String> {
        match &result {
            Ok(_) => self.end(phase, StepOutcome::Succeeded, success).await,
            Err(reason) if self.cancel.is_cancelled() => {
                self.end(phase, StepOutcome::Cancelled, &format!("Stopped. {reason}")).await
            }
            Err(reason) => self.end(phase, StepOutcome::Failed, reason).await,
        }
        result
    }

    // ---- HTTP -------------------------------------------------------------------------------------------------

    fn component_call(&self, component: Component, request: ComponentRequest) -> Result<Call<'_>, String> {
        Ok(Call { base: self.settings().component_url(component)?, request, authorization: None })
    }

    /// Sends one call; the answer whatever its status, or why there is none. Cancelled by the trial's stop unless
    /// `cancellable` is false (clean-up).
    async fn send(&self, call: &Call<'_>, cancellable: bool) -> Result<Answer, String> {
        let url = endpoint(call.base, &call.request.path_and_query);
        let method = reqwest::Method::from_bytes(call.request.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.http.request(method, &url).timeout(self.settings().request_timeout);
        if let Some(content_type) = call.request.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = &call.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        if let Some(body) = &call.request.body {
            request = request.body(body.clone());
        }
        let exchange = async {
            let response = request.send().await.map_err(|error| describe_error(&error))?;
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            Ok(Answer { status, body })
        };
        let described = format!("{} {url}", call.request.method);
        let result = if cancellable {
            tokio::select! {
                result = exchange => result,
                () = self.cancel.cancelled() => Err("the trial was stopped".to_owned()),
            }
        } else {
            exchange.await
        };
        result.map_err(|error| format!("{described} failed: {error}"))
    }

    /// Sends a call that must succeed (2xx), logging it in `phase`; idempotent calls are retried.
    async fn expect_success(
        &self,
        phase: usize,
        call: &Call<'_>,
        idempotent: bool,
        cancellable: bool,
    ) -> Result<Answer, String> {
        let attempts = if idempotent { ATTEMPTS } else { 1 };
        let described = format!("{} {}", call.request.method, endpoint(call.base, &call.request.path_and_query));
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.send(call, cancellable).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    self.log(phase, "INFO", &format!("{described} → {}", answer.status)).await;
                    return Ok(answer);
                }
                Ok(answer) => {
                    last = format!("{described} answered {}: {}", answer.status, shorten(&answer.body));
                    if answer.status < 500 {
                        break;
                    }
                }
                Err(error) => last = error,
            }
            if cancellable && self.cancel.is_cancelled() {
                break;
            }
            if attempt < attempts {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
        self.log(phase, "ERROR", &last).await;
        Err(last)
    }

    // ---- 1. pre-flight ------------------------------------------------------------------------------------------

    async fn preflight(&self) -> Result<(), String> {
        let phase = self.begin("pre-flight").await;
        let result = self.check_components(phase).await;
        self.close(phase, result, "Every component the experiment needs answers.").await
    }

    async fn check_components(&self, phase: usize) -> Result<(), String> {
        let required = components::required_components(self.experiment());
        let unset: Vec<String> =
            required.iter().filter_map(|component| self.settings().component_url(*component).err()).collect();
        if !unset.is_empty() {
            return Err(unset.join("; "));
        }
        for component in required {
            let check = components::health_check(component);
            let call = self.component_call(component, check.request.clone())?;
            let answer = self.send(&call, true).await?;
            if !check.is_healthy(answer.status, &answer.body) {
                return Err(format!(
                    "the {} at {} is not healthy: {} {} answered {} {}",
                    component.name(),
                    call.base,
                    check.request.method,
                    check.request.path_and_query,
                    answer.status,
                    shorten(&answer.body)
                ));
            }
            self.log(phase, "INFO", &format!("The {} at {} is up.", component.name(), call.base)).await;
        }
        if self.experiment().uses_configurator() {
            let call = self.component_call(Component::Configurator, components::configurator_services())?;
            let answer = self.expect_success(phase, &call, true, true).await?;
            let known = components::parse_configurator_services(&answer.body)?;
            let missing = components::missing_services(self.experiment(), &known);
            if !missing.is_empty() {
                return Err(format!(
                    "the configurator does not know the service(s) {}: they have not registered with it (their \
                     sidecar's first heartbeat failed, or they are not deployed); restart the configurator or the \
                     services",
                    missing.join(", ")
                ));
            }
        }
        Ok(())
    }

    // ---- 2–6: reset, start, barrier, run, goals, export ----------------------------------------------------------

    async fn run_components(&self, steps: impl Future<Output = Option<Failure>>) -> MisarchEnd {
        if let Err(reason) = self.create_run().await {
            return MisarchEnd::failed(TrialStatus::Failed, reason);
        }
        if let Err(reason) = self.reset().await {
            return MisarchEnd::failed(TrialStatus::Aborted, format!("MiSArch reset failed: {reason}"));
        }
        if let Err(reason) = self.start().await {
            return MisarchEnd::failed(TrialStatus::Failed, format!("MiSArch start failed: {reason}"));
        }
        let t0 = match self.barrier().await {
            Ok(t0) => t0,
            Err(reason) => return MisarchEnd::failed(TrialStatus::Failed, reason),
        };
        let outcome = self.workload(t0, steps).await;
        let mut problems = outcome.problems;
        let Some(ended) = outcome.metrics_at else {
            return MisarchEnd::failed(TrialStatus::Failed, problems.join("; "));
        };
        let mut end = MisarchEnd::default();
        match self.evaluate_and_export(t0, ended).await {
            Ok(evaluated) => {
                problems.extend(evaluated.problems);
                end.notes = evaluated.notes;
            }
            Err(reason) => problems.push(reason),
        }
        if !problems.is_empty() {
            end.failure = Some((TrialStatus::Failed, problems.join("; ")));
        }
        end
    }

    async fn create_run(&self) -> Result<(), String> {
        let (test_uuid, test_version) = self.identity();
        let now = time::to_db(time::now());
        let row = MisarchRunRow {
            trial_id: self.trial.trial.to_string(),
            test_uuid,
            test_version,
            expected_clients: to_text(&components::expected_barrier_clients(self.experiment())),
            registered_clients: "[]".to_owned(),
            state: db::misarch_runs::INITIALIZING.to_owned(),
            started_at: None,
            steady_state_metrics: None,
            steady_state_received_at: None,
            metrics_received_at: None,
            upload_error: None,
            created_at: now,
            updated_at: now,
        };
        self.db()
            .run(move |conn| db::misarch_runs::insert(conn, &row))
            .await
            .map_err(|error| format!("eris could not store the run's state: {}", error.message))
    }

    async fn reset(&self) -> Result<(), String> {
        let phase = self.begin("reset").await;
        let services = definition::targeted_services(self.experiment());
        if services.is_empty() {
            self.end(phase, StepOutcome::Skipped, "No failure set targets a service.").await;
            return Ok(());
        }
        let result = self.reset_services(phase, &services, true).await;
        self.close(phase, result, &format!("Cleared the failure variables of {}.", services.join(", "))).await
    }

    async fn reset_services(&self, phase: usize, services: &[String], cancellable: bool) -> Result<(), String> {
        let mut errors = Vec::new();
        for service in services {
            let calls: Vec<Call<'_>> = components::reset_failure_variables(service)
                .into_iter()
                .map(|request| self.component_call(Component::Configurator, request))
                .collect::<Result<_, _>>()?;
            let results = join_all(calls.iter().map(|call| self.expect_success(phase, call, true, cancellable))).await;
            errors.extend(results.into_iter().filter_map(Result::err));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }

    async fn start(&self) -> Result<(), String> {
        let phase = self.begin("start").await;
        let result = self.start_components(phase).await;
        self.close(phase, result, "The components are running; waiting for them at the barrier.").await
    }

    async fn start_components(&self, phase: usize) -> Result<(), String> {
        let (test_uuid, test_version) = self.identity();
        let gatling = components::gatling_start(self.experiment(), &test_uuid, &test_version);
        self.expect_success(phase, &self.component_call(Component::Gatling, gatling)?, false, true).await?;
        let chaos = components::chaos_toolkit_start(
            self.experiment(),
            &test_uuid,
            &test_version,
            self.settings().barrier_timeout,
        );
        if let Some(chaos) = chaos {
            self.expect_success(phase, &self.component_call(Component::ChaosToolkit, chaos)?, false, true).await?;
        }
        Ok(())
    }

    /// Waits for every expected client; returns T0.
    async fn barrier(&self) -> Result<DateTime<Utc>, String> {
        let phase = self.begin("barrier").await;
        let result = self.wait_for_barrier(phase).await;
        let result = self.close(phase, result, "Every component registered: T0.").await;
        if let Ok(t0) = result {
            self.recorder
                .update(|record| record.misarch.get_or_insert_with(MisarchRecord::default).started_at = Some(t0))
                .await;
        }
        result
    }

    async fn wait_for_barrier(&self, phase: usize) -> Result<DateTime<Utc>, String> {
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
                return Err(error);
            }
            if let Some(t0) = run.started_at {
                return Ok(time::from_db(t0));
            }
            if Instant::now() >= deadline {
                let missing: Vec<&String> = expected.iter().filter(|client| !seen.contains(client)).collect();
                return Err(format!(
                    "barrier timeout: after {} s (ERIS_BARRIER_TIMEOUT_SECS plus warm-up and steady state) {} never \
                     registered at /trigger; registered: {}",
                    allowed.as_secs(),
                    list(&missing),
                    if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
                ));
            }
            self.pause().await?;
        }
    }

    async fn current_run(&self) -> Result<MisarchRunRow, String> {
        let trial = self.trial.trial.to_string();
        match self.db().run(move |conn| db::misarch_runs::find(conn, &trial)).await {
            Ok(Some(run)) => Ok(run),
            Ok(None) => Err("the run's state is gone from the database".to_owned()),
            Err(error) => Err(format!("eris could not read the run's state: {}", error.message)),
        }
    }

    /// Waits one poll interval, or fails when the trial is stopped.
    async fn pause(&self) -> Result<(), String> {
        tokio::select! {
            () = tokio::time::sleep(POLL) => Ok(()),
            () = self.cancel.cancelled() => Err("the trial was stopped".to_owned()),
        }
    }

    /// From T0: the failure timeline and the steps alongside the workload, until the metrics arrive.
    async fn workload(&self, t0: DateTime<Utc>, steps: impl Future<Output = Option<Failure>>) -> WorkloadOutcome {
        let phase = self.begin("run").await;
        // T0 on this process's monotonic clock (T0 was stamped by whichever replica released the barrier).
        let since_t0 = (Utc::now() - t0).to_std().unwrap_or_default();
        let t0_instant = Instant::now().checked_sub(since_t0).unwrap_or_else(Instant::now);
        let workload_over = CancellationToken::new();
        let timeline = components::failure_timeline(self.experiment());
        self.recorder
            .update(|record| {
                let misarch = record.misarch.get_or_insert_with(MisarchRecord::default);
                misarch.failures = timeline
                    .iter()
                    .map(|action| FailureRecord {
                        description: action.description.clone(),
                        at_secs: action.at.as_secs(),
                        applied_at: None,
                        outcome: StepOutcome::Running,
                        error: None,
                    })
                    .collect();
            })
            .await;
        let metrics = async {
            let result = self.wait_for_metrics(phase, t0_instant).await;
            workload_over.cancel();
            result
        };
        let failures = self.apply_timeline(phase, t0_instant, &timeline, &workload_over);
        let (metrics, failures, step_failure) = tokio::join!(metrics, failures, steps);
        let mut problems = Vec::new();
        if let Some(failure) = step_failure {
            problems.push(format!("steps[{}] failed: {}", failure.index, failure.message));
        }
        problems.extend(failures);
        let metrics_at = match metrics {
            Ok(at) => Some(at),
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
            problems.join("; ")
        };
        self.end(phase, outcome, &message).await;
        WorkloadOutcome { metrics_at, problems }
    }

    async fn wait_for_metrics(&self, phase: usize, t0: Instant) -> Result<DateTime<Utc>, String> {
        let allowed = definition::main_duration(self.experiment()) + self.settings().metrics_timeout;
        let deadline = t0 + allowed;
        loop {
            let run = self.current_run().await?;
            if let Some(error) = run.upload_error {
                return Err(error);
            }
            if let Some(at) = run.metrics_received_at {
                self.log(phase, "INFO", "The Gatling executor uploaded the metrics.").await;
                return Ok(time::from_db(at));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the metrics never arrived: the Gatling executor did not upload them within {} s of T0 (the \
                     planned workload plus ERIS_METRICS_TIMEOUT_SECS)",
                    allowed.as_secs()
                ));
            }
            self.pause().await?;
        }
    }

    /// Applies the failure sets at their offsets from T0; returns why any could not be applied. Sets still pending
    /// when the workload is over (or the trial is stopped) are skipped.
    async fn apply_timeline(
        &self,
        phase: usize,
        t0: Instant,
        timeline: &[TimedAction],
        workload_over: &CancellationToken,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (index, action) in timeline.iter().enumerate() {
            let interrupted = tokio::select! {
                () = tokio::time::sleep_until(t0 + action.at) => None,
                () = workload_over.cancelled() => Some("the workload ended before its time"),
                () = self.cancel.cancelled() => Some("the trial was stopped before its time"),
            };
            if let Some(why) = interrupted {
                for skipped in index..timeline.len() {
                    self.set_failure(skipped, StepOutcome::Skipped, None, Some(why.to_owned())).await;
                }
                break;
            }
            let applied_at = Utc::now();
            self.log(phase, "INFO", &format!("Applying {}.", action.description)).await;
            let calls: Result<Vec<Call<'_>>, String> = action
                .requests
                .iter()
                .map(|request| self.component_call(Component::Configurator, request.clone()))
                .collect();
            let errors: Vec<String> = match calls {
                Ok(calls) => join_all(calls.iter().map(|call| self.expect_success(phase, call, true, true)))
                    .await
                    .into_iter()
                    .filter_map(Result::err)
                    .collect(),
                Err(error) => vec![error],
            };
            if errors.is_empty() {
                self.set_failure(index, StepOutcome::Succeeded, Some(applied_at), None).await;
            } else {
                let error = errors.join("; ");
                problems.push(format!("{} could not be applied: {error}", action.description));
                self.set_failure(index, StepOutcome::Failed, Some(applied_at), Some(error)).await;
            }
        }
        problems
    }

    async fn set_failure(
        &self,
        index: usize,
        outcome: StepOutcome,
        applied_at: Option<DateTime<Utc>>,
        error: Option<String>,
    ) {
        self.recorder
            .update(|record| {
                if let Some(entry) = record.misarch.as_mut().and_then(|misarch| misarch.failures.get_mut(index)) {
                    entry.outcome = outcome;
                    entry.applied_at = applied_at;
                    entry.error = error;
                }
            })
            .await;
    }

    /// Goals, export and the report; the results are stored on the trial at once.
    async fn evaluate_and_export(&self, t0: DateTime<Utc>, ended: DateTime<Utc>) -> Result<Evaluated, String> {
        let phase = self.begin("goals").await;
        let result = self.evaluate(phase).await;
        let (metrics, evaluated, violations, mut problems) = match result {
            Ok(result) => result,
            Err(reason) => {
                self.end(phase, StepOutcome::Failed, &reason).await;
                return Err(reason);
            }
        };
        let summary = format!(
            "{} goal(s) checked ({} from the steady state), {} violated.",
            evaluated.len(),
            evaluated.iter().filter(|goal| goal.source == GoalSource::SteadyState).count(),
            violations.len()
        );
        let outcome =
            if violations.is_empty() && problems.is_empty() { StepOutcome::Succeeded } else { StepOutcome::Failed };
        self.end(phase, outcome, &summary).await;
        if !violations.is_empty() {
            let described: Vec<String> = violations
                .iter()
                .map(|violation| match violation.actual {
                    Some(actual) => format!("{} = {actual} (threshold {})", violation.metric, violation.threshold),
                    None => format!("{} (threshold {})", violation.metric, violation.threshold),
                })
                .collect();
            problems.push(format!("goal(s) violated: {}", described.join(", ")));
        }

        let mut notes = Vec::new();
        let grafana_url = match self.export_grafana(&evaluated, t0, ended).await {
            Ok(url) => url,
            Err(reason) => {
                notes.push(format!("the Grafana export failed: {reason}"));
                None
            }
        };
        if let Err(reason) = self.export_influx(&metrics, ended).await {
            notes.push(format!("the InfluxDB export failed: {reason}"));
        }
        let (test_uuid, test_version) = self.identity();
        let report = report::build(ReportInput {
            trial: self.trial.trial,
            experiment: self.trial.experiment_id,
            experiment_name: &self.trial.experiment_name,
            revision: self.trial.revision,
            test_uuid: &test_uuid,
            test_version: &test_version,
            started: t0,
            ended,
            total: &metrics.total,
            goals: &evaluated,
            violations: &violations,
            grafana_url: grafana_url.as_deref(),
        });
        let (trial, goals_text, violations_text, report_text) =
            (self.trial.trial.to_string(), to_text(&evaluated), to_text(&violations), to_text(&report));
        let stored = self
            .db()
            .run(move |conn| {
                db::trials::store_results(
                    conn,
                    &trial,
                    &goals_text,
                    &violations_text,
                    grafana_url.as_deref(),
                    &report_text,
                )
            })
            .await;
        if let Err(error) = stored {
            problems.push(format!("eris could not store the goals and the report: {}", error.message));
        }
        Ok(Evaluated { problems, notes })
    }

    #[allow(clippy::type_complexity, reason = "a private step of one function")]
    async fn evaluate(
        &self,
        phase: usize,
    ) -> Result<(GatlingMetrics, Vec<goals::EvaluatedGoal>, Vec<goals::Violation>, Vec<String>), String> {
        let trial = self.trial.trial.to_string();
        let row = self
            .db()
            .run(move |conn| db::trials::find(conn, &trial))
            .await
            .map_err(|error| format!("eris could not read the metrics: {}", error.message))?;
        let metrics: GatlingMetrics =
            row.and_then(|row| row.metrics)
                .ok_or("the metrics are missing from the trial")
                .and_then(|text| from_text(&text).map_err(|_| "the stored metrics cannot be read"))?;
        let mut goals: Vec<(Goal, GoalSource)> =
            self.experiment().goals.iter().map(|goal| (goal.clone(), GoalSource::User)).collect();
        let mut problems = Vec::new();
        if let Some(steady_state) = self.experiment().steady_state {
            let run = self.current_run().await?;
            match run.steady_state_metrics.as_deref().map(from_text::<GatlingMetrics>) {
                Some(Ok(measured)) => {
                    let derived = goals::steady_state_goals(&measured, steady_state.factor);
                    self.log(
                        phase,
                        "INFO",
                        &format!("{} goal(s) derived from the steady state × {}.", derived.len(), steady_state.factor),
                    )
                    .await;
                    goals.extend(derived);
                }
                _ => {
                    let reason = "the steady-state metrics never arrived, so its goals could not be checked".to_owned();
                    self.log(phase, "ERROR", &reason).await;
                    problems.push(reason);
                }
            }
        }
        let (evaluated, violations) = goals::evaluate(&goals, &metrics);
        for goal in &evaluated {
            let (level, verdict) = match (goal.violated, goal.actual) {
                (true, _) => ("ERROR", "violated"),
                (false, None) => ("WARN", "not checked: Gatling had no value"),
                (false, Some(_)) => ("INFO", "met"),
            };
            let actual = goal.actual.map_or_else(|| "-".to_owned(), |actual| actual.to_string());
            self.log(
                phase,
                level,
                &format!("{}: actual {actual}, threshold {}: {verdict}.", goal.metric, goal.threshold),
            )
            .await;
        }
        Ok((metrics, evaluated, violations, problems))
    }

    async fn export_grafana(
        &self,
        evaluated: &[goals::EvaluatedGoal],
        t0: DateTime<Utc>,
        ended: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
        let phase = self.begin("export: Grafana").await;
        let Some(grafana) = &self.settings().grafana else {
            self.end(phase, StepOutcome::Skipped, "Skipped: ERIS_GRAFANA_URL is not set.").await;
            return Ok(None);
        };
        let title = format!("{} · trial {}", self.trial.experiment_name, self.trial.trial);
        let mut dashboard =
            export::dashboard(self.trial.trial, &title, evaluated, &grafana.datasource_uid, &grafana.bucket);
        // Some slack after the upload, as the original kept: the last users' responses.
        let to = ended + chrono::Duration::seconds(60);
        export::set_time_range(&mut dashboard, t0, to);
        let authorization = match &grafana.auth {
            Some(GrafanaAuth::Token(token)) => header_value(&format!("Bearer {}", token.expose_secret())),
            Some(GrafanaAuth::Basic { user, password }) => {
                use base64::Engine as _;
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.expose_secret()));
                header_value(&format!("Basic {encoded}"))
            }
            None => None,
        };
        let call = Call { base: &grafana.url, request: export::create_dashboard_request(&dashboard), authorization };
        let result = self.expect_success(phase, &call, true, false).await;
        let uid = export::dashboard_uid(self.trial.trial);
        let result = result.map(|_| Some(export::dashboard_url(&grafana.public_url, &uid, t0, to)));
        self.close(phase, result, &format!("Dashboard {uid} created.")).await
    }

    async fn export_influx(&self, metrics: &GatlingMetrics, ended: DateTime<Utc>) -> Result<(), String> {
        let phase = self.begin("export: InfluxDB").await;
        let Some(influx) = &self.settings().influxdb else {
            self.end(phase, StepOutcome::Skipped, "Skipped: ERIS_INFLUXDB_URL is not set.").await;
            return Ok(());
        };
        let lines = export::influx_lines(self.trial.trial, metrics, ended);
        let count = lines.lines().count();
        let request = export::influx_write_request(&influx.org, &influx.bucket, lines);
        let authorization =
            influx.token.as_ref().and_then(|token| header_value(&format!("Token {}", token.expose_secret())));
        let call = Call { base: &influx.url, request, authorization };
        let result = self.expect_success(phase, &call, true, false).await.map(|_| ());
        self.close(phase, result, &format!("{count} lines written in one request.")).await
    }

    // ---- 8. cleanup ---------------------------------------------------------------------------------------------

    /// The trigger answers `false` from now on, the components are stopped (404: nothing was running) and the
    /// failure variables of the targeted services reset. Never cancelled; every call is made even when one fails.
    async fn cleanup(&self, name: &str) -> Result<(), String> {
        let phase = self.begin(name).await;
        let (trial, now) = (self.trial.trial.to_string(), time::to_db(time::now()));
        let mut errors = Vec::new();
        if let Err(error) = self.db().run(move |conn| db::misarch_runs::complete(conn, &trial, now)).await {
            errors.push(format!("eris could not end the run's state: {}", error.message));
        }
        let (test_uuid, test_version) = self.identity();
        let mut stops = vec![(Component::Gatling, components::gatling_stop(&test_uuid, &test_version))];
        if self.experiment().uses_chaos_toolkit() {
            stops.push((Component::ChaosToolkit, components::chaos_toolkit_stop(&test_uuid, &test_version)));
        }
        for (component, request) in stops {
            let Ok(call) = self.component_call(component, request) else { continue };
            match self.send(&call, false).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    self.log(phase, "INFO", &format!("The {} stopped the run.", component.name())).await;
                }
                Ok(answer) if answer.status == 404 => {
                    self.log(phase, "INFO", &format!("The {} had nothing running.", component.name())).await;
                }
                Ok(answer) => {
                    let error = format!(
                        "stopping the {} answered {}: {}",
                        component.name(),
                        answer.status,
                        shorten(&answer.body)
                    );
                    self.log(phase, "ERROR", &error).await;
                    errors.push(error);
                }
                Err(error) => {
                    self.log(phase, "ERROR", &error).await;
                    errors.push(error);
                }
            }
        }
        let services = definition::targeted_services(self.experiment());
        if !services.is_empty() {
            if let Err(error) = self.reset_services(phase, &services, false).await {
                errors.push(error);
            } else {
                self.log(phase, "INFO", &format!("Cleared the failure variables of {}.", services.join(", "))).await;
            }
        }
        let result = if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) };
        match &result {
            Ok(()) => self.end(phase, StepOutcome::Succeeded, "Clean.").await,
            Err(reason) => self.end(phase, StepOutcome::Failed, reason).await,
        }
        result
    }
}

struct WorkloadOutcome {
    /// When the metrics arrived; None when they did not.
    metrics_at: Option<DateTime<Utc>>,
    problems: Vec<String>,
}

struct Evaluated {
    problems: Vec<String>,
    notes: Vec<String>,
}

fn endpoint(base: &Url, path_and_query: &str) -> String {
    format!("{}{path_and_query}", base.as_str().trim_end_matches('/'))
}

fn header_value(text: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer in time".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        message
    }
}

fn shorten(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(MAX_LOGGED_BODY) {
        Some((at, _)) => format!("{}…", &body[..at]),
        None => body.to_owned(),
    }
}

fn list(names: &[&String]) -> String {
    let names: Vec<&str> = names.iter().map(|name| name.as_str()).collect();
    names.join(", ")
}
