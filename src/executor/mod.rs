//! The trial executor: runs one claimed trial's phases and says how it ended. It knows nothing of HTTP serving or
//! of the worker's lease; it saves the record as it goes through the `save` callback.
//!
//! 1. Parameters (experiment < schedule or trial) are rendered into every step; a missing one → `Invalid`, and
//!    nothing runs.
//! 2. `pre_steps`, the health gates: a failure → `Aborted`.
//! 3. `steps`, in order: a failure (the action, or an expectation) → `Failed`; the remaining steps are skipped.
//! 4. `post_steps`: always, once the trial started, also after an abort, a failure or a stop. Then the failure
//!    variables `misarch.set` steps left set are reset ([`resets`]), and the experiment's `collect` series are
//!    read ([`collect`]).
//!
//! For an experiment with a `misarch` section, the MiSArch run ([`misarch`]) takes the place of 3: pre-flight,
//! components started, the barrier, then from T0 the failure timeline and the `steps` alongside the workload, the
//! metrics, goals, export and the components' clean-up.
//!
//! A stop cancels the running step at once; the trial ends `Stopped` after its post_steps ran.

mod collect;
mod dry_run;
pub mod expect;
mod guards;
mod load;
pub mod misarch;
pub mod record;
mod resets;

use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::actions::{self, ActionContext, ActionError, Output};
use crate::experiments::{Definition, Step};
use crate::redact;
use crate::template;
use crate::trial_status::TrialStatus;
use record::{Phase, Recorder, StepOutcome, StepRecord, TrialRecord, log_line, step_name};
use uuid::Uuid;

/// Why a running trial is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// `PUT /trial/{id}/stop`.
    Requested,
    /// eris is shutting down.
    Shutdown,
    /// This process lost the worker lease (another one took over).
    LostLease,
    /// A guard tripped; the text says which and why.
    Guard(String),
    /// A blackout began while the trial ran; the text names it.
    Blackout(String),
}

/// Tells a running trial to stop, and why.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<Mutex<Option<StopReason>>>,
}

impl Stop {
    /// The first reason given wins.
    pub fn stop(&self, reason: StopReason) {
        let mut current = self.reason.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        current.get_or_insert(reason);
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

/// How a trial ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub status: TrialStatus,
    pub reason: String,
    pub record: TrialRecord,
}

/// What the executor needs: an HTTP client and limits for the actions, and what the MiSArch part of a trial needs.
#[derive(Clone)]
pub struct Executor {
    pub actions: ActionContext,
    pub misarch: misarch::MisarchRuntime,
}

/// The trial to run.
pub struct TrialRun<'a> {
    pub id: Uuid,
    pub experiment: Uuid,
    pub revision: i64,
    pub definition: &'a Definition,
    /// The trial's own parameters, on top of the experiment's.
    pub parameters: &'a Map<String, Value>,
    /// The record so far: empty for a new trial, what was saved for one being recovered.
    pub record: TrialRecord,
    /// The process that ran the trial died: only clean-up runs (the MiSArch components' teardown, `post_steps`).
    pub recovering: bool,
    /// A dry run: checks only ([`dry_run`]).
    pub dry_run: bool,
}

/// A step with its templates rendered.
struct Rendered {
    step: Step,
    arguments: Map<String, Value>,
    expect: Vec<Map<String, Value>>,
}

