use std::collections::BTreeSet;

use serde_json::json;

use super::chaos_toolkit::MISARCH_DOCKER_MODULE;
use super::*;
use crate::misarch::goals::GoalMetric;
use crate::misarch::test_fixtures::*;

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
        Goal { metric: GoalMetric::MaxResponseTime, threshold: 2000.0, color: "red".into() }
    );
    assert_eq!(experiment.gatling[0].file_name, "abortedBuyProcessScenario");
    assert_eq!(experiment.misarch_failures.len(), 2);
    assert_eq!(experiment.misarch_failures[0].pauses, Pauses { before: 600, after: 300 });
    assert_eq!(
        experiment.misarch_failures[0].failures[0].service_invocation_deterioration,
        Some(vec![ServiceInvocationDeterioration {
            path: Some("/".into()),
            delay: Some(1000),
            delay_probability: Some(1.0),
            error_probability: Some(1.0),
            error_code: Some(404)
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
    assert_eq!(value["misarchFailures"], parse_json(MISARCH_GENERATED));
    assert_eq!(value["chaosToolkit"], parse_json(CHAOS_DOCKER_DEFAULT));
    assert!(value["gatling"][0]["encodedWorkFileContent"].is_string());
    let back: MisarchExperiment = serde_json::from_value(value).expect("deserializes");
    assert_eq!(back, experiment);
}

#[test]
fn the_docs_failure_example_is_valid_and_absent_variables_are_null() {
    let map = with(sample(), "/misarchFailures", parse_json(MISARCH_DOCS_EXAMPLE));
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
            .and_then(|rules| rules[0].delay_probability),
        Some(1.0)
    );
}

#[test]
fn the_frontend_warm_up_and_steady_state_are_valid() {
    let mut map = sample();
    for (key, value) in parse_json(FRONTEND_PRE_TRIGGER).as_object().expect("object") {
        map.insert(key.clone(), value.clone());
    }
    let experiment = validate(&map).expect("valid");
    assert_eq!(experiment.warm_up, Some(WarmUp { duration: 45, rate: 10 }));
    assert_eq!(experiment.steady_state, Some(SteadyState { duration: 60, rate: 10, factor: 1.2 }));
    assert!(experiment.goals.is_empty());
    assert_eq!(pre_trigger_duration(&experiment), Duration::from_secs(105));
}

#[test]
fn the_execution_json_string_threshold_is_read_as_its_number() {
    let execution = parse_json(EXECUTION_JSON);
    let map = with(sample(), "/goals", execution["goals"].clone());
    let experiment = validate(&map).expect("MiSArch's own goals are accepted");
    assert_eq!(experiment.goals[0].threshold, 2000.0);
    // Normalised once: written back as the number.
    assert_eq!(serde_json::to_value(&experiment).unwrap()["goals"][0]["threshold"], json!(2000));
    let words = with(sample(), "/goals/0/threshold", json!("fast"));
    let err = rejected(&words);
    assert_eq!(err.field, "misarch.goals[0].threshold");
    assert!(err.message.contains("\"fast\" is not a number"), "{}", err.message);
}

#[test]
fn misarch_failure_variables_are_read_as_the_configurator_reads_them() {
    let entry = |value: serde_json::Value| {
        let sets = json!([{"failures": [value], "pauses": {"before": 0, "after": 0}}]);
        validate(&with(sample(), "/misarchFailures", sets))
    };
    // A whole number written as a float, a partial object, and one object where a list may go.
    let experiment = entry(json!({
        "name": "catalog",
        "pubSubDeterioration": {},
        "serviceInvocationDeterioration": {"path": "/", "delay": 100.0, "errorProbability": 0.5},
        "artificialCPUUsage": {"usageDuration": 10, "pauseDuration": 90},
    }))
    .expect("accepted as the configurator accepts it");
    let failure = &experiment.misarch_failures[0].failures[0];
    assert_eq!(
        failure.pub_sub_deterioration,
        Some(PubSubDeterioration { delay: None, delay_probability: None, error_probability: None })
    );
    let rule = &failure.service_invocation_deterioration.as_ref().unwrap()[0];
    assert_eq!((rule.delay, rule.error_probability, rule.error_code), (Some(100), Some(0.5), None));
    assert_eq!(failure.artificial_cpu_usage, Some(vec![ArtificialCpuUsage { usage_duration: 10, pause_duration: 90 }]));
    // Normalised once: lists, whole numbers, nothing sent that was not given.
    let stored = serde_json::to_value(failure).unwrap();
    assert_eq!(stored["serviceInvocationDeterioration"], json!([{"path": "/", "delay": 100, "errorProbability": 0.5}]));
    assert_eq!(stored["pubSubDeterioration"], json!({}));

    // What the configurator refuses is refused, naming the field.
    let fraction = entry(json!({"name": "catalog", "pubSubDeterioration": {"delay": 100.5}})).unwrap_err();
    assert_eq!(fraction.field, "misarch.misarchFailures[0].failures[0].pubSubDeterioration.delay");
    assert!(fraction.message.contains("100.5 is not a whole number"), "{}", fraction.message);
    let unknown = entry(json!({"name": "catalog", "pubSubDeterioration": {"latency": 1}})).unwrap_err();
    assert!(unknown.field.ends_with("pubSubDeterioration.latency"), "{}", unknown.field);
    let missing = entry(json!({"name": "catalog", "artificialCPUUsage": {"usageDuration": 10}})).unwrap_err();
    assert!(missing.field.contains("artificialCPUUsage"), "{}", missing.field);
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
    assert_eq!(GoalMetric::ALL.len(), 27);
    assert_eq!(
        GoalMetric::ALL.iter().map(|metric| metric.label()).collect::<BTreeSet<_>>().len(),
        27,
        "no label twice"
    );
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
    assert_eq!(rejected(&word).message, "\"high\" is not a number");
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

    // The visible prefix of a real user-steps file: 20 characters need no padding ("usersteps\n1\n2\n2").
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
    let crlf = EncodedFile { encoded_user_steps_file_content: encode("userSteps\r\n4\r\n5\r\n\r\n"), ..file.clone() };
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
            json!({"name": "catalog", "pubSubDeterioration": {"delay": 5.5, "delayProbability": 0.5}}),
            "misarch.misarchFailures[0].failures[0].pubSubDeterioration.delay",
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
            json!({"name": "catalog", "serviceInvocationDeterioration": "slow"}),
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
            json!({"name": "catalog", "artificialMemoryUsage": 1.5}),
            "misarch.misarchFailures[0].failures[0].artificialMemoryUsage",
        ),
        (
            json!({"name": "catalog", "artificialCPUUsage": [{"usageDuration": 100}]}),
            "misarch.misarchFailures[0].failures[0].artificialCPUUsage[0].pauseDuration",
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
    let experiment = validate(&with(sample(), "/chaosToolkit", parse_json(CHAOS_EMPTY))).expect("valid");
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
    // An older Chaos Toolkit experiment of MiSArch's, as JSON: it waited for the trigger itself through a module that moved.
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
    assert!(targeted_services(&validate(&with(sample(), "/misarchFailures", json!([]))).expect("valid")).is_empty());
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

#[test]
fn the_chaos_plan_counts_pauses_and_timeouts() {
    let experiment = validate(&sample()).expect("valid");
    assert_eq!(chaos_plan_duration(&experiment), Duration::from_secs(360 + 225));
    let map = with(sample(), "/chaosToolkit/method/1/timeout", json!(30));
    assert_eq!(chaos_plan_duration(&validate(&map).expect("valid")), Duration::from_secs(360 + 225 + 30));
    let empty = with(sample(), "/chaosToolkit", serde_json::from_str(CHAOS_EMPTY).unwrap());
    assert_eq!(chaos_plan_duration(&validate(&empty).expect("valid")), Duration::ZERO);
}
