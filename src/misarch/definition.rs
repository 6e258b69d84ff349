//! The `misarch` section of an experiment: a MiSArch experiment in the formats of the MiSArch Experiment
//! Executor (`reference/misarch-protocol.md` §2.4, §7), validated completely when the experiment is written.
//!
//! The original executor checks nothing when a configuration is stored and fails, often silently, in the
//! middle of a run (§8 items 4 and 11). Everything a component or the original's run-time parser would
//! reject is therefore rejected here, with the path of the offending field, so that a trial never starts
//! with a configuration that cannot run.
//!
//! The wire names and shapes are MiSArch's, with two deliberate differences: a goal's `threshold` is a JSON
//! number (MiSArch stores a string), and `testUUID`/`testVersion` are not part of the definition (eris
//! assigns them per trial, see `components::test_identity`).

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The root of every field path: the experiment's `misarch` member.
const ROOT: &str = "misarch";

/// The goal metric labels a goal may name, exactly as the MiSArch executor (`labelToStatsAttribute`), its frontend
/// and the Grafana panel titles spell them (§2.10), in the executor's order. `goals` evaluates them.
pub const GOAL_METRICS: &[&str] = &[
    "percentage reqs with resp. time t < 800 ms",
    "percentage reqs with resp. time 800 ms < t < 1200 ms",
    "percentage reqs with resp. time t > 1200 ms",
    "percentage failed requests",
    "percentage mean requests/sec ok",
    "percentage mean requests/sec ko",
    "min response time",
    "mean response time",
    "max response time",
    "min response time ok",
    "mean response time ok",
    "max response time ok",
    "min response time ko",
    "mean response time ko",
    "max response time ko",
    "50th percentile response time",
    "50th percentile response time ok",
    "50th percentile response time ko",
    "75th percentile response time",
    "75th percentile response time ok",
    "75th percentile response time ko",
    "95th percentile response time",
    "95th percentile response time ok",
    "95th percentile response time ko",
    "99th percentile response time",
    "99th percentile response time ok",
    "99th percentile response time ko",
];

/// Grafana's named palette colours (the threshold colour picker), the names a goal colour may use besides
/// hex and rgb()/rgba(): the dashboard copies the colour into a threshold step verbatim (§2.12).
const GRAFANA_COLORS: &[&str] = &[
    "green",
    "dark-green",
    "semi-dark-green",
    "light-green",
    "super-light-green",
    "yellow",
    "dark-yellow",
    "semi-dark-yellow",
    "light-yellow",
    "super-light-yellow",
    "red",
    "dark-red",
    "semi-dark-red",
    "light-red",
    "super-light-red",
    "blue",
    "dark-blue",
    "semi-dark-blue",
    "light-blue",
    "super-light-blue",
    "orange",
    "dark-orange",
    "semi-dark-orange",
    "light-orange",
    "super-light-orange",
    "purple",
    "dark-purple",
    "semi-dark-purple",
    "light-purple",
    "super-light-purple",
    "transparent",
];

/// Kotlin's hard keywords: a scenario's `fileName` becomes a Kotlin `val` name and an expression in the
/// Gatling executor's generated `Scenarios.kt` (§3), so it cannot be one of these.
const KOTLIN_KEYWORDS: &[&str] = &[
    "as",
    "break",
    "class",
    "continue",
    "do",
    "else",
    "false",
    "for",
    "fun",
    "if",
    "in",
    "interface",
    "is",
    "null",
    "object",
    "package",
    "return",
    "super",
    "this",
    "throw",
    "true",
    "try",
    "typealias",
    "typeof",
    "val",
    "var",
    "when",
    "while",
];

/// Names that clash with the Gatling executor's own sources in `/gatling/src/main/kotlin` (the files it
/// ships or regenerates, and the `scenarios` map of `Scenarios.kt`): a scenario file of that name would be
/// overwritten or would not compile (§3).
const GATLING_RESERVED_NAMES: &[&str] =
    &["Scenarios", "scenarios", "MainSimulation", "WarmUpSimulation", "SteadyStateSimulation"];

/// The Kotlin package every work file must declare, because the generated `Scenarios.kt` is in it (§2.4).
const GATLING_PACKAGE: &str = "org.misarch";

/// Above this many user steps MainSimulation injects per minute instead of per second (§3 step 4).
const GATLING_PER_SECOND_STEPS: usize = 3600;

/// The top-level keys of a Chaos Toolkit experiment (the Chaos Toolkit specification, mirrored by the
/// executor's `ChaosToolkitConfig`, §2.4).
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

/// The MiSArch Docker extension of the Chaos Toolkit executor and its functions (§4); each takes `names`.
const MISARCH_DOCKER_MODULE: &str = "misarch_chaostoolkit.chaostoolkit_docker";
const MISARCH_DOCKER_FUNCS: &[&str] = &["are_containers_running", "kill_containers", "start_containers"];

/// Warm-up and steady state run before T0 and hold the trigger back; a day is far beyond any sensible
/// value and keeps the pre-trigger wait bounded.
const MAX_PRE_TRIGGER_SECS: i64 = 86_400;
const MAX_TEST_NAME_CHARS: usize = 256;
const MAX_SERVICE_NAME_CHARS: usize = 63;
const MAX_FILE_NAME_CHARS: usize = 100;

/// Java's and C#'s `int`: the executor's model (Kotlin `Int`), the Gatling executor's query parameters and
/// the sidecar's rules are all 32-bit.
const INT_MAX: i64 = i32::MAX as i64;

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

/// MiSArch's Gatling load types (§2.5). Only informational once the files exist, but MiSArch requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadType {
    ScalabilityLoadTest,
    ResilienceLoadTest,
    ElasticityLoadTest,
    NormalLoadTest,
}

impl LoadType {
    const ALL: [(&'static str, LoadType); 4] = [
        ("ScalabilityLoadTest", LoadType::ScalabilityLoadTest),
        ("ResilienceLoadTest", LoadType::ResilienceLoadTest),
        ("ElasticityLoadTest", LoadType::ElasticityLoadTest),
        ("NormalLoadTest", LoadType::NormalLoadTest),
    ];
}

/// A goal (§2.4, §2.10): `metric` is one of [`GOAL_METRICS`]; `color` is the Grafana threshold colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Goal {
    pub metric: String,
    /// A JSON number here; MiSArch's `execution.json` stores it as a string (`"2000"`).
    pub threshold: f64,
    pub color: String,
}

/// Warm-up (§2.7): `rate` constant concurrent users per scenario for `duration` seconds, before T0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmUp {
    pub duration: u32,
    pub rate: u32,
}

/// Steady state (§2.7): like the warm-up, and its report yields automatic goals (measured × `factor`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SteadyState {
    pub duration: u32,
    pub rate: u32,
    pub factor: f64,
}

/// One Gatling scenario, MiSArch's `EncodedFileDTO` (§2.4, §7.6): the work file (Kotlin DSL) and the user
/// steps (CSV, one line per second), both standard Base64 with padding, sent to the Gatling executor as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodedFile {
    /// The Kotlin top-level `val` name of the scenario, and the base name of the `.kt` and `.csv` files.
    pub file_name: String,
    pub encoded_work_file_content: String,
    pub encoded_user_steps_file_content: String,
}

impl EncodedFile {
    /// The users arriving in each second, as MainSimulation reads them: every line that parses as an
    /// integer once trimmed (§3, §7.5). An undecodable file has no steps (validation rejects it).
    pub fn user_steps(&self) -> Vec<i64> {
        decode_text(&self.encoded_user_steps_file_content)
            .map(|text| text.lines().filter_map(|line| parse_kotlin_int(line.trim())).collect())
            .unwrap_or_default()
    }

    /// How long MainSimulation injects users for this scenario: one second per step, or whole minutes
    /// when there are more than 3600 steps (it then injects the sum of each chunk of 60 over 60 s, §3).
    pub fn injection_duration(&self) -> Duration {
        let steps = self.user_steps().len();
        let seconds = if steps <= GATLING_PER_SECOND_STEPS { steps } else { steps.div_ceil(60) * 60 };
        Duration::from_secs(seconds as u64)
    }
}

