//! The resilience score of a trial, 0 to 100: the weighted share of its checks that passed.
//!
//! Litmus's resilience score is the weighted mean of its experiments' probe success percentages. A trial's checks
//! are eris's probes: each goal (met or violated), each expectation of a step (passed or not), and each step that
//! failed without an expectation evaluated (one failed check), except a `load.http` step, whose checks are its
//! goals. With `w_k` the weight of kind `k`
//! (`analysis.score`), `passed_k` and `total_k` its checks:
//!
//! `score = 100 × Σ_k w_k · passed_k / Σ_k w_k · total_k`
//!
//! A trial that was not measured (queued, running, aborted by a gate, stopped, invalid) has no score, and neither
//! has one that checked nothing (or only kinds of weight 0).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::analysis::ScoreWeights;
use crate::trial_status::TrialStatus;

/// A trial's score and what it was made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Score {
    /// 0 to 100, one decimal.
    pub value: f64,
    pub goals: ChecksOfKind,
    pub expectations: ChecksOfKind,
}

/// The checks of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChecksOfKind {
    pub passed: u64,
    pub total: u64,
    pub weight: f64,
}

/// The phases of a trial record (`executor::record::TrialRecord`, read as JSON here so that this module depends on
/// nothing of the executor) whose steps' checks count.
const PHASES: [&str; 3] = ["pre_steps", "steps", "post_steps"];

/// The score of a trial that ended with `status`, from its record and its goals and violations (as stored).
pub fn score(
    status: TrialStatus,
    record: &Value,
    goals: Option<&Value>,
    violations: Option<&Value>,
    weights: ScoreWeights,
) -> Option<Score> {
    if !matches!(status, TrialStatus::Succeeded | TrialStatus::Failed) {
        return None;
    }
    let count = |value: Option<&Value>| value.and_then(Value::as_array).map_or(0, |items| items.len() as u64);
    let goal_total = count(goals);
    let goals =
        ChecksOfKind { total: goal_total, passed: goal_total.saturating_sub(count(violations)), weight: weights.goals };
    let (mut passed, mut total) = (0, 0);
    let steps = PHASES.iter().filter_map(|phase| record[phase].as_array()).flatten();
    for step in steps {
        let outcomes = step["expectations"].as_array().map(Vec::as_slice).unwrap_or_default();
        total += outcomes.len() as u64;
        passed += outcomes.iter().filter(|outcome| outcome["passed"] == true).count() as u64;
        let failed = matches!(step["outcome"].as_str(), Some("failed" | "interrupted"));
        let judged_by_goals = step["do"] == "load.http";
        if failed && outcomes.is_empty() && !judged_by_goals {
            total += 1;
        }
    }
    let expectations = ChecksOfKind { passed, total, weight: weights.expectations };
    let weighted = |kind: &ChecksOfKind, of: u64| kind.weight * of as f64;
    let denominator = weighted(&goals, goals.total) + weighted(&expectations, expectations.total);
    if denominator <= 0.0 {
        return None;
    }
    let numerator = weighted(&goals, goals.passed) + weighted(&expectations, expectations.passed);
    let value = (1000.0 * numerator / denominator).round() / 10.0;
    Some(Score { value, goals, expectations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(outcome: &str, expectations: &[bool]) -> Value {
        let outcomes: Vec<Value> = expectations.iter().map(|passed| json!({"passed": passed})).collect();
        json!({"outcome": outcome, "expectations": outcomes})
    }

    #[test]
    fn the_score_is_the_weighted_share_of_passed_checks() {
        let mut load = step("failed", &[]);
        load["do"] = json!("load.http");
        let record = json!({"steps": [step("failed", &[true, false]), step("failed", &[]), load]});
        let goals = json!([{}, {}, {}, {}]);
        let violations = json!([{}]);
        let equal = score(TrialStatus::Failed, &record, Some(&goals), Some(&violations), ScoreWeights::default());
        // Goals 3 of 4, expectations 1 of 3 (the step that failed before its expectations counts as one).
        let equal = equal.unwrap();
        assert_eq!((equal.goals.passed, equal.goals.total), (3, 4));
        assert_eq!((equal.expectations.passed, equal.expectations.total), (1, 3));
        assert_eq!(equal.value, 57.1, "4 of 7");
        let weighted = ScoreWeights { goals: 3.0, expectations: 1.0 };
        let weighted = score(TrialStatus::Failed, &record, Some(&goals), Some(&violations), weighted).unwrap();
        assert_eq!(weighted.value, 66.7, "(3·3 + 1) / (3·4 + 3)");
    }

    #[test]
    fn unmeasured_trials_and_trials_without_checks_have_no_score() {
        let record = json!({"pre_steps": [step("succeeded", &[true])]});
        for status in [TrialStatus::Aborted, TrialStatus::Stopped, TrialStatus::Invalid, TrialStatus::InProgress] {
            assert_eq!(score(status, &record, None, None, ScoreWeights::default()), None, "{status:?}");
        }
        let nothing = json!({"steps": [step("succeeded", &[])]});
        assert_eq!(score(TrialStatus::Succeeded, &nothing, None, None, ScoreWeights::default()), None);
        let no_weight = ScoreWeights { goals: 1.0, expectations: 0.0 };
        assert_eq!(score(TrialStatus::Succeeded, &record, None, None, no_weight), None);
        let full = score(TrialStatus::Succeeded, &record, None, None, ScoreWeights::default()).unwrap();
        assert_eq!(full.value, 100.0);
    }
}
