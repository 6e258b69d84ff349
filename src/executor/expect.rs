//! Evaluating expectations ([`crate::expectation`], `{"operator": "eq|ne|lt|le|gt|ge|regex", "<path>": expected}`)
//! on a step's result.
//!
//! Kallisti built a Python expression and `eval`ed it; here each operator is a plain comparison, and every problem
//! (bad path, bad pattern, non-numeric ordering) becomes a failed outcome rather than an error or a panic.
//!
//! Path syntax, for users:
//! - optional leading `$.` or `$` (`$` alone is the whole result); dot-separated keys; array indices `items[0]`;
//!   keys containing dots or brackets as `headers["content-type"]` or `headers['x.y']` (no escapes inside quotes:
//!   use the other quote character).
//! - first segment aliases for Kallisti users, used only when the result has no such key: `response` → `json`,
//!   `response_text` → `body`, `response_headers` → `headers`, and `value` alone → the whole result.
//! - a key directly under `headers` matches case-insensitively when there is no exact match (HTTP header names are).

use serde_json::{Map, Value};
use std::cmp::Ordering;

use crate::expectation::{self, Expectation, Operator, shown};

pub type JsonObject = Map<String, Value>;

/// One expectation's verdict, kept in the trial record and read back from it: `actual` is `None` when the path did
/// not resolve or the expectation itself was malformed. `operator` is the text the expectation gave, so a malformed
/// one is recorded as written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub operator: String,
    pub path: String,
    pub expected: Value,
    pub actual: Option<Value>,
    pub passed: bool,
    pub message: String,
}

/// Never panics and never errors: a malformed expectation is reported as a failed outcome, because the step's record
/// should show what went wrong next to the expectations that did run.
pub fn evaluate(entry: &JsonObject, result: &Value) -> Outcome {
    let expectation = match Expectation::parse(entry) {
        Ok(expectation) => expectation,
        Err(error) => return malformed(entry, &error),
    };
    let Expectation { operator, path, expected } = expectation;
    let (actual, verdict) = judge(operator, &path, &expected, result);
    let (passed, message) = match verdict {
        Ok(message) => (true, message),
        Err(message) => (false, message),
    };
    Outcome { operator: operator.name().to_owned(), path, expected, actual: actual.cloned(), passed, message }
}

/// The outcome of an expectation that is not one: as much of it as can be told, and why.
fn malformed(entry: &JsonObject, error: &expectation::ExpectationError) -> Outcome {
    let operator = match entry.get("operator") {
        Some(Value::String(operator)) => operator.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let pairs: Vec<_> = entry.iter().filter(|(key, _)| key.as_str() != "operator").collect();
    let path = pairs.first().map(|(path, _)| path.to_string()).unwrap_or_default();
    let expected = match pairs.as_slice() {
        [(_, expected)] => (*expected).clone(),
        _ => Value::Null,
    };
    let message = format!("invalid expectation: {error}");
    Outcome { operator, path, expected, actual: None, passed: false, message }
}

/// Every expectation is evaluated, not just up to the first failure, so a record shows the full picture.
pub fn evaluate_all(expectations: &[JsonObject], result: &Value) -> Vec<Outcome> {
    expectations.iter().map(|expectation| evaluate(expectation, result)).collect()
}

/// The resolved value, if any, and the message: `Ok` when the expectation passed.
type Verdict<'a> = (Option<&'a Value>, Result<String, String>);

fn judge<'a>(operator: Operator, path: &str, expected: &Value, result: &'a Value) -> Verdict<'a> {
    let segments = match parse_path(path) {
        Ok(segments) => segments,
        Err(reason) => return (None, Err(format!("invalid path '{path}': {reason}"))),
    };
    let Some(actual) = resolve(&segments, result) else {
        return (None, Err(format!("{path} not found in the result")));
    };
    let verdict = match compare(operator, actual, expected) {
        Ok(true) => Ok(format!("passed: {path} {operator} {}", shown(expected))),
        Ok(false) => Err(format!("{path}: expected {} ({operator}), got {}", shown(expected), shown(actual))),
        Err(reason) => Err(format!("{path}: {reason}")),
    };
    (Some(actual), verdict)
}

