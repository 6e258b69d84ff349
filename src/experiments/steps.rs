//! Steps (`{step, do, where, expect}`, as in Kallisti) and their validation at write time.
//!
//! Only actions eris can run are accepted, so a typo fails when the experiment is written, not at 2 a.m. when
//! the schedule fires. Arguments are checked by the action catalogue ([`crate::actions`]) with the rules the trial
//! runs them by; a value may instead be a `{{ parameter }}` template, which is rendered when the trial runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::actions::{self, ArgumentError};
use crate::error::{Error, Result};
use crate::expectation::{self, Expectation, ExpectationError, Operator};
use crate::template;

pub type JsonObject = serde_json::Map<String, Value>;

/// One step of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "step": "The service answers",
    "do": "cm.http_probe",
    "where": {"url": "{{ health_url }}", "timeout": 5},
    "expect": [{"operator": "eq", "status_code": 200}]
}))]
pub struct Step {
    /// What the step does, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The action, `<namespace>.<function>` (docs/trials.md#actions has each one's arguments and an example):
    /// `cm.http_probe` and `cm.http_request` (`url`, `method`, `headers`, `body`, `timeout`), `cm.wait`
    /// (`time_in_seconds`), `load.http` (`rate` or `ramp`, `duration`, `requests`, `goals`, …; its figures become
    /// the trial's metrics), `chaostoolkit.run` (`experiment`, `vars`, `timeout`, `rollback_strategy`; the real
    /// `chaos` CLI, judged by its journal), `prometheus.query` (`query`, `range`, `step`, `url`, `timeout`), and
    /// `misarch.set` / `misarch.reset` (`service`, `variable`, `value`, `replica`; through the MiSArch configurator,
    /// reset after the post steps).
    #[serde(rename = "do")]
    pub action: String,
    /// The action's arguments. Any value may be a `{{ parameter }}` template.
    #[serde(rename = "where", default)]
    #[schema(value_type = Object)]
    pub arguments: JsonObject,
    /// Expectations on the action's result: `{"operator": "eq|ne|lt|le|gt|ge|regex", "<json path>": expected}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub expect: Vec<JsonObject>,
}

pub const MAX_STEPS_PER_PHASE: usize = 100;

/// A value that will be rendered from the trial's parameters when it runs.
fn is_template(value: &Value) -> bool {
    value.as_str().is_some_and(template::is_template)
}

/// Validates the steps of one phase (`pre_steps`, `steps` or `post_steps`).
pub fn validate_phase(phase: &str, steps: &[Step]) -> Result<()> {
    if steps.len() > MAX_STEPS_PER_PHASE {
        return Err(Error::invalid(
            "too_many_steps",
            phase,
            format!("{phase} has {} steps; at most {MAX_STEPS_PER_PHASE} are allowed", steps.len()),
        ));
    }
    for (index, step) in steps.iter().enumerate() {
        validate_step(&format!("{phase}[{index}]"), step)?;
    }
    Ok(())
}

/// `load.http` measures the trial's metrics, so there is one at most, among the `steps` (a health gate or a
/// clean-up is no load), and none beside a `misarch` section, whose Gatling run measures them.
pub fn validate_load(definition: &super::Definition) -> Result<()> {
    let loads = |steps: &[Step]| -> Vec<usize> {
        steps.iter().enumerate().filter(|(_, step)| step.action == actions::LOAD_HTTP).map(|(index, _)| index).collect()
    };
    for (phase, steps) in [("pre_steps", &definition.pre_steps), ("post_steps", &definition.post_steps)] {
        if let Some(index) = loads(steps).first() {
            let message = format!("{} runs only among the steps, not in {phase}", actions::LOAD_HTTP);
            return Err(Error::invalid("misplaced_load", format!("{phase}[{index}].do"), message));
        }
    }
    let in_steps = loads(&definition.steps);
    if let Some(index) = in_steps.get(1) {
        let message =
            format!("an experiment has at most one {} step: its figures are the trial's metrics", actions::LOAD_HTTP);
        return Err(Error::invalid("misplaced_load", format!("steps[{index}].do"), message));
    }
    if let (Some(index), Some(_)) = (in_steps.first(), &definition.misarch) {
        let message =
            format!("{} cannot run beside a misarch section, whose Gatling run measures the trial", actions::LOAD_HTTP);
        return Err(Error::invalid("misplaced_load", format!("steps[{index}].do"), message));
    }
    Ok(())
}

pub(super) fn validate_step(path: &str, step: &Step) -> Result<()> {
    actions::check(&step.action, &step.arguments).map_err(|error| argument_error(path, error))?;
    for (index, expectation) in step.expect.iter().enumerate() {
        validate_expectation(&format!("{path}.expect[{index}]"), expectation)?;
    }
    Ok(())
}

/// Names the field at fault: the step's `do`, or the argument in its `where`.
fn argument_error(path: &str, error: ArgumentError) -> Error {
    let (code, field) = match &error {
        ArgumentError::UnknownAction(_) => ("unknown_action", format!("{path}.do")),
        ArgumentError::Missing { argument, .. } => ("missing_argument", format!("{path}.where.{argument}")),
        ArgumentError::Unknown { argument, .. } => ("unknown_argument", format!("{path}.where.{argument}")),
        ArgumentError::Invalid { field, .. } if field == "." => ("invalid_argument", format!("{path}.where")),
        ArgumentError::Invalid { field, .. } => ("invalid_argument", format!("{path}.where.{field}")),
    };
    Error::invalid(code, field, error.to_string())
}

