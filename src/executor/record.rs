//! The trial record, in Kallisti's shape (`pre_steps`, `steps`, `post_steps`, `result`), with a structured result,
//! timestamps and an outcome per step. Saved after every step, so readers see a trial's progress.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expect::Outcome;

/// Where a step is in the trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    PreSteps,
    Steps,
    PostSteps,
}

impl Phase {
    pub fn key(self) -> &'static str {
        match self {
            Self::PreSteps => "pre_steps",
            Self::Steps => "steps",
            Self::PostSteps => "post_steps",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Running,
    Succeeded,
    Failed,
    /// The trial was stopped (or eris shut down) while the step ran.
    Cancelled,
    /// Not done: nothing to do, or an earlier phase ended the run (the logs say why).
    Skipped,
    /// The eris process running the trial died while the step ran; the recovery closed it.
    Interrupted,
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Kallisti's name for the step, from the action: `cm.http_probe` → "Http probe".
    pub step_name: String,
    /// The step's own description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub r#do: String,
    /// The rendered arguments, with secrets redacted.
    pub step_parameters: Value,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: StepOutcome,
    /// What the action returned (secrets redacted), when it returned anything.
    pub result: Option<Value>,
    pub expectations: Vec<Outcome>,
    pub error: Option<String>,
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultEntry {
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub result: Vec<ResultEntry>,
    /// The MiSArch run, for trials of an experiment with a `misarch` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misarch: Option<MisarchRecord>,
    /// The experiment's `collect` series over the whole trial, read from Prometheus when it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collected: Vec<CollectedSeries>,
    /// The failure variables `misarch.set` steps left set, reset after the post steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resets: Vec<VariableReset>,
    /// The experiment's guards and every check they made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardRecord>,
}

/// One guard's checks during a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardRecord {
    pub name: String,
    /// Its check before anything was injected, for a gate guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GuardSample>,
    /// Its checks during the run, in order (the first 10,000).
    pub samples: Vec<GuardSample>,
    /// How many checks it made during the run.
    pub checks: u64,
    /// When it tripped and stopped the trial.
    pub tripped_at: Option<DateTime<Utc>>,
}

/// One check of a guard: when, whether it passed, and what the expectations (or the failed action) said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardSample {
    pub at: DateTime<Utc>,
    pub passed: bool,
    pub message: String,
}

/// One failure variable reset by the clean-up, or why it could not be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableReset {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    pub variable: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One collector's series over the trial: what `prometheus.query` gives for a range (`series`, `min`, `max`,
/// `mean`, …), or why it could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectedSeries {
    pub name: String,
    pub query: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The MiSArch run as it happened: its phases (pre-flight, reset, start, barrier, run, goals, export, cleanup)
/// with timestamps and logs, and the failure timeline from T0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MisarchRecord {
    /// The identity the components know the run by.
    pub test_uuid: String,
    pub test_version: String,
    /// T0: when every expected component had registered and the barrier released.
    pub started_at: Option<DateTime<Utc>>,
    pub phases: Vec<MisarchPhaseRecord>,
    pub failures: Vec<FailureRecord>,
    /// What became of the Chaos Toolkit run; absent when the experiment has nothing for Chaos Toolkit to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chaos: Option<ChaosRecord>,
}

/// The Chaos Toolkit run. The executor reports nothing back (no journal, no exit code), so eris knows only its plan
/// and what eris itself did to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChaosRecord {
    /// How long the plan takes from T0: the pauses and timeouts of the method and the rollbacks.
    pub planned_secs: u64,
    /// `ran_out`: eris waited until the plan's end and left the executor to finish, as the original executor does;
    /// `stopped`: eris stopped it (`reason` says why).
    pub ending: ChaosEnding,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChaosEnding {
    RanOut,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MisarchPhaseRecord {
    pub phase: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: StepOutcome,
    pub logs: Vec<String>,
}

/// One entry of the MiSArch failure timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub description: String,
    /// Planned offset from T0, in seconds.
    pub at_secs: u64,
    /// Whether the set injects a failure; false for a set that only clears (a reset). Records written before eris
    /// kept it read as true.
    #[serde(default = "injects_by_default")]
    pub injects: bool,
    pub applied_at: Option<DateTime<Utc>>,
    pub outcome: StepOutcome,
    pub error: Option<String>,
    /// Each change the configurator acknowledged, in the order it did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledged: Vec<Acknowledged>,
}