/// `Ok(passed)`, or `Err` when the operator cannot apply to these values at all.
fn compare(operator: Operator, actual: &Value, expected: &Value) -> Result<bool, String> {
    let ordering = numeric_cmp(actual, expected);
    let ordered = |test: fn(Ordering) -> bool| match ordering {
        Some(ordering) => Ok(test(ordering)),
        // No lexicographic fallback: "10" lt "9" being true for strings would be a silent trap.
        None => Err(format!("{operator} needs numbers on both sides, got {} and {}", shown(actual), shown(expected))),
    };
    match operator {
        Operator::Eq => Ok(ordering.map_or_else(|| actual == expected, Ordering::is_eq)),
        Operator::Ne => Ok(ordering.map_or_else(|| actual != expected, Ordering::is_ne)),
        Operator::Lt => ordered(Ordering::is_lt),
        Operator::Le => ordered(Ordering::is_le),
        Operator::Gt => ordered(Ordering::is_gt),
        Operator::Ge => ordered(Ordering::is_ge),
        Operator::Regex => {
            let regex = expectation::pattern(expected).map_err(|error| error.to_string())?;
            Ok(match actual {
                Value::String(text) => regex.is_match(text),
                other => regex.is_match(&other.to_string()),
            })
        }
    }
}

/// Both sides as numbers (JSON numbers or numeric strings), integers compared exactly so ids beyond 2^53 still work.
fn numeric_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (as_integer(a), as_integer(b)) {
        return Some(a.cmp(&b));
    }
    as_float(a)?.partial_cmp(&as_float(b)?)
}

fn as_integer(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_float(value: &Value) -> Option<f64> {
    let float = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    float.is_finite().then_some(float)
}

enum Segment {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Segment>, String> {
    let trimmed = path.trim();
    if trimmed.is_empty() {
        return Err("empty path (use '$' for the whole result)".to_string());
    }
    let mut rest = trimmed.strip_prefix("$.").or_else(|| trimmed.strip_prefix('$')).unwrap_or(trimmed);
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            rest = bracket(after, &mut segments)?;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end == 0 {
                return Err("empty key".to_string());
            }
            segments.push(Segment::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
        if rest.is_empty() || rest.starts_with('[') {
            continue;
        }
        rest = rest.strip_prefix('.').ok_or_else(|| format!("expected '.' or '[' before '{rest}'"))?;
        if rest.is_empty() {
            return Err("path ends with '.'".to_string());
        }
    }
    Ok(segments)
}

/// Parses what follows a `[`; returns the text after the closing `]`.
fn bracket<'a>(after: &'a str, segments: &mut Vec<Segment>) -> Result<&'a str, String> {
    if let Some(quote) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let inner = &after[1..];
        let end = inner.find(quote).ok_or_else(|| format!("unclosed {quote} in brackets"))?;
        let tail = inner[end + 1..].strip_prefix(']').ok_or_else(|| "expected ']' after quoted key".to_string())?;
        segments.push(Segment::Key(inner[..end].to_string()));
        return Ok(tail);
    }
    let end = after.find(']').ok_or_else(|| "unclosed '['".to_string())?;
    let content = after[..end].trim();
    let index = content
        .parse()
        .map_err(|_| format!("'[{content}]' must hold a non-negative index or a quoted key like [\"a.b\"]"))?;
    segments.push(Segment::Index(index));
    Ok(&after[end + 1..])
}

/// First-segment names from Kallisti's HTTP result, tried only when the result has no such key.
const ALIASES: [(&str, &str); 3] = [("response", "json"), ("response_text", "body"), ("response_headers", "headers")];