fn validate_expectation(field: &str, entry: &JsonObject) -> Result<()> {
    let expectation = Expectation::parse(entry).map_err(|error| {
        let at = match error {
            ExpectationError::NoOperator | ExpectationError::UnknownOperator(_) => format!("{field}.operator"),
            ExpectationError::PathCount(_) => field.to_owned(),
        };
        Error::invalid("invalid_expectation", at, error.to_string())
    })?;
    let path = &expectation.path;
    if path.trim().is_empty() {
        return Err(Error::invalid("invalid_expectation", field, "the result path must not be empty"));
    }
    if expectation.operator == Operator::Regex && !is_template(&expectation.expected) {
        expectation::pattern(&expectation.expected)
            .map_err(|error| Error::invalid("invalid_expectation", format!("{field}.{path}"), error.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(value: Value) -> Step {
        serde_json::from_value(value).expect("a step")
    }

    fn error_of(value: Value) -> Error {
        validate_phase("steps", &[step(value)]).expect_err("invalid")
    }

    #[test]
    fn accepts_kallisti_style_steps() {
        let steps = [
            step(json!({"step": "probe", "do": "cm.http_probe", "where": {"url": "http://127.0.0.1:1/health",
                "headers": {"X-Token": "abc"}, "method": "post", "timeout": 2.5},
                "expect": [{"operator": "eq", "status_code": 200}, {"operator": "regex", "body": "(UP|RUNNING)"}]})),
            step(json!({"do": "cm.wait", "where": {"time_in_seconds": 0}})),
            step(json!({"do": "cm.http_request", "where": {"url": "{{ target }}", "timeout": "{{ t }}"}})),
        ];
        validate_phase("steps", &steps).expect("valid");
    }

    #[test]
    fn names_the_bad_field() {
        let cases = [
            (json!({"do": "zz.boom", "where": {}}), "unknown_action", "steps[0].do"),
            (json!({"do": "cm.wait", "where": {}}), "missing_argument", "steps[0].where.time_in_seconds"),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": "5"}}),
                "invalid_argument",
                "steps[0].where.time_in_seconds",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": -1}}),
                "invalid_argument",
                "steps[0].where.time_in_seconds",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": 1, "tmeout": 1}}),
                "unknown_argument",
                "steps[0].where.tmeout",
            ),
            (json!({"do": "cm.http_probe", "where": {"url": "ftp://x"}}), "invalid_argument", "steps[0].where.url"),
            (json!({"do": "cm.http_probe", "where": {"url": "not a url"}}), "invalid_argument", "steps[0].where.url"),
            (
                json!({"do": "cm.http_probe", "where": {"url": "http://x", "method": "FETCH"}}),
                "invalid_argument",
                "steps[0].where.method",
            ),
            (
                json!({"do": "cm.http_probe", "where": {"url": "http://x", "headers": {"A": 1}}}),
                "invalid_argument",
                "steps[0].where.headers.A",
            ),
            (
                json!({"do": "cm.http_probe", "where": {"url": "http://x", "headers": {"bad name": "v"}}}),
                "invalid_argument",
                "steps[0].where.headers",
            ),
            (
                json!({"do": "cm.http_probe", "where": {"url": "http://x", "headers": {"A": "{{ a }}", "B": [1]}}}),
                "invalid_argument",
                "steps[0].where.headers.B",
            ),
            (
                json!({"do": "cm.http_probe", "where": {"url": "http://x", "timeout": 0}}),
                "invalid_argument",
                "steps[0].where.timeout",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": 1}, "expect": [{"status_code": 200}]}),
                "invalid_expectation",
                "steps[0].expect[0].operator",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": 1}, "expect": [{"operator": "like", "a": 1}]}),
                "invalid_expectation",
                "steps[0].expect[0].operator",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": 1}, "expect": [{"operator": "eq"}]}),
                "invalid_expectation",
                "steps[0].expect[0]",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": 1}, "expect": [{"operator": "eq", "a": 1, "b": 2}]}),
                "invalid_expectation",
                "steps[0].expect[0]",
            ),
            (
                json!({"do": "cm.wait", "where": {"time_in_seconds": 1}, "expect": [{"operator": "regex", "body": "("}]}),
                "invalid_expectation",
                "steps[0].expect[0].body",
            ),
        ];
        for (value, code, field) in cases {
            let error = error_of(value.clone());
            assert_eq!((error.code, error.field.as_deref()), (code, Some(field)), "{value}");
        }
    }

    #[test]
    fn limits_the_number_of_steps() {
        let steps = vec![step(json!({"do": "cm.wait", "where": {"time_in_seconds": 1}})); MAX_STEPS_PER_PHASE + 1];
        assert_eq!(validate_phase("post_steps", &steps).unwrap_err().code, "too_many_steps");
    }
}
