//! `/api/v1/experiment/{id}/schedule`: validation of patterns and zones, the recurrence_left rule, next_run_at,
//! pausing, deleting, and the schedule's list of trials.

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Timelike, Utc};
use common::TestApp;
use serde_json::{Value, json};

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("a timestamp").parse().expect("RFC 3339")
}

async fn create(app: &TestApp, experiment: &str, body: Value) -> Value {
    app.post(&format!("/api/v1/experiment/{experiment}/schedule"), &body)
        .await
        .expect_status(StatusCode::CREATED)
        .json()
}

#[tokio::test]
async fn create_applies_defaults_and_computes_the_next_run() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedule = create(&app, &experiment, json!({"recurrence_pattern": "@hourly"})).await;
        assert_eq!(schedule["experiment_id"], experiment.as_str());
        assert_eq!(schedule["timezone"], "UTC");
        assert_eq!(schedule["recurrence_count"], Value::Null, "null means forever");
        assert_eq!(schedule["recurrence_left"], Value::Null);
        assert_eq!(schedule["paused"], false);
        assert_eq!(schedule["misfire_policy"], "run_once");
        assert_eq!(schedule["concurrency_policy"], "queue");
        assert_eq!(schedule["last_run_at"], Value::Null);
        assert_eq!(schedule["trials"], json!([]));
        assert_eq!(schedule["created_by"], "anonymous");
        for field in ["metadata", "parameters", "ticket"] {
            assert_eq!(schedule[field], json!({}), "{field}");
        }
        let created = instant(&schedule["created_at"]);
        let next = instant(&schedule["next_run_at"]);
        assert!(next > created && next - created <= chrono::Duration::hours(1));
        assert_eq!((next.minute(), next.second(), next.nanosecond()), (0, 0, 0));

        let read = app
            .get(&format!("/api/v1/experiment/{experiment}/schedule/{}", schedule["id"].as_str().unwrap()))
            .await
            .expect_status(StatusCode::OK)
            .json();
        assert_eq!(read, schedule);
    }
}

#[tokio::test]
async fn the_pattern_is_read_in_the_schedules_time_zone() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedule = create(
            &app,
            &experiment,
            json!({"recurrence_pattern": "30 2 * * *", "timezone": "Asia/Kolkata", "recurrence_count": 3,
                   "misfire_policy": "skip", "concurrency_policy": "forbid", "parameters": {"p": 1}, "ticket": {"number": "7"}}),
        )
        .await;
        // 02:30 in Kolkata (UTC+05:30, no DST) is 21:00 UTC the day before.
        let next = instant(&schedule["next_run_at"]);
        assert_eq!((next.hour(), next.minute()), (21, 0));
        assert_eq!(schedule["recurrence_left"], 3);
        assert_eq!(schedule["misfire_policy"], "skip");
        assert_eq!(schedule["concurrency_policy"], "forbid");
        assert_eq!(schedule["parameters"], json!({"p": 1}));
        assert_eq!(schedule["ticket"], json!({"number": "7"}));

        // A leading seconds field is accepted.
        let every_ten_seconds = create(&app, &experiment, json!({"recurrence_pattern": "*/10 * * * * *"})).await;
        assert_eq!(instant(&every_ten_seconds["next_run_at"]).second() % 10, 0);
    }
}

