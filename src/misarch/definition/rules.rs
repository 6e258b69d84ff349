//! The rules of `misarch` that its types cannot say: ranges, names the Gatling executor turns into Kotlin, the
//! Kotlin work files and CSV user steps themselves, the failure timeline against the load, and Grafana colours.
//! The shape has been read already ([`super::shape`]); each rule names the field it is about.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{
    ArtificialCpuUsage, DefinitionError, EncodedFile, FailureEntry, FailureSet, MisarchExperiment, PubSubDeterioration,
    ServiceInvocationDeterioration, chaos_toolkit, error, parse_kotlin_int, truncate,
};
use crate::misarch::goals::Goal;

/// Checks every rule, in the order of the members.
pub(super) fn check(experiment: &MisarchExperiment) -> Result<(), DefinitionError> {
    test_name(&experiment.test_name, "misarch.testName")?;
    for (i, goal) in experiment.goals.iter().enumerate() {
        check_goal(goal, &format!("misarch.goals[{i}]"))?;
    }
    if let Some(warm_up) = &experiment.warm_up {
        in_range(warm_up.duration.into(), "misarch.warmUp.duration", 1, MAX_PRE_TRIGGER_SECS)?;
        in_range(warm_up.rate.into(), "misarch.warmUp.rate", 1, INT_MAX)?;
    }
    if let Some(steady_state) = &experiment.steady_state {
        in_range(steady_state.duration.into(), "misarch.steadyState.duration", 1, MAX_PRE_TRIGGER_SECS)?;
        in_range(steady_state.rate.into(), "misarch.steadyState.rate", 1, INT_MAX)?;
        // Kotlin Float: the executor multiplies every measured value by it to derive the automatic goals.
        let factor = steady_state.factor;
        if !(factor > 0.0 && factor <= f64::from(f32::MAX)) {
            return Err(error(
                "misarch.steadyState.factor",
                "must be a positive number (the multiplier for the automatic thresholds, e.g. 1.2)",
            ));
        }
    }
    check_gatling(&experiment.gatling, "misarch.gatling")?;
    chaos_toolkit::check(&experiment.chaos_toolkit, "misarch.chaosToolkit")?;
    let injection = experiment.gatling.iter().map(EncodedFile::injection_duration).max().unwrap_or_default();
    check_failure_sets(&experiment.misarch_failures, "misarch.misarchFailures", injection)
}

/// An integer in `min..=max`: the components read these as Java, C# or JSON-Schema 32-bit integers, narrower than
/// the Rust types.
fn in_range(value: i128, path: &str, min: i64, max: i64) -> Result<(), DefinitionError> {
    if (i128::from(min)..=i128::from(max)).contains(&value) {
        Ok(())
    } else {
        Err(error(path, format!("{value} is out of range {min} to {max}")))
    }
}

fn test_name(name: &str, path: &str) -> Result<(), DefinitionError> {
    if name.trim().is_empty() {
        return Err(error(path, "must not be empty"));
    }
    if name.chars().count() > MAX_TEST_NAME_CHARS {
        return Err(error(path, format!("is longer than {MAX_TEST_NAME_CHARS} characters")));
    }
    Ok(())
}

fn check_goal(goal: &Goal, path: &str) -> Result<(), DefinitionError> {
    let threshold_path = format!("{path}.threshold");
    if !goal.threshold.is_finite() {
        return Err(error(threshold_path, "must be a finite number"));
    }
    if goal.threshold < 0.0 {
        return Err(error(threshold_path, "must not be negative: every goal metric is a time or a percentage"));
    }
    if goal.metric.is_percentage() && goal.threshold > 100.0 {
        return Err(error(
            threshold_path,
            format!("\"{}\" is a percentage; the threshold must be 0 to 100", goal.metric),
        ));
    }
    if !is_color(&goal.color) {
        return Err(error(
            format!("{path}.color"),
            format!(
                "\"{}\" is not a colour Grafana understands; use a palette name (e.g. \"red\", \"semi-dark-yellow\"), \
                 a hex colour (e.g. \"#73bf69\") or rgb()/rgba()",
                goal.color
            ),
        ));
    }
    Ok(())
}

