//! The MiSArch run of a trial: eris plays the MiSArch Experiment Executor's part towards the real components
//! (the Gatling executor, the Chaos Toolkit executor, the configurator), with the original's wire formats and
//! without its defects.
//!
//! Phases, each recorded with timestamps and logs in the trial record's `misarch` section ([`phase_record`]):
//! 1. **pre-flight**: every component the experiment needs is configured and healthy; the configurator knows every
//!    targeted service. A failure → `Aborted`, nothing was touched.
//! 2. **reset**: the four failure variables of every targeted service are cleared.
//! 3. **start**: the Gatling executor and (if used) the Chaos Toolkit executor, once each (a start that timed out may
//!    have started, so it is never repeated).
//! 4. **barrier**: wait until every expected client registered (`POST /trigger/…`, answered by any replica, see
//!    `misarch::callbacks`), with a real deadline: `ERIS_BARRIER_TIMEOUT_SECS` + warm-up + steady state.
//! 5. **run** ([`workload`]): from T0, the failure timeline and the experiment's `steps` alongside the workload,
//!    until the metrics arrive (deadline: the planned workload + `ERIS_METRICS_TIMEOUT_SECS`).
//! 6. **goals** ([`evaluation`]): the user's goals and the steady-state goals against the metrics; a violation
//!    fails the trial.
//! 7. **export** ([`export`]): a Grafana dashboard per trial and one InfluxDB write; skipped when not configured,
//!    and a failed export is recorded (and named in the status reason) without changing the verdict on the system
//!    under test.
//! 8. **cleanup** ([`cleanup`]), always once anything was touched (success, failure, timeout, stop, and in recovery
//!    after a crash): the trigger answers `false`, the components are stopped, the failure variables reset.
//!
//! Calls to the components go through [`transport`]; what goes wrong is a [`error::RunError`].

mod chaos;
mod cleanup;
mod configurator;
mod error;
mod evaluation;
mod export;
mod phase_record;
mod phases;
pub(super) mod transport;
mod workload;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::record::{FailureRecord, MisarchRecord, Recorder, StepOutcome, TrialRecord};
use super::{Failure, Stop};
use crate::db::{self, Db, MisarchRunRow};
use crate::json::to_text;
use crate::misarch::components;
use crate::misarch::definition::MisarchExperiment;
use crate::misarch::settings::MisarchSettings;
use crate::time;
use crate::trial_status::TrialStatus;
use chaos::ChaosEnd;
use error::RunError;

/// How often the worker looks at the run's state while it waits for the barrier or the metrics. The components
/// themselves poll every 100 ms.
const POLL: Duration = Duration::from_millis(100);

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
    /// The workload ended normally and the chaos plan had its planned time: the cleanup leaves the Chaos Toolkit
    /// executor to finish.
    chaos_ran_out: bool,
}

