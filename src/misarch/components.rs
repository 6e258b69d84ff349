//! What eris sends to the real MiSArch components when it plays the Experiment Executor's part (docs/misarch.md), as
//! pure request descriptors: no HTTP client lives here.
//!
//! The orchestrator sends each [`ComponentRequest`] to the component's base URL (the executor's
//! `GATLING_EXECUTOR_HOST`, `CHAOSTOOLKIT_EXECUTOR_HOST` and `MISARCH_EXPERIMENT_CONFIG_HOST`), serves the
//! callbacks ([`TRIGGER_REGISTERED`]), and runs the barrier and the [`failure_timeline`]. Paths, query strings
//! and bodies are byte-for-byte what the original executor sends, except where noted for a defect of the original.

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use super::definition::{FailureEntry, MisarchExperiment};

/// The barrier client names the components register with (`POST /trigger/…?client=<name>`).
pub const GATLING_CLIENT: &str = "gatling";
pub const CHAOS_TOOLKIT_CLIENT: &str = "chaostoolkit";
/// The four sidecar variables, in the order the original sets them. Note `pubsubDeterioration`
/// with a small s, unlike the failure entry's `pubSubDeterioration`.
pub const FAILURE_VARIABLES: [&str; 4] =
    ["pubsubDeterioration", "serviceInvocationDeterioration", "artificialMemoryUsage", "artificialCPUUsage"];

/// Added to eris's wait at the barrier in the Chaos Toolkit executor's `testDelay`: the trigger is polled by every
/// replica's clock and eris's deadline is checked every poll, so the executor must not give up right at it.
pub const TEST_DELAY_MARGIN: Duration = Duration::from_secs(60);

/// The testVersion of every trial: the trial id alone makes the identity unique (see [`test_identity`]).
pub const TEST_VERSION: &str = "v1";

/// The original's answer to a trigger registration (a serialized Kotlin `Unit`); clients ignore it. The callbacks
/// (`POST` and `GET /trigger/{testUUID}/{testVersion}`, `POST /experiment/{testUUID}/{testVersion}/gatling/metrics`
/// and `…/metrics/steadyState`) are answered `text/plain`. The metrics bodies arrive with `Content-Type: plain/text`
/// (sic), so their handlers must not insist on a content type, and may be several hundred KB; Gatling treats any
/// status but 200 as a failure.
pub const TRIGGER_REGISTERED: &str = "kotlin.Unit";

const JSON: &str = "application/json";
/// What Spring's WebClient sends for a String body, which the original uses for the Chaos Toolkit
/// experiment; the Flask side reads the raw body whatever the type.
const TEXT: &str = "text/plain;charset=UTF-8";

/// One HTTP request to a component, relative to its base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRequest {
    pub method: Method,
    /// Path and query exactly as the original executor sends them (query already encoded).
    pub path_and_query: String,
    pub content_type: Option<&'static str>,
    pub body: Option<String>,
}

impl ComponentRequest {
    pub(crate) fn new(method: Method, path_and_query: String) -> Self {
        ComponentRequest { method, path_and_query, content_type: None, body: None }
    }

    pub(crate) fn with_body(mut self, content_type: &'static str, body: String) -> Self {
        self.content_type = Some(content_type);
        self.body = Some(body);
        self
    }
}

/// The three components eris drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    Gatling,
    ChaosToolkit,
    Configurator,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::Gatling => "Gatling executor",
            Component::ChaosToolkit => "Chaos Toolkit executor",
            Component::Configurator => "MiSArch experiment configurator",
        }
    }
}

/// testUUID/testVersion that identify a trial towards the components: the trial id, and [`TEST_VERSION`].
///
/// The components need a testUUID that parses as a `java.util.UUID` (the Gatling executor's parameter,
/// the original's routes) and path-safe strings (both appear in `/trigger/{testUUID}/{testVersion}` and in
/// the Gatling environment). A fresh UUID per trial also fixes what a shared uuid:version broke in the
/// original (one testUUID and version shared by every run of an experiment): the Influx tags and a `<uuid>-<version>` dashboard uid then name one run,
/// and `<uuid>-v1` is 39 characters, within Grafana's 40. Being derived from the trial id, the identity can
/// be recomputed after a crash to stop the components a lost run left behind (the original cannot).
pub fn test_identity(trial_id: Uuid) -> (String, String) {
    (trial_id.hyphenated().to_string(), TEST_VERSION.to_string())
}

