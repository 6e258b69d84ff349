//! The Chaos Toolkit experiment of `misarch.chaosToolkit`: passed to the Chaos Toolkit executor as its JSON text, so
//! it stays a JSON object, checked here by hand the way chaoslib checks it before `chaos run` (the executor's run
//! would otherwise fail where nobody sees it), plus the names and arguments of the MiSArch Docker extension.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::rules::INT_MAX;
use super::{DefinitionError, error};

/// The top-level keys of a Chaos Toolkit experiment (the Chaos Toolkit specification, mirrored by the
/// executor's `ChaosToolkitConfig`).
const CHAOS_TOOLKIT_KEYS: &[&str] = &[
    "version",
    "title",
    "description",
    "tags",
    "contributions",
    "configuration",
    "secrets",
    "extensions",
    "controls",
    "steady-state-hypothesis",
    "method",
    "rollbacks",
    "runtime",
];

/// The MiSArch Docker extension of the Chaos Toolkit executor and its functions; each takes `names`.
pub(super) const MISARCH_DOCKER_MODULE: &str = "misarch_chaostoolkit.chaostoolkit_docker";

const MISARCH_DOCKER_FUNCS: &[&str] = &["are_containers_running", "kill_containers", "start_containers"];

/// The checks chaoslib's `ensure_experiment_is_valid` makes before `chaos run` (the executor's run would
/// otherwise fail unseen), and the MiSArch extension's names and arguments.
pub(super) fn check(chaos: &Map<String, Value>, path: &str) -> Result<(), DefinitionError> {
    check_keys(chaos, path, CHAOS_TOOLKIT_KEYS, |key| match key {
        "steady_state_hypothesis" | "steadyStateHypothesis" | "steady-state" => {
            Some("the Chaos Toolkit key is \"steady-state-hypothesis\"")
        }
        "methods" => Some("the Chaos Toolkit key is \"method\""),
        _ => None,
    })?;

    non_empty_string(required(chaos, path, "title")?, &join(path, "title"))?;
    non_empty_string(required(chaos, path, "description")?, &join(path, "description"))?;
    if let Some(version) = optional(chaos, "version") {
        as_str(version, &join(path, "version"))?;
    }
    if let Some(tags) = optional(chaos, "tags") {
        let tags_path = join(path, "tags");
        for (i, tag) in as_array(tags, &tags_path)?.iter().enumerate() {
            non_empty_string(tag, &index(&tags_path, i))?;
        }
    }
    for key in ["configuration", "secrets", "contributions", "runtime"] {
        if let Some(value) = optional(chaos, key) {
            as_object(value, &join(path, key))?;
        }
    }
    for key in ["extensions", "controls"] {
        if let Some(value) = optional(chaos, key) {
            let list_path = join(path, key);
            for (i, item) in as_array(value, &list_path)?.iter().enumerate() {
                as_object(item, &index(&list_path, i))?;
            }
        }
    }

    let mut names = BTreeSet::new();
    let mut references = Vec::new();

    if let Some(hypothesis) = optional(chaos, "steady-state-hypothesis") {
        let hypothesis_path = join(path, "steady-state-hypothesis");
        let hypothesis = as_object(hypothesis, &hypothesis_path)?;
        non_empty_string(required(hypothesis, &hypothesis_path, "title")?, &join(&hypothesis_path, "title"))?;
        if let Some(probes) = optional(hypothesis, "probes") {
            let probes_path = join(&hypothesis_path, "probes");
            for (i, probe) in as_array(probes, &probes_path)?.iter().enumerate() {
                let probe_path = index(&probes_path, i);
                validate_activity(probe, &probe_path, &mut names, &mut references)?;
                // chaoslib: "hypothesis probe must have a tolerance entry".
                if as_object(probe, &probe_path)?.get("tolerance").is_none() {
                    return Err(error(
                        join(&probe_path, "tolerance"),
                        "is required for a steady-state hypothesis probe",
                    ));
                }
            }
        }
    }

    // chaoslib requires the key, even when empty ("which can be empty for only checking steady state hypothesis").
    let method_path = join(path, "method");
    for (i, activity) in as_array(required(chaos, path, "method")?, &method_path)?.iter().enumerate() {
        validate_activity(activity, &index(&method_path, i), &mut names, &mut references)?;
    }
    if let Some(rollbacks) = optional(chaos, "rollbacks") {
        let rollbacks_path = join(path, "rollbacks");
        for (i, activity) in as_array(rollbacks, &rollbacks_path)?.iter().enumerate() {
            validate_activity(activity, &index(&rollbacks_path, i), &mut names, &mut references)?;
        }
    }

    for (reference, reference_path) in references {
        if !names.contains(&reference) {
            return Err(error(reference_path, format!("refers to \"{reference}\", but no activity has that name")));
        }
    }
    Ok(())
}

