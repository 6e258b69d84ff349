//! Why a step of the MiSArch run did not work. The text of each is what the trial record's phase logs and the
//! trial's status reason say, so it names the component, the call and what to do.

use crate::misarch::components::NotServiceNames;
use crate::misarch::goals::Violation;
use crate::misarch::settings::ComponentNotSet;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    NotSet(#[from] ComponentNotSet),
    /// A call got no answer: `reason` is "no answer in time", "cannot connect", the client's error chain, or that
    /// the trial was stopped while it waited.
    #[error("{call} failed: {reason}")]
    NoAnswer { call: String, reason: String },
    /// A call that must succeed got another status.
    #[error("{call} answered {status}: {body}")]
    Refused { call: String, status: u16, body: String },
    #[error("the {component} at {base} is not healthy: {call} answered {status} {body}")]
    Unhealthy { component: &'static str, base: String, call: String, status: u16, body: String },
    #[error(transparent)]
    NotServiceNames(#[from] NotServiceNames),
    #[error(
        "the configurator does not know the service(s) {}: they have not registered with it (their sidecar's first \
         heartbeat failed, or they are not deployed); restart the configurator or the services",
        .0.join(", ")
    )]
    UnknownServices(Vec<String>),
    /// The database failed while eris was `doing` something.
    #[error("eris could not {doing}: {message}")]
    Storage { doing: &'static str, message: String },
    #[error("the run's state is gone from the database")]
    RunStateGone,
    /// What the metrics callback recorded about an upload it could not take.
    #[error("{0}")]
    Upload(String),
    #[error(
        "barrier timeout: after {seconds} s (ERIS_BARRIER_TIMEOUT_SECS plus warm-up and steady state) {} never \
         registered at /trigger; registered: {}",
        .missing.join(", "),
        if .registered.is_empty() { "none".to_owned() } else { .registered.join(", ") }
    )]
    BarrierTimeout { seconds: u64, missing: Vec<String>, registered: Vec<String> },
    #[error(
        "the metrics never arrived: the Gatling executor did not upload them within {seconds} s of T0 (the planned \
         workload plus ERIS_METRICS_TIMEOUT_SECS)"
    )]
    MetricsTimeout { seconds: u64 },
    #[error("the trial was stopped")]
    Stopped,
    /// The run was given up because a failure set could not be applied (that is the error told).
    #[error("the run was given up: a failure set could not be applied")]
    Abandoned,
    #[error("the metrics are missing from the trial")]
    MetricsMissing,
    #[error("the stored metrics cannot be read")]
    MetricsUnreadable,
    #[error("the steady-state metrics never arrived, so its goals could not be checked")]
    SteadyStateMissing,
    #[error("goal(s) violated: {}", violations(.0))]
    GoalsViolated(Vec<Violation>),
    /// A step of the experiment's `steps`, which run alongside the workload, failed.
    #[error("steps[{index}] failed: {message}")]
    StepFailed { index: usize, message: String },
    /// A failure set of the timeline could not be applied at its time. Told with its first cause only; the failure
    /// set's entry in the trial record has them all.
    #[error("{description} could not be applied: {}", first_cause(error))]
    FailureNotApplied { description: String, error: Box<RunError> },
    #[error("stopping the {component} answered {status}: {body}")]
    StopRefused { component: &'static str, status: u16, body: String },
    /// Several things went wrong, each told in turn.
    #[error("{}", join(.0))]
    Several(Vec<RunError>),
}

impl RunError {
    /// One error for all of `errors`, or none when there are none.
    pub fn all(mut errors: Vec<RunError>) -> Result<(), RunError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(RunError::Several(errors)),
        }
    }
}

fn violations(violations: &[Violation]) -> String {
    let described: Vec<String> = violations
        .iter()
        .map(|violation| match violation.actual {
            Some(actual) => format!("{} = {actual} (threshold {})", violation.metric, violation.threshold),
            None => format!("{} (threshold {})", violation.metric, violation.threshold),
        })
        .collect();
    described.join(", ")
}

/// The errors one after another, each told once.
pub fn join(errors: &[RunError]) -> String {
    let mut texts: Vec<String> = Vec::new();
    for text in errors.iter().map(ToString::to_string) {
        if !texts.contains(&text) {
            texts.push(text);
        }
    }
    texts.join("; ")
}

/// The longest status reason the run gives; the trial record keeps every detail.
const MAX_REASON_CHARS: usize = 1_000;

/// A trial's status reason from `problems`: each told once, and bounded.
pub fn reason(problems: &[RunError]) -> String {
    bounded(join(problems))
}

impl RunError {
    /// The error told by its first cause and how many more there were, for a status reason; the record has all.
    pub fn short(&self) -> String {
        first_cause(self)
    }
}

/// A status reason cut to [`MAX_REASON_CHARS`].
pub fn bounded(text: String) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((at, _)) => format!("{}… (cut; the trial record has the rest)", &text[..at]),
        None => text,
    }
}

/// The first of several errors, and how many more there were.
fn first_cause(error: &RunError) -> String {
    match error {
        RunError::Several(errors) if errors.len() > 1 => {
            format!("{} (and {} more, in the trial record)", first_cause(&errors[0]), errors.len() - 1)
        }
        RunError::Several(errors) if errors.len() == 1 => first_cause(&errors[0]),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_errors_are_told_one_after_another() {
        assert_eq!(RunError::all(Vec::new()), Ok(()));
        assert_eq!(RunError::all(vec![RunError::Stopped]), Err(RunError::Stopped));
        let both = RunError::all(vec![RunError::Stopped, RunError::MetricsMissing]).unwrap_err();
        assert_eq!(both.to_string(), "the trial was stopped; the metrics are missing from the trial");
        let twice = RunError::all(vec![RunError::Stopped, RunError::Stopped]).unwrap_err();
        assert_eq!(twice.to_string(), "the trial was stopped", "each error is told once");
        let long = vec![RunError::Upload("x".repeat(5_000))];
        assert!(reason(&long).chars().count() < 1_100 && reason(&long).ends_with("the trial record has the rest)"));
        let refused =
            |variable: &str| RunError::Refused { call: format!("PUT /{variable}"), status: 404, body: String::new() };
        let not_applied = RunError::FailureNotApplied {
            description: "failure set 1".into(),
            error: Box::new(RunError::Several(vec![refused("a"), refused("b"), refused("c")])),
        };
        assert_eq!(
            not_applied.to_string(),
            "failure set 1 could not be applied: PUT /a answered 404:  (and 2 more, in the trial record)"
        );
        let timeout = RunError::BarrierTimeout { seconds: 5, missing: vec!["gatling".into()], registered: vec![] };
        assert_eq!(
            timeout.to_string(),
            "barrier timeout: after 5 s (ERIS_BARRIER_TIMEOUT_SECS plus warm-up and steady state) gatling never \
             registered at /trigger; registered: none"
        );
    }
}