/// The components this experiment needs, for the pre-flight health checks: the Gatling executor always,
/// the Chaos Toolkit executor only when its experiment has something to run, and the configurator only when
/// a failure set sets variables (the original required both regardless).
pub fn required_components(experiment: &MisarchExperiment) -> Vec<Component> {
    let mut components = vec![Component::Gatling];
    if experiment.uses_chaos_toolkit() {
        components.push(Component::ChaosToolkit);
    }
    if experiment.uses_configurator() {
        components.push(Component::Configurator);
    }
    components
}

/// A health probe and the answer that means healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub request: ComponentRequest,
    pub healthy_status: u16,
    /// A string the body must contain, if any.
    pub healthy_body: Option<&'static str>,
}

impl HealthCheck {
    pub fn is_healthy(&self, status: u16, body: &str) -> bool {
        status == self.healthy_status && self.healthy_body.is_none_or(|expected| body.contains(expected))
    }
}

/// The health route of each component. The Chaos Toolkit executor has none, so eris asks for its
/// start route with GET: Flask answers 405 for a route that exists only for POST, which proves the executor
/// is up without starting or stopping anything.
pub fn health_check(component: Component) -> HealthCheck {
    match component {
        Component::Gatling => HealthCheck {
            request: ComponentRequest::new(Method::GET, "/actuator/health".into()),
            healthy_status: 200,
            healthy_body: Some("\"UP\""),
        },
        Component::ChaosToolkit => HealthCheck {
            request: ComponentRequest::new(Method::GET, "/start-experiment".into()),
            healthy_status: 405,
            healthy_body: None,
        },
        Component::Configurator => HealthCheck {
            request: ComponentRequest::new(Method::GET, "/health".into()),
            healthy_status: 200,
            healthy_body: Some("\"OK\""),
        },
    }
}

/// `GET /configuration/names`: the services the configurator knows. A service that is missing has
/// not registered (or is stuck after its sidecar's first heartbeat failed) and would turn every PUT into a 404.
pub fn configurator_services() -> ComponentRequest {
    ComponentRequest::new(Method::GET, "/configuration/names".into())
}

/// The body of [`configurator_services`]: a JSON array of names.
pub fn parse_configurator_services(body: &str) -> Result<Vec<String>, NotServiceNames> {
    serde_json::from_str::<Vec<String>>(body).map_err(|cause| NotServiceNames(cause.to_string()))
}

/// The configurator's answer to `GET /configuration/names` is not a list of names; the text is serde's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GET /configuration/names did not answer a JSON array of service names: {0}")]
pub struct NotServiceNames(String);

/// The targeted services the configurator does not know (the pre-flight check).
pub fn missing_services(experiment: &MisarchExperiment, known: &[String]) -> Vec<String> {
    super::definition::targeted_services(experiment).into_iter().filter(|service| !known.contains(service)).collect()
}

/// `POST /start-experiment` on the Gatling executor: the query carries the warm-up and steady
/// state (absent ones as `false` and 0, as the original sends them), the body the scenarios as a JSON list
/// of `EncodedFileDTO`. The executor answers 202 and then runs Gradle; it registers at the barrier as
/// `gatling` once warm-up and steady state are over.
pub fn gatling_start(experiment: &MisarchExperiment, test_uuid: &str, test_version: &str) -> ComponentRequest {
    let warm_up = experiment.warm_up;
    let steady_state = experiment.steady_state;
    let query = query(&[
        ("testUUID", test_uuid.to_string()),
        ("testVersion", test_version.to_string()),
        ("warmUp", warm_up.is_some().to_string()),
        ("warmUpRate", warm_up.map_or(0, |warm_up| warm_up.rate).to_string()),
        ("warmUpDuration", warm_up.map_or(0, |warm_up| warm_up.duration).to_string()),
        ("steadyState", steady_state.is_some().to_string()),
        ("steadyStateRate", steady_state.map_or(0, |steady_state| steady_state.rate).to_string()),
        ("steadyStateDuration", steady_state.map_or(0, |steady_state| steady_state.duration).to_string()),
    ]);
    ComponentRequest::new(Method::POST, format!("/start-experiment?{query}"))
        .with_body(JSON, json_text(&experiment.gatling))
}

/// `POST /stop-experiment` on the Gatling executor; 404 means it had no such run.
pub fn gatling_stop(test_uuid: &str, test_version: &str) -> ComponentRequest {
    stop_request(test_uuid, test_version)
}

