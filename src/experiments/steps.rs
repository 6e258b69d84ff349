//! Steps (`{step, do, where, expect}`, as in Kallisti) and their validation at write time.
//!
//! Only actions eris can run are accepted, so a typo fails when the experiment is written, not at 2 a.m. when
//! the schedule fires. Arguments are checked by name and type; a value may instead be a `{{ parameter }}`
//! template, which is rendered when the trial runs.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

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
    /// The action, `<namespace>.<function>`: `cm.http_probe`, `cm.http_request` or `cm.wait`.
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

#[derive(Clone, Copy)]
enum Kind {
    String,
    Number,
    Object,
    Any,
}

struct Argument {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn required(name: &'static str, kind: Kind) -> Argument {
    Argument { name, kind, required: true }
}

const fn optional(name: &'static str, kind: Kind) -> Argument {
    Argument { name, kind, required: false }
}

const HTTP_ARGUMENTS: &[Argument] = &[
    required("url", Kind::String),
    optional("method", Kind::String),
    optional("headers", Kind::Object),
    optional("body", Kind::Any),
    optional("timeout", Kind::Number),
];

/// The actions eris can run, with their arguments (Kallisti's names).
const ACTIONS: &[(&str, &[Argument])] = &[
    ("cm.http_probe", HTTP_ARGUMENTS),
    ("cm.http_request", HTTP_ARGUMENTS),
    ("cm.wait", &[required("time_in_seconds", Kind::Number)]),
];

const HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
pub const MAX_STEPS_PER_PHASE: usize = 100;
/// One day: a longer wait is more likely a unit mistake (milliseconds) than intended.
const MAX_WAIT_SECONDS: f64 = 86_400.0;
const MAX_TIMEOUT_SECONDS: f64 = 3_600.0;

pub fn known_actions() -> Vec<&'static str> {
    ACTIONS.iter().map(|(name, _)| *name).collect()
}

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

fn validate_step(path: &str, step: &Step) -> Result<()> {
    let Some((_, arguments)) = ACTIONS.iter().find(|(name, _)| *name == step.action) else {
        return Err(Error::invalid(
            "unknown_action",
            format!("{path}.do"),
            format!("unknown action '{}'; eris can run: {}", step.action, known_actions().join(", ")),
        ));
    };
    for argument in *arguments {
        let field = format!("{path}.where.{}", argument.name);
        match step.arguments.get(argument.name) {
            None if argument.required => {
                return Err(Error::invalid(
                    "missing_argument",
                    field,
                    format!("{} needs the argument '{}'", step.action, argument.name),
                ));
            }
            None => {}
            Some(value) => check_argument(&field, argument, value)?,
        }
    }
    if let Some(unknown) = step.arguments.keys().find(|key| !arguments.iter().any(|a| a.name == key.as_str())) {
        let names: Vec<_> = arguments.iter().map(|a| a.name).collect();
        return Err(Error::invalid(
            "unknown_argument",
            format!("{path}.where.{unknown}"),
            format!("{} has no argument '{unknown}'; its arguments are: {}", step.action, names.join(", ")),
        ));
    }
    for (index, expectation) in step.expect.iter().enumerate() {
        validate_expectation(&format!("{path}.expect[{index}]"), expectation)?;
    }
    Ok(())
}

fn check_argument(field: &str, argument: &Argument, value: &Value) -> Result<()> {
    if is_template(value) {
        return Ok(());
    }
    let wrong_type =
        |expected: &str| Error::invalid("invalid_argument", field, format!("'{}' must be {expected}", argument.name));
    match argument.kind {
        Kind::String if !value.is_string() => return Err(wrong_type("a string")),
        Kind::Number if !value.is_number() => return Err(wrong_type("a number")),
        Kind::Object if !value.is_object() => return Err(wrong_type("an object")),
        _ => {}
    }
    match (argument.name, value) {
        ("url", Value::String(url)) => {
            let parsed = url::Url::parse(url)
                .map_err(|e| Error::invalid("invalid_argument", field, format!("'{url}' is not a valid URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::invalid("invalid_argument", field, format!("'{url}' must be an http or https URL")));
            }
        }
        ("method", Value::String(method)) if !HTTP_METHODS.contains(&method.to_ascii_uppercase().as_str()) => {
            return Err(Error::invalid(
                "invalid_argument",
                field,
                format!("'{method}' is not an HTTP method; use one of {}", HTTP_METHODS.join(", ")),
            ));
        }
        ("headers", Value::Object(headers)) => {
            if let Some((name, _)) = headers.iter().find(|(_, v)| !v.is_string() && !is_template(v)) {
                return Err(Error::invalid(
                    "invalid_argument",
                    format!("{field}.{name}"),
                    "header values must be strings",
                ));
            }
        }
        ("time_in_seconds", Value::Number(n)) => check_range(field, n.as_f64(), MAX_WAIT_SECONDS, true)?,
        ("timeout", Value::Number(n)) => check_range(field, n.as_f64(), MAX_TIMEOUT_SECONDS, false)?,
        _ => {}
    }
    Ok(())
}

fn check_range(field: &str, value: Option<f64>, max: f64, zero_allowed: bool) -> Result<()> {
    let value = value.unwrap_or(f64::NAN);
    let low_ok = if zero_allowed { value >= 0.0 } else { value > 0.0 };
    if !(low_ok && value <= max) {
        let low = if zero_allowed { "from 0" } else { "greater than 0 and" };
        return Err(Error::invalid("invalid_argument", field, format!("must be {low} at most {max} seconds")));
    }
    Ok(())
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