/// A failure set (§2.4 `MiSArchFailureConfig`): wait `pauses.before` s, set every entry's four variables,
/// wait `pauses.after` s. Settings persist until a later set overwrites them (§2.15).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureSet {
    pub failures: Vec<FailureEntry>,
    pub pauses: Pauses,
}

/// Seconds to wait before applying a failure set and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pauses {
    pub before: u32,
    pub after: u32,
}

/// The four sidecar variables of one service (§2.4 `MisArchFailure`, §5.3). An absent (null) one is
/// cleared when the entry is applied, so an entry with only a `name` resets the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureEntry {
    /// The service name as the configurator knows it, e.g. "catalog".
    pub name: String,
    /// Note the capital S: the file's key is `pubSubDeterioration`, the configurator's variable
    /// `pubsubDeterioration`.
    #[serde(default)]
    pub pub_sub_deterioration: Option<PubSubDeterioration>,
    #[serde(default)]
    pub service_invocation_deterioration: Option<Vec<ServiceInvocationDeterioration>>,
    /// Bytes allocated in the sidecar.
    #[serde(default)]
    pub artificial_memory_usage: Option<u64>,
    #[serde(default, rename = "artificialCPUUsage")]
    pub artificial_cpu_usage: Option<Vec<ArtificialCpuUsage>>,
}

/// Every pub/sub delivery to the service: delayed `delay` ms with probability `delayProbability`, answered
/// 500 with probability `errorProbability`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PubSubDeterioration {
    pub delay: u32,
    pub delay_probability: f64,
    pub error_probability: f64,
}

/// Every other request whose path starts with `path`: delayed and/or answered `errorCode` without reaching
/// the service. The first matching rule applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceInvocationDeterioration {
    pub path: String,
    pub delay: u32,
    pub delay_probability: f64,
    pub error_probability: f64,
    pub error_code: u16,
}

/// One busy thread in the sidecar: spin `usageDuration` ms, sleep `pauseDuration` ms, repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArtificialCpuUsage {
    pub usage_duration: u32,
    pub pause_duration: u32,
}

/// The parsed MiSArch experiment (serde camelCase as on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Validates `misarch` completely and returns it parsed.
pub fn validate(misarch: &Map<String, Value>) -> Result<MisarchExperiment, DefinitionError> {
    check_keys(
        misarch,
        ROOT,
        &["testName", "loadType", "goals", "warmUp", "steadyState", "gatling", "chaosToolkit", "misarchFailures"],
        root_hint,
    )?;

    let test_name = validate_test_name(required(misarch, ROOT, "testName")?, &join(ROOT, "testName"))?;
    let load_type = validate_load_type(required(misarch, ROOT, "loadType")?, &join(ROOT, "loadType"))?;
    let goals_path = join(ROOT, "goals");
    let goals = as_array(required(misarch, ROOT, "goals")?, &goals_path)?
        .iter()
        .enumerate()
        .map(|(i, goal)| validate_goal(goal, &index(&goals_path, i)))
        .collect::<Result<Vec<_>, _>>()?;
    let warm_up = match optional(misarch, "warmUp") {
        Some(value) => Some(validate_warm_up(value, &join(ROOT, "warmUp"))?),
        None => None,
    };
    let steady_state = match optional(misarch, "steadyState") {
        Some(value) => Some(validate_steady_state(value, &join(ROOT, "steadyState"))?),
        None => None,
    };
    let gatling = validate_gatling(required(misarch, ROOT, "gatling")?, &join(ROOT, "gatling"))?;
    let chaos_path = join(ROOT, "chaosToolkit");
    let chaos_toolkit = validate_chaos_toolkit(required(misarch, ROOT, "chaosToolkit")?, &chaos_path)?;
    let injection = gatling.iter().map(EncodedFile::injection_duration).max().unwrap_or_default();
    let misarch_failures =
        validate_failure_sets(required(misarch, ROOT, "misarchFailures")?, &join(ROOT, "misarchFailures"), injection)?;

    Ok(MisarchExperiment {
        test_name,
        load_type,
        goals,
        warm_up,
        steady_state,
        gatling,
        chaos_toolkit,
        misarch_failures,
    })
}

/// The services the failure sets target, each once, in order of first appearance (for the pre-flight check
/// that the configurator knows them, §5.2).
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

/// What runs before T0 (§2.7, §2.15): the warm-up and the steady-state simulations, which hold the trigger
/// back. Gradle's compilation (and, on a fresh Gatling container, its downloads) comes on top.
pub fn pre_trigger_duration(experiment: &MisarchExperiment) -> Duration {
    let warm_up = experiment.warm_up.map_or(0, |warm_up| u64::from(warm_up.duration));
    let steady_state = experiment.steady_state.map_or(0, |steady_state| u64::from(steady_state.duration));
    Duration::from_secs(warm_up + steady_state)
}

/// What runs from T0 (§2.15): the longest of the Gatling injection (the longest user-steps file), the Chaos
/// Toolkit method and rollbacks (the sum of their pauses; the activities' own run time is unknown) and the
/// MiSArch failure timeline (the sum of all pauses). The last Gatling users then still finish their scenario.
pub fn main_duration(experiment: &MisarchExperiment) -> Duration {
    let gatling = experiment.gatling.iter().map(EncodedFile::injection_duration).max().unwrap_or_default();
    let failures = experiment
        .misarch_failures
        .iter()
        .map(|set| Duration::from_secs(u64::from(set.pauses.before) + u64::from(set.pauses.after)))
        .sum::<Duration>();
    gatling.max(chaos_toolkit_duration(&experiment.chaos_toolkit)).max(failures)
}

/// The total planned duration of the run, for deadlines: [`pre_trigger_duration`] + [`main_duration`].
/// Start-up (Gradle), the last users' scenarios and the report upload are not included: add slack.
pub fn planned_duration(experiment: &MisarchExperiment) -> Duration {
    pre_trigger_duration(experiment).saturating_add(main_duration(experiment))
}

/// The sum of the pauses of the Chaos Toolkit method and rollbacks. A pause given as a `${name}` pattern
/// counts with the value of that configuration entry when it is a literal number, and as 0 otherwise.
fn chaos_toolkit_duration(chaos: &Map<String, Value>) -> Duration {
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
        .filter_map(|activity| activity.get("pauses").and_then(Value::as_object))
        .map(|pauses| seconds(pauses.get("before")) + seconds(pauses.get("after")))
        .sum();
    // Each pause is at most i32::MAX seconds, so the sum stays far inside Duration's range.
    Duration::try_from_secs_f64(total).unwrap_or(Duration::MAX)
}

// ---------------------------------------------------------------------------------------------------------
// Top-level fields

fn root_hint(key: &str) -> Option<&'static str> {
    match key {
        "testUUID" | "testVersion" => Some("eris assigns testUUID and testVersion to each trial; remove it"),
        "threshold" | "metric" | "color" => Some("goal fields belong in the objects of `goals`"),
        "chaostoolkit" | "chaosToolkitConfig" => Some("the Chaos Toolkit experiment goes in `chaosToolkit`"),
        "misarchExperimentConfig" | "misarchFailure" | "failures" => {
            Some("the MiSArch failure sets go in `misarchFailures`")
        }
        "gatlingConfig" => Some("the Gatling scenarios go in `gatling`"),
        _ => None,
    }
}

fn validate_test_name(value: &Value, path: &str) -> Result<String, DefinitionError> {
    let name = as_str(value, path)?;
    if name.trim().is_empty() {
        return Err(error(path, "must not be empty"));
    }
    if name.chars().count() > MAX_TEST_NAME_CHARS {
        return Err(error(path, format!("is longer than {MAX_TEST_NAME_CHARS} characters")));
    }
    Ok(name.to_string())
}

fn validate_load_type(value: &Value, path: &str) -> Result<LoadType, DefinitionError> {
    let name = as_str(value, path)?;
    LoadType::ALL.iter().find(|(label, _)| *label == name).map(|(_, load_type)| *load_type).ok_or_else(|| {
        error(
            path,
            format!(
                "unknown load type \"{name}\"; expected one of ScalabilityLoadTest, ResilienceLoadTest, ElasticityLoadTest, NormalLoadTest"
            ),
        )
    })
}