/// `POST /start-experiment` on the Chaos Toolkit executor, or None when the experiment has
/// nothing for Chaos Toolkit to run (then it is not started and not awaited at the barrier).
///
/// `testDelay` only extends the executor's wait for the trigger: it polls `6000 + testDelay` times, 100 ms
/// apart, then gives up and never runs the chaos. The original passes warm-up + steady state in seconds, so a long
/// pre-trigger phase or a slow first Gradle run outlasts the wait and the chaos silently never runs. eris passes
/// its own whole wait at the barrier in polls (`ERIS_BARRIER_TIMEOUT_SECS` + warm-up + steady state) plus
/// [`TEST_DELAY_MARGIN`], so the executor always waits longer than eris does, by ten minutes and the margin.
pub fn chaos_toolkit_start(
    experiment: &MisarchExperiment,
    test_uuid: &str,
    test_version: &str,
    barrier_timeout: Duration,
) -> Option<ComponentRequest> {
    if !experiment.uses_chaos_toolkit() {
        return None;
    }
    let wait = barrier_timeout + super::definition::pre_trigger_duration(experiment) + TEST_DELAY_MARGIN;
    let polls = u64::try_from(wait.as_millis().div_ceil(100)).unwrap_or(u64::MAX).min(i32::MAX as u64);
    let query = query(&[
        ("testUUID", test_uuid.to_string()),
        ("testVersion", test_version.to_string()),
        ("testDelay", polls.to_string()),
    ]);
    let body = json_text(&experiment.chaos_toolkit);
    Some(ComponentRequest::new(Method::POST, format!("/start-experiment?{query}")).with_body(TEXT, body))
}

/// `POST /stop-experiment` on the Chaos Toolkit executor: ends its trigger wait or kills `chaos run`;
/// 404 means it had no such run.
pub fn chaos_toolkit_stop(test_uuid: &str, test_version: &str) -> ComponentRequest {
    stop_request(test_uuid, test_version)
}

fn stop_request(test_uuid: &str, test_version: &str) -> ComponentRequest {
    let query = query(&[("testUUID", test_uuid.to_string()), ("testVersion", test_version.to_string())]);
    ComponentRequest::new(Method::POST, format!("/stop-experiment?{query}"))
}

/// The variable changes of one service, to be sent one after another, each awaited before the next. Every change
/// makes the configurator publish the service's whole variable map, and the sidecar takes each event it receives as
/// the whole map; two changes in flight at once may be published in either order, and the older map may then undo
/// the newer one, silently. Different services are independent and may go in parallel. The original executor sends
/// every change in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceChanges {
    pub service: String,
    pub changes: Vec<VariableChange>,
}

/// One `PUT /configuration/{service}/variables/{variable}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableChange {
    pub variable: &'static str,
    pub request: ComponentRequest,
}

impl ServiceChanges {
    fn new(service: &str, requests: Vec<ComponentRequest>) -> Self {
        let changes = FAILURE_VARIABLES
            .iter()
            .cycle()
            .zip(requests)
            .map(|(variable, request)| VariableChange { variable, request })
            .collect();
        ServiceChanges { service: service.to_owned(), changes }
    }

    /// The changes that apply a failure entry to its service.
    pub fn apply(failure: &FailureEntry) -> Self {
        Self::new(&failure.name, set_failure_variables(failure))
    }

    /// The changes that reset a service's four variables.
    pub fn reset(service: &str) -> Self {
        Self::new(service, reset_failure_variables(service))
    }
}

/// The configurator calls that apply a failure entry: one `PUT /configuration/{service}/variables/{variable}`
/// per variable, all four in [`FAILURE_VARIABLES`]'s order, an absent one as `{"value":null}` so that it is
/// cleared. The service is the entry's `name`.
fn set_failure_variables(failure: &FailureEntry) -> Vec<ComponentRequest> {
    let service = &failure.name;
    let [pub_sub, service_invocation, memory, cpu] = FAILURE_VARIABLES;
    vec![
        put_variable(service, pub_sub, variable_body(&failure.pub_sub_deterioration)),
        put_variable(service, service_invocation, variable_body(&failure.service_invocation_deterioration)),
        put_variable(service, memory, variable_body(&failure.artificial_memory_usage)),
        put_variable(service, cpu, variable_body(&failure.artificial_cpu_usage)),
    ]
}

/// The configurator calls that reset all four failure variables of a service to their defaults (null).
fn reset_failure_variables(service: &str) -> Vec<ComponentRequest> {
    FAILURE_VARIABLES.iter().map(|variable| put_variable(service, variable, "{\"value\":null}".to_string())).collect()
}