#[tokio::test]
async fn bad_schedules_are_rejected_with_the_field_named() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let path = format!("/api/v1/experiment/{experiment}/schedule");
        let cases = [
            (json!({"recurrence_pattern": "61 * * * *"}), "invalid_recurrence_pattern", "recurrence_pattern"),
            (json!({"recurrence_pattern": "* * *"}), "invalid_recurrence_pattern", "recurrence_pattern"),
            (json!({"recurrence_pattern": "0 0 31 2 *"}), "invalid_recurrence_pattern", "recurrence_pattern"),
            (json!({"recurrence_pattern": "@reboot"}), "invalid_recurrence_pattern", "recurrence_pattern"),
            (json!({"recurrence_pattern": ""}), "invalid_recurrence_pattern", "recurrence_pattern"),
            (json!({"recurrence_pattern": "@daily", "timezone": "Mars/Base"}), "invalid_timezone", "timezone"),
            (
                json!({"recurrence_pattern": "@daily", "recurrence_count": -1}),
                "invalid_recurrence_count",
                "recurrence_count",
            ),
            (json!({"recurrence_pattern": "@daily", "recurrence_count": "3"}), "invalid_body", "recurrence_count"),
            (json!({"recurrence_pattern": "@daily", "misfire_policy": "later"}), "invalid_body", "misfire_policy"),
            (
                json!({"recurrence_pattern": "@daily", "concurrency_policy": "replace"}),
                "invalid_body",
                "concurrency_policy",
            ),
            (json!({"recurrence_pattern": "@daily", "recurrence_left": 5}), "invalid_body", "recurrence_left"),
            (json!({}), "invalid_body", "recurrence_pattern"),
        ];
        for (body, code, field) in cases {
            let error = app.post(&path, &body).await.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
            if code == "invalid_recurrence_pattern" || code == "invalid_timezone" {
                let message = error["message"].as_str().unwrap();
                assert!(message.len() > 20, "the message says what is wrong: {message}");
            }
        }
        let unknown = uuid::Uuid::new_v4();
        app.post(&format!("/api/v1/experiment/{unknown}/schedule"), &json!({"recurrence_pattern": "@daily"}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "experiment_not_found", None);
        app.get(&format!("/api/v1/experiment/{unknown}/schedule")).await.expect_error(
            StatusCode::NOT_FOUND,
            "experiment_not_found",
            None,
        );
        app.get(&format!("{path}/{unknown}")).await.expect_error(StatusCode::NOT_FOUND, "schedule_not_found", None);
        app.get(&format!("{path}/x")).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_path_parameter",
            Some("schedule_id"),
        );
        assert_eq!(app.get(&path).await.json(), json!([]), "no rejected request created a schedule");
    }
}

#[tokio::test]
async fn changing_recurrence_count_resets_recurrence_left() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedule = create(&app, &experiment, json!({"recurrence_pattern": "@daily", "recurrence_count": 5})).await;
        let path = format!("/api/v1/experiment/{experiment}/schedule/{}", schedule["id"].as_str().unwrap());
        // Simulate two fires, as the scheduler records them.
        let id = schedule["id"].as_str().unwrap().to_owned();
        app.db
            .run(move |conn| {
                use diesel::prelude::*;
                diesel::sql_query(format!("UPDATE schedules SET recurrence_left = 3 WHERE id = '{id}'"))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();

        let patched = app.patch(&path, &json!({"parameters": {"a": 1}})).await.expect_status(StatusCode::OK).json();
        assert_eq!((patched["recurrence_count"].clone(), patched["recurrence_left"].clone()), (json!(5), json!(3)));
        let same = app.patch(&path, &json!({"recurrence_count": 5})).await.json();
        assert_eq!(same["recurrence_left"], 3, "the same count is no change");
        let changed = app.patch(&path, &json!({"recurrence_count": 10})).await.json();
        assert_eq!((changed["recurrence_count"].clone(), changed["recurrence_left"].clone()), (json!(10), json!(10)));
        let forever = app.patch(&path, &json!({"recurrence_count": null})).await.json();
        assert_eq!(
            (forever["recurrence_count"].clone(), forever["recurrence_left"].clone()),
            (Value::Null, Value::Null)
        );

        // PUT replaces: without recurrence_count the schedule runs forever; other fields take their defaults.
        let with_count = app
            .put(&path, &json!({"recurrence_pattern": "@daily", "recurrence_count": 2, "paused": true}))
            .await
            .json();
        assert_eq!(with_count["recurrence_left"], 2);
        let replaced =
            app.put(&path, &json!({"recurrence_pattern": "@weekly"})).await.expect_status(StatusCode::OK).json();
        assert_eq!(replaced["recurrence_count"], Value::Null);
        assert_eq!(replaced["recurrence_left"], Value::Null);
        assert_eq!(replaced["paused"], false);
        assert_eq!(replaced["parameters"], json!({}));
        assert_eq!(replaced["recurrence_pattern"], "@weekly");
        assert_eq!(replaced["created_at"], schedule["created_at"]);

        app.patch(&path, &json!({"recurrence_count": -2})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_recurrence_count",
            Some("recurrence_count"),
        );
        app.patch(&path, &json!({"recurrence_pattern": "0 0 30 2 *"})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_recurrence_pattern",
            Some("recurrence_pattern"),
        );
        app.patch(&path, &json!({"timezone": "Europe/Nowhere"})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_timezone",
            Some("timezone"),
        );
        assert_eq!(app.get(&path).await.json(), replaced, "rejected updates change nothing");
    }
}

