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
    /// A failure set of the timeline could not be applied at its time.
    #[error("{description} could not be applied: {error}")]
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

/// The errors one after another, as the status reason tells them.
pub fn join(errors: &[RunError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
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
        let timeout = RunError::BarrierTimeout { seconds: 5, missing: vec!["gatling".into()], registered: vec![] };
        assert_eq!(
            timeout.to_string(),
            "barrier timeout: after 5 s (ERIS_BARRIER_TIMEOUT_SECS plus warm-up and steady state) gatling never \
             registered at /trigger; registered: none"
        );
    }
}