impl Executor {
    /// Runs a trial. `save` is called with the record after every change, to store it.
    pub async fn run<S, F>(&self, trial: TrialRun<'_>, stop: &Stop, save: S) -> Ending
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        let definition = trial.definition;
        let started = Utc::now();
        let recorder = Recorder::new(trial.record, save);
        let parameters = template::merge(&[&definition.parameters, trial.parameters]);
        let phases = match render_all(definition, &parameters) {
            Ok(phases) => phases,
            Err(reason) => {
                let mut record = recorder.into_record();
                record.log_result("ERROR", &format!("Trial Invalid. {reason}"));
                return Ending { status: TrialStatus::Invalid, reason, record };
            }
        };
        // What a step needs and is not there (the `chaos` CLI) aborts the trial before anything runs.
        let used = [&definition.pre_steps, &definition.steps, &definition.post_steps].into_iter().flatten();
        if !trial.recovering
            && let Err(missing) = actions::preflight(used.map(|step| step.action.as_str()), &self.actions)
        {
            let reason = format!("pre-flight: {missing}");
            let mut record = recorder.into_record();
            record.log_result("ERROR", &format!("Trial Aborted. {reason}"));
            return Ending { status: TrialStatus::Aborted, reason, record };
        }
        // Read into its type and checked when the experiment was written: the run uses it as stored.
        let misarch = definition.misarch.clone();
        let [pre_steps, steps, post_steps, guard_checks] = phases;
        let guards = guards::Guards::new(&definition.guards, guard_checks);
        let running = self.with_cancel(stop.token());
        let identity = load::TrialIdentity {
            trial: trial.id,
            experiment: trial.experiment,
            experiment_name: &definition.name,
            revision: trial.revision,
        };
        let misarch_trial = misarch.map(|experiment| misarch::MisarchTrial {
            trial: trial.id,
            experiment_id: trial.experiment,
            experiment_name: definition.name.clone(),
            revision: trial.revision,
            experiment,
        });

        if trial.dry_run && !trial.recovering {
            let plan = dry_run::Plan {
                pre_steps: &pre_steps,
                steps: &steps,
                post_steps: &post_steps,
                guards: &guards,
                misarch: misarch_trial.as_ref(),
                collect: &definition.collect,
            };
            let (status, reason) = self.dry_run(plan, &running, stop, &recorder, &identity).await;
            let (status, reason) = match stop.reason() {
                Some(stopped) => stopped_ending(stopped),
                None => (status, reason),
            };
            let level = if status == TrialStatus::Succeeded { "INFO" } else { "ERROR" };
            let mut record = recorder.into_record();
            record.log_result(level, &format!("Trial {}. {reason}", status.as_str()));
            return Ending { status, reason, record };
        }
        let mut ending = None;
        let mut notes = Vec::new();
        if trial.recovering {
            if let Some(misarch_trial) = &misarch_trial {
                self.misarch.recover(misarch_trial, &self.actions.http, &recorder).await;
            }
        } else if let Some(failure) = self.run_phase(Phase::PreSteps, &pre_steps, &running, &recorder, &identity).await
        {
            ending = Some(self.failure_ending(TrialStatus::Aborted, Phase::PreSteps, failure, stop));
        } else if let Some(reason) = guards.gate(&running, &recorder).await {
            // Checked before anything is injected: the system is not healthy enough to start.
            ending = Some(match stop.reason() {
                Some(reason) => stopped_ending(reason),
                None => (TrialStatus::Aborted, reason),
            });
        } else if let Some(misarch_trial) = &misarch_trial {
            let steps = self.run_phase(Phase::Steps, &steps, &running, &recorder, &identity);
            let run = self.misarch.run(misarch_trial, &self.actions.http, steps, stop, &recorder);
            let end = guards.watching(&running, stop, &recorder, run).await;
            notes = end.notes;
            if let Some((status, reason)) = end.failure {
                ending = Some(match stop.reason() {
                    Some(reason) => stopped_ending(reason),
                    None => (status, reason),
                });
            }
        } else if let Some(failure) = guards
            .watching(&running, stop, &recorder, self.run_phase(Phase::Steps, &steps, &running, &recorder, &identity))
            .await
        {
            // A step that found the system unhealthy before injecting anything aborts, as a health gate does.
            let status = if failure.aborts { TrialStatus::Aborted } else { TrialStatus::Failed };
            ending = Some(self.failure_ending(status, Phase::Steps, failure, stop));
        }
        // Clean-up runs whatever happened, and is not cut short by the stop that may have ended the steps.
        let cleanup = self.with_cancel(CancellationToken::new());
        let post_failure = self.run_phase(Phase::PostSteps, &post_steps, &cleanup, &recorder, &identity).await;
        // After the post steps, which may reset what they like: nothing a step set outlives the trial.
        let reset_failures = resets::reset_what_is_left(&cleanup, &recorder).await;
        if !trial.recovering && !definition.collect.is_empty() {
            let collected = collect::read(&cleanup, &definition.collect, started, Utc::now()).await;
            recorder.update(|record| record.collected = collected).await;
        }
        let (status, mut reason) = match ending {
            Some(ending) => ending,
            None if misarch_trial.is_some() => {
                (TrialStatus::Succeeded, "all steps succeeded and every goal was met".to_owned())
            }
            None => (TrialStatus::Succeeded, "all steps succeeded".to_owned()),
        };
        for note in notes {
            reason = format!("{reason}; {note}");
        }
        let status = match post_failure {
            Some(failure) => {
                reason = format!("{reason}; and post_steps[{}] failed: {}", failure.index, failure.message);
                if status == TrialStatus::Succeeded { TrialStatus::Failed } else { status }
            }
            None => status,
        };
        // A fault left injected is a failure of the trial, whatever the steps found.
        let status = if reset_failures.is_empty() {
            status
        } else {
            reason = format!("{reason}; and the configurator reset failed: {}", reset_failures.join("; "));
            if status == TrialStatus::Succeeded { TrialStatus::Failed } else { status }
        };
        let level = if status == TrialStatus::Succeeded { "INFO" } else { "ERROR" };
        let mut record = recorder.into_record();
        record.log_result(level, &format!("Trial {}. {reason}", status.as_str()));
        Ending { status, reason, record }
    }

