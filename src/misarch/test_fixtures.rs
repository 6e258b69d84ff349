//! The MiSArch files the unit tests share, kept as files under `tests/fixtures/misarch/` (the Gatling executor's
//! and the experiment generator's own output, verbatim), and helpers to build `misarch` definitions from them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

/// The generator's aborted-buy scenario, a Gatling work file (Kotlin DSL): the generator's own template (which has
/// no final newline), as `tests/fixtures/misarch-experiment.json` has it (with one).
pub(crate) const ABORTED_BUY_WORK_FILE: &str =
    concat!(include_str!("../misarch_executor/templates/abortedBuyProcessScenario.kt"), "\n");

/// The head of the Gatling executor's `usersteps.csv`: a header, then the users arriving in each second.
pub(crate) const USER_STEPS_CSV: &str = include_str!("../../tests/fixtures/misarch/usersteps.csv");

/// The generated `execution.json`, with MiSArch's string thresholds and the identity fields eris assigns itself.
pub(crate) const EXECUTION_JSON: &str = include_str!("../../tests/fixtures/misarch/execution.json");

/// The frontend's warm-up and automatic-goals variant of `execution.json`.
pub(crate) const FRONTEND_PRE_TRIGGER: &str = include_str!("../../tests/fixtures/misarch/frontend-pre-trigger.json");

/// The MiSArch docs' example of `misarch-experiment-config.json`.
pub(crate) const MISARCH_DOCS_EXAMPLE: &str = include_str!("../../tests/fixtures/misarch/failures-docs-example.json");

/// The generator's failure sets for a 1800-second NormalLoadTest.
pub(crate) const MISARCH_GENERATED: &str = include_str!("../../tests/fixtures/misarch/failures-generated.json");

/// The generator's Docker default Chaos Toolkit experiment for a 1800-second NormalLoadTest.
pub(crate) const CHAOS_DOCKER_DEFAULT: &str =
    include_str!("../../tests/fixtures/misarch/chaos-toolkit-docker-default.json");

/// The generator's "empty" Chaos Toolkit variant: nothing to run.
pub(crate) const CHAOS_EMPTY: &str = include_str!("../../tests/fixtures/misarch/chaos-toolkit-empty.json");

pub(crate) fn encode(text: &str) -> String {
    BASE64.encode(text.as_bytes())
}

/// A user-steps file of `seconds` lines, MiSArch's header first.
pub(crate) fn steps(seconds: usize, users: u32) -> String {
    let mut csv = String::from("usersteps\n");
    for _ in 0..seconds {
        csv.push_str(&format!("{users}\n"));
    }
    csv
}

/// The generated NormalLoadTest for d = 1800 as an eris `misarch` object: the execution.json fields (with a
/// numeric threshold), the aborted-buy scenario with an 1800-second load, the Docker default Chaos Toolkit
/// experiment and the generated failure sets.
pub(crate) fn sample() -> Map<String, Value> {
    let value = json!({
        "testName": "My Experiment",
        "loadType": "NormalLoadTest",
        "goals": [
            {"metric": "max response time", "threshold": 2000, "color": "red"},
            {"metric": "mean response time", "threshold": 1000, "color": "yellow"}
        ],
        "warmUp": null,
        "steadyState": null,
        "gatling": [{
            "fileName": "abortedBuyProcessScenario",
            "encodedWorkFileContent": encode(ABORTED_BUY_WORK_FILE),
            "encodedUserStepsFileContent": encode(&steps(1800, 2)),
        }],
        "chaosToolkit": parse_json(CHAOS_DOCKER_DEFAULT),
        "misarchFailures": parse_json(MISARCH_GENERATED),
    });
    match value {
        Value::Object(map) => map,
        _ => unreachable!("a json! object literal"),
    }
}

pub(crate) fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).expect("sample JSON parses")
}

/// The map with the value at `pointer` replaced, or added when its parent is an object.
pub(crate) fn with(map: Map<String, Value>, pointer: &str, value: Value) -> Map<String, Value> {
    let mut root = Value::Object(map);
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    match root.pointer_mut(parent).expect("the parent exists in the sample") {
        Value::Object(object) => {
            object.insert(key.to_string(), value);
        }
        Value::Array(array) => array[key.parse::<usize>().expect("an index")] = value,
        _ => panic!("{parent} is neither an object nor an array"),
    }
    match root {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// The API tests use the same sample from a file; this keeps the two equal
/// (`UPDATE_FIXTURES=1 cargo test --lib misarch` rewrites the file).
#[test]
fn the_api_test_fixture_is_the_sample() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/misarch-experiment.json");
    let sample = Value::Object(sample());
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&sample).unwrap() + "\n").unwrap();
    }
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(fixture, sample);
}