fn validate_goal(value: &Value, path: &str) -> Result<Goal, DefinitionError> {
    let goal = as_object(value, path)?;
    check_keys(goal, path, &["metric", "threshold", "color"], |_| None)?;

    let metric_path = join(path, "metric");
    let metric = as_str(required(goal, path, "metric")?, &metric_path)?;
    if !GOAL_METRICS.contains(&metric) {
        let normalized = normalize_label(metric);
        let message = match GOAL_METRICS.iter().find(|label| normalize_label(label) == normalized) {
            Some(label) => format!("unknown goal metric \"{metric}\"; did you mean \"{label}\"?"),
            None => format!(
                "unknown goal metric \"{metric}\"; expected one of MiSArch's 27 labels, e.g. \"max response time\", \
                 \"95th percentile response time ok\", \"percentage failed requests\": {}",
                GOAL_METRICS.join(", ")
            ),
        };
        return Err(error(metric_path, message));
    }

    let threshold_path = join(path, "threshold");
    let threshold = match required(goal, path, "threshold")? {
        Value::Number(number) => number.as_f64().filter(|threshold| threshold.is_finite()),
        Value::String(text) if text.trim().parse::<f64>().is_ok() => {
            return Err(error(
                threshold_path,
                format!(
                    "must be a JSON number, not a string: write {} instead of \"{text}\" (MiSArch's execution.json \
                     stores thresholds as strings; eris does not)",
                    text.trim()
                ),
            ));
        }
        other => return Err(error(threshold_path, format!("must be a number, found {}", kind(other)))),
    };
    let Some(threshold) = threshold else {
        return Err(error(threshold_path, "must be a finite number"));
    };
    if threshold < 0.0 {
        return Err(error(threshold_path, "must not be negative: every goal metric is a time or a percentage"));
    }
    if metric.starts_with("percentage") && threshold > 100.0 {
        return Err(error(threshold_path, format!("\"{metric}\" is a percentage; the threshold must be 0 to 100")));
    }

    let color_path = join(path, "color");
    let color = as_str(required(goal, path, "color")?, &color_path)?;
    if !is_color(color) {
        return Err(error(
            color_path,
            format!(
                "\"{color}\" is not a colour Grafana understands; use a palette name (e.g. \"red\", \"semi-dark-yellow\"), \
                 a hex colour (e.g. \"#73bf69\") or rgb()/rgba()"
            ),
        ));
    }

    Ok(Goal { metric: metric.to_string(), threshold, color: color.to_string() })
}

fn normalize_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn is_color(color: &str) -> bool {
    if GRAFANA_COLORS.contains(&color) {
        return true;
    }
    if let Some(hex) = color.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    let functional =
        color.strip_prefix("rgba(").map(|rest| (rest, 4)).or_else(|| color.strip_prefix("rgb(").map(|rest| (rest, 3)));
    if let Some((rest, count)) = functional
        && let Some(arguments) = rest.strip_suffix(')')
    {
        let parts: Vec<&str> = arguments.split(',').map(str::trim).collect();
        return parts.len() == count && parts.iter().all(|part| part.parse::<f64>().is_ok_and(|v| v >= 0.0));
    }
    false
}

fn validate_warm_up(value: &Value, path: &str) -> Result<WarmUp, DefinitionError> {
    let warm_up = as_object(value, path)?;
    check_keys(warm_up, path, &["duration", "rate"], |_| None)?;
    Ok(WarmUp { duration: pre_trigger_seconds(warm_up, path)?, rate: concurrent_users(warm_up, path)? })
}

fn validate_steady_state(value: &Value, path: &str) -> Result<SteadyState, DefinitionError> {
    let steady_state = as_object(value, path)?;
    check_keys(steady_state, path, &["duration", "rate", "factor"], |_| None)?;
    let duration = pre_trigger_seconds(steady_state, path)?;
    let rate = concurrent_users(steady_state, path)?;
    let factor_path = join(path, "factor");
    let factor = as_number(required(steady_state, path, "factor")?, &factor_path)?;
    // Kotlin Float: the executor multiplies every measured value by it to derive the automatic goals.
    if !(factor > 0.0 && factor <= f64::from(f32::MAX)) {
        return Err(error(
            factor_path,
            "must be a positive number (the multiplier for the automatic thresholds, e.g. 1.2)",
        ));
    }
    Ok(SteadyState { duration, rate, factor })
}

fn pre_trigger_seconds(object: &Map<String, Value>, path: &str) -> Result<u32, DefinitionError> {
    let field = join(path, "duration");
    let seconds = as_int(required(object, path, "duration")?, &field, 1, MAX_PRE_TRIGGER_SECS)?;
    Ok(seconds as u32)
}

fn concurrent_users(object: &Map<String, Value>, path: &str) -> Result<u32, DefinitionError> {
    let field = join(path, "rate");
    Ok(as_int(required(object, path, "rate")?, &field, 1, INT_MAX)? as u32)
}

// ---------------------------------------------------------------------------------------------------------
// Gatling

fn validate_gatling(value: &Value, path: &str) -> Result<Vec<EncodedFile>, DefinitionError> {
    let entries = as_array(value, path)?;
    if entries.is_empty() {
        return Err(error(path, "needs at least one scenario: the Gatling executor has nothing to run without one"));
    }
    let mut names = HashSet::new();
    let mut files = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let entry_path = index(path, i);
        let file = validate_encoded_file(entry, &entry_path)?;
        if !names.insert(file.file_name.clone()) {
            return Err(error(
                join(&entry_path, "fileName"),
                format!("\"{}\" is used by an earlier scenario; file names must be unique", file.file_name),
            ));
        }
        files.push(file);
    }
    Ok(files)
}

fn validate_encoded_file(value: &Value, path: &str) -> Result<EncodedFile, DefinitionError> {
    let entry = as_object(value, path)?;
    check_keys(entry, path, &["fileName", "encodedWorkFileContent", "encodedUserStepsFileContent"], |key| match key {
        "workFile" | "encodedWorkFile" | "content" => Some("the work file goes in encodedWorkFileContent"),
        "userSteps" | "encodedUserStepsFile" => Some("the user steps go in encodedUserStepsFileContent"),
        _ => None,
    })?;

    let name_path = join(path, "fileName");
    let file_name = as_str(required(entry, path, "fileName")?, &name_path)?;
    validate_file_name(file_name, &name_path)?;

    let work_path = join(path, "encodedWorkFileContent");
    let work = as_str(required(entry, path, "encodedWorkFileContent")?, &work_path)?;
    let source = decode_base64_text(work, &work_path)?;
    validate_work_file(&source, file_name, &work_path)?;

    let steps_path = join(path, "encodedUserStepsFileContent");
    let steps = as_str(required(entry, path, "encodedUserStepsFileContent")?, &steps_path)?;
    let csv = decode_base64_text(steps, &steps_path)?;
    validate_user_steps(&csv, &steps_path)?;

    Ok(EncodedFile {
        file_name: file_name.to_string(),
        encoded_work_file_content: work.to_string(),
        encoded_user_steps_file_content: steps.to_string(),
    })
}

/// The Gatling executor writes `/gatling/src/main/kotlin/<fileName>.kt` and puts `<fileName>` as an
/// expression into `Scenarios.kt`, so the name must be a plain Kotlin identifier (which also rules out
/// path tricks such as `../`).
fn validate_file_name(name: &str, path: &str) -> Result<(), DefinitionError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().any(|c| c != '_');
    if !valid {
        return Err(error(
            path,
            format!(
                "\"{name}\" is not a Kotlin identifier (ASCII letters, digits and _, not starting with a digit); it must \
                 equal the name of the scenario's top-level val, e.g. \"buyProcessScenario\""
            ),
        ));
    }
    if name.len() > MAX_FILE_NAME_CHARS {
        return Err(error(path, format!("is longer than {MAX_FILE_NAME_CHARS} characters")));
    }
    if KOTLIN_KEYWORDS.contains(&name) {
        return Err(error(path, format!("\"{name}\" is a Kotlin keyword and cannot name a val")));
    }
    if GATLING_RESERVED_NAMES.contains(&name) {
        return Err(error(
            path,
            format!("\"{name}\" clashes with the Gatling executor's own sources; rename the scenario"),
        ));
    }
    Ok(())
}

