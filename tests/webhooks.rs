//! Webhooks on trial events: signed, retried with backoff, recorded on the trial, and never in a trial's way.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use common::{TestApp, start_worker_with, wait_until};
use eris::webhooks::delivery::{Deliverer, WebhookConfig};
use eris::webhooks::{NotifyTarget, WebhookFormat, signature};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, HeaderMap, String)>>>);

impl Received {
    fn on(&self, path: &str) -> Vec<(HeaderMap, Value)> {
        let all = self.0.lock().unwrap().clone();
        all.into_iter().filter(|(p, _, _)| p == path).map(|(_, h, b)| (h, serde_json::from_str(&b).unwrap())).collect()
    }
}

/// `/ok` answers 200; `/flaky` 500 to the first two attempts of each delivery, then 200; `/slow` answers after the
/// test says so.
async fn receiver(release_slow: Arc<tokio::sync::Notify>) -> (String, Received) {
    let received = Received::default();
    let flaky_calls = Arc::new(Mutex::new(std::collections::HashMap::<String, u32>::new()));
    let record = |received: Received, path: &'static str| {
        move |headers: HeaderMap, body: String| {
            received.0.lock().unwrap().push((path.to_owned(), headers, body));
            async {}
        }
    };
    let app = Router::new()
        .route(
            "/ok",
            post({
                let record = record(received.clone(), "/ok");
                move |h: HeaderMap, b: String| async move {
                    record(h, b).await;
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/flaky",
            post({
                let record = record(received.clone(), "/flaky");
                move |h: HeaderMap, b: String| {
                    let calls = flaky_calls.clone();
                    async move {
                        let delivery = h["x-eris-delivery"].to_str().unwrap().to_owned();
                        record(h, b).await;
                        let mut calls = calls.lock().unwrap();
                        let attempts = calls.entry(delivery).or_default();
                        *attempts += 1;
                        if *attempts <= 2 { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
                    }
                }
            }),
        )
        .route(
            "/slow",
            post({
                let record = record(received.clone(), "/slow");
                move |h: HeaderMap, b: String| {
                    let release = release_slow.clone();
                    async move {
                        record(h, b).await;
                        release.notified().await;
                        StatusCode::OK
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn config(targets: Vec<NotifyTarget>) -> WebhookConfig {
    WebhookConfig {
        targets,
        secret: Some("s3cret".into()),
        public_url: "http://eris.example".into(),
        max_attempts: 3,
        first_retry_after: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    }
}

fn json_target(url: String) -> Value {
    json!({"url": url, "format": "json"})
}

#[tokio::test]
async fn trial_events_are_signed_retried_and_recorded() {
    let release = Arc::new(tokio::sync::Notify::new());
    let (base, received) = receiver(release.clone()).await;
    for app in TestApp::all() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let global = vec![NotifyTarget { url: format!("{base}/ok"), format: WebhookFormat::Slack }];
        let webhooks = config(global);
        let wakeups = eris::wakeups::Wakeups::default();
        let shutdown = CancellationToken::new();
        let deliverer =
            tokio::spawn(Deliverer::new(app.db.clone(), webhooks.clone(), wakeups.clone()).run(shutdown.clone()));
        let (stop_worker, worker) = start_worker_with(&app.db, wakeups.clone(), webhooks.clone());

        let before = received.on("/ok").len();
        let trial = app
            .run_experiment(
                json!({"name": "notified", "steps": [], "notify": [
                    json_target(format!("{base}/ok")), json_target(format!("{base}/flaky")),
                    json_target(format!("http://{closed}/down"))]}),
                json!({}),
            )
            .await;
        app.wait_for_end(&trial).await;
        let path = format!("/api/v1/trial/{trial}");
        wait_until(Duration::from_secs(15), "every delivery to settle", || async {
            let trial = app.get(&path).await.json();
            let notifications = trial["notifications"].as_array().unwrap().clone();
            notifications.len() == 8 && notifications.iter().all(|n| n["status"] != "pending")
        })
        .await;
        stop_worker.cancel();
        shutdown.cancel();
        worker.await.unwrap();
        deliverer.await.unwrap();

        let trial_json = app.get(&path).await.json();
        assert_eq!(trial_json["status"], "Succeeded", "webhooks never change the trial");
        let notifications = trial_json["notifications"].as_array().unwrap();
        let of = |url_end: &str, event: &str| {
            notifications
                .iter()
                .find(|n| {
                    n["event"] == event
                        && n["format"] == if url_end == "slack" { "slack" } else { "json" }
                        && (url_end == "slack" || n["last_error"].is_null() == (url_end != "down"))
                })
                .cloned()
        };
        assert!(of("slack", "succeeded").is_some(), "{notifications:#?}");
        let failed: Vec<_> = notifications.iter().filter(|n| n["status"] == "failed").collect();
        assert_eq!(failed.len(), 2, "the closed port fails both events: {notifications:#?}");
        assert!(
            failed.iter().all(|n| n["attempts"] == 3 && n["last_error"].as_str().unwrap().starts_with("no answer"))
        );
        let flaky_delivered = notifications.iter().filter(|n| n["status"] == "delivered" && n["attempts"] == 3).count();
        assert_eq!(
            flaky_delivered, 2,
            "a receiver that failed twice got each event at the third attempt: {notifications:#?}"
        );
        assert!(
            notifications.iter().all(|n| !n["url"].as_str().unwrap().contains("/ok")),
            "URLs are shown without their path"
        );
        assert!(of("ok", "started").is_some());

        // What the receiver got: signed JSON documents and Slack messages.
        let ok = received.on("/ok");
        let new: Vec<_> = ok[before..].to_vec();
        let documents: Vec<_> = new.iter().filter(|(_, body)| body.get("event").is_some()).collect();
        let events: Vec<_> = documents.iter().map(|(_, body)| body["event"].clone()).collect();
        assert_eq!(events, [json!("started"), json!("succeeded")], "{}", app.backend());
        let (headers, body) = documents[1];
        assert_eq!(body["trial"]["id"], trial.as_str());
        assert_eq!(body["trial"]["status"], "Succeeded");
        assert_eq!(body["trial"]["url"], format!("http://eris.example/api/v1/trial/{trial}"));
        assert_eq!(body["trial"]["experiment_name"], "notified");
        assert_eq!(headers["x-eris-event"], "succeeded");
        assert!(headers.contains_key("x-eris-delivery"));
        let raw = serde_json::to_string(body).unwrap();
        assert_eq!(headers["x-eris-signature"], signature("s3cret", raw.as_bytes()).as_str(), "signed over the body");
        let slack: Vec<_> = new.iter().filter(|(_, body)| body.get("text").is_some()).collect();
        assert_eq!(slack.len(), 2);
        assert!(slack[1].1["text"].as_str().unwrap().contains("*Succeeded*"));
    }
    release.notify_waiters();
}

#[tokio::test]
async fn a_slow_receiver_does_not_delay_the_next_trial_and_a_stop_is_told() {
    let release = Arc::new(tokio::sync::Notify::new());
    let (base, received) = receiver(release.clone()).await;
    for app in TestApp::all() {
        let webhooks = WebhookConfig {
            // Longer than the test: the deliverer stays stuck on the slow receiver's first delivery.
            timeout: Duration::from_secs(60),
            ..config(vec![NotifyTarget { url: format!("{base}/slow"), format: WebhookFormat::Json }])
        };
        let before = received.on("/slow").len();
        let wakeups = eris::wakeups::Wakeups::default();
        let shutdown = CancellationToken::new();
        let deliverer =
            tokio::spawn(Deliverer::new(app.db.clone(), webhooks.clone(), wakeups.clone()).run(shutdown.clone()));
        let experiment = app
            .create_experiment(json!({"name": "quick", "steps": [], "notify": [json_target(format!("{base}/ok"))]}))
            .await;
        let queued = app.post("/api/v1/trial", &json!({"experiment": experiment["id"]})).await.json();
        let queued_id = queued["id"].as_str().unwrap().to_owned();
        let (stop_worker, worker) = start_worker_with(&app.db, wakeups.clone(), webhooks.clone());
        let first = app.wait_for_end(&queued_id).await;
        // The receiver holds the first delivery; the next trial still runs and ends.
        let second = app.post("/api/v1/trial", &json!({"experiment": experiment["id"]})).await.json();
        let second = app.wait_for_end(second["id"].as_str().unwrap()).await;
        assert_eq!((first["status"].clone(), second["status"].clone()), (json!("Succeeded"), json!("Succeeded")));
        assert_eq!(received.on("/slow").len(), before + 1, "the receiver still holds the first delivery");
        stop_worker.cancel();
        worker.await.unwrap();

        // Stopping a queued trial is an event too (the worker never sees that trial).
        let stopped = app.post("/api/v1/trial", &json!({"experiment": experiment["id"]})).await.json();
        let stopped_id = stopped["id"].as_str().unwrap();
        let stopped = app.request(Method::PUT, &format!("/api/v1/trial/{stopped_id}/stop"), None).await.json();
        assert_eq!(stopped["notifications"][0]["event"], "stopped");
        release.notify_waiters();
        shutdown.cancel();
        deliverer.await.unwrap();
    }
}