    fn with_cancel(&self, cancel: CancellationToken) -> ActionContext {
        ActionContext { cancel, ..self.actions.clone() }
    }

    fn failure_ending(
        &self,
        status: TrialStatus,
        phase: Phase,
        failure: Failure,
        stop: &Stop,
    ) -> (TrialStatus, String) {
        match stop.reason() {
            Some(reason) => stopped_ending(reason),
            None => (status, format!("{}[{}] failed: {}", phase.key(), failure.index, failure.message)),
        }
    }

    /// Runs the steps of a phase in order; returns the first failure (the rest of the phase is skipped).
    async fn run_phase<S, F>(
        &self,
        phase: Phase,
        steps: &[Rendered],
        ctx: &ActionContext,
        recorder: &Recorder<S>,
        identity: &load::TrialIdentity<'_>,
    ) -> Option<Failure>
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        for (index, rendered) in steps.iter().enumerate() {
            if ctx.cancel.is_cancelled() {
                return Some(Failure {
                    index,
                    message: "the trial was stopped before this step".to_owned(),
                    aborts: false,
                });
            }
            let mut entry = StepRecord {
                step_name: step_name(&rendered.step.action),
                step: rendered.step.step.clone(),
                r#do: rendered.step.action.clone(),
                step_parameters: redact::redact(&Value::Object(rendered.arguments.clone())),
                started_at: Utc::now(),
                finished_at: None,
                outcome: StepOutcome::Running,
                result: None,
                expectations: Vec::new(),
                error: None,
                logs: vec![log_line("INFO", "Starting command execution.")],
            };
            let index_in_record = recorder
                .update(|record| {
                    record.phase_mut(phase).push(entry.clone());
                    record.phase_mut(phase).len() - 1
                })
                .await;

            let outcome = actions::run(&rendered.step.action, &rendered.arguments, ctx).await;
            let aborts = matches!(outcome, Err(ActionError::GateFailed { .. }));
            let (outcome, measured) = match outcome {
                Ok(Output { result, measured }) => (Ok(result), measured),
                Err(error) => (Err(error), None),
            };
            // A load's figures are the trial's metrics, kept (and exported) whatever its expectations say.
            let (outcome, judged) = match measured {
                Some(measured) => {
                    let kept = self.keep_measured(identity, &measured, entry.started_at).await;
                    let outcome = outcome.map(|mut result| {
                        result["export"] = kept.exported;
                        result
                    });
                    (outcome, kept.failure)
                }
                None => (outcome, None),
            };
            let failure = finish_step(&mut entry, rendered, outcome, judged);
            entry.finished_at = Some(Utc::now());
            recorder
                .update(|record| {
                    if let Some(slot) = record.phase_mut(phase).get_mut(index_in_record) {
                        *slot = entry;
                    }
                })
                .await;
            if let Some(message) = failure {
                return Some(Failure { index, message, aborts });
            }
        }
        None
    }
}

struct Failure {
    index: usize,
    message: String,
    /// The step failed as a health gate: the trial is `Aborted`, not `Failed`.
    aborts: bool,
}

/// How a trial ends that was stopped, for each reason.
fn stopped_ending(reason: StopReason) -> (TrialStatus, String) {
    match reason {
        StopReason::Requested => (TrialStatus::Stopped, "stopped on request".to_owned()),
        StopReason::Shutdown => (TrialStatus::Failed, "interrupted: eris shut down while the trial ran".to_owned()),
        StopReason::LostLease => {
            (TrialStatus::Failed, "interrupted: this eris process lost the worker lease".to_owned())
        }
        StopReason::Guard(reason) | StopReason::Blackout(reason) => (TrialStatus::Stopped, reason),
    }
}

