//! Parameters rendered into step arguments.
//!
//! Kallisti rendered `json.dumps(where)` as Jinja text and parsed the result back, so every parameter came out as a
//! string and a `"` inside a value broke the JSON. Here templates are resolved on the JSON tree itself, one string at a
//! time, so a value can never change the structure around it and keeps its JSON type when it stands alone.
//!
//! Syntax, for users:
//! - `{{ name }}`, whitespace inside the braces optional; names are ASCII letters, digits, `_`, `-`, `.`, looked up as
//!   a flat key of the merged parameters (`{{ db.host }}` is the parameter named "db.host", not a nested lookup).
//! - `{{{{` is an escape for a literal `{{` (so `{{{{ x }}` renders as the text `{{ x }}`); a lone `}}` is literal.
//! - `{{{ x }}` (three braces) is malformed: after the opening `{{` the name would start with `{`.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub type JsonObject = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Every missing name, sorted and de-duplicated; the message names them all: "missing parameter(s): 'a', 'b'".
    #[error("missing parameter(s): {}", quoted_list(.0))]
    Missing(Vec<String>),
    /// A malformed template; `at` is where (e.g. "steps[1].where.url"), `reason` says what is wrong.
    #[error("malformed template at {at}: {reason}")]
    Malformed { at: String, reason: String },
}

fn quoted_list(names: &[String]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// Parameters with later layers overriding earlier ones: experiment < schedule < trial.
///
/// The override is shallow: a later layer replaces a whole parameter value, objects are not merged key by key, so a
/// trial can always state a parameter exactly without inheriting stray fields from the experiment.
pub fn merge(layers: &[&JsonObject]) -> JsonObject {
    let mut merged = JsonObject::new();
    for layer in layers {
        for (name, value) in layer.iter() {
            merged.insert(name.clone(), value.clone());
        }
    }
    merged
}

/// Renders `{{ name }}` templates in every string inside `value` (object values and array items, recursively; object
/// keys are not rendered). `at` is the path of `value`, used in errors and extended as we descend
/// (`where.headers.X-Token`, `where.items[2]`).
///
/// A string that is exactly one template (whitespace around it allowed) becomes the parameter's JSON value with its
/// type kept; a template inside a longer string is replaced by the parameter's text (a string as-is, anything else as
/// compact JSON). Rendering is one pass: values are never rendered again.
///
/// A malformed template fails at once; otherwise every missing name in the whole value is collected before failing.
pub fn render(value: &Value, parameters: &JsonObject, at: &str) -> Result<Value, TemplateError> {
    let mut missing = BTreeSet::new();
    let rendered = render_value(value, parameters, at, &mut missing)?;
    if missing.is_empty() { Ok(rendered) } else { Err(TemplateError::Missing(missing.into_iter().collect())) }
}

/// The names used by templates in `value` (sorted, de-duplicated), for checking before anything runs.
///
/// Strings with a malformed template contribute nothing here; `render` reports them.
pub fn names(value: &Value) -> Vec<String> {
    let mut found = BTreeSet::new();
    collect_names(value, &mut found);
    found.into_iter().collect()
}

/// Whether rendering may change `text`: it holds `{{` (a template, the `{{{{` escape, or a malformed template, which
/// rendering reports). Checks made when an experiment is written leave such a value to the trial that renders it.
pub fn is_template(text: &str) -> bool {
    text.contains("{{")
}

fn collect_names(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            if let Ok(segments) = parse(s) {
                for segment in segments {
                    if let Segment::Param(name) = segment {
                        found.insert(name.to_string());
                    }
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_names(item, found)),
        Value::Object(map) => map.values().for_each(|item| collect_names(item, found)),
        _ => {}
    }
}

fn child_path(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_string() } else { format!("{at}.{key}") }
}

fn render_value(
    value: &Value,
    parameters: &JsonObject,
    at: &str,
    missing: &mut BTreeSet<String>,
) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) => render_string(s, parameters, at, missing)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| render_value(item, parameters, &format!("{at}[{i}]"), missing))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), render_value(item, parameters, &child_path(at, key), missing)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

fn render_string(
    s: &str,
    parameters: &JsonObject,
    at: &str,
    missing: &mut BTreeSet<String>,
) -> Result<Value, TemplateError> {
    let segments = parse(s).map_err(|reason| TemplateError::Malformed { at: at.to_string(), reason })?;
    if let Some(name) = sole_param(&segments) {
        return Ok(match parameters.get(name) {
            Some(value) => value.clone(),
            None => {
                missing.insert(name.to_string());
                Value::Null
            }
        });
    }
    let mut out = String::with_capacity(s.len());
    for segment in segments {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Param(name) => match parameters.get(name) {
                Some(Value::String(text)) => out.push_str(text),
                Some(other) => out.push_str(&other.to_string()),
                None => {
                    missing.insert(name.to_string());
                }
            },
        }
    }
    Ok(Value::String(out))
}