fn validate_activity(
    value: &Value,
    path: &str,
    names: &mut BTreeSet<String>,
    references: &mut Vec<(String, String)>,
) -> Result<(), DefinitionError> {
    let activity = as_object(value, path)?;
    if activity.is_empty() {
        return Err(error(path, "an empty activity is no activity"));
    }
    if let Some(reference) = activity.get("ref") {
        let reference_path = join(path, "ref");
        let name = non_empty_string(reference, &reference_path)?;
        references.push((name.to_string(), reference_path));
        return Ok(());
    }

    let type_path = join(path, "type");
    let activity_type = as_str(required(activity, path, "type")?, &type_path)?;
    if !matches!(activity_type, "probe" | "action") {
        return Err(error(type_path, format!("\"{activity_type}\" is not an activity type; expected probe or action")));
    }
    let name = non_empty_string(required(activity, path, "name")?, &join(path, "name"))?;
    names.insert(name.to_string());

    if let Some(timeout) = optional(activity, "timeout") {
        as_number(timeout, &join(path, "timeout"))?;
    }
    if let Some(background) = activity.get("background")
        && !background.is_boolean()
    {
        return Err(error(join(path, "background"), format!("must be true or false, found {}", kind(background))));
    }
    if let Some(pauses) = optional(activity, "pauses") {
        let pauses_path = join(path, "pauses");
        let pauses = as_object(pauses, &pauses_path)?;
        check_keys(pauses, &pauses_path, &["before", "after"], |_| None)?;
        for key in ["before", "after"] {
            if let Some(pause) = optional(pauses, key) {
                validate_chaos_pause(pause, &join(&pauses_path, key))?;
            }
        }
    }

    let provider_path = join(path, "provider");
    let provider = as_object(required(activity, path, "provider")?, &provider_path)?;
    let provider_type_path = join(&provider_path, "type");
    match as_str(required(provider, &provider_path, "type")?, &provider_type_path)? {
        "python" => validate_python_provider(provider, &provider_path),
        "process" => {
            non_empty_string(required(provider, &provider_path, "path")?, &join(&provider_path, "path")).map(drop)
        }
        "http" => {
            non_empty_string(required(provider, &provider_path, "url")?, &join(&provider_path, "url"))?;
            match optional(provider, "headers") {
                Some(headers) => as_object(headers, &join(&provider_path, "headers")).map(drop),
                None => Ok(()),
            }
        }
        other => Err(error(
            provider_type_path,
            format!("unknown provider type \"{other}\"; expected python, process or http"),
        )),
    }
}

/// chaoslib accepts a number of seconds or a `${name}` pattern resolved from the configuration or secrets.
fn validate_chaos_pause(value: &Value, path: &str) -> Result<(), DefinitionError> {
    match value {
        Value::String(pattern) if pattern.starts_with("${") && pattern.ends_with('}') => Ok(()),
        // The executor's own model (`Pause`) holds Kotlin Ints.
        Value::Number(number) if number.as_f64().is_some_and(|seconds| (0.0..=INT_MAX as f64).contains(&seconds)) => {
            Ok(())
        }
        Value::Number(number) => Err(error(path, format!("{number} is out of range 0 to {INT_MAX} seconds"))),
        other => Err(error(path, format!("must be a number of seconds or a ${{name}} pattern, found {}", kind(other)))),
    }
}

