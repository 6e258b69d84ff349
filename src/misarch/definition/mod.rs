//! The `misarch` section of an experiment: a MiSArch experiment in the formats of the MiSArch Experiment Executor,
//! read into typed values and checked completely when the experiment is written (see `docs/misarch.md`).
//!
//! The original executor checks nothing when a configuration is stored and fails, often silently, in the middle of a
//! run. Everything a component or the original's run-time parser would reject is therefore rejected here, with the
//! path of the offending field, so that a trial never starts with a configuration that cannot run. The shape is
//! serde's ([`shape`]); what types cannot say is in [`rules`] and, for the Chaos Toolkit experiment, which stays a
//! JSON object, in [`chaos_toolkit`]. A stored definition is read back with plain serde, without the rules again.
//!
//! The wire names and shapes are MiSArch's, and MiSArch's own files are read as MiSArch writes them (a string
//! threshold, whole floats, partial objects, one object where a list may go), normalised once. One deliberate
//! difference: `testUUID`/`testVersion` are not part of the definition (eris assigns them per trial, see
//! `components::test_identity`).

mod chaos_toolkit;
mod rules;
mod shape;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use crate::misarch::goals::Goal;
use rules::INT_MAX;

/// Above this many user steps MainSimulation injects per minute instead of per second.
const GATLING_PER_SECOND_STEPS: usize = 3600;

/// The root of every field path: the experiment's `misarch` member.
const ROOT: &str = "misarch";

/// A validation error naming the field: `field` is a path from the experiment root, e.g.
/// "misarch.gatling[0].encodedWorkFileContent", "misarch.goals[2].threshold",
/// "misarch.misarchFailures[1].failures[0].pubSubDeterioration.delay".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DefinitionError {
    pub field: String,
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> DefinitionError {
    DefinitionError { field: field.into(), message: message.into() }
}

/// MiSArch's Gatling load types. Only informational once the files exist, but MiSArch requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum LoadType {
    ScalabilityLoadTest,
    ResilienceLoadTest,
    ElasticityLoadTest,
    NormalLoadTest,
}

/// Warm-up: `rate` constant concurrent users per scenario for `duration` seconds (1 to 86400), before T0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmUp {
    pub duration: u32,
    pub rate: u32,
}

/// Steady state: like the warm-up, and its report yields automatic goals (measured × `factor`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SteadyState {
    pub duration: u32,
    pub rate: u32,
    pub factor: f64,
}

/// One Gatling scenario, MiSArch's `EncodedFileDTO`: the work file (Kotlin DSL) and the user steps (CSV, one line
/// per second), both standard Base64 with padding, sent to the Gatling executor as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodedFile {
    /// The Kotlin top-level `val` name of the scenario, and the base name of the `.kt` and `.csv` files.
    pub file_name: String,
    pub encoded_work_file_content: String,
    pub encoded_user_steps_file_content: String,
}

impl EncodedFile {
    /// The users arriving in each second, as MainSimulation reads them: every line that parses as an integer once
    /// trimmed. An undecodable file has no steps (validation rejects it).
    pub fn user_steps(&self) -> Vec<i64> {
        decode_text(&self.encoded_user_steps_file_content)
            .map(|text| text.lines().filter_map(|line| parse_kotlin_int(line.trim())).collect())
            .unwrap_or_default()
    }

    /// How long MainSimulation injects users for this scenario: one second per step, or whole minutes when there
    /// are more than 3600 steps (it then injects the sum of each chunk of 60 over 60 s).
    pub fn injection_duration(&self) -> Duration {
        let steps = self.user_steps().len();
        let seconds = if steps <= GATLING_PER_SECOND_STEPS { steps } else { steps.div_ceil(60) * 60 };
        Duration::from_secs(seconds as u64)
    }
}

/// A failure set, MiSArch's `MiSArchFailureConfig`: wait `pauses.before` s, set every entry's four variables, wait
/// `pauses.after` s. Settings persist until a later set overwrites them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureSet {
    pub failures: Vec<FailureEntry>,
    pub pauses: Pauses,
}

/// Seconds to wait before applying a failure set and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pauses {
    pub before: u32,
    pub after: u32,
}

/// The four sidecar variables of one service, MiSArch's `MisArchFailure`. An absent (null) one is cleared when the
/// entry is applied, so an entry with only a `name` resets the service. Absent ones are written back as null, as
/// MiSArch writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureEntry {
    /// The service name as the configurator knows it, e.g. "catalog".
    pub name: String,
    /// Note the capital S: the file's key is `pubSubDeterioration`, the configurator's variable
    /// `pubsubDeterioration`.
    #[serde(default)]
    pub pub_sub_deterioration: Option<PubSubDeterioration>,
    /// One rule or a list of them (the configurator takes either); stored as a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub service_invocation_deterioration: Option<Vec<ServiceInvocationDeterioration>>,
    /// Bytes allocated in the sidecar.
    #[serde(default)]
    pub artificial_memory_usage: Option<u64>,
    /// One thread or a list of them (the configurator takes either); stored as a list.
    #[serde(default, rename = "artificialCPUUsage", deserialize_with = "one_or_many")]
    pub artificial_cpu_usage: Option<Vec<ArtificialCpuUsage>>,
}