/// The body of a variable PUT: `{"value": <any JSON or null>}`.
fn variable_body<T: Serialize>(value: &Option<T>) -> String {
    #[derive(Serialize)]
    struct VariableValue<'a, T: Serialize> {
        value: &'a Option<T>,
    }
    json_text(&VariableValue { value })
}

/// One variable of one service, or of one of its replicas, set to `value` (`null` resets it to its default): the
/// configurator call of a `misarch.set` or `misarch.reset` step. `variable` is the configurator's name for it.
pub fn set_variable(
    service: &str,
    replica: Option<&str>,
    variable: &str,
    value: &serde_json::Value,
) -> ComponentRequest {
    let body = json_text(&serde_json::json!({ "value": value }));
    match replica {
        None => put_variable(service, variable, body),
        Some(replica) => {
            let path = format!(
                "/configuration/{}/replicas/{}/variables/{}",
                path_segment(service),
                path_segment(replica),
                path_segment(variable)
            );
            ComponentRequest::new(Method::PUT, path).with_body(JSON, body)
        }
    }
}

fn put_variable(service: &str, variable: &str, body: String) -> ComponentRequest {
    let path = format!("/configuration/{}/variables/{}", path_segment(service), path_segment(variable));
    ComponentRequest::new(Method::PUT, path).with_body(JSON, body)
}

/// A step of the failure timeline: at `at` after T0, make the changes of each service, in order within a
/// service; the services are independent of one another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedAction {
    pub at: Duration,
    pub services: Vec<ServiceChanges>,
    pub description: String,
    /// Whether the set injects anything: false for a set that only clears its services' failures.
    pub injects: bool,
}

/// The MiSArch failure timeline from T0: set i is applied at the sum of all earlier sets' pauses
/// plus its own `pauses.before`, by setting all four variables of each entry. As in the original, settings
/// persist until a later set overwrites them, and `pauses.after` only delays the next set; nothing is reset
/// at the end of the timeline, because a set meant to hold until the end of the load would otherwise be
/// cut short. The orchestrator resets the targeted services when the run ends, is stopped or fails
/// ([`teardown`]), which the original never does. Sets without entries are pure pauses and
/// yield no action. Actions are sorted by offset; equal offsets keep the sets' order, which matters when
/// two sets touch the same service.
pub fn failure_timeline(experiment: &MisarchExperiment) -> Vec<TimedAction> {
    let total = experiment.misarch_failures.len();
    let mut elapsed = Duration::ZERO;
    let mut actions = Vec::new();
    for (i, set) in experiment.misarch_failures.iter().enumerate() {
        let at = elapsed + Duration::from_secs(u64::from(set.pauses.before));
        elapsed = at + Duration::from_secs(u64::from(set.pauses.after));
        if set.failures.is_empty() {
            continue;
        }
        let summary: Vec<String> = set.failures.iter().map(describe_entry).collect();
        actions.push(TimedAction {
            at,
            // A set names each service once (the definition's rule), so each entry is one service's sequence.
            services: set.failures.iter().map(ServiceChanges::apply).collect(),
            description: format!("failure set {} of {total} at T0+{} s: {}", i + 1, at.as_secs(), summary.join("; ")),
            injects: set.failures.iter().any(injects),
        });
    }
    // Already in order, because pauses are not negative; the stable sort keeps that a guarantee.
    actions.sort_by_key(|action| action.at);
    actions
}

fn injects(entry: &FailureEntry) -> bool {
    entry.pub_sub_deterioration.is_some()
        || entry.service_invocation_deterioration.is_some()
        || entry.artificial_memory_usage.is_some()
        || entry.artificial_cpu_usage.is_some()
}

fn describe_entry(entry: &FailureEntry) -> String {
    let set = [
        entry.pub_sub_deterioration.is_some(),
        entry.service_invocation_deterioration.is_some(),
        entry.artificial_memory_usage.is_some(),
        entry.artificial_cpu_usage.is_some(),
    ];
    let names = |wanted: bool| -> Vec<&str> {
        FAILURE_VARIABLES.iter().zip(set).filter(|(_, is_set)| *is_set == wanted).map(|(name, _)| *name).collect()
    };
    match (names(true), names(false)) {
        (set, _) if set.is_empty() => format!("{} reset", entry.name),
        (set, cleared) if cleared.is_empty() => format!("{} sets {}", entry.name, set.join(", ")),
        (set, cleared) => format!("{} sets {}, clears {}", entry.name, set.join(", "), cleared.join(", ")),
    }
}