fn validate_python_provider(provider: &Map<String, Value>, path: &str) -> Result<(), DefinitionError> {
    let module_path = join(path, "module");
    let module = non_empty_string(required(provider, path, "module")?, &module_path)?;
    let func_path = join(path, "func");
    let func = non_empty_string(required(provider, path, "func")?, &func_path)?;
    let arguments_path = join(path, "arguments");
    let arguments = match optional(provider, "arguments") {
        Some(arguments) => Some(as_object(arguments, &arguments_path)?),
        None => None,
    };

    if func == "wait_for_trigger" {
        return Err(error(
            func_path,
            "the Chaos Toolkit executor waits for the trigger itself before `chaos run`; remove this action",
        ));
    }
    if module == "chaostoolkit_docker" {
        return Err(error(module_path, format!("the MiSArch Docker extension is now \"{MISARCH_DOCKER_MODULE}\"")));
    }
    if module == MISARCH_DOCKER_MODULE {
        if !MISARCH_DOCKER_FUNCS.contains(&func) {
            return Err(error(
                func_path,
                format!(
                    "\"{func}\" is not in {MISARCH_DOCKER_MODULE}; expected one of {}",
                    MISARCH_DOCKER_FUNCS.join(", ")
                ),
            ));
        }
        let names_path = join(&arguments_path, "names");
        let names = arguments.and_then(|arguments| optional(arguments, "names")).ok_or_else(|| {
            error(&names_path, "is required: the container names, e.g. \"infrastructure-docker-gateway-1\"")
        })?;
        let names = as_array(names, &names_path)?;
        if names.is_empty() {
            return Err(error(&names_path, "must name at least one container"));
        }
        for (i, name) in names.iter().enumerate() {
            non_empty_string(name, &index(&names_path, i))?;
        }
        if let Some(arguments) = arguments {
            check_keys(arguments, &arguments_path, &["names"], |_| None)?;
        }
    }
    Ok(())
}

fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Refuses keys outside `allowed`, naming the first and listing the others; `hint` may explain a likely
/// mix-up (a MiSArch field that eris sets itself, a key spelt as in another format).
fn check_keys(
    object: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
    hint: impl Fn(&str) -> Option<&'static str>,
) -> Result<(), DefinitionError> {
    let unknown: Vec<&String> = object.keys().filter(|key| !allowed.contains(&key.as_str())).collect();
    let Some(first) = unknown.first() else {
        return Ok(());
    };
    let mut message = match hint(first) {
        Some(hint) => format!("unknown field: {hint}"),
        None => format!("unknown field; expected only {}", allowed.join(", ")),
    };
    if unknown.len() > 1 {
        let others: Vec<&str> = unknown[1..].iter().map(|key| key.as_str()).collect();
        message.push_str(&format!(" (also unknown: {})", others.join(", ")));
    }
    Err(error(join(path, first), message))
}

/// A member that must be present and not null.
fn required<'a>(object: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, DefinitionError> {
    match object.get(key) {
        None => Err(error(join(path, key), "is required")),
        Some(Value::Null) => Err(error(join(path, key), "is required and must not be null")),
        Some(value) => Ok(value),
    }
}

/// A member that may be absent or null (MiSArch's nullable fields are written as `null` by Jackson).
fn optional<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, DefinitionError> {
    value.as_object().ok_or_else(|| error(path, format!("must be an object, found {}", kind(value))))
}

fn as_array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, DefinitionError> {
    value.as_array().ok_or_else(|| error(path, format!("must be an array, found {}", kind(value))))
}

fn as_str<'a>(value: &'a Value, path: &str) -> Result<&'a str, DefinitionError> {
    value.as_str().ok_or_else(|| error(path, format!("must be a string, found {}", kind(value))))
}

fn non_empty_string<'a>(value: &'a Value, path: &str) -> Result<&'a str, DefinitionError> {
    let text = as_str(value, path)?;
    if text.trim().is_empty() {
        return Err(error(path, "must not be empty"));
    }
    Ok(text)
}

fn as_number(value: &Value, path: &str) -> Result<f64, DefinitionError> {
    match value {
        Value::Number(number) => number.as_f64().ok_or_else(|| error(path, "must be a finite number")),
        Value::String(text) if text.trim().parse::<f64>().is_ok() => {
            Err(error(path, format!("must be a JSON number, not a string: write {} without quotes", text.trim())))
        }
        other => Err(error(path, format!("must be a number, found {}", kind(other)))),
    }
}