/// `null`, one object, or a list of them, as a list: where the configurator's JSON schema takes an object or an
/// array of them.
fn one_or_many<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OneOrMany<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for OneOrMany<T> {
        type Value = Option<Vec<T>>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an object, a list of objects, or null")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(|one| Some(vec![one]))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Vec::<T>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(Some)
        }
    }
    deserializer.deserialize_any(OneOrMany(std::marker::PhantomData))
}

/// Every pub/sub delivery to the service: delayed `delay` ms with probability `delayProbability`, answered 500 with
/// probability `errorProbability`. Each may be left out, as the configurator allows (a missing probability means
/// never); one left out is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PubSubDeterioration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_probability: Option<f64>,
}

/// Every other request whose path starts with `path` (every request without one): delayed and/or answered
/// `errorCode` (default 500) without reaching the service. The first matching rule applies. Each member may be left
/// out, as the configurator allows; one left out is not sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceInvocationDeterioration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
}

/// One busy thread in the sidecar: spin `usageDuration` ms, sleep `pauseDuration` ms, repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtificialCpuUsage {
    pub usage_duration: u32,
    pub pause_duration: u32,
}

/// A MiSArch experiment (`experiment.misarch`), with MiSArch's camelCase names on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MisarchExperiment {
    pub test_name: String,
    pub load_type: LoadType,
    pub goals: Vec<Goal>,
    #[serde(default)]
    pub warm_up: Option<WarmUp>,
    #[serde(default)]
    pub steady_state: Option<SteadyState>,
    pub gatling: Vec<EncodedFile>,
    /// The Chaos Toolkit experiment, sent to the Chaos Toolkit executor as its JSON text.
    #[schema(value_type = Object)]
    pub chaos_toolkit: Map<String, Value>,
    pub misarch_failures: Vec<FailureSet>,
}

impl MisarchExperiment {
    /// Whether the Chaos Toolkit experiment has anything to run: method activities, hypothesis probes or
    /// rollbacks. The generator's "empty" variant (`"method":[]`) has not, and then eris does not start
    /// the Chaos Toolkit executor at all.
    pub fn uses_chaos_toolkit(&self) -> bool {
        let non_empty = |value: Option<&Value>| value.and_then(Value::as_array).is_some_and(|list| !list.is_empty());
        let probes = self
            .chaos_toolkit
            .get("steady-state-hypothesis")
            .and_then(Value::as_object)
            .and_then(|hypothesis| hypothesis.get("probes"));
        non_empty(self.chaos_toolkit.get("method"))
            || non_empty(probes)
            || non_empty(self.chaos_toolkit.get("rollbacks"))
    }

    /// Whether any failure set sets a configurator variable, i.e. whether the run needs the configurator.
    pub fn uses_configurator(&self) -> bool {
        self.misarch_failures.iter().any(|set| !set.failures.is_empty())
    }
}

/// Reads `misarch` as it came in a request: the shape only (types, required and unknown members). The rules come
/// with [`check`]; [`validate`] does both.
pub fn parse(misarch: &Map<String, Value>) -> Result<MisarchExperiment, DefinitionError> {
    shape::read(misarch)
}

/// Checks what the types cannot say: ranges, the Gatling files, the Chaos Toolkit experiment, the failure timeline.
pub fn check(experiment: &MisarchExperiment) -> Result<(), DefinitionError> {
    rules::check(experiment)
}

/// The failure variables as a failure entry names them, each with the configurator's (sidecar's) name for it.
pub const VARIABLE_NAMES: [(&str, &str); 4] = [
    ("pubSubDeterioration", "pubsubDeterioration"),
    ("serviceInvocationDeterioration", "serviceInvocationDeterioration"),
    ("artificialMemoryUsage", "artificialMemoryUsage"),
    ("artificialCPUUsage", "artificialCPUUsage"),
];

/// Checks one variable's value for one service as a failure entry's (`{"name": service, variable: value}`) would
/// be checked in the failure timeline; `variable` is a failure entry's name for it (see [`VARIABLE_NAMES`]). A
/// problem's `field` is `service`, or `value` and the path within it (`value[0].delayProbability`).
pub fn check_variable(service: &str, variable: &str, value: &Value) -> Result<(), DefinitionError> {
    let mut entry = Map::new();
    entry.insert("name".to_owned(), Value::String(service.to_owned()));
    entry.insert(variable.to_owned(), value.clone());
    let rename = |field: &str| -> String {
        match field.strip_prefix(variable) {
            Some(rest) => format!("value{rest}"),
            None if field == "name" => "service".to_owned(),
            None => field.to_owned(),
        }
    };
    let parsed: FailureEntry = serde_path_to_error::deserialize(&Value::Object(entry)).map_err(|error| {
        let field = rename(&error.path().to_string());
        DefinitionError { field, message: error.into_inner().to_string() }
    })?;
    rules::check_failure_entry(&parsed, "")
        .map_err(|error| DefinitionError { field: rename(error.field.trim_start_matches('.')), message: error.message })
}