/// Everything that ends a run on the components' side, for the end of a run, a stop, a failure or the
/// recovery of an interrupted trial: stop the Gatling executor, stop the Chaos Toolkit executor (if used),
/// and reset the four variables of every targeted service (the original executor leaves them set).
pub struct Teardown {
    /// The stop of each component the run started. A 404 means the component had nothing running.
    pub stops: Vec<(Component, ComponentRequest)>,
    /// The targeted services, each with the changes that reset its four variables.
    pub resets: Vec<ServiceChanges>,
}

pub fn teardown(experiment: &MisarchExperiment, test_uuid: &str, test_version: &str) -> Teardown {
    let mut stops = vec![(Component::Gatling, gatling_stop(test_uuid, test_version))];
    if experiment.uses_chaos_toolkit() {
        stops.push((Component::ChaosToolkit, chaos_toolkit_stop(test_uuid, test_version)));
    }
    let resets =
        super::definition::targeted_services(experiment).iter().map(|service| ServiceChanges::reset(service)).collect();
    Teardown { stops, resets }
}

/// The clients that must register at the barrier (`POST /trigger/{testUUID}/{testVersion}?client=…`)
/// before T0: `gatling` always (it registers last, after warm-up and steady state), `chaostoolkit` when
/// the Chaos Toolkit executor is started. Not `misarchExperimentConfig`: eris applies the failures itself,
/// so a run without the configurator can still start (the original waits for its plugin).
pub fn expected_barrier_clients(experiment: &MisarchExperiment) -> Vec<String> {
    let mut clients = vec![GATLING_CLIENT.to_string()];
    if experiment.uses_chaos_toolkit() {
        clients.push(CHAOS_TOOLKIT_CLIENT.to_string());
    }
    clients
}

/// The answer to `GET /trigger/{testUUID}/{testVersion}`: exactly `true` from T0 until the run ends, and
/// `false` before and after. Gatling compares the body with "true" exactly, so nothing may be added.
pub fn trigger_state(started: bool) -> &'static str {
    if started { "true" } else { "false" }
}

