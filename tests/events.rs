//! `GET /api/v1/trial/{id}/events`: a trial's progress as server-sent events.

mod common;

use axum::http::StatusCode;
use common::{TestApp, start_worker};
use serde_json::{Value, json};

/// (event name, id, data) of every event in an SSE body.
fn parse(body: &str) -> Vec<(String, u64, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("id: ") {
                    id = value.parse().ok();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(value).ok();
                }
            }
            Some((name?, id?, data?))
        })
        .collect()
}

fn definition() -> Value {
    json!({"name": "events", "steps": [{"step": "a", "do": "cm.wait", "where": {"time_in_seconds": 0.1}},
                                      {"step": "b", "do": "cm.wait", "where": {"time_in_seconds": 0}}]})
}

#[tokio::test]
async fn a_subscriber_follows_a_trial_from_queued_to_its_end() {
    for app in TestApp::all() {
        let trial = app.run_experiment(definition(), json!({})).await;
        let path = format!("/api/v1/trial/{trial}/events");
        let stream = {
            let app = &app;
            let path = path.clone();
            async move { app.get(&path).await }
        };
        let (shutdown, worker) = start_worker(&app.db);
        let response = stream.await.expect_status(StatusCode::OK);
        shutdown.cancel();
        worker.await.unwrap();
        assert_eq!(response.headers["content-type"], "text/event-stream");
        let events = parse(&response.text());
        let names: Vec<_> = events.iter().map(|(name, _, _)| name.as_str()).collect();
        let ids: Vec<_> = events.iter().map(|(_, id, _)| *id).collect();
        assert_eq!(ids, (1..=events.len() as u64).collect::<Vec<_>>(), "ids count up");
        assert_eq!(events[0].2["status"], "Scheduled", "{}: {names:?}", app.backend());
        assert_eq!(events.last().unwrap().2["status"], "Succeeded");
        assert_eq!(names.iter().filter(|n| **n == "step_started").count(), 2);
        assert_eq!(names.iter().filter(|n| **n == "step_finished").count(), 2);
        assert!(names.contains(&"log"));
        let statuses: Vec<_> = events.iter().filter(|e| e.0 == "status").map(|e| e.2["status"].clone()).collect();
        assert_eq!(statuses, [json!("Scheduled"), json!("In Progress"), json!("Succeeded")]);
    }
}

#[tokio::test]
async fn a_late_subscriber_gets_what_already_happened() {
    for app in TestApp::all() {
        let trial = app.run_experiment(definition(), json!({})).await;
        let (shutdown, worker) = start_worker(&app.db);
        app.wait_for_end(&trial).await;
        shutdown.cancel();
        worker.await.unwrap();
        let response = app.get(&format!("/api/v1/trial/{trial}/events")).await.expect_status(StatusCode::OK);
        let events = parse(&response.text());
        let names: Vec<_> = events.iter().map(|(name, _, _)| name.as_str()).collect();
        let statuses: Vec<_> = events.iter().filter(|e| e.0 == "status").map(|e| e.2["status"].clone()).collect();
        assert_eq!(statuses, [json!("Scheduled"), json!("In Progress"), json!("Succeeded")], "{names:?}");
        assert_eq!(names.last(), Some(&"status"));
        assert_eq!(events.last().unwrap().2["status"], "Succeeded");
        let finished: Vec<_> =
            events.iter().filter(|e| e.0 == "step_finished").map(|e| e.2["outcome"].clone()).collect();
        assert_eq!(finished, [json!("succeeded"), json!("succeeded")]);

        app.get(&format!("/api/v1/trial/{}/events", uuid::Uuid::new_v4())).await.expect_error(
            StatusCode::NOT_FOUND,
            "trial_not_found",
            None,
        );
    }
}