/// Checks a service's name as the failure timeline does; the problem's `field` is `service`.
pub fn check_service(name: &str) -> Result<(), DefinitionError> {
    rules::validate_service_name(name, "service")
}

/// Reads and checks `misarch` completely and returns it parsed.
pub fn validate(misarch: &Map<String, Value>) -> Result<MisarchExperiment, DefinitionError> {
    let experiment = parse(misarch)?;
    check(&experiment)?;
    Ok(experiment)
}

/// The services the failure sets target, each once, in order of first appearance (for the pre-flight check
/// that the configurator knows them).
pub fn targeted_services(experiment: &MisarchExperiment) -> Vec<String> {
    let mut seen = HashSet::new();
    experiment
        .misarch_failures
        .iter()
        .flat_map(|set| &set.failures)
        .filter(|entry| seen.insert(entry.name.as_str()))
        .map(|entry| entry.name.clone())
        .collect()
}

/// What runs before T0: the warm-up and the steady-state simulations, which hold the trigger
/// back. Gradle's compilation (and, on a fresh Gatling container, its downloads) comes on top.
pub fn pre_trigger_duration(experiment: &MisarchExperiment) -> Duration {
    let warm_up = experiment.warm_up.map_or(0, |warm_up| u64::from(warm_up.duration));
    let steady_state = experiment.steady_state.map_or(0, |steady_state| u64::from(steady_state.duration));
    Duration::from_secs(warm_up + steady_state)
}

/// What runs from T0: the longest of the Gatling injection (the longest user-steps file), the Chaos
/// Toolkit plan ([`chaos_plan_duration`]) and the MiSArch failure timeline (the sum of all pauses). The last
/// Gatling users then still finish their scenario.
pub fn main_duration(experiment: &MisarchExperiment) -> Duration {
    let gatling = experiment.gatling.iter().map(EncodedFile::injection_duration).max().unwrap_or_default();
    let failures = experiment
        .misarch_failures
        .iter()
        .map(|set| Duration::from_secs(u64::from(set.pauses.before) + u64::from(set.pauses.after)))
        .sum::<Duration>();
    gatling.max(chaos_plan_duration(experiment)).max(failures)
}

/// The total planned duration of the run, for deadlines: [`pre_trigger_duration`] + [`main_duration`].
/// Start-up (Gradle), the last users' scenarios and the report upload are not included: add slack.
pub fn planned_duration(experiment: &MisarchExperiment) -> Duration {
    pre_trigger_duration(experiment).saturating_add(main_duration(experiment))
}

/// How long the Chaos Toolkit plan is planned to take from T0: the pauses of the method and the rollbacks, and the
/// timeout of each activity (or of its provider) where it has one (an activity without one counts as instant, since its
/// run time is unknown). A pause or timeout given as a `${name}` pattern counts with the value of that
/// configuration entry when it is a literal number, and as 0 otherwise. Zero when Chaos Toolkit is not used.
pub fn chaos_plan_duration(experiment: &MisarchExperiment) -> Duration {
    if !experiment.uses_chaos_toolkit() {
        return Duration::ZERO;
    }
    let chaos = &experiment.chaos_toolkit;
    let configuration = chaos.get("configuration").and_then(Value::as_object);
    let seconds = |pause: Option<&Value>| -> f64 {
        let value = match pause {
            Some(Value::String(pattern)) => pattern
                .strip_prefix("${")
                .and_then(|rest| rest.strip_suffix('}'))
                .and_then(|name| configuration.and_then(|configuration| configuration.get(name))),
            other => other,
        };
        let seconds = match value {
            Some(Value::Number(number)) => number.as_f64().unwrap_or(0.0),
            Some(Value::String(text)) => text.trim().parse::<f64>().unwrap_or(0.0),
            _ => 0.0,
        };
        // A configuration value is not validated; keep it in the range a validated pause has (NaN → 0).
        seconds.clamp(0.0, INT_MAX as f64)
    };
    let total: f64 = ["method", "rollbacks"]
        .iter()
        .filter_map(|key| chaos.get(*key).and_then(Value::as_array))
        .flatten()
        .map(|activity| {
            let pauses = activity.get("pauses").and_then(Value::as_object);
            let pause = |key| seconds(pauses.and_then(|pauses| pauses.get(key)));
            // Chaos Toolkit reads a timeout on the activity, and HTTP and process providers their own.
            let provider_timeout = seconds(activity.get("provider").and_then(|provider| provider.get("timeout")));
            let timeout = seconds(activity.get("timeout")).max(provider_timeout);
            pause("before") + pause("after") + timeout
        })
        .sum();
    // Each pause is at most i32::MAX seconds, so the sum stays far inside Duration's range.
    Duration::try_from_secs_f64(total).unwrap_or(Duration::MAX)
}

/// Kotlin's `String.toIntOrNull()`: an optional sign and ASCII digits, within the 32-bit range.
fn parse_kotlin_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i32>().ok().map(i64::from)
}

fn decode_text(encoded: &str) -> Option<String> {
    BASE64.decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok())
}

fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