#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Text(&'a str),
    Param(&'a str),
}

/// The one template of a string made of a single template and whitespace; such strings keep the value's JSON type.
fn sole_param<'a>(segments: &[Segment<'a>]) -> Option<&'a str> {
    let mut sole = None;
    for segment in segments {
        match segment {
            Segment::Text(text) if text.trim().is_empty() => {}
            Segment::Text(_) => return None,
            Segment::Param(name) if sole.is_none() => sole = Some(*name),
            Segment::Param(_) => return None,
        }
    }
    sole
}

fn parse(s: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut segments = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            segments.push(Segment::Text(&rest[..open]));
        }
        let offset = s.len() - rest.len() + open;
        let after = &rest[open + 2..];
        // `{{{{` is the only way to write a literal `{{`, since names cannot contain quotes to spell one out.
        if let Some(escaped) = after.strip_prefix("{{") {
            segments.push(Segment::Text("{{"));
            rest = escaped;
            continue;
        }
        let close = after.find("}}").ok_or_else(|| format!("'{{{{' at offset {offset} has no closing '}}}}'"))?;
        let name = after[..close].trim();
        if name.is_empty() {
            return Err(format!("empty parameter name at offset {offset}"));
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(format!(
                "invalid parameter name '{name}' at offset {offset} (allowed: ASCII letters, digits, '_', '-', '.')"
            ));
        }
        segments.push(Segment::Param(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> JsonObject {
        match value {
            Value::Object(map) => map,
            _ => panic!("test parameters must be an object"),
        }
    }

    fn malformed_at(result: Result<Value, TemplateError>) -> String {
        match result {
            Err(TemplateError::Malformed { at, .. }) => at,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn merge_later_layers_override_whole_values() {
        let experiment = params(json!({"host": "a", "port": 1, "opts": {"x": 1, "y": 2}}));
        let schedule = params(json!({"port": 2}));
        let trial = params(json!({"port": 3, "opts": {"x": 9}}));
        let merged = merge(&[&experiment, &schedule, &trial]);
        assert_eq!(Value::Object(merged), json!({"host": "a", "port": 3, "opts": {"x": 9}}));
        assert!(merge(&[]).is_empty());
    }

    #[test]
    fn sole_template_keeps_json_type() {
        let p = params(json!({"port": 8080, "on": true, "nothing": null, "list": [1, "a"], "obj": {"k": "v"}}));
        let value = json!({"a": "{{ port }}", "b": " {{on}} ", "c": "{{nothing}}", "d": "{{ list }}", "e": "{{obj}}"});
        let rendered = render(&value, &p, "where");
        assert_eq!(rendered, Ok(json!({"a": 8080, "b": true, "c": null, "d": [1, "a"], "e": {"k": "v"}})));
    }

    #[test]
    fn embedded_template_renders_text() {
        let p = params(json!({"host": "example.org", "port": 8080, "tags": ["a", "b"], "q": {"k": 1}}));
        let value = json!("http://{{ host }}:{{port}}/x?t={{tags}}&q={{ q }}");
        assert_eq!(render(&value, &p, ""), Ok(json!(r#"http://example.org:8080/x?t=["a","b"]&q={"k":1}"#)));
        // Two templates are text even when only whitespace separates them.
        let p = params(json!({"a": 1, "b": 2}));
        assert_eq!(render(&json!("{{a}} {{b}}"), &p, ""), Ok(json!("1 2")));
    }

    #[test]
    fn quotes_and_backslashes_in_values_stay_intact() {
        let p = params(json!({"v": "say \"hi\" \\ bye\n", "ü": 1}));
        let value = json!({"body": "{\"msg\": \"{{ v }}\"}", "raw": "{{v}}"});
        let rendered = render(&value, &p, "where");
        assert_eq!(rendered, Ok(json!({"body": "{\"msg\": \"say \"hi\" \\ bye\n\"}", "raw": "say \"hi\" \\ bye\n"})));
    }

    #[test]
    fn rendering_is_single_pass() {
        let p = params(json!({"evil": "{{ secret }}", "secret": "s3cr3t"}));
        let value = json!({"a": "{{ evil }}", "b": "x {{ evil }} y"});
        assert_eq!(render(&value, &p, ""), Ok(json!({"a": "{{ secret }}", "b": "x {{ secret }} y"})));
    }

    #[test]
    fn object_keys_and_non_strings_are_untouched() {
        let p = params(json!({"k": "v"}));
        let value = json!({"{{ k }}": "{{ k }}", "n": 1, "b": false, "z": null});
        assert_eq!(render(&value, &p, ""), Ok(json!({"{{ k }}": "v", "n": 1, "b": false, "z": null})));
        assert_eq!(names(&json!({"{{ k }}": 1})), Vec::<String>::new());
    }

    #[test]
    fn missing_names_are_all_collected_sorted() {
        let p = params(json!({"present": 1}));
        let value = json!({"a": "{{ zeta }}", "b": ["x{{alpha}}", {"c": "{{ zeta }}-{{ mid }}"}], "d": "{{present}}"});
        let err = render(&value, &p, "steps[0].where");
        assert_eq!(err, Err(TemplateError::Missing(vec!["alpha".into(), "mid".into(), "zeta".into()])));
        if let Err(e) = err {
            assert_eq!(e.to_string(), "missing parameter(s): 'alpha', 'mid', 'zeta'");
        }
    }

    #[test]
    fn malformed_reports_path_of_the_string() {
        let p = JsonObject::new();
        assert_eq!(malformed_at(render(&json!({"url": "http://{{ host"}), &p, "steps[1].where")), "steps[1].where.url");
        let value = json!({"headers": {"X-Token": "{{ }}"}});
        assert_eq!(malformed_at(render(&value, &p, "where")), "where.headers.X-Token");
        let value = json!({"items": [1, "ok", "{{ a b }}"]});
        assert_eq!(malformed_at(render(&value, &p, "where")), "where.items[2]");
        assert_eq!(malformed_at(render(&json!(["{{x"]), &p, "")), "[0]");
    }

    #[test]
    fn malformed_message_names_the_problem() {
        let err = render(&json!("a {{ b"), &JsonObject::new(), "where.url");
        let Err(e) = err else { panic!("expected an error") };
        assert_eq!(e.to_string(), "malformed template at where.url: '{{' at offset 2 has no closing '}}'");
    }

    #[test]
    fn malformed_wins_over_missing() {
        let value = json!(["{{ missing }}", "{{ bad"]);
        assert_eq!(malformed_at(render(&value, &JsonObject::new(), "where")), "where[1]");
    }

    #[test]
    fn lone_closing_braces_are_literal() {
        let p = params(json!({"a": 1}));
        assert_eq!(render(&json!("}} {{a}} }}}"), &p, ""), Ok(json!("}} 1 }}}")));
        assert_eq!(render(&json!("{{ a }}}"), &p, ""), Ok(json!("1}")));
    }

    #[test]
    fn quadruple_brace_is_a_literal_open() {
        let p = params(json!({"x": 5}));
        assert_eq!(render(&json!("{{{{ x }}"), &p, ""), Ok(json!("{{ x }}")));
        assert_eq!(render(&json!("{{{{{{x}}"), &p, ""), Ok(json!("{{5")));
        assert_eq!(render(&json!("{{{{"), &p, ""), Ok(json!("{{")));
        assert_eq!(names(&json!("{{{{ x }} {{{{y}}")), Vec::<String>::new());
    }

    #[test]
    fn triple_brace_is_malformed() {
        assert!(matches!(render(&json!("{{{ x }}}"), &JsonObject::new(), ""), Err(TemplateError::Malformed { .. })));
    }

    #[test]
    fn name_characters_are_checked() {
        let p = params(json!({"a.b-c_1": "ok"}));
        assert_eq!(render(&json!("{{a.b-c_1}}"), &p, ""), Ok(json!("ok")));
        for bad in ["{{ a/b }}", "{{ \"a\" }}", "{{ é }}", "{{ a b }}"] {
            assert!(matches!(render(&json!(bad), &p, ""), Err(TemplateError::Malformed { .. })), "{bad}");
        }
    }

    #[test]
    fn names_are_sorted_deduplicated_and_skip_malformed() {
        let value = json!({"a": "{{ b }} {{a}}", "l": ["{{ b }}", {"x": "{{c}}"}], "bad": "{{ d", "n": 3});
        assert_eq!(names(&value), vec!["a", "b", "c"]);
    }

    #[test]
    fn unicode_text_around_templates() {
        let p = params(json!({"n": "wörld"}));
        assert_eq!(render(&json!("héllo {{n}} ✓"), &p, ""), Ok(json!("héllo wörld ✓")));
    }
}