fn validate_work_file(source: &str, file_name: &str, path: &str) -> Result<(), DefinitionError> {
    if source.trim().is_empty() {
        return Err(error(path, "decodes to an empty work file"));
    }
    let package = source
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("package").filter(|rest| rest.starts_with(char::is_whitespace)))
        .map(|rest| rest.trim().trim_end_matches(';').trim());
    if package != Some(GATLING_PACKAGE) {
        let found = package.map_or_else(|| "none".to_string(), |package| format!("\"{package}\""));
        return Err(error(
            path,
            format!(
                "the work file must declare `package {GATLING_PACKAGE}` (the package of the generated Scenarios.kt); found {found}"
            ),
        ));
    }
    if !declares_top_level_val(source, file_name) {
        return Err(error(
            path,
            format!(
                "the work file declares no top-level `val {file_name} = scenario(…)`: the Gatling executor refers to the \
                 scenario by its fileName, so the val must have that name (at the start of a line, not private)"
            ),
        ));
    }
    Ok(())
}

/// A top-level `val <name>` at the start of a line, optionally `public` or `internal` (a `private` one is
/// invisible to the generated `Scenarios.kt`).
fn declares_top_level_val(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let mut rest = line.trim_end();
        for modifier in ["public", "internal"] {
            if let Some(after) = rest.strip_prefix(modifier).filter(|after| after.starts_with(char::is_whitespace)) {
                rest = after.trim_start();
            }
        }
        rest.strip_prefix("val")
            .filter(|after| after.starts_with(char::is_whitespace))
            .and_then(|after| after.trim_start().strip_prefix(name))
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

/// MainSimulation keeps only the lines that parse as integers and silently drops the rest (§3, §7.5). A
/// header line is expected, but any other dropped line would shift the whole load profile, so it is an
/// error here; so are negative counts (Gatling rejects them) and a file that injects nobody.
fn validate_user_steps(csv: &str, path: &str) -> Result<(), DefinitionError> {
    let mut steps = 0usize;
    let mut users = 0i64;
    let mut header_seen = false;
    for (number, line) in csv.lines().enumerate().map(|(i, line)| (i + 1, line.trim())) {
        if line.is_empty() {
            continue;
        }
        match parse_kotlin_int(line) {
            Some(count) if count < 0 => {
                return Err(error(path, format!("line {number}: {count} users; a step cannot be negative")));
            }
            Some(count) => {
                steps += 1;
                users = users.saturating_add(count);
            }
            None if steps == 0 && !header_seen => header_seen = true,
            None => {
                return Err(error(
                    path,
                    format!(
                        "line {number}: \"{}\" is not a whole number of users; only the first line may be a header \
                         (Gatling would silently skip this line and shift the load profile)",
                        truncate(line, 40)
                    ),
                ));
            }
        }
    }
    if steps == 0 {
        return Err(error(path, "has no user steps: one whole number per line, the users arriving in that second"));
    }
    if users == 0 {
        return Err(error(path, "every step is 0: Gatling would inject no users and produce no report"));
    }
    Ok(())
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

/// The Gatling executor decodes with Kotlin's strict standard decoder and writes the text out as UTF-8
/// (replacing invalid bytes), so the content must be standard padded Base64 of UTF-8 text.
fn decode_base64_text(encoded: &str, path: &str) -> Result<String, DefinitionError> {
    let bytes = BASE64.decode(encoded).map_err(|cause| {
        error(path, format!("is not standard Base64 with padding (RFC 4648 §4, no line breaks): {cause}"))
    })?;
    String::from_utf8(bytes).map_err(|cause| error(path, format!("does not decode to UTF-8 text: {cause}")))
}

// ---------------------------------------------------------------------------------------------------------
// Chaos Toolkit

/// The checks chaoslib's `ensure_experiment_is_valid` makes before `chaos run` (the executor's run would
/// otherwise fail unseen, §4), and the MiSArch extension's names and arguments.
fn validate_chaos_toolkit(value: &Value, path: &str) -> Result<Map<String, Value>, DefinitionError> {
    let chaos = as_object(value, path)?;
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
    Ok(chaos.clone())
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

// ---------------------------------------------------------------------------------------------------------
// MiSArch failure sets

fn validate_failure_sets(value: &Value, path: &str, injection: Duration) -> Result<Vec<FailureSet>, DefinitionError> {
    let mut sets = Vec::new();
    let mut elapsed = 0u64;
    for (i, set) in as_array(value, path)?.iter().enumerate() {
        let set_path = index(path, i);
        let set = validate_failure_set(set, &set_path)?;
        let applied_at = elapsed + u64::from(set.pauses.before);
        // A set applied after the last arrivals changes nothing the run measures; it is almost always a
        // pause given in the wrong unit (seconds, not milliseconds) or a timeline longer than the load.
        if !set.failures.is_empty() && applied_at > injection.as_secs() {
            return Err(error(
                join(&join(&set_path, "pauses"), "before"),
                format!(
                    "the set would be applied at T0+{applied_at} s, after the Gatling load ends at T0+{} s (the longest \
                     user-steps file); pauses are in seconds",
                    injection.as_secs()
                ),
            ));
        }
        elapsed = applied_at + u64::from(set.pauses.after);
        sets.push(set);
    }
    Ok(sets)
}

fn validate_failure_set(value: &Value, path: &str) -> Result<FailureSet, DefinitionError> {
    let set = as_object(value, path)?;
    check_keys(set, path, &["failures", "pauses"], |key| match key {
        "failureSets" | "serviceName" | "delayMs" => Some(
            "that is the illustrative format of the executor frontend's MiSArchConfigEditor.md, which the executor does \
             not accept; use {failures:[{name, pubSubDeterioration, …}], pauses:{before, after}}",
        ),
        _ => None,
    })?;

    let failures_path = join(path, "failures");
    let mut services = HashSet::new();
    let mut failures = Vec::new();
    for (i, entry) in as_array(required(set, path, "failures")?, &failures_path)?.iter().enumerate() {
        let entry_path = index(&failures_path, i);
        let entry = validate_failure_entry(entry, &entry_path)?;
        // Entries are applied in order, so a second entry for the same service silently replaces the first.
        if !services.insert(entry.name.clone()) {
            return Err(error(
                join(&entry_path, "name"),
                format!("\"{}\" already has an entry in this set; put all of its variables in one entry", entry.name),
            ));
        }
        failures.push(entry);
    }

    let pauses_path = join(path, "pauses");
    let pauses = as_object(required(set, path, "pauses")?, &pauses_path)?;
    check_keys(pauses, &pauses_path, &["before", "after"], |_| None)?;
    let seconds = |key: &str| -> Result<u32, DefinitionError> {
        Ok(as_int(required(pauses, &pauses_path, key)?, &join(&pauses_path, key), 0, INT_MAX)? as u32)
    };
    let pauses = Pauses { before: seconds("before")?, after: seconds("after")? };

    Ok(FailureSet { failures, pauses })
}

fn validate_failure_entry(value: &Value, path: &str) -> Result<FailureEntry, DefinitionError> {
    let entry = as_object(value, path)?;
    check_keys(
        entry,
        path,
        &[
            "name",
            "pubSubDeterioration",
            "serviceInvocationDeterioration",
            "artificialMemoryUsage",
            "artificialCPUUsage",
        ],
        |key| match key {
            "pubsubDeterioration" => Some("the key is \"pubSubDeterioration\" (capital S) in a failure entry"),
            "artificialCpuUsage" | "artificialCPUusage" => Some("the key is \"artificialCPUUsage\""),
            "serviceName" | "service" => Some("the service goes in \"name\""),
            _ => None,
        },
    )?;

    let name_path = join(path, "name");
    let name = as_str(required(entry, path, "name")?, &name_path)?;
    validate_service_name(name, &name_path)?;

    let pub_sub_deterioration = match optional(entry, "pubSubDeterioration") {
        Some(value) => Some(validate_pub_sub(value, &join(path, "pubSubDeterioration"))?),
        None => None,
    };
    let service_invocation_deterioration = match optional(entry, "serviceInvocationDeterioration") {
        Some(value) => {
            let list_path = join(path, "serviceInvocationDeterioration");
            let rules = match value {
                Value::Array(rules) => rules,
                // The sidecar would take a single rule, but the executor's model is a list.
                Value::Object(_) => {
                    return Err(error(list_path, "must be a list of rules; wrap the rule in [ ]"));
                }
                other => return Err(error(list_path, format!("must be a list of rules, found {}", kind(other)))),
            };
            Some(
                rules
                    .iter()
                    .enumerate()
                    .map(|(i, rule)| validate_service_invocation(rule, &index(&list_path, i)))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
        None => None,
    };
    let artificial_memory_usage = match optional(entry, "artificialMemoryUsage") {
        Some(value) => Some(as_int(value, &join(path, "artificialMemoryUsage"), 0, i64::MAX)? as u64),
        None => None,
    };
    let artificial_cpu_usage = match optional(entry, "artificialCPUUsage") {
        Some(value) => {
            let list_path = join(path, "artificialCPUUsage");
            let threads = match value {
                Value::Array(threads) => threads,
                Value::Object(_) => {
                    return Err(error(list_path, "must be a list, one element per busy thread; wrap it in [ ]"));
                }
                other => return Err(error(list_path, format!("must be a list, found {}", kind(other)))),
            };
            Some(
                threads
                    .iter()
                    .enumerate()
                    .map(|(i, thread)| validate_cpu_usage(thread, &index(&list_path, i)))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
        None => None,
    };

    Ok(FailureEntry {
        name: name.to_string(),
        pub_sub_deterioration,
        service_invocation_deterioration,
        artificial_memory_usage,
        artificial_cpu_usage,
    })
}

/// The name is a path segment of the configurator's API (`/configuration/{service}/…`) and a sidecar's
/// `SERVICE_NAME`: MiSArch's are lower-case words such as "shoppingcart".
fn validate_service_name(name: &str, path: &str) -> Result<(), DefinitionError> {
    let valid = name.len() <= MAX_SERVICE_NAME_CHARS
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(error(
            path,
            format!(
                "\"{}\" is not a service name: 1 to {MAX_SERVICE_NAME_CHARS} ASCII letters, digits, '-', '_' or '.', e.g. \"catalog\"",
                truncate(name, 80)
            ),
        ))
    }
}

fn validate_pub_sub(value: &Value, path: &str) -> Result<PubSubDeterioration, DefinitionError> {
    let rule = as_object(value, path)?;
    check_keys(rule, path, &["delay", "delayProbability", "errorProbability"], |_| None)?;
    Ok(PubSubDeterioration {
        delay: milliseconds(rule, path, "delay")?,
        delay_probability: probability(rule, path, "delayProbability")?,
        error_probability: probability(rule, path, "errorProbability")?,
    })
}

fn validate_service_invocation(value: &Value, path: &str) -> Result<ServiceInvocationDeterioration, DefinitionError> {
    let rule = as_object(value, path)?;
    check_keys(rule, path, &["path", "delay", "delayProbability", "errorProbability", "errorCode"], |_| None)?;
    let prefix_path = join(path, "path");
    let prefix = as_str(required(rule, path, "path")?, &prefix_path)?;
    if !prefix.starts_with('/') {
        return Err(error(
            prefix_path,
            format!(
                "\"{prefix}\" never matches: it is a prefix of the request path, which starts with '/' (\"/\" matches all)"
            ),
        ));
    }
    let code_path = join(path, "errorCode");
    let error_code = as_int(required(rule, path, "errorCode")?, &code_path, 100, 599)? as u16;
    Ok(ServiceInvocationDeterioration {
        path: prefix.to_string(),
        delay: milliseconds(rule, path, "delay")?,
        delay_probability: probability(rule, path, "delayProbability")?,
        error_probability: probability(rule, path, "errorProbability")?,
        error_code,
    })
}

fn validate_cpu_usage(value: &Value, path: &str) -> Result<ArtificialCpuUsage, DefinitionError> {
    let thread = as_object(value, path)?;
    check_keys(thread, path, &["usageDuration", "pauseDuration"], |_| None)?;
    Ok(ArtificialCpuUsage {
        usage_duration: milliseconds(thread, path, "usageDuration")?,
        pause_duration: milliseconds(thread, path, "pauseDuration")?,
    })
}

/// A sidecar delay: a 32-bit integer number of milliseconds. Negative values are refused because .NET reads
/// -1 as "wait forever" and throws for the others.
fn milliseconds(object: &Map<String, Value>, path: &str, key: &str) -> Result<u32, DefinitionError> {
    Ok(as_int(required(object, path, key)?, &join(path, key), 0, INT_MAX)? as u32)
}

fn probability(object: &Map<String, Value>, path: &str, key: &str) -> Result<f64, DefinitionError> {
    let field = join(path, key);
    let p = as_number(required(object, path, key)?, &field)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(error(field, format!("{p} is not a probability: it must be between 0 and 1")));
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------------------
// JSON helpers: each names the field it is about.

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

fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
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

/// An integer in `min..=max`. Fractions are refused: the components read these as Java, C# or JSON-Schema
/// integers, and Jackson would silently truncate 1.5 to 1.
fn as_int(value: &Value, path: &str, min: i64, max: i64) -> Result<i64, DefinitionError> {
    let number = match value {
        Value::Number(number) => number,
        Value::String(text) if text.trim().parse::<i64>().is_ok() => {
            return Err(error(
                path,
                format!("must be a JSON number, not a string: write {} without quotes", text.trim()),
            ));
        }
        other => return Err(error(path, format!("must be an integer, found {}", kind(other)))),
    };
    let Some(integer) = number.as_i64() else {
        return Err(match number.as_u64() {
            Some(_) => error(path, format!("{number} is out of range {min} to {max}")),
            None => error(path, format!("{number} is not a whole number")),
        });
    };
    if !(min..=max).contains(&integer) {
        return Err(error(path, format!("{integer} is out of range {min} to {max}")));
    }
    Ok(integer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::misarch::test_fixtures::*;
    use serde_json::json;

    fn rejected(map: &Map<String, Value>) -> DefinitionError {
        validate(map).expect_err("the definition must be rejected")
    }

    #[test]
    fn the_generated_normal_load_test_is_valid() {
        let experiment = validate(&sample()).expect("valid");
        assert_eq!(experiment.test_name, "My Experiment");
        assert_eq!(experiment.load_type, LoadType::NormalLoadTest);
        assert_eq!(
            experiment.goals[0],
            Goal { metric: "max response time".into(), threshold: 2000.0, color: "red".into() }
        );
        assert_eq!(experiment.gatling[0].file_name, "abortedBuyProcessScenario");
        assert_eq!(experiment.misarch_failures.len(), 2);
        assert_eq!(experiment.misarch_failures[0].pauses, Pauses { before: 600, after: 300 });
        assert_eq!(
            experiment.misarch_failures[0].failures[0].service_invocation_deterioration,
            Some(vec![ServiceInvocationDeterioration {
                path: "/".into(),
                delay: 1000,
                delay_probability: 1.0,
                error_probability: 1.0,
                error_code: 404
            }])
        );
        assert_eq!(experiment.misarch_failures[1].failures[0].service_invocation_deterioration, None);
        assert!(experiment.uses_chaos_toolkit());
        assert!(experiment.uses_configurator());
    }

    #[test]
    fn the_parsed_experiment_round_trips_through_serde_with_the_wire_names() {
        let experiment = validate(&sample()).expect("valid");
        let value = serde_json::to_value(&experiment).expect("serializes");
        assert_eq!(value["misarchFailures"], parse(MISARCH_GENERATED));
        assert_eq!(value["chaosToolkit"], parse(CHAOS_DOCKER_DEFAULT));
        assert!(value["gatling"][0]["encodedWorkFileContent"].is_string());
        let back: MisarchExperiment = serde_json::from_value(value).expect("deserializes");
        assert_eq!(back, experiment);
    }

    #[test]
    fn the_docs_failure_example_is_valid_and_absent_variables_are_null() {
        let map = with(sample(), "/misarchFailures", parse(MISARCH_DOCS_EXAMPLE));
        let experiment = validate(&map).expect("valid");
        let reset = &experiment.misarch_failures[1].failures[0];
        assert_eq!(reset.name, "catalog");
        assert_eq!(reset.pub_sub_deterioration, None);
        assert_eq!(reset.artificial_memory_usage, None);
        assert_eq!(reset.artificial_cpu_usage, None);
        // "delayProbability": 1 is a JSON integer in the docs; it is a probability all the same.
        assert_eq!(
            experiment.misarch_failures[0].failures[0]
                .service_invocation_deterioration
                .as_ref()
                .map(|rules| rules[0].delay_probability),
            Some(1.0)
        );
    }

    #[test]
    fn the_frontend_warm_up_and_steady_state_are_valid() {
        let mut map = sample();
        for (key, value) in parse(FRONTEND_PRE_TRIGGER).as_object().expect("object") {
            map.insert(key.clone(), value.clone());
        }
        let experiment = validate(&map).expect("valid");
        assert_eq!(experiment.warm_up, Some(WarmUp { duration: 45, rate: 10 }));
        assert_eq!(experiment.steady_state, Some(SteadyState { duration: 60, rate: 10, factor: 1.2 }));
        assert!(experiment.goals.is_empty());
        assert_eq!(pre_trigger_duration(&experiment), Duration::from_secs(105));
    }

    #[test]
    fn the_execution_json_string_threshold_is_refused_and_the_error_says_why() {
        let execution = parse(EXECUTION_JSON);
        let map = with(sample(), "/goals", execution["goals"].clone());
        let err = rejected(&map);
        assert_eq!(err.field, "misarch.goals[0].threshold");
        assert!(err.message.contains("not a string"), "{}", err.message);
        assert!(err.message.contains("write 2000 instead of \"2000\""), "{}", err.message);
    }

    #[test]
    fn execution_json_identity_fields_are_refused_with_a_reason() {
        let mut map = sample();
        map.insert("testUUID".into(), json!("3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10"));
        map.insert("testVersion".into(), json!("v1"));
        let err = rejected(&map);
        assert_eq!(err.field, "misarch.testUUID");
        assert!(err.message.contains("eris assigns testUUID and testVersion"), "{}", err.message);
        assert!(err.message.contains("also unknown: testVersion"), "{}", err.message);
    }

    #[test]
    fn unknown_fields_are_named_at_every_level() {
        let cases = [
            (
                "/goals/0",
                json!({"metric": "max response time", "threshold": 1, "color": "red", "unit": "ms"}),
                "misarch.goals[0].unit",
            ),
            ("/warmUp", json!({"duration": 10, "rate": 1, "users": 3}), "misarch.warmUp.users"),
            (
                "/misarchFailures/0/pauses",
                json!({"before": 1, "after": 1, "during": 2}),
                "misarch.misarchFailures[0].pauses.during",
            ),
            (
                "/misarchFailures/0/failures/0/serviceInvocationDeterioration/0",
                json!({"path": "/", "delay": 1, "delayProbability": 1, "errorProbability": 0, "errorCode": 500, "method": "GET"}),
                "misarch.misarchFailures[0].failures[0].serviceInvocationDeterioration[0].method",
            ),
            ("/chaosToolkit/steady_state_hypothesis", json!({}), "misarch.chaosToolkit.steady_state_hypothesis"),
        ];
        for (pointer, value, field) in cases {
            let mut map = sample();
            if pointer == "/chaosToolkit/steady_state_hypothesis" {
                map.get_mut("chaosToolkit")
                    .and_then(Value::as_object_mut)
                    .expect("object")
                    .insert("steady_state_hypothesis".into(), value);
            } else {
                map = with(map, pointer, value);
            }
            assert_eq!(rejected(&map).field, field);
        }
    }

    #[test]
    fn the_lower_case_pubsub_key_gets_a_hint() {
        let map = with(
            sample(),
            "/misarchFailures/0/failures/0",
            json!({"name": "catalog", "pubsubDeterioration": {"delay": 1, "delayProbability": 1, "errorProbability": 0}}),
        );
        let err = rejected(&map);
        assert_eq!(err.field, "misarch.misarchFailures[0].failures[0].pubsubDeterioration");
        assert!(err.message.contains("capital S"), "{}", err.message);
    }

    #[test]
    fn the_frontend_illustrative_failure_format_is_refused_with_a_hint() {
        let map = with(sample(), "/misarchFailures", json!([{"failureSets": [], "serviceName": "catalog"}]));
        let err = rejected(&map);
        assert_eq!(err.field, "misarch.misarchFailures[0].failureSets");
        assert!(err.message.contains("MiSArchConfigEditor.md"), "{}", err.message);
    }

    #[test]
    fn required_fields_are_named() {
        for key in ["testName", "loadType", "goals", "gatling", "chaosToolkit", "misarchFailures"] {
            let mut map = sample();
            map.remove(key);
            assert_eq!(rejected(&map), error(format!("misarch.{key}"), "is required"));
        }
        let mut map = sample();
        map.insert("gatling".into(), Value::Null);
        assert_eq!(rejected(&map).message, "is required and must not be null");
    }

    #[test]
    fn goal_metrics_are_the_exact_labels() {
        assert_eq!(GOAL_METRICS.len(), 27);
        assert_eq!(GOAL_METRICS.iter().collect::<BTreeSet<_>>().len(), 27, "no label twice");
        for label in ["percentage reqs with resp. time 800 ms < t < 1200 ms", "99th percentile response time ko"] {
            let map = with(sample(), "/goals/0", json!({"metric": label, "threshold": 10, "color": "red"}));
            assert!(validate(&map).is_ok(), "{label}");
        }

        let typo = with(sample(), "/goals/0/metric", json!("Max Response  Time"));
        let err = rejected(&typo);
        assert_eq!(err.field, "misarch.goals[0].metric");
        assert!(err.message.contains("did you mean \"max response time\""), "{}", err.message);

        let unknown = with(sample(), "/goals/0/metric", json!("p99"));
        assert!(rejected(&unknown).message.contains("percentage reqs with resp. time 800 ms < t < 1200 ms"));
    }

    #[test]
    fn thresholds_must_be_sensible_numbers() {
        let negative = with(sample(), "/goals/1/threshold", json!(-1));
        assert_eq!(rejected(&negative).field, "misarch.goals[1].threshold");
        let mut percentage = with(sample(), "/goals/1/metric", json!("percentage failed requests"));
        percentage = with(percentage, "/goals/1/threshold", json!(150));
        assert!(rejected(&percentage).message.contains("0 to 100"));
        let word = with(sample(), "/goals/1/threshold", json!("high"));
        assert_eq!(rejected(&word).message, "must be a number, found a string");
        let fraction = with(sample(), "/goals/1/threshold", json!(99.5));
        assert_eq!(validate(&fraction).expect("valid").goals[1].threshold, 99.5);
    }

    #[test]
    fn colors_are_grafana_colors() {
        for color in ["red", "semi-dark-yellow", "#73bf69", "#FFF", "rgba(50, 172, 45, 0.97)", "rgb(1,2,3)"] {
            assert!(validate(&with(sample(), "/goals/0/color", json!(color))).is_ok(), "{color}");
        }
        for color in ["", "rouge", "#12345", "rgb(1,2)", "#gggggg"] {
            assert_eq!(
                rejected(&with(sample(), "/goals/0/color", json!(color))).field,
                "misarch.goals[0].color",
                "{color}"
            );
        }
    }

    #[test]
    fn warm_up_and_steady_state_durations_are_checked() {
        let zero = with(sample(), "/warmUp", json!({"duration": 0, "rate": 10}));
        assert_eq!(rejected(&zero), error("misarch.warmUp.duration", "0 is out of range 1 to 86400"));
        let string = with(sample(), "/steadyState", json!({"duration": "60", "rate": 10, "factor": 1.2}));
        let err = rejected(&string);
        assert_eq!(err.field, "misarch.steadyState.duration");
        assert!(err.message.contains("not a string"), "{}", err.message);
        let fraction = with(sample(), "/steadyState", json!({"duration": 60.5, "rate": 10, "factor": 1.2}));
        assert_eq!(rejected(&fraction).message, "60.5 is not a whole number");
        let factor = with(sample(), "/steadyState", json!({"duration": 60, "rate": 10, "factor": 0}));
        assert_eq!(rejected(&factor).field, "misarch.steadyState.factor");
        let missing = with(sample(), "/steadyState", json!({"duration": 60, "rate": 10}));
        assert_eq!(rejected(&missing), error("misarch.steadyState.factor", "is required"));
    }

    #[test]
    fn load_type_must_be_one_of_the_four() {
        let err = rejected(&with(sample(), "/loadType", json!("SpikeLoadTest")));
        assert_eq!(err.field, "misarch.loadType");
        assert!(err.message.contains("ElasticityLoadTest"));
    }

    #[test]
    fn base64_must_decode_to_utf8() {
        let broken = with(sample(), "/gatling/0/encodedWorkFileContent", json!("cGFja2FnZSBvcmcubWlzYXJjaAoK..."));
        let err = rejected(&broken);
        assert_eq!(err.field, "misarch.gatling[0].encodedWorkFileContent");
        assert!(err.message.contains("Base64"), "{}", err.message);

        // §7.6's visible prefix: 20 characters need no padding ("usersteps\n1\n2\n2").
        let exact = with(sample(), "/gatling/0/encodedUserStepsFileContent", json!("dXNlcnN0ZXBzCjEKMgoy"));
        let exact = validate(&with(exact, "/misarchFailures", json!([]))).expect("valid");
        assert_eq!(exact.gatling[0].user_steps(), vec![1, 2, 2]);
        let unpadded = with(sample(), "/gatling/0/encodedUserStepsFileContent", json!("dXNlcnN0ZXBzCjEKMg"));
        assert!(rejected(&unpadded).message.contains("padding"));

        let latin1 =
            with(sample(), "/gatling/0/encodedUserStepsFileContent", json!(BASE64.encode(b"usersteps\n\xe9\n1\n")));
        let err = rejected(&latin1);
        assert_eq!(err.field, "misarch.gatling[0].encodedUserStepsFileContent");
        assert!(err.message.contains("UTF-8"), "{}", err.message);
    }

    #[test]
    fn the_file_name_must_be_the_scenario_val() {
        let other = with(sample(), "/gatling/0/fileName", json!("buyProcessScenario"));
        let err = rejected(&other);
        assert_eq!(err.field, "misarch.gatling[0].encodedWorkFileContent");
        assert!(err.message.contains("val buyProcessScenario"), "{}", err.message);
        // `productId` is declared inside a lambda, not at top level.
        assert!(validate(&with(sample(), "/gatling/0/fileName", json!("productId"))).is_err());
        for name in ["../etc/passwd", "1scenario", "Scenarios", "val", "", "buy-process"] {
            assert_eq!(
                rejected(&with(sample(), "/gatling/0/fileName", json!(name))).field,
                "misarch.gatling[0].fileName",
                "{name}"
            );
        }
        let package = ABORTED_BUY_WORK_FILE.replace("package org.misarch", "package org.example");
        let err = rejected(&with(sample(), "/gatling/0/encodedWorkFileContent", json!(encode(&package))));
        assert!(err.message.contains("package org.misarch"), "{}", err.message);
    }

    #[test]
    fn scenario_names_are_unique() {
        let entry = sample()["gatling"][0].clone();
        let err = rejected(&with(sample(), "/gatling", json!([entry.clone(), entry])));
        assert_eq!(err.field, "misarch.gatling[1].fileName");
        assert!(rejected(&with(sample(), "/gatling", json!([]))).message.contains("at least one"));
    }

    #[test]
    fn user_steps_are_read_like_gatling_reads_them() {
        let file = EncodedFile {
            file_name: "abortedBuyProcessScenario".into(),
            encoded_work_file_content: encode(ABORTED_BUY_WORK_FILE),
            encoded_user_steps_file_content: encode(USER_STEPS_CSV),
        };
        assert_eq!(file.user_steps(), vec![3, 3, 2, 2, 1, 2, 3]);
        assert_eq!(file.injection_duration(), Duration::from_secs(7));
        // Windows line ends and a trailing blank line are fine: MainSimulation trims every line.
        let crlf =
            EncodedFile { encoded_user_steps_file_content: encode("userSteps\r\n4\r\n5\r\n\r\n"), ..file.clone() };
        assert_eq!(crlf.user_steps(), vec![4, 5]);
        // Beyond 3600 steps Gatling injects per minute, rounding the last chunk up to a full minute.
        let long = EncodedFile { encoded_user_steps_file_content: encode(&steps(3601, 1)), ..file };
        assert_eq!(long.injection_duration(), Duration::from_secs(3660));

        let sample_steps = with(sample(), "/gatling/0/encodedUserStepsFileContent", json!(encode(USER_STEPS_CSV)));
        let sample_steps = with(sample_steps, "/misarchFailures", json!([]));
        assert!(validate(&sample_steps).is_ok());
    }

    #[test]
    fn user_steps_that_gatling_would_skip_are_refused() {
        let cases = [
            ("usersteps\n1\n1.5\n2\n", "line 3"),
            ("usersteps\n1\n-2\n", "cannot be negative"),
            ("usersteps\n", "has no user steps"),
            ("usersteps\n0\n0\n", "every step is 0"),
            ("1\nusersteps\n", "line 2"),
        ];
        for (csv, expected) in cases {
            let map = with(sample(), "/gatling/0/encodedUserStepsFileContent", json!(encode(csv)));
            let map = with(map, "/misarchFailures", json!([]));
            let err = rejected(&map);
            assert_eq!(err.field, "misarch.gatling[0].encodedUserStepsFileContent");
            assert!(err.message.contains(expected), "{csv:?}: {}", err.message);
        }
    }

    #[test]
    fn failure_values_follow_the_sidecar_schemas() {
        let entry = "/misarchFailures/0/failures/0";
        let cases = [
            (
                json!({"name": "catalog", "pubSubDeterioration": {"delay": 5, "delayProbability": 0.5}}),
                "misarch.misarchFailures[0].failures[0].pubSubDeterioration.errorProbability",
            ),
            (
                json!({"name": "catalog", "pubSubDeterioration": {"delay": -1, "delayProbability": 0.5, "errorProbability": 0}}),
                "misarch.misarchFailures[0].failures[0].pubSubDeterioration.delay",
            ),
            (
                json!({"name": "catalog", "pubSubDeterioration": {"delay": 5, "delayProbability": 1.5, "errorProbability": 0}}),
                "misarch.misarchFailures[0].failures[0].pubSubDeterioration.delayProbability",
            ),
            (
                json!({"name": "catalog", "serviceInvocationDeterioration": {"path": "/", "delay": 1, "delayProbability": 1, "errorProbability": 0, "errorCode": 500}}),
                "misarch.misarchFailures[0].failures[0].serviceInvocationDeterioration",
            ),
            (
                json!({"name": "catalog", "serviceInvocationDeterioration": [{"path": "graphql", "delay": 1, "delayProbability": 1, "errorProbability": 0, "errorCode": 500}]}),
                "misarch.misarchFailures[0].failures[0].serviceInvocationDeterioration[0].path",
            ),
            (
                json!({"name": "catalog", "serviceInvocationDeterioration": [{"path": "/", "delay": 1, "delayProbability": 1, "errorProbability": 0, "errorCode": 42}]}),
                "misarch.misarchFailures[0].failures[0].serviceInvocationDeterioration[0].errorCode",
            ),
            (
                json!({"name": "catalog", "artificialMemoryUsage": -1}),
                "misarch.misarchFailures[0].failures[0].artificialMemoryUsage",
            ),
            (
                json!({"name": "catalog", "artificialMemoryUsage": 1.5e9}),
                "misarch.misarchFailures[0].failures[0].artificialMemoryUsage",
            ),
            (
                json!({"name": "catalog", "artificialCPUUsage": [{"usageDuration": 100}]}),
                "misarch.misarchFailures[0].failures[0].artificialCPUUsage[0].pauseDuration",
            ),
            (
                json!({"name": "catalog", "artificialCPUUsage": {"usageDuration": 100, "pauseDuration": 10}}),
                "misarch.misarchFailures[0].failures[0].artificialCPUUsage",
            ),
            (json!({"name": "catalog/x"}), "misarch.misarchFailures[0].failures[0].name"),
            (json!({"pubSubDeterioration": null}), "misarch.misarchFailures[0].failures[0].name"),
        ];
        for (value, field) in cases {
            assert_eq!(rejected(&with(sample(), entry, value.clone())).field, field, "{value}");
        }
        let full = json!({
            "name": "shoppingcart",
            "pubSubDeterioration": {"delay": 200, "delayProbability": 0.3, "errorProbability": 0.1},
            "serviceInvocationDeterioration": [],
            "artificialMemoryUsage": 536870912u64,
            "artificialCPUUsage": [{"usageDuration": 90, "pauseDuration": 10}, {"usageDuration": 50, "pauseDuration": 50}]
        });
        let experiment = validate(&with(sample(), entry, full)).expect("valid");
        let failure = &experiment.misarch_failures[0].failures[0];
        assert_eq!(failure.artificial_memory_usage, Some(536_870_912));
        assert_eq!(failure.artificial_cpu_usage.as_ref().map(Vec::len), Some(2));
    }

    #[test]
    fn a_set_may_not_name_a_service_twice() {
        let set = json!({"failures": [{"name": "catalog"}, {"name": "catalog", "artificialMemoryUsage": 1}], "pauses": {"before": 0, "after": 0}});
        let err = rejected(&with(sample(), "/misarchFailures/1", set));
        assert_eq!(err.field, "misarch.misarchFailures[1].failures[1].name");
    }

    #[test]
    fn a_set_applied_after_the_load_ends_is_refused() {
        // 600 + 300 + 1000 s: the reset would come 100 s after the 1800-second load.
        let late = with(sample(), "/misarchFailures/1/pauses/before", json!(1000));
        let err = rejected(&late);
        assert_eq!(err.field, "misarch.misarchFailures[1].pauses.before");
        assert!(err.message.contains("T0+1900 s") && err.message.contains("T0+1800 s"), "{}", err.message);
        // A set with no failures is only a pause.
        let idle = with(late, "/misarchFailures/1/failures", json!([]));
        assert!(validate(&idle).is_ok());
    }

    #[test]
    fn the_empty_chaos_variant_is_valid_but_unused() {
        let experiment = validate(&with(sample(), "/chaosToolkit", parse(CHAOS_EMPTY))).expect("valid");
        assert!(!experiment.uses_chaos_toolkit());
    }

    #[test]
    fn chaos_toolkit_experiments_are_checked_like_chaoslib_does() {
        let cases = [
            ("/chaosToolkit/title", json!(""), "misarch.chaosToolkit.title"),
            ("/chaosToolkit/method/0/type", json!("attack"), "misarch.chaosToolkit.method[0].type"),
            ("/chaosToolkit/method/0/provider/type", json!("shell"), "misarch.chaosToolkit.method[0].provider.type"),
            ("/chaosToolkit/method/0/pauses/before", json!(-3), "misarch.chaosToolkit.method[0].pauses.before"),
            ("/chaosToolkit/method/0/pauses/after", json!("soon"), "misarch.chaosToolkit.method[0].pauses.after"),
            (
                "/chaosToolkit/method/1/provider/func",
                json!("restart_containers"),
                "misarch.chaosToolkit.method[1].provider.func",
            ),
            (
                "/chaosToolkit/method/1/provider/arguments",
                json!({}),
                "misarch.chaosToolkit.method[1].provider.arguments.names",
            ),
            ("/chaosToolkit/method/1", json!({"ref": "Nope"}), "misarch.chaosToolkit.method[1].ref"),
            (
                "/chaosToolkit/steady-state-hypothesis/probes/0/tolerance",
                Value::Null,
                "misarch.chaosToolkit.steady-state-hypothesis.probes[0].tolerance",
            ),
        ];
        for (pointer, value, field) in cases {
            let map = if value.is_null() {
                let mut map = sample();
                map["chaosToolkit"]["steady-state-hypothesis"]["probes"][0]
                    .as_object_mut()
                    .expect("object")
                    .remove("tolerance");
                map
            } else {
                with(sample(), pointer, value)
            };
            assert_eq!(rejected(&map).field, field, "{pointer}");
        }
        let mut map = sample();
        map["chaosToolkit"].as_object_mut().expect("object").remove("method");
        assert_eq!(rejected(&map), error("misarch.chaosToolkit.method", "is required"));
        // A reference to an earlier activity and a templated pause are fine.
        let map = with(sample(), "/chaosToolkit/method/1", json!({"ref": "Kill Containers"}));
        let map = with(map, "/chaosToolkit/method/0/pauses/after", json!("${recovery}"));
        assert!(validate(&map).is_ok());
    }

    #[test]
    fn the_old_trigger_action_is_refused() {
        // §7.3's older experiment, as JSON: it waited for the trigger itself through a module that moved.
        let old = json!({
            "version": "1.0.0",
            "title": "Kill a Docker container with delay and recovery",
            "description": "This experiment waits 10 seconds, kills the container, waits another 8 seconds, then restarts it.\n",
            "method": [
                {"type": "action", "name": "wait-for-trigger", "provider": {"type": "python", "module": "chaostoolkit_docker",
                    "func": "wait_for_trigger", "arguments": {"url": "http://192.168.178.155:8888/trigger/{UUID}", "check_interval": 0.1}}},
                {"type": "action", "name": "kill-container", "provider": {"type": "python", "module": "chaostoolkit_docker",
                    "func": "kill_containers", "arguments": {"names": ["infrastructure-docker-gateway-1"]}}, "pauses": {"before": 4, "after": 8}}
            ]
        });
        let err = rejected(&with(sample(), "/chaosToolkit", old.clone()));
        assert_eq!(err.field, "misarch.chaosToolkit.method[0].provider.func");
        let mut moved = old;
        moved["method"].as_array_mut().expect("array").remove(0);
        let err = rejected(&with(sample(), "/chaosToolkit", moved));
        assert_eq!(err.field, "misarch.chaosToolkit.method[0].provider.module");
        assert!(err.message.contains(MISARCH_DOCKER_MODULE));
    }

    #[test]
    fn targeted_services_are_listed_once_in_order() {
        let sets = json!([
            {"failures": [{"name": "catalog"}, {"name": "payment"}], "pauses": {"before": 1, "after": 1}},
            {"failures": [{"name": "payment"}, {"name": "gateway"}], "pauses": {"before": 1, "after": 1}}
        ]);
        let experiment = validate(&with(sample(), "/misarchFailures", sets)).expect("valid");
        assert_eq!(targeted_services(&experiment), ["catalog", "payment", "gateway"]);
        assert!(
            targeted_services(&validate(&with(sample(), "/misarchFailures", json!([]))).expect("valid")).is_empty()
        );
    }

    #[test]
    fn planned_duration_adds_the_pre_trigger_phase_to_the_longest_timeline() {
        let experiment = validate(&sample()).expect("valid");
        // Gatling 1800 s; Chaos 360 + 225 s; MiSArch 600 + 300 s.
        assert_eq!(main_duration(&experiment), Duration::from_secs(1800));
        assert_eq!(planned_duration(&experiment), Duration::from_secs(1800));

        let map = with(sample(), "/warmUp", json!({"duration": 45, "rate": 10}));
        let map = with(map, "/steadyState", json!({"duration": 60, "rate": 10, "factor": 1.2}));
        let map = with(map, "/chaosToolkit/method/0/pauses", json!({"before": 1500, "after": "${recovery}"}));
        let map = with(map, "/chaosToolkit/configuration", json!({"recovery": 400}));
        let experiment = validate(&map).expect("valid");
        // The Chaos Toolkit method now runs 1500 + 400 s, beyond the Gatling load.
        assert_eq!(main_duration(&experiment), Duration::from_secs(1900));
        assert_eq!(planned_duration(&experiment), Duration::from_secs(105 + 1900));
    }
}