/// Fills a step's record from its action's outcome; returns why it failed, if it did. `judged` is what a load's
/// goals (or keeping its figures) found wrong, which fails a step whose expectations held.
fn finish_step(
    entry: &mut StepRecord,
    rendered: &Rendered,
    outcome: Result<Value, ActionError>,
    judged: Option<String>,
) -> Option<String> {
    let secrets = Value::Object(rendered.arguments.clone());
    let failure = match outcome {
        Ok(result) => {
            entry.expectations = expect::evaluate_all(&rendered.expect, &result).into_iter().map(hide_secret).collect();
            entry.result = Some(redact::redact(&result));
            let failed: Vec<_> = entry.expectations.iter().filter(|o| !o.passed).map(|o| o.message.clone()).collect();
            if failed.is_empty() {
                if !rendered.expect.is_empty() {
                    entry.logs.push(log_line("INFO", "Succeeded. All expectations passed."));
                }
                judged
            } else {
                Some(format!("expectation failed: {}", failed.join("; ")))
            }
        }
        Err(ActionError::Cancelled) => {
            entry.outcome = StepOutcome::Cancelled;
            entry.error = Some("cancelled: the trial was stopped".to_owned());
            entry.logs.push(log_line("WARN", "Cancelled."));
            return Some("cancelled: the trial was stopped".to_owned());
        }
        Err(ActionError::Interrupted { result }) => {
            entry.result = result.as_ref().map(redact::redact);
            entry.outcome = StepOutcome::Cancelled;
            entry.error = Some("interrupted: the trial was stopped".to_owned());
            entry.logs.push(log_line("WARN", "Interrupted by the stop; it wound down first."));
            return Some("interrupted: the trial was stopped".to_owned());
        }
        Err(ActionError::Failed { message, result } | ActionError::GateFailed { message, result }) => {
            entry.result = result.as_ref().map(redact::redact);
            Some(message)
        }
        Err(error) => Some(error.to_string()),
    };
    match &failure {
        None => {
            entry.outcome = StepOutcome::Succeeded;
            entry.logs.push(log_line("INFO", "Completed."));
        }
        Some(message) => {
            let message = redact::redact_text(message, &secrets);
            entry.outcome = StepOutcome::Failed;
            entry.logs.push(log_line("ERROR", &format!("Step failed. {message}")));
            entry.error = Some(message);
        }
    }
    failure
}

/// An expectation on a secret-looking path (`headers.Authorization`) would show the secret in its outcome.
fn hide_secret(mut outcome: expect::Outcome) -> expect::Outcome {
    let secret = outcome.path.split(|c: char| ".[]'\"".contains(c)).any(redact::is_secret_key);
    if secret {
        outcome.actual = outcome.actual.map(|_| Value::String(redact::MASK.to_owned()));
        outcome.expected = Value::String(redact::MASK.to_owned());
        let verdict = if outcome.passed { "passed" } else { "failed" };
        outcome.message = format!("{}: {verdict} (values under secret-looking keys are hidden)", outcome.path);
    }
    outcome
}

/// Renders every step of every phase before anything runs, so a missing parameter makes the trial `Invalid`
/// without side effects. The error names every missing parameter.
fn render_all(definition: &Definition, parameters: &Map<String, Value>) -> Result<[Vec<Rendered>; 4], String> {
    let mut missing = Vec::new();
    let mut malformed = Vec::new();
    let mut render_phase = |name: &str, steps: &[Step]| -> Vec<Rendered> {
        let mut rendered = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let at = format!("{name}[{index}]");
            let arguments =
                template::render(&Value::Object(step.arguments.clone()), parameters, &format!("{at}.where"));
            let expect = template::render(
                &Value::Array(step.expect.iter().cloned().map(Value::Object).collect()),
                parameters,
                &format!("{at}.expect"),
            );
            match (arguments, expect) {
                (Ok(Value::Object(arguments)), Ok(Value::Array(expect))) => rendered.push(Rendered {
                    step: step.clone(),
                    arguments,
                    expect: expect
                        .into_iter()
                        .filter_map(|e| if let Value::Object(e) = e { Some(e) } else { None })
                        .collect(),
                }),
                (arguments, expect) => {
                    for error in [arguments.err(), expect.err()].into_iter().flatten() {
                        match error {
                            template::TemplateError::Missing(names) => missing.extend(names),
                            template::TemplateError::Malformed { at, reason } => {
                                malformed.push(format!("{at}: {reason}"))
                            }
                        }
                    }
                }
            }
        }
        rendered
    };
    let pre_steps = render_phase("pre_steps", &definition.pre_steps);
    let steps = render_phase("steps", &definition.steps);
    let post_steps = render_phase("post_steps", &definition.post_steps);
    let checks: Vec<Step> = definition.guards.iter().map(|guard| guard.check.clone()).collect();
    let guard_checks = render_phase("guards", &checks);
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        let names: Vec<_> = missing.iter().map(|name| format!("'{name}'")).collect();
        return Err(format!("missing parameter(s): {}", names.join(", ")));
    }
    if !malformed.is_empty() {
        return Err(format!("malformed template(s): {}", malformed.join("; ")));
    }
    Ok([pre_steps, steps, post_steps, guard_checks])
}