fn check_gatling(files: &[EncodedFile], path: &str) -> Result<(), DefinitionError> {
    if files.is_empty() {
        return Err(error(path, "needs at least one scenario: the Gatling executor has nothing to run without one"));
    }
    let mut names = HashSet::new();
    for (i, file) in files.iter().enumerate() {
        let entry_path = format!("{path}[{i}]");
        let name_path = format!("{entry_path}.fileName");
        validate_file_name(&file.file_name, &name_path)?;
        let work_path = format!("{entry_path}.encodedWorkFileContent");
        let source = decode_base64_text(&file.encoded_work_file_content, &work_path)?;
        validate_work_file(&source, &file.file_name, &work_path)?;
        let steps_path = format!("{entry_path}.encodedUserStepsFileContent");
        let csv = decode_base64_text(&file.encoded_user_steps_file_content, &steps_path)?;
        validate_user_steps(&csv, &steps_path)?;
        if !names.insert(file.file_name.as_str()) {
            return Err(error(
                name_path,
                format!("\"{}\" is used by an earlier scenario; file names must be unique", file.file_name),
            ));
        }
    }
    Ok(())
}

fn check_failure_sets(sets: &[FailureSet], path: &str, injection: Duration) -> Result<(), DefinitionError> {
    let mut elapsed = 0u64;
    for (i, set) in sets.iter().enumerate() {
        let set_path = format!("{path}[{i}]");
        check_failure_set(set, &set_path)?;
        let applied_at = elapsed + u64::from(set.pauses.before);
        // A set applied after the last arrivals changes nothing the run measures; it is almost always a
        // pause given in the wrong unit (seconds, not milliseconds) or a timeline longer than the load.
        if !set.failures.is_empty() && applied_at > injection.as_secs() {
            return Err(error(
                format!("{set_path}.pauses.before"),
                format!(
                    "the set would be applied at T0+{applied_at} s, after the Gatling load ends at T0+{} s (the longest \
                     user-steps file); pauses are in seconds",
                    injection.as_secs()
                ),
            ));
        }
        elapsed = applied_at + u64::from(set.pauses.after);
    }
    Ok(())
}

fn check_failure_set(set: &FailureSet, path: &str) -> Result<(), DefinitionError> {
    let mut services = HashSet::new();
    for (i, entry) in set.failures.iter().enumerate() {
        let entry_path = format!("{path}.failures[{i}]");
        check_failure_entry(entry, &entry_path)?;
        // Entries are applied in order, so a second entry for the same service silently replaces the first.
        if !services.insert(entry.name.as_str()) {
            return Err(error(
                format!("{entry_path}.name"),
                format!("\"{}\" already has an entry in this set; put all of its variables in one entry", entry.name),
            ));
        }
    }
    in_range(set.pauses.before.into(), &format!("{path}.pauses.before"), 0, INT_MAX)?;
    in_range(set.pauses.after.into(), &format!("{path}.pauses.after"), 0, INT_MAX)
}

pub(super) fn check_failure_entry(entry: &FailureEntry, path: &str) -> Result<(), DefinitionError> {
    validate_service_name(&entry.name, &format!("{path}.name"))?;
    if let Some(rule) = &entry.pub_sub_deterioration {
        check_pub_sub(rule, &format!("{path}.pubSubDeterioration"))?;
    }
    for (i, rule) in entry.service_invocation_deterioration.iter().flatten().enumerate() {
        check_service_invocation(rule, &format!("{path}.serviceInvocationDeterioration[{i}]"))?;
    }
    if let Some(bytes) = entry.artificial_memory_usage {
        in_range(bytes.into(), &format!("{path}.artificialMemoryUsage"), 0, i64::MAX)?;
    }
    for (i, thread) in entry.artificial_cpu_usage.iter().flatten().enumerate() {
        check_cpu_usage(thread, &format!("{path}.artificialCPUUsage[{i}]"))?;
    }
    Ok(())
}

fn check_pub_sub(rule: &PubSubDeterioration, path: &str) -> Result<(), DefinitionError> {
    milliseconds(rule.delay, path, "delay")?;
    probability(rule.delay_probability, path, "delayProbability")?;
    probability(rule.error_probability, path, "errorProbability")
}