#[tokio::test]
async fn paused_and_used_up_schedules_have_no_next_run() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let never = create(&app, &experiment, json!({"recurrence_pattern": "@daily", "recurrence_count": 0})).await;
        assert_eq!(never["next_run_at"], Value::Null, "a count of 0 never fires");

        let schedule = create(&app, &experiment, json!({"recurrence_pattern": "@daily", "paused": true})).await;
        assert_eq!(schedule["next_run_at"], Value::Null);
        let path = format!("/api/v1/experiment/{experiment}/schedule/{}", schedule["id"].as_str().unwrap());
        let resumed = app.patch(&path, &json!({"paused": false})).await.expect_status(StatusCode::OK).json();
        let next = instant(&resumed["next_run_at"]);
        assert!(next > instant(&resumed["updated_at"]), "computed from the time of resuming");
        assert_eq!((next.hour(), next.minute()), (0, 0));
        let paused = app.patch(&path, &json!({"paused": true})).await.json();
        assert_eq!(paused["next_run_at"], Value::Null);
    }
}

#[tokio::test]
async fn deleting_a_schedule_keeps_its_trials() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedule = create(&app, &experiment, json!({"recurrence_pattern": "@daily"})).await;
        let schedule_id: uuid::Uuid = schedule["id"].as_str().unwrap().parse().unwrap();
        let experiment_id: uuid::Uuid = experiment.parse().unwrap();
        // Queue a trial as the scheduler does.
        let trial_id = app
            .db
            .run(move |conn| {
                let row = eris::trials::queue(
                    conn,
                    eris::trials::NewTrial {
                        experiment_id,
                        schedule_id: Some(schedule_id),
                        parameters: Default::default(),
                        metadata: Default::default(),
                        ticket: Default::default(),
                        scheduled_for: Some(eris::time::now()),
                        initiated_by: "schedule".into(),
                        initiated_from: "schedule".into(),
                        sweep: None,
                        queued_at: None,
                        dry_run: false,
                    },
                )?;
                Ok(row.id)
            })
            .await
            .unwrap();
        let path = format!("/api/v1/experiment/{experiment}/schedule/{schedule_id}");
        let read = app.get(&path).await.json();
        assert_eq!(read["trials"], json!([{"id": trial_id, "status": "Scheduled", "executed_at": null}]));
        let listed = app.get(&format!("/api/v1/trial?schedule={schedule_id}")).await.json();
        assert_eq!(listed[0]["id"], trial_id.as_str());

        app.delete(&path).await.expect_status(StatusCode::NO_CONTENT);
        app.get(&path).await.expect_error(StatusCode::NOT_FOUND, "schedule_not_found", None);
        app.delete(&path).await.expect_error(StatusCode::NOT_FOUND, "schedule_not_found", None);
        let kept = app.get(&format!("/api/v1/trial/{trial_id}")).await.expect_status(StatusCode::OK).json();
        assert_eq!(kept["schedule_id"], schedule_id.to_string());
    }
}

#[tokio::test]
async fn schedules_belong_to_their_experiment_and_page_in_creation_order() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let other = app.experiment_id().await;
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(create(&app, &experiment, json!({"recurrence_pattern": "@daily"})).await["id"].clone());
        }
        let foreign = create(&app, &other, json!({"recurrence_pattern": "@daily"})).await;
        app.get(&format!("/api/v1/experiment/{experiment}/schedule/{}", foreign["id"].as_str().unwrap()))
            .await
            .expect_error(StatusCode::NOT_FOUND, "schedule_not_found", None);

        let mut seen = Vec::new();
        let mut next = Some(format!("/api/v1/experiment/{experiment}/schedule?limit=2"));
        while let Some(url) = next {
            let response = app.get(&url).await.expect_status(StatusCode::OK);
            next = response.next_link();
            seen.extend(response.json().as_array().unwrap().iter().map(|s| s["id"].clone()));
        }
        assert_eq!(seen, ids);
    }
}