fn injects_by_default() -> bool {
    true
}

/// A configurator variable change the configurator answered with success, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub service: String,
    pub variable: String,
    pub at: DateTime<Utc>,
}

impl TrialRecord {
    /// After a crash: every step and MiSArch phase still `running` ends `interrupted` at `at`, and failure sets
    /// still pending are `interrupted` too, so that nothing of a recovered trial looks alive.
    pub fn interrupt_unfinished(&mut self, at: DateTime<Utc>) {
        let steps = self.pre_steps.iter_mut().chain(&mut self.steps).chain(&mut self.post_steps);
        for step in steps.filter(|step| step.outcome == StepOutcome::Running) {
            step.outcome = StepOutcome::Interrupted;
            step.finished_at = Some(at);
        }
        if let Some(misarch) = &mut self.misarch {
            for phase in misarch.phases.iter_mut().filter(|phase| phase.outcome == StepOutcome::Running) {
                phase.outcome = StepOutcome::Interrupted;
                phase.finished_at = Some(at);
            }
            for failure in misarch.failures.iter_mut().filter(|failure| failure.outcome == StepOutcome::Running) {
                failure.outcome = StepOutcome::Interrupted;
            }
        }
    }

    pub fn phase_mut(&mut self, phase: Phase) -> &mut Vec<StepRecord> {
        match phase {
            Phase::PreSteps => &mut self.pre_steps,
            Phase::Steps => &mut self.steps,
            Phase::PostSteps => &mut self.post_steps,
        }
    }

    pub fn log_result(&mut self, level: &str, message: &str) {
        if self.result.is_empty() {
            self.result.push(ResultEntry::default());
        }
        self.result[0].logs.push(log_line(level, message));
    }
}

/// Holds the record of a running trial and saves it after every change. Phases that run side by side (the steps and
/// the MiSArch failure timeline) change it through one lock, and each save carries every change made before it.
pub struct Recorder<S> {
    record: tokio::sync::Mutex<TrialRecord>,
    save: S,
}

impl<S, F> Recorder<S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    pub fn new(record: TrialRecord, save: S) -> Self {
        Self { record: tokio::sync::Mutex::new(record), save }
    }

    /// Changes the record and saves it; returns what `change` returned.
    pub async fn update<T>(&self, change: impl FnOnce(&mut TrialRecord) -> T) -> T {
        let mut record = self.record.lock().await;
        let result = change(&mut record);
        (self.save)(record.clone()).await;
        result
    }

    /// The record as it is now (not saved again).
    pub async fn snapshot(&self) -> TrialRecord {
        self.record.lock().await.clone()
    }

    pub fn into_record(self) -> TrialRecord {
        self.record.into_inner()
    }
}

/// Kallisti's log line: `[2026-11-23T05:41:26Z - INFO] message`.
pub fn log_line(level: &str, message: &str) -> String {
    format!("[{} - {level}] {message}", Utc::now().format("%Y-%m-%dT%H:%M:%SZ"))
}

/// `cm.http_probe` → "Http probe", as Kallisti names steps.
pub fn step_name(action: &str) -> String {
    let function = action.split_once('.').map_or(action, |(_, function)| function);
    let mut words = function.replace(['_', '.'], " ");
    if let Some(first) = words.get(..1) {
        let upper = first.to_uppercase();
        words.replace_range(..1, &upper);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_named_like_kallisti() {
        assert_eq!(step_name("cm.http_probe"), "Http probe");
        assert_eq!(step_name("cm.wait"), "Wait");
    }

    #[test]
    fn empty_phases_are_left_out() {
        let mut record = TrialRecord::default();
        assert_eq!(serde_json::to_value(&record).unwrap(), serde_json::json!({}));
        record.log_result("INFO", "Trial Completed.");
        let value = serde_json::to_value(&record).unwrap();
        assert!(value["result"][0]["logs"][0].as_str().unwrap().ends_with("INFO] Trial Completed."));
    }
}
