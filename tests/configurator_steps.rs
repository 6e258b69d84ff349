//! `misarch.set` and `misarch.reset` through a configurator that speaks the real one's protocol and checks values
//! as its ajv does, on both backends: a set variable is reset after the post steps unless a step reset it, a
//! replica is addressed on its own path, the configurator's refusal fails the step with its words, and values are
//! checked when the experiment is written by the failure timeline's rules.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::components::FakeConfigurator;
use common::{TestApp, start_worker_acting};
use eris::actions::ActionContext;
use serde_json::{Value, json};

fn set(service: &str, variable: &str, value: Value) -> Value {
    json!({"do": "misarch.set", "where": {"service": service, "variable": variable, "value": value}})
}

fn acting(configurator: &FakeConfigurator) -> ActionContext {
    ActionContext {
        configurator: Some(configurator.url.parse().unwrap()),
        ..ActionContext::new(Duration::from_secs(5))
    }
}

#[tokio::test]
async fn what_a_step_sets_is_reset_after_the_post_steps() {
    let slow = json!([{"path": "/", "delay": 300, "delayProbability": 1.0, "errorProbability": 0.0}]);
    for app in TestApp::all() {
        let backend = app.backend();
        let configurator = FakeConfigurator::start(&["catalog", "order"]).await;
        let (shutdown, worker) = start_worker_acting(&app.db, acting(&configurator));
        let definition = json!({
            "name": "slow catalog",
            "parameters": {"delay": 300},
            "steps": [
                set("catalog", "serviceInvocationDeterioration", slow.clone()),
                set("order", "artificialMemoryUsage", json!("{{ delay }}")),
                {"do": "misarch.set", "where": {"service": "order", "replica": "7f1c", "variable": "pubSubDeterioration",
                                                "value": {"delay": 100, "delayProbability": 0.5, "errorProbability": 0}}},
                {"do": "misarch.reset", "where": {"service": "order", "variable": "artificialMemoryUsage"}}
            ]
        });
        let trial = app.run_experiment(definition, json!({})).await;
        let ended = app.wait_for_end(&trial).await;
        assert_eq!(ended["status"], "Succeeded", "{backend}: {ended:#}");
        let steps = &ended["trial_record"]["steps"];
        assert_eq!(steps[0]["result"]["status_code"], 200, "{steps:#}");
        assert_eq!(steps[1]["result"]["value"], 300, "the template was rendered: {steps:#}");
        // Reset by the clean-up: the catalog's rule and the replica's; the order's memory a step reset itself.
        let resets: Vec<(String, Option<String>, String)> = ended["trial_record"]["resets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|reset| {
                assert!(reset.get("error").is_none(), "{reset}");
                let text = |key: &str| reset[key].as_str().map(str::to_owned);
                (text("service").unwrap(), text("replica"), text("variable").unwrap())
            })
            .collect();
        assert_eq!(
            resets,
            [
                ("catalog".to_owned(), None, "serviceInvocationDeterioration".to_owned()),
                ("order".to_owned(), Some("7f1c".to_owned()), "pubSubDeterioration".to_owned())
            ],
            "{backend}"
        );
        assert_eq!(configurator.variable("catalog", "serviceInvocationDeterioration"), Some(Value::Null));
        assert_eq!(configurator.variable("order", "artificialMemoryUsage"), Some(Value::Null));
        assert_eq!(
            configurator.variable("order@7f1c", "pubsubDeterioration"),
            Some(Value::Null),
            "the replica's own path"
        );
        let puts: Vec<String> = configurator.requests().iter().map(|request| request.path_and_query.clone()).collect();
        assert_eq!(puts.len(), 6, "4 steps and 2 resets: {puts:#?}");
        assert_eq!(puts[2], "/configuration/order/replicas/7f1c/variables/pubsubDeterioration");

        // The configurator's refusal fails the step and names it; what it may have set is still reset.
        let unknown = app
            .run_experiment(
                json!({"name": "unknown", "steps": [set("payment", "artificialMemoryUsage", json!(1024))]}),
                json!({}),
            )
            .await;
        let unknown = app.wait_for_end(&unknown).await;
        assert_eq!(unknown["status"], "Failed", "{backend}: {unknown:#}");
        let reason = unknown["status_reason"].as_str().unwrap();
        assert!(
            reason.contains("answered 404 Not Found: Service configuration with name \"payment\" not found."),
            "{reason}"
        );
        assert!(reason.contains("the configurator reset failed: payment artificialMemoryUsage"), "{reason}");
        shutdown.cancel();
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn configurator_steps_are_checked_by_the_failure_timelines_rules() {
    let step = |action: &str, arguments: Value| json!({"name": "c", "steps": [{"do": action, "where": arguments}]});
    let cases = [
        (
            step("misarch.set", json!({"service": "catalog", "variable": "latency", "value": 1})),
            "invalid_argument",
            "steps[0].where.variable",
        ),
        (
            step("misarch.set", json!({"service": "cat alog", "variable": "artificialMemoryUsage", "value": 1})),
            "invalid_argument",
            "steps[0].where.service",
        ),
        (
            step(
                "misarch.set",
                json!({"service": "catalog", "variable": "pubSubDeterioration", "value": {"delay": 5, "delayProbability": 2}}),
            ),
            "invalid_argument",
            "steps[0].where.value.delayProbability",
        ),
        (
            step(
                "misarch.set",
                json!({"service": "catalog", "variable": "serviceInvocationDeterioration", "value": [{"path": "api", "delay": 1}]}),
            ),
            "invalid_argument",
            "steps[0].where.value[0].path",
        ),
        (
            step("misarch.set", json!({"service": "catalog", "variable": "artificialMemoryUsage"})),
            "missing_argument",
            "steps[0].where.value",
        ),
        (step("misarch.reset", json!({"service": "catalog", "value": 1})), "unknown_argument", "steps[0].where.value"),
        (
            step("misarch.reset", json!({"service": "catalog", "replica": ""})),
            "invalid_argument",
            "steps[0].where.replica",
        ),
    ];
    for app in TestApp::all() {
        for (body, code, field) in &cases {
            app.post("/api/v1/experiment", body).await.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
        }
        let templated = step(
            "misarch.set",
            json!({"service": "{{ service }}", "variable": "artificialCPUUsage",
            "value": [{"usageDuration": "{{ ms }}", "pauseDuration": 100}]}),
        );
        app.post("/api/v1/experiment", &templated).await.expect_status(StatusCode::CREATED);
    }
}

#[tokio::test]
async fn without_a_configurator_the_step_says_what_to_set() {
    for app in TestApp::all() {
        let (shutdown, worker) = start_worker_acting(&app.db, ActionContext::new(Duration::from_secs(5)));
        let trial = app
            .run_experiment(
                json!({"name": "nowhere", "steps": [set("catalog", "artificialMemoryUsage", json!(1))]}),
                json!({}),
            )
            .await;
        let ended = app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        let reason = ended["status_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("steps[0] failed: no MiSArch configurator to ask: set ERIS_MISARCH_CONFIG_URL"),
            "{reason}"
        );
    }
}