fn query(pairs: &[(&str, String)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so that a service name can never
/// reach another route; validated names and identities pass unchanged.
fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// Everything but RFC 3986's unreserved characters (letters, digits, `-`, `.`, `_`, `~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Serializes plain data (strings, integers, finite floats, JSON values), which cannot fail.
fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("plain data always serializes to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::misarch::definition::{MisarchExperiment, validate};
    use crate::misarch::test_fixtures::{
        ABORTED_BUY_WORK_FILE, CHAOS_DOCKER_DEFAULT, CHAOS_EMPTY, MISARCH_DOCS_EXAMPLE, USER_STEPS_CSV, encode,
        parse_json, sample, with,
    };
    use serde_json::{Value, json};

    const TEST_UUID: &str = "3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10";

    fn experiment() -> MisarchExperiment {
        validate(&sample()).expect("the sample is valid")
    }

    fn experiment_with(pointer: &str, value: Value) -> MisarchExperiment {
        validate(&with(sample(), pointer, value)).expect("valid")
    }

    #[test]
    fn the_identity_is_the_trial_id_and_v1() {
        let trial = Uuid::parse_str("3F2B6C1E-8D4A-4C2E-9A71-0B5D2E6F4A10").expect("uuid");
        let (test_uuid, test_version) = test_identity(trial);
        assert_eq!(test_uuid, TEST_UUID);
        assert_eq!(test_version, "v1");
        // Grafana's uid limit of 40 characters, for a `<uuid>-<version>` dashboard.
        assert!(format!("{test_uuid}-{test_version}").len() <= 40);
        assert_ne!(test_identity(Uuid::new_v4()).0, test_identity(Uuid::new_v4()).0);
    }

    #[test]
    fn gatling_start_matches_the_original_query_and_the_dto_list() {
        // The documented example scenario, so the body can be compared with the documented start request.
        let map = with(sample(), "/gatling/0/encodedUserStepsFileContent", json!(encode(USER_STEPS_CSV)));
        let experiment = validate(&with(map, "/misarchFailures", json!([]))).expect("valid");
        let request = gatling_start(&experiment, TEST_UUID, "v1");
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.path_and_query,
            "/start-experiment?testUUID=3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10&testVersion=v1&warmUp=false&warmUpRate=0\
             &warmUpDuration=0&steadyState=false&steadyStateRate=0&steadyStateDuration=0"
        );
        assert_eq!(request.content_type, Some("application/json"));
        let body = request.body.expect("a body");
        assert_eq!(
            body,
            format!(
                r#"[{{"fileName":"abortedBuyProcessScenario","encodedWorkFileContent":"{}","encodedUserStepsFileContent":"{}"}}]"#,
                encode(ABORTED_BUY_WORK_FILE),
                encode(USER_STEPS_CSV)
            )
        );
        // The documented start request shows the start of both encodings: "package org.misarch\n\n…" and "usersteps\n…".
        assert!(body.starts_with(
            r#"[{"fileName":"abortedBuyProcessScenario","encodedWorkFileContent":"cGFja2FnZSBvcmcubWlzYXJjaAoK"#
        ));
        assert!(body.contains(r#""encodedUserStepsFileContent":"dXNlcnN0ZXBzCj"#));
    }

    #[test]
    fn gatling_start_passes_warm_up_and_steady_state() {
        let map = with(sample(), "/warmUp", json!({"duration": 45, "rate": 10}));
        let map = with(map, "/steadyState", json!({"duration": 60, "rate": 12, "factor": 1.2}));
        let request = gatling_start(&validate(&map).expect("valid"), TEST_UUID, "v1");
        assert!(request.path_and_query.ends_with(
            "&warmUp=true&warmUpRate=10&warmUpDuration=45&steadyState=true&steadyStateRate=12&steadyStateDuration=60"
        ));
    }

    #[test]
    fn stops_use_the_original_routes() {
        let expected = "/stop-experiment?testUUID=3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10&testVersion=v1";
        for request in [gatling_stop(TEST_UUID, "v1"), chaos_toolkit_stop(TEST_UUID, "v1")] {
            assert_eq!(request, ComponentRequest::new(Method::POST, expected.into()));
        }
    }

    #[test]
    fn chaos_toolkit_start_sends_the_experiment_as_text_and_a_long_enough_trigger_wait() {
        let request =
            chaos_toolkit_start(&experiment(), TEST_UUID, "v1", Duration::from_secs(900)).expect("chaos is used");
        assert_eq!(request.method, "POST");
        // 900 s of barrier and 60 s of margin = 9600 polls of 100 ms on top of the executor's own 6000.
        assert_eq!(
            request.path_and_query,
            "/start-experiment?testUUID=3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10&testVersion=v1&testDelay=9600"
        );
        assert_eq!(request.content_type, Some("text/plain;charset=UTF-8"));
        let body: Value = serde_json::from_str(&request.body.expect("a body")).expect("JSON");
        assert_eq!(body, parse_json(CHAOS_DOCKER_DEFAULT));

        // The warm-up and the steady state hold the trigger back too: their 700 s are in the wait.
        let long = experiment_with("/warmUp", json!({"duration": 300, "rate": 1}));
        let long = validate(&with(
            serde_json::to_value(&long).unwrap().as_object().unwrap().clone(),
            "/steadyState",
            json!({"duration": 400, "rate": 1, "factor": 1.2}),
        ))
        .expect("valid");
        let request = chaos_toolkit_start(&long, TEST_UUID, "v1", Duration::from_secs(900)).expect("chaos is used");
        assert!(request.path_and_query.ends_with("&testDelay=16600"), "{}", request.path_and_query);

        let empty = experiment_with("/chaosToolkit", parse_json(CHAOS_EMPTY));
        assert_eq!(chaos_toolkit_start(&empty, TEST_UUID, "v1", Duration::from_secs(900)), None);
    }

    #[test]
    fn failure_entries_become_four_puts_with_the_original_bodies() {
        // The generator's documented first set, and the calls it documents.
        let experiment = experiment();
        let requests = set_failure_variables(&experiment.misarch_failures[0].failures[0]);
        let expected = [
            ("/configuration/catalog/variables/pubsubDeterioration", r#"{"value":null}"#),
            (
                "/configuration/catalog/variables/serviceInvocationDeterioration",
                r#"{"value":[{"path":"/","delay":1000,"delayProbability":1.0,"errorProbability":1.0,"errorCode":404}]}"#,
            ),
            ("/configuration/catalog/variables/artificialMemoryUsage", r#"{"value":null}"#),
            ("/configuration/catalog/variables/artificialCPUUsage", r#"{"value":null}"#),
        ];
        assert_eq!(requests.len(), 4);
        for (request, (path, body)) in requests.iter().zip(expected) {
            assert_eq!(request.method, "PUT");
            assert_eq!(request.path_and_query, path);
            assert_eq!(request.content_type, Some("application/json"));
            assert_eq!(request.body.as_deref(), Some(body));
        }
    }

    #[test]
    fn every_variable_is_serialized_in_the_sidecar_shape() {
        let entry = json!({
            "name": "shoppingcart",
            "pubSubDeterioration": {"delay": 200, "delayProbability": 0.3, "errorProbability": 0},
            "artificialMemoryUsage": 536870912u64,
            "artificialCPUUsage": [{"usageDuration": 90, "pauseDuration": 10}]
        });
        let experiment = experiment_with("/misarchFailures/0/failures/0", entry);
        let bodies: Vec<String> = set_failure_variables(&experiment.misarch_failures[0].failures[0])
            .into_iter()
            .map(|request| request.body.unwrap_or_default())
            .collect();
        assert_eq!(
            bodies,
            [
                r#"{"value":{"delay":200,"delayProbability":0.3,"errorProbability":0.0}}"#,
                r#"{"value":null}"#,
                r#"{"value":536870912}"#,
                r#"{"value":[{"usageDuration":90,"pauseDuration":10}]}"#,
            ]
        );
    }

    #[test]
    fn a_reset_clears_all_four_variables() {
        let requests = reset_failure_variables("catalog");
        let paths: Vec<&str> = requests.iter().map(|request| request.path_and_query.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/configuration/catalog/variables/pubsubDeterioration",
                "/configuration/catalog/variables/serviceInvocationDeterioration",
                "/configuration/catalog/variables/artificialMemoryUsage",
                "/configuration/catalog/variables/artificialCPUUsage",
            ]
        );
        assert!(requests.iter().all(|request| request.body.as_deref() == Some(r#"{"value":null}"#)));
        // The documented reset entry (the second set) sends the same four calls.
        let docs = experiment_with("/misarchFailures", parse_json(MISARCH_DOCS_EXAMPLE));
        assert_eq!(set_failure_variables(&docs.misarch_failures[1].failures[0]), requests);
        // An unvalidated name cannot escape its path segment.
        assert_eq!(
            reset_failure_variables("a/../b?x")[0].path_and_query,
            "/configuration/a%2F..%2Fb%3Fx/variables/pubsubDeterioration"
        );
    }

    #[test]
    fn the_timeline_follows_the_pauses() {
        // The documented worked example for d = 1800: catalog fails at T0+600 s, is reset at T0+900 s.
        let timeline = failure_timeline(&experiment());
        assert_eq!(timeline.len(), 2);
        assert_eq!(timeline[0].at, Duration::from_secs(600));
        assert_eq!(timeline[0].services, [ServiceChanges::apply(&experiment().misarch_failures[0].failures[0])]);
        assert_eq!(
            timeline[0].description,
            "failure set 1 of 2 at T0+600 s: catalog sets serviceInvocationDeterioration, clears pubsubDeterioration, \
             artificialMemoryUsage, artificialCPUUsage"
        );
        assert_eq!(timeline[1].at, Duration::from_secs(900));
        assert_eq!(timeline[1].services, [ServiceChanges::reset("catalog")]);
        assert_eq!(timeline[1].description, "failure set 2 of 2 at T0+900 s: catalog reset");

        // The docs example: failure at T0+10 s, reset at T0+15 s.
        let docs = failure_timeline(&experiment_with("/misarchFailures", parse_json(MISARCH_DOCS_EXAMPLE)));
        assert_eq!(docs.iter().map(|action| action.at.as_secs()).collect::<Vec<_>>(), [10, 15]);
    }

    #[test]
    fn empty_sets_only_shift_the_timeline_and_equal_offsets_keep_their_order() {
        let sets = json!([
            {"failures": [], "pauses": {"before": 30, "after": 0}},
            {"failures": [{"name": "payment", "artificialMemoryUsage": 1024}], "pauses": {"before": 0, "after": 0}},
            {"failures": [{"name": "payment"}, {"name": "order", "artificialMemoryUsage": 1}], "pauses": {"before": 0, "after": 5}}
        ]);
        let timeline = failure_timeline(&experiment_with("/misarchFailures", sets));
        assert_eq!(timeline.len(), 2);
        assert!(timeline.iter().all(|action| action.at == Duration::from_secs(30)));
        assert!(timeline[0].description.starts_with("failure set 2 of 3"));
        let services: Vec<(&str, usize)> =
            timeline[1].services.iter().map(|changes| (changes.service.as_str(), changes.changes.len())).collect();
        assert_eq!(services, [("payment", 4), ("order", 4)], "one sequence per service");
        assert!(timeline[1].description.ends_with("payment reset; order sets artificialMemoryUsage, clears pubsubDeterioration, serviceInvocationDeterioration, artificialCPUUsage"));
    }

    #[test]
    fn changes_of_one_service_are_one_sequence_in_order() {
        let reset = ServiceChanges::reset("catalog");
        let variables: Vec<&str> = reset.changes.iter().map(|change| change.variable).collect();
        assert_eq!(variables, FAILURE_VARIABLES);
        assert!(
            reset
                .changes
                .iter()
                .zip(FAILURE_VARIABLES)
                .all(|(change, variable)| change.request.path_and_query.ends_with(&format!("/variables/{variable}")))
        );
        let applied = ServiceChanges::apply(&experiment().misarch_failures[0].failures[0]);
        assert_eq!(applied.service, "catalog");
        let bodies: Vec<&str> = applied.changes.iter().map(|change| change.request.body.as_deref().unwrap()).collect();
        assert_eq!(bodies[0], r#"{"value":null}"#, "pubsubDeterioration is cleared first");
        assert_eq!(bodies.len(), 4);
    }

    #[test]
    fn barrier_clients_and_components_follow_what_the_experiment_uses() {
        let full = experiment();
        assert_eq!(expected_barrier_clients(&full), ["gatling", "chaostoolkit"]);
        assert_eq!(required_components(&full), [Component::Gatling, Component::ChaosToolkit, Component::Configurator]);

        let map = with(sample(), "/chaosToolkit", parse_json(CHAOS_EMPTY));
        let bare = validate(&with(map, "/misarchFailures", json!([]))).expect("valid");
        assert_eq!(expected_barrier_clients(&bare), ["gatling"]);
        assert_eq!(required_components(&bare), [Component::Gatling]);
        assert!(failure_timeline(&bare).is_empty());
    }

    #[test]
    fn health_checks_use_each_components_route() {
        let gatling = health_check(Component::Gatling);
        assert_eq!(gatling.request, ComponentRequest::new(Method::GET, "/actuator/health".into()));
        assert!(gatling.is_healthy(200, r#"{"status":"UP"}"#));
        assert!(!gatling.is_healthy(200, r#"{"status":"DOWN"}"#));
        assert!(!gatling.is_healthy(503, r#"{"status":"UP"}"#));

        let configurator = health_check(Component::Configurator);
        assert_eq!(configurator.request.path_and_query, "/health");
        assert!(configurator.is_healthy(200, r#"{"status":"OK"}"#));

        let chaos = health_check(Component::ChaosToolkit);
        assert_eq!(chaos.request, ComponentRequest::new(Method::GET, "/start-experiment".into()));
        assert!(chaos.is_healthy(405, "<!doctype html><title>405 Method Not Allowed</title>"));
        assert!(!chaos.is_healthy(404, ""));
    }

    #[test]
    fn the_configurator_names_its_services() {
        assert_eq!(configurator_services(), ComponentRequest::new(Method::GET, "/configuration/names".into()));
        let known = parse_configurator_services(r#"["catalog","gateway"]"#).expect("a list");
        assert_eq!(known, ["catalog", "gateway"]);
        assert!(missing_services(&experiment(), &known).is_empty());
        assert_eq!(missing_services(&experiment(), &["gateway".to_string()]), ["catalog"]);
        assert!(parse_configurator_services(r#"{"status":"OK"}"#).is_err());
        assert!(parse_configurator_services("").is_err());
    }

    #[test]
    fn teardown_stops_everything_and_resets_the_targeted_services() {
        let teardown = teardown(&experiment(), TEST_UUID, "v1");
        assert_eq!(teardown.stops[0], (Component::Gatling, gatling_stop(TEST_UUID, "v1")));
        assert_eq!(teardown.stops[1], (Component::ChaosToolkit, chaos_toolkit_stop(TEST_UUID, "v1")));
        assert_eq!(teardown.resets, [ServiceChanges::reset("catalog")]);
    }

    #[test]
    fn callbacks_and_their_answers() {
        assert_eq!(trigger_state(true), "true");
        assert_eq!(trigger_state(false), "false");
        assert_eq!(TRIGGER_REGISTERED, "kotlin.Unit");
    }
}
