//! The shape of an expectation on a step's result: `{"operator": "eq|ne|lt|le|gt|ge|regex", "<path>": expected}`.
//!
//! Read when an experiment is written (`experiments::steps`), and again when the step ran, after templates were
//! rendered (`executor::expect`), so both agree on what an expectation is. Steps keep expectations as JSON objects:
//! that is the shape stored and served, with the path as the key.

use std::fmt;

use regex::Regex;
use serde_json::{Map, Value};

/// How the value found at the path is compared with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// The expected value is a regular expression, searched for (unanchored) in the value found.
    Regex,
}

impl Operator {
    pub const ALL: [Self; 7] = [Self::Eq, Self::Ne, Self::Lt, Self::Le, Self::Gt, Self::Ge, Self::Regex];

    /// The name written in an expectation's `operator`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Regex => "regex",
        }
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|operator| operator.name() == name)
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn operator_names() -> String {
    Operator::ALL.map(Operator::name).join(", ")
}

/// One expectation: the operator and the one `path: expected` pair beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub operator: Operator,
    pub path: String,
    pub expected: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpectationError {
    /// `operator` is missing or not a string.
    #[error("an expectation needs an 'operator', one of {}", operator_names())]
    NoOperator,
    #[error("unknown operator '{0}'; use one of {names}", names = operator_names())]
    UnknownOperator(String),
    /// How many keys besides `operator` there are, when not exactly one.
    #[error(
        "an expectation names exactly one result path besides 'operator', e.g. {{\"operator\": \"eq\", \"status_code\": 200}}; found {0}"
    )]
    PathCount(usize),
}

impl Expectation {
    pub fn parse(entry: &Map<String, Value>) -> Result<Self, ExpectationError> {
        let operator = match entry.get("operator") {
            Some(Value::String(name)) => {
                Operator::named(name).ok_or_else(|| ExpectationError::UnknownOperator(name.clone()))?
            }
            _ => return Err(ExpectationError::NoOperator),
        };
        let pairs: Vec<_> = entry.iter().filter(|(key, _)| key.as_str() != "operator").collect();
        let [(path, expected)] = pairs.as_slice() else {
            return Err(ExpectationError::PathCount(pairs.len()));
        };
        Ok(Self { operator, path: (*path).clone(), expected: (*expected).clone() })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PatternError {
    #[error("regex needs a string pattern, got {}", shown(.0))]
    NotAString(Value),
    #[error("invalid regex: {0}")]
    Invalid(#[from] regex::Error),
}

/// The most memory a `regex` expectation may compile to (the `regex` crate's default is 10 MiB). Matching is linear
/// in the text whatever the pattern; this bounds the compile, so a pattern such as `(a{1000}){1000}` is refused
/// within milliseconds when the experiment is written.
const MAX_COMPILED_PATTERN_BYTES: usize = 1024 * 1024;

/// The regular expression of a `regex` expectation.
pub fn pattern(expected: &Value) -> Result<Regex, PatternError> {
    let text = expected.as_str().ok_or_else(|| PatternError::NotAString(expected.clone()))?;
    Ok(regex::RegexBuilder::new(text)
        .size_limit(MAX_COMPILED_PATTERN_BYTES)
        .dfa_size_limit(MAX_COMPILED_PATTERN_BYTES)
        .build()?)
}

/// Values in messages are cut to this many characters so a large body cannot flood a trial's log.
const MESSAGE_VALUE_CHARS: usize = 200;

/// A value as JSON text for a message, cut after [`MESSAGE_VALUE_CHARS`] characters.
pub fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MESSAGE_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(value: Value) -> Map<String, Value> {
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn every_operator_is_found_by_its_name() {
        for operator in Operator::ALL {
            assert_eq!(Operator::named(operator.name()), Some(operator));
        }
        assert_eq!(operator_names(), "eq, ne, lt, le, gt, ge, regex");
        assert_eq!(Operator::named("EQ"), None);
    }

    #[test]
    fn parses_the_operator_and_the_one_pair() {
        let parsed = Expectation::parse(&entry(json!({"operator": "ge", "json.items[0]": {"n": 1}})));
        let expected = Expectation { operator: Operator::Ge, path: "json.items[0]".into(), expected: json!({"n": 1}) };
        assert_eq!(parsed, Ok(expected));
    }

    #[test]
    fn malformed_entries_say_what_is_wrong() {
        let cases = [
            (json!({"status_code": 200}), ExpectationError::NoOperator),
            (json!({"operator": 1, "status_code": 200}), ExpectationError::NoOperator),
            (json!({"operator": "like", "a": 1}), ExpectationError::UnknownOperator("like".into())),
            (json!({"operator": "eq"}), ExpectationError::PathCount(0)),
            (json!({"operator": "eq", "a": 1, "b": 2}), ExpectationError::PathCount(2)),
        ];
        for (value, error) in cases {
            assert_eq!(Expectation::parse(&entry(value.clone())), Err(error), "{value}");
        }
    }

    #[test]
    fn patterns_must_be_strings_that_compile() {
        assert!(pattern(&json!("^(UP|RUNNING)$")).is_ok_and(|regex| regex.is_match("UP")));
        let error = pattern(&json!(5)).expect_err("not a string");
        assert_eq!(error.to_string(), "regex needs a string pattern, got 5");
        let error = pattern(&json!("(")).expect_err("does not compile");
        assert!(
            matches!(error, PatternError::Invalid(_)) && error.to_string().starts_with("invalid regex:"),
            "{error}"
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(shown(&json!("abc")), "\"abc\"");
        let long = shown(&json!("x".repeat(500)));
        assert_eq!(long.chars().count(), MESSAGE_VALUE_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