#[tokio::test]
async fn schedule_secrets_are_masked_in_responses_and_kept_in_storage() {
    const MASK: &str = "*****";
    const SECRET: &str = "sched-tok-93ab51";
    const TICKET_SECRET: &str = "ticket-pw-0d2c77";
    async fn stored(app: &TestApp, experiment: &str, id: &str) -> (Value, Value) {
        let (experiment, id) = (experiment.to_owned(), id.to_owned());
        let row = app.db.run(move |conn| eris::db::schedules::find(conn, &experiment, &id)).await.unwrap();
        let row = row.expect("the schedule is stored");
        (serde_json::from_str(&row.parameters).unwrap(), serde_json::from_str(&row.ticket).unwrap())
    }
    #[track_caller]
    fn assert_no_secret(text: &str) {
        assert!(!text.contains(SECRET) && !text.contains(TICKET_SECRET), "a response shows a secret: {text}");
    }

    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let path = format!("/api/v1/experiment/{experiment}/schedule");
        let created = app
            .post(
                &path,
                &json!({"recurrence_pattern": "@daily", "parameters": {"api_token": SECRET, "region": "eu"},
                        "ticket": {"number": "7", "credentials": {"password": TICKET_SECRET}}}),
            )
            .await;
        assert_no_secret(&created.text());
        let created = created.expect_status(StatusCode::CREATED).json();
        assert_eq!(created["parameters"], json!({"api_token": MASK, "region": "eu"}));
        assert_eq!(created["ticket"], json!({"number": "7", "credentials": MASK}));
        let id = created["id"].as_str().unwrap().to_owned();
        let schedule_path = format!("{path}/{id}");

        let read = app.get(&schedule_path).await.expect_status(StatusCode::OK);
        assert_no_secret(&read.text());
        assert_eq!(read.json(), created);
        let listed = app.get(&path).await.expect_status(StatusCode::OK);
        assert_no_secret(&listed.text());
        assert_eq!(listed.json(), json!([created]));
        let real = (
            json!({"api_token": SECRET, "region": "eu"}),
            json!({"number": "7", "credentials": {"password": TICKET_SECRET}}),
        );
        assert_eq!(stored(&app, &experiment, &id).await, real, "the scheduler reads the real values");

        // PUT back what was read (its settable fields), one thing changed: the masked secrets stay as stored.
        let mut body = json!({});
        for field in [
            "recurrence_pattern",
            "timezone",
            "recurrence_count",
            "metadata",
            "parameters",
            "ticket",
            "paused",
            "misfire_policy",
            "concurrency_policy",
        ] {
            body[field] = created[field].clone();
        }
        body["paused"] = json!(true);
        let replaced = app.put(&schedule_path, &body).await;
        assert_no_secret(&replaced.text());
        assert_eq!(replaced.expect_status(StatusCode::OK).json()["paused"], true);
        assert_eq!(stored(&app, &experiment, &id).await, real);
        let patched = app.patch(&schedule_path, &json!({"parameters": {"api_token": MASK, "region": "us"}})).await;
        assert_no_secret(&patched.text());
        assert_eq!(
            patched.expect_status(StatusCode::OK).json()["parameters"],
            json!({"api_token": MASK, "region": "us"})
        );
        assert_eq!(stored(&app, &experiment, &id).await.0, json!({"api_token": SECRET, "region": "us"}));

        // A mask with nothing stored at its path: a new key, or a new schedule.
        app.patch(&schedule_path, &json!({"parameters": {"api_token": MASK, "client_secret": MASK}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "masked_secret_without_value", Some("parameters.client_secret"));
        app.post(&path, &json!({"recurrence_pattern": "@daily", "parameters": {"api_token": MASK}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "masked_secret_without_value", Some("parameters.api_token"));
        assert_eq!(app.get(&path).await.json().as_array().unwrap().len(), 1, "no rejected request created a schedule");
        assert_eq!(stored(&app, &experiment, &id).await.0, json!({"api_token": SECRET, "region": "us"}));
    }
}