fn resolve<'a>(segments: &[Segment], result: &'a Value) -> Option<&'a Value> {
    let Some((first, rest)) = segments.split_first() else { return Some(result) };
    let (mut current, in_headers) = match first {
        Segment::Index(i) => (result.get(i)?, false),
        Segment::Key(key) => match result.get(key.as_str()) {
            Some(found) => (found, key == "headers"),
            None if key == "value" && rest.is_empty() => (result, false),
            None => {
                let (_, canonical) = ALIASES.iter().find(|(alias, _)| alias == key)?;
                (result.get(*canonical)?, *canonical == "headers")
            }
        },
    };
    for (depth, segment) in rest.iter().enumerate() {
        current = match segment {
            Segment::Index(i) => current.get(i)?,
            Segment::Key(key) => match current.get(key.as_str()) {
                Some(found) => found,
                None if in_headers && depth == 0 => {
                    current.as_object()?.iter().find(|(name, _)| name.eq_ignore_ascii_case(key))?.1
                }
                None => return None,
            },
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn http_result() -> Value {
        json!({
            "status_code": 200,
            "headers": {"content-type": "application/json", "x.y": "dotted"},
            "body": "{\"status\":\"UP\"}",
            "json": {"status": "UP", "items": [{"n": 1}, {"n": 2}], "id": "9007199254740993"},
            "elapsed_ms": 12
        })
    }

    fn object(value: Value) -> JsonObject {
        serde_json::from_value(value).unwrap_or_default()
    }

    fn check(operator: &str, path: &str, expected: Value, result: &Value) -> Outcome {
        evaluate(&object(json!({"operator": operator, path: expected})), result)
    }

    /// JSON text keeps the tables dense: `[[operator, path, expected, passed, result (default: the HTTP result)]]`.
    fn assert_cases(cases: &str) {
        let cases: Vec<Vec<Value>> = serde_json::from_str(cases).unwrap_or_default();
        assert!(!cases.is_empty(), "bad case table");
        for case in cases {
            let (operator, path) = (case[0].as_str().unwrap_or_default(), case[1].as_str().unwrap_or_default());
            let result = case.get(4).cloned().unwrap_or_else(http_result);
            let outcome = check(operator, path, case[2].clone(), &result);
            assert_eq!(Some(outcome.passed), case[3].as_bool(), "{case:?}: {}", outcome.message);
        }
    }

    #[test]
    fn eq_passes_and_fails_with_messages() {
        let passed = check("eq", "status_code", json!(200), &http_result());
        assert_eq!((passed.passed, passed.actual), (true, Some(json!(200))));
        assert_eq!(passed.message, "passed: status_code eq 200");
        let failed = check("eq", "status_code", json!(200), &json!({"status_code": 503}));
        assert_eq!((failed.passed, failed.operator.as_str(), failed.path.as_str()), (false, "eq", "status_code"));
        assert_eq!(failed.message, "status_code: expected 200 (eq), got 503");
        // Values are cut in messages only, so a large body cannot flood a trial's log.
        let long = "x".repeat(500);
        let outcome = check("eq", "a", json!("y"), &json!({"a": long}));
        assert!(outcome.message.chars().count() < 260 && outcome.actual == Some(json!(long)), "{}", outcome.message);
    }

    #[test]
    fn numbers_compare_as_numbers_and_ordering_needs_them() {
        let outcome = check("lt", "json.status", json!("V"), &http_result());
        assert_eq!((outcome.passed, outcome.actual), (false, Some(json!("UP"))));
        assert_eq!(outcome.message, "json.status: lt needs numbers on both sides, got \"UP\" and \"V\"");
        assert_cases(
            r#"[["eq", "a", 200, true, {"a": "200"}], ["eq", "a", "200", true, {"a": 200.0}],
                ["lt", "a", 13, true, {"a": " 12 "}], ["ge", "a", 999.5, true, {"a": "1e3"}],
                ["ne", "a", 200.0, false, {"a": "200"}],
                ["lt", "a", 6, true, {"a": 5}], ["lt", "a", 5, false, {"a": 5}], ["le", "a", 5, true, {"a": 5}],
                ["gt", "a", 4, true, {"a": 5}], ["gt", "a", 5, false, {"a": 5}], ["ge", "a", 5, true, {"a": 5}],
                ["ge", "a", 6, false, {"a": 5}],
                ["ne", "json.id", 9007199254740992, true], ["gt", "json.id", 9007199254740992, true],
                ["gt", "a", 1, false, {"a": "NaN"}], ["gt", "a", 1, false, {"a": true}],
                ["lt", "a", "b", false, {"a": "a"}]]"#,
        );
    }

    #[test]
    fn eq_is_structural_for_non_numbers() {
        assert_cases(
            r#"[["eq", "json.items[1]", {"n": 2}, true], ["eq", "json.status", "UP", true],
                ["ne", "json.status", "DOWN", true], ["eq", "json.status", ["UP"], false],
                ["eq", "x", "true", false, {"x": true}], ["eq", "x", null, true, {"x": null}]]"#,
        );
    }

    #[test]
    fn regex_searches_unanchored_and_reports_bad_patterns() {
        assert_cases(
            r#"[["regex", "body", "\"UP\"", true], ["regex", "body", "^UP$", false],
                ["regex", "json.status", "^UP$", true], ["regex", "status_code", "^2\\d\\d$", true],
                ["regex", "json.items", "\\{\"n\":2\\}", true]]"#,
        );
        let outcome = check("regex", "body", json!("(unclosed"), &http_result());
        assert!(!outcome.passed && outcome.message.starts_with("body: invalid regex:"), "{}", outcome.message);
        let outcome = check("regex", "body", json!(5), &http_result());
        assert_eq!(outcome.message, "body: regex needs a string pattern, got 5");
        // A pattern that would compile to more than 1 MiB is refused.
        let outcome = check("regex", "body", json!("(a{1000}){1000}"), &http_result());
        assert!(!outcome.passed && outcome.message.contains("exceeds size limit"), "{}", outcome.message);
    }

    #[test]
    fn path_syntax() {
        assert_cases(
            r#"[["eq", "$.json.items[0].n", 1, true], ["eq", "$json.items[0].n", 1, true],
                ["eq", "json.items[0].n", 1, true], ["eq", "json[\"items\"][ 0 ]['n']", 1, true],
                ["eq", "headers[\"content-type\"]", "application/json", true], ["eq", "headers['x.y']", "dotted", true],
                ["eq", "$['status_code']", 200, true], ["eq", "$[1]", "b", true, ["a", "b"]],
                ["eq", "$", [1], true, [1]]]"#,
        );
    }

    #[test]
    fn kallisti_aliases_and_header_case() {
        assert_cases(
            r#"[["eq", "response.status", "UP", true], ["regex", "response_text", "UP", true],
                ["eq", "response_headers[\"content-type\"]", "application/json", true],
                ["ge", "value", 3, true, 3], ["eq", "value", {"elapsed_ms": 1000}, true, {"elapsed_ms": 1000}],
                ["eq", "value", 1, true, {"value": 1}],
                ["eq", "response", "raw", true, {"response": "raw", "json": {}}],
                ["eq", "headers.Content-Type", "application/json", true],
                ["eq", "response_headers['CONTENT-TYPE']", "application/json", true],
                ["eq", "json.Status", "UP", false]]"#,
        );
    }

    #[test]
    fn unresolved_path_fails_with_no_actual() {
        for path in ["json.missing", "json.items[5]", "status_code.x", "json.items.n", "elapsed_ms[0]"] {
            let outcome = check("eq", path, json!(1), &http_result());
            assert_eq!((outcome.passed, outcome.actual), (false, None));
            assert_eq!(outcome.message, format!("{path} not found in the result"));
        }
    }

    #[test]
    fn invalid_paths_fail() {
        for path in ["", "a..b", "a.", "a[", "a[x]", "a[-1]", "a[0]b", "a['b'", "a['b'x]", ".a"] {
            let outcome = check("eq", path, json!(1), &json!({"a": [1]}));
            assert!(!outcome.passed && outcome.message.starts_with(&format!("invalid path '{path}'")), "{path}");
        }
    }

    #[test]
    fn malformed_expectations_fail() {
        let cases = r#"[{"status_code": 200}, {"operator": "like", "status_code": 200},
            {"operator": 1, "status_code": 200}, {"operator": "eq"},
            {"operator": "eq", "status_code": 200, "elapsed_ms": 12}]"#;
        let cases: Vec<JsonObject> = serde_json::from_str(cases).unwrap_or_default();
        assert_eq!(cases.len(), 5);
        for case in cases {
            let outcome = evaluate(&case, &http_result());
            assert!(!outcome.passed && outcome.message.starts_with("invalid expectation:"), "{case:?}");
        }
    }

    #[test]
    fn evaluate_all_keeps_order_and_serializes() {
        let expectations = [
            object(json!({"operator": "eq", "status_code": 200})),
            object(json!({"operator": "lt", "elapsed_ms": 10})),
        ];
        let outcomes = evaluate_all(&expectations, &http_result());
        assert_eq!(outcomes.iter().map(|o| o.passed).collect::<Vec<_>>(), [true, false]);
        let expected = json!({"operator": "lt", "path": "elapsed_ms", "expected": 10, "actual": 12, "passed": false,
            "message": "elapsed_ms: expected 10 (lt), got 12"});
        assert_eq!(serde_json::to_value(&outcomes[1]).ok(), Some(expected.clone()));
        assert_eq!(serde_json::from_value::<Outcome>(expected).ok().as_ref(), outcomes.get(1));
        let missing = serde_json::to_value(check("eq", "nope", json!(1), &json!({}))).ok();
        assert_eq!(missing.and_then(|v| v.get("actual").cloned()), Some(Value::Null));
    }
}