impl MisarchEnd {
    fn failed(status: TrialStatus, reason: impl ToString) -> Self {
        Self { failure: Some((status, reason.to_string())), ..Self::default() }
    }
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
        if let Err(failed) = run.open_and_preflight().await {
            return failed;
        }
        let mut end = run.run_components(steps).await;
        let chaos = match (&end.failure, end.chaos_ran_out) {
            (_, true) => ChaosEnd::RanOut,
            (Some((_, reason)), false) => ChaosEnd::Stop(format!("the run ended early: {reason}")),
            (None, false) => ChaosEnd::Stop("the run ended early".to_owned()),
        };
        // Clean-up whatever happened, not cut short by a stop.
        if let Err(reason) = run.cleanup("cleanup", chaos).await {
            let reason = format!("MiSArch cleanup failed: {}", reason.short());
            match &mut end.failure {
                Some((_, existing)) => *existing = error::bounded(format!("{existing}; {reason}")),
                None => end.failure = Some((TrialStatus::Failed, reason)),
            }
        }
        end
    }

    /// A dry run: the pre-flight only (read-only health checks, the configurator's list of services), then the
    /// failure timeline recorded as what would be applied when. Nothing is sent to start, load or change anything.
    pub(super) async fn dry_run<S, F>(
        &self,
        trial: &MisarchTrial,
        http: &reqwest::Client,
        stop: &Stop,
        recorder: &Recorder<S>,
    ) -> MisarchEnd
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        let run = Run { runtime: self, trial, http, recorder, cancel: stop.token() };
        if let Err(failed) = run.open_and_preflight().await {
            return failed;
        }
        let timeline = components::failure_timeline(&trial.experiment);
        recorder
            .update(|record| {
                let misarch = record.misarch.get_or_insert_with(MisarchRecord::default);
                misarch.failures = timeline
                    .iter()
                    .map(|action| FailureRecord {
                        description: format!("dry run, not applied: {}", action.description),
                        at_secs: action.at.as_secs(),
                        injects: action.injects,
                        applied_at: None,
                        outcome: StepOutcome::Skipped,
                        error: None,
                        acknowledged: Vec::new(),
                    })
                    .collect();
            })
            .await;
        MisarchEnd::default()
    }

    /// After a crash: the components the lost run may have left running are stopped and the failure variables
    /// reset. The identity is derived from the trial id, so nothing of the lost process is needed.
    pub(super) async fn recover<S, F>(&self, trial: &MisarchTrial, http: &reqwest::Client, recorder: &Recorder<S>)
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        let run = Run { runtime: self, trial, http, recorder, cancel: CancellationToken::new() };
        run.start_record().await;
        let chaos = ChaosEnd::Stop("eris was interrupted during the run; the recovery stops everything".to_owned());
        if let Err(reason) = run.cleanup("cleanup after recovery", chaos).await {
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

    /// The record's `misarch` section with the run's identity, unless a run before a crash started it already.
    async fn start_record(&self) {
        let (test_uuid, test_version) = self.identity();
        self.recorder
            .update(|record| {
                if record.misarch.is_none() {
                    record.misarch = Some(MisarchRecord { test_uuid, test_version, ..MisarchRecord::default() });
                }
            })
            .await;
    }

    /// The record's `misarch` section, then phase 1, the pre-flight: what a run and a dry run both begin with.
    async fn open_and_preflight(&self) -> Result<(), MisarchEnd> {
        self.start_record().await;
        self.preflight()
            .await
            .map_err(|reason| MisarchEnd::failed(TrialStatus::Aborted, format!("MiSArch pre-flight failed: {reason}")))
    }

    /// Phases 2–7, once the pre-flight passed.
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
            return MisarchEnd::failed(TrialStatus::Failed, error::reason(&problems));
        };
        if let Err(reason) = self.wait_out_chaos_plan(t0).await {
            problems.push(reason);
            return MisarchEnd::failed(TrialStatus::Failed, error::reason(&problems));
        }
        let mut end = MisarchEnd { chaos_ran_out: true, ..MisarchEnd::default() };
        match self.goals().await {
            Ok(verdict) => {
                problems.extend(verdict.problems.iter().cloned());
                if !verdict.violations.is_empty() {
                    problems.push(RunError::GoalsViolated(verdict.violations.clone()));
                }
                let exported = self.export(&verdict, t0, ended).await;
                problems.extend(exported.problem);
                end.notes = exported.notes;
            }
            Err(reason) => problems.push(reason),
        }
        if !problems.is_empty() {
            end.failure = Some((TrialStatus::Failed, error::reason(&problems)));
        }
        end
    }

    /// The run's state in the database, which the callbacks of every replica read and write.
    async fn create_run(&self) -> Result<(), RunError> {
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
            .map_err(|error| RunError::Storage { doing: "store the run's state", message: error.message })
    }

    async fn current_run(&self) -> Result<MisarchRunRow, RunError> {
        let trial = self.trial.trial.to_string();
        match self.db().run(move |conn| db::misarch_runs::find(conn, &trial)).await {
            Ok(Some(run)) => Ok(run),
            Ok(None) => Err(RunError::RunStateGone),
            Err(error) => Err(RunError::Storage { doing: "read the run's state", message: error.message }),
        }
    }

    /// Waits one poll interval, or fails when the trial is stopped.
    async fn pause(&self) -> Result<(), RunError> {
        tokio::select! {
            () = tokio::time::sleep(POLL) => Ok(()),
            () = self.cancel.cancelled() => Err(RunError::Stopped),
        }
    }
}
