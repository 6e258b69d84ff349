//! The goals phase: the user's goals, and those derived from the steady state, checked against the metrics the
//! Gatling executor uploaded.

use std::future::Future;

use super::Run;
use super::error::RunError;
use crate::db;
use crate::executor::record::{StepOutcome, TrialRecord};
use crate::json::from_text;
use crate::misarch::gatling::GatlingMetrics;
use crate::misarch::goals::{self, EvaluatedGoal, Goal, GoalSource, Violation};

/// What the goals phase found.
pub(super) struct Verdict {
    pub metrics: GatlingMetrics,
    pub evaluated: Vec<EvaluatedGoal>,
    pub violations: Vec<Violation>,
    /// What kept a goal from being checked.
    pub problems: Vec<RunError>,
}

impl<S, F> Run<'_, S>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    /// Runs the goals phase and records its verdict.
    pub(super) async fn goals(&self) -> Result<Verdict, RunError> {
        let phase = self.begin("goals").await;
        let verdict = match self.evaluate(phase).await {
            Ok(verdict) => verdict,
            Err(reason) => {
                self.end(phase, StepOutcome::Failed, &reason.to_string()).await;
                return Err(reason);
            }
        };
        let summary = format!(
            "{} goal(s) checked ({} from the steady state), {} violated.",
            verdict.evaluated.len(),
            verdict.evaluated.iter().filter(|goal| goal.source == GoalSource::SteadyState).count(),
            verdict.violations.len()
        );
        let held = verdict.violations.is_empty() && verdict.problems.is_empty();
        self.end(phase, if held { StepOutcome::Succeeded } else { StepOutcome::Failed }, &summary).await;
        Ok(verdict)
    }

    async fn evaluate(&self, phase: usize) -> Result<Verdict, RunError> {
        let trial = self.trial.trial.to_string();
        let row = self
            .db()
            .run(move |conn| db::trials::find(conn, &trial))
            .await
            .map_err(|error| RunError::Storage { doing: "read the metrics", message: error.message })?;
        let text = row.and_then(|row| row.metrics).ok_or(RunError::MetricsMissing)?;
        let metrics: GatlingMetrics = from_text(&text).map_err(|_| RunError::MetricsUnreadable)?;
        let mut goals: Vec<(Goal, GoalSource)> =
            self.experiment().goals.iter().map(|goal| (goal.clone(), GoalSource::User)).collect();
        let mut problems = Vec::new();
        if let Some(steady_state) = self.experiment().steady_state {
            let run = self.current_run().await?;
            match run.steady_state_metrics.as_deref().map(from_text::<GatlingMetrics>) {
                Some(Ok(measured)) => {
                    let derived = goals::steady_state_goals(&measured, steady_state.factor);
                    let message =
                        format!("{} goal(s) derived from the steady state × {}.", derived.len(), steady_state.factor);
                    self.log(phase, "INFO", &message).await;
                    goals.extend(derived);
                }
                _ => {
                    let problem = RunError::SteadyStateMissing;
                    self.log(phase, "ERROR", &problem.to_string()).await;
                    problems.push(problem);
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
            let message = format!("{}: actual {actual}, threshold {}: {verdict}.", goal.metric, goal.threshold);
            self.log(phase, level, &message).await;
        }
        Ok(Verdict { metrics, evaluated, violations, problems })
    }
}