fn check_service_invocation(rule: &ServiceInvocationDeterioration, path: &str) -> Result<(), DefinitionError> {
    if let Some(prefix) = rule.path.as_deref().filter(|prefix| !prefix.starts_with('/')) {
        return Err(error(
            format!("{path}.path"),
            format!(
                "\"{prefix}\" never matches: it is a prefix of the request path, which starts with '/' (\"/\" matches all)"
            ),
        ));
    }
    if let Some(code) = rule.error_code {
        in_range(code.into(), &format!("{path}.errorCode"), 100, 599)?;
    }
    milliseconds(rule.delay, path, "delay")?;
    probability(rule.delay_probability, path, "delayProbability")?;
    probability(rule.error_probability, path, "errorProbability")
}

fn check_cpu_usage(thread: &ArtificialCpuUsage, path: &str) -> Result<(), DefinitionError> {
    milliseconds(Some(thread.usage_duration), path, "usageDuration")?;
    milliseconds(Some(thread.pause_duration), path, "pauseDuration")
}

/// A sidecar delay, where given: a 32-bit integer number of milliseconds (.NET reads -1 as "wait forever", which the
/// unsigned type already refuses).
fn milliseconds(value: Option<u32>, path: &str, key: &str) -> Result<(), DefinitionError> {
    match value {
        Some(value) => in_range(value.into(), &format!("{path}.{key}"), 0, INT_MAX),
        None => Ok(()),
    }
}

/// A probability, where given.
fn probability(p: Option<f64>, path: &str, key: &str) -> Result<(), DefinitionError> {
    match p {
        Some(p) if !(0.0..=1.0).contains(&p) => {
            Err(error(format!("{path}.{key}"), format!("{p} is not a probability: it must be between 0 and 1")))
        }
        _ => Ok(()),
    }
}

/// Grafana's named palette colours (the threshold colour picker), the names a goal colour may use besides
/// hex and rgb()/rgba(): the dashboard copies the colour into a threshold step verbatim.
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
/// Gatling executor's generated `Scenarios.kt`, so it cannot be one of these.
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
/// overwritten or would not compile.
const GATLING_RESERVED_NAMES: &[&str] =
    &["Scenarios", "scenarios", "MainSimulation", "WarmUpSimulation", "SteadyStateSimulation"];

/// The Kotlin package every work file must declare, because the generated `Scenarios.kt` is in it.
const GATLING_PACKAGE: &str = "org.misarch";

/// Warm-up and steady state run before T0 and hold the trigger back; a day is far beyond any sensible
/// value and keeps the pre-trigger wait bounded.
pub(super) const MAX_PRE_TRIGGER_SECS: i64 = 86_400;

const MAX_TEST_NAME_CHARS: usize = 256;

const MAX_SERVICE_NAME_CHARS: usize = 63;

const MAX_FILE_NAME_CHARS: usize = 100;

/// Java's and C#'s `int`: the executor's model (Kotlin `Int`), the Gatling executor's query parameters and
/// the sidecar's rules are all 32-bit.
pub(super) const INT_MAX: i64 = i32::MAX as i64;

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

/// MainSimulation keeps only the lines that parse as integers and silently drops the rest. A
/// header line is expected, but any other dropped line would shift the whole load profile, so it is an
/// error here; so are negative counts (Gatling rejects them) and a file that injects nobody.
pub(super) fn validate_user_steps(csv: &str, path: &str) -> Result<(), DefinitionError> {
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

/// The Gatling executor decodes with Kotlin's strict standard decoder and writes the text out as UTF-8
/// (replacing invalid bytes), so the content must be standard padded Base64 of UTF-8 text.
fn decode_base64_text(encoded: &str, path: &str) -> Result<String, DefinitionError> {
    let bytes = BASE64.decode(encoded).map_err(|cause| {
        error(path, format!("is not standard Base64 with padding (RFC 4648 §4, no line breaks): {cause}"))
    })?;
    String::from_utf8(bytes).map_err(|cause| error(path, format!("does not decode to UTF-8 text: {cause}")))
}

/// The name is a path segment of the configurator's API (`/configuration/{service}/…`) and a sidecar's
/// `SERVICE_NAME`: MiSArch's are lower-case words such as "shoppingcart".
pub(super) fn validate_service_name(name: &str, path: &str) -> Result<(), DefinitionError> {
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
