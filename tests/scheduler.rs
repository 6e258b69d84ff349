//! The scheduler on both backends: exact fires in real time, recurrence, misfires after downtime, `forbid`,
//! several schedulers on one database, and a broken schedule that does not hold up the others.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use common::{TestApp, wait_until};
use eris::scheduler::{FireOutcome, Scheduler, SchedulerConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap_or_else(|| panic!("not a timestamp: {value}")).parse().unwrap()
}

fn scheduler(app: &TestApp) -> Scheduler {
    let config = SchedulerConfig { poll_interval: Duration::from_millis(500), ..SchedulerConfig::default() };
    Scheduler::new(app.db.clone(), Default::default(), config)
}

async fn create_schedule(app: &TestApp, experiment: &str, body: Value) -> Value {
    app.post(&format!("/api/v1/experiment/{experiment}/schedule"), &body)
        .await
        .expect_status(StatusCode::CREATED)
        .json()
}

async fn trials_of(app: &TestApp, schedule: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/trial?schedule={schedule}&limit=1000")).await.json().as_array().unwrap().clone()
}

#[tokio::test]
async fn a_schedule_with_count_3_fires_exactly_3_times_at_its_instants_never_before() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedule =
            create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * * *", "recurrence_count": 3}))
                .await;
        let id = schedule["id"].as_str().unwrap().to_owned();
        let first = instant(&schedule["next_run_at"]);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(scheduler(&app).run(shutdown.clone()));

        wait_until(Duration::from_secs(10), "3 trials", || async { trials_of(&app, &id).await.len() >= 3 }).await;
        let path = format!("/api/v1/experiment/{experiment}/schedule/{id}");
        wait_until(Duration::from_secs(5), "the schedule to be used up", || async {
            app.get(&path).await.json()["next_run_at"].is_null()
        })
        .await;
        shutdown.cancel();
        running.await.unwrap();

        let trials = trials_of(&app, &id).await;
        assert_eq!(trials.len(), 3, "{}", app.backend());
        for (n, trial) in trials.iter().enumerate() {
            let due = first + chrono::Duration::seconds(n as i64);
            assert_eq!(instant(&trial["scheduled_for"]), due, "each trial is due at its own instant");
            assert!(instant(&trial["created_at"]) >= due, "never early: {trial}");
            assert_eq!(trial["status"], "Scheduled");
            assert_eq!(trial["initiated_from"], "scheduler");
            assert!(trial["initiated_by"].as_str().unwrap().contains(&id));
        }
        let schedule = app.get(&path).await.json();
        assert_eq!(schedule["recurrence_left"], 0);
        assert_eq!(schedule["last_run_at"], trials[2]["scheduled_for"]);
        assert_eq!(schedule["missed_fires"], 0);
        assert_eq!(schedule["trials"].as_array().unwrap().len(), 3);
        // Used up: a later tick fires nothing.
        scheduler(&app).tick().await.unwrap();
        assert_eq!(trials_of(&app, &id).await.len(), 3);
    }
}

#[tokio::test]
async fn missed_fires_after_downtime_follow_the_misfire_policy() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let mut ids = Vec::new();
        for policy in ["run_once", "skip"] {
            let schedule = create_schedule(
                &app,
                &experiment,
                json!({"recurrence_pattern": "0 2 * * *", "misfire_policy": policy, "recurrence_count": 10}),
            )
            .await;
            let id = schedule["id"].as_str().unwrap().to_owned();
            // eris was down from before 2026-01-01 02:00 until 2026-01-03 02:40: three instants passed.
            common::sql(&app, format!("UPDATE schedules SET next_run_at = '2026-01-01 02:00:00' WHERE id = '{id}'"))
                .await;
            ids.push(id);
        }
        let back_at: DateTime<Utc> = "2026-01-03T02:40:00Z".parse().unwrap();
        let scheduler = scheduler(&app);

        let caught_up = scheduler.fire(&ids[0], back_at).await.unwrap();
        let FireOutcome::Created { catch_up, missed, scheduled_for, .. } = caught_up else { panic!("{caught_up:?}") };
        assert!(catch_up);
        assert_eq!((missed, scheduled_for), (3, "2026-01-03T02:00:00Z".parse().unwrap()));
        let skipped = scheduler.fire(&ids[1], back_at).await.unwrap();
        assert_eq!(skipped, FireOutcome::NoTrial { skipped: false, missed: 3 });

        for (id, trials, left) in [(&ids[0], 1, 9), (&ids[1], 0, 10)] {
            let schedule = app.get(&format!("/api/v1/experiment/{experiment}/schedule/{id}")).await.json();
            assert_eq!(schedule["missed_fires"], 3, "missed instants are visible");
            assert_eq!(schedule["recurrence_left"], left, "only a created trial uses up a run");
            assert_eq!(instant(&schedule["next_run_at"]), "2026-01-04T02:00:00Z".parse::<DateTime<Utc>>().unwrap());
            assert_eq!(trials_of(&app, id).await.len(), trials);
        }
        let trial = &trials_of(&app, &ids[0]).await[0];
        assert_eq!(trial["initiated_from"], "scheduler (catch-up)");
        // Firing the same instant again does nothing: it is no longer due.
        assert_eq!(scheduler.fire(&ids[0], back_at).await.unwrap(), FireOutcome::NotDue);
    }
}

#[tokio::test]
async fn forbid_skips_a_fire_while_the_schedules_trial_is_queued() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let queue =
            create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * *", "recurrence_count": 5})).await;
        let forbid = create_schedule(
            &app,
            &experiment,
            json!({"recurrence_pattern": "* * * * *", "recurrence_count": 5, "concurrency_policy": "forbid"}),
        )
        .await;
        let scheduler = scheduler(&app);
        for schedule in [&queue, &forbid] {
            let id = schedule["id"].as_str().unwrap();
            let first = instant(&schedule["next_run_at"]);
            assert!(matches!(scheduler.fire(id, first).await.unwrap(), FireOutcome::Created { .. }));
            // The next minute comes while the first trial is still queued (no worker runs here).
            let second = first + chrono::Duration::minutes(1);
            let outcome = scheduler.fire(id, second).await.unwrap();
            if schedule["concurrency_policy"] == "forbid" {
                assert_eq!(outcome, FireOutcome::NoTrial { skipped: true, missed: 0 });
            } else {
                assert!(matches!(outcome, FireOutcome::Created { .. }), "{outcome:?}");
            }
        }
        let forbid_id = forbid["id"].as_str().unwrap();
        let read = app.get(&format!("/api/v1/experiment/{experiment}/schedule/{forbid_id}")).await.json();
        assert_eq!((read["skipped_fires"].clone(), read["recurrence_left"].clone()), (json!(1), json!(4)));
        assert_eq!(trials_of(&app, forbid_id).await.len(), 1);
        assert_eq!(trials_of(&app, queue["id"].as_str().unwrap()).await.len(), 2);
    }
}

#[tokio::test]
async fn several_schedulers_on_one_database_fire_each_instant_once() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let schedule =
            create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * * *", "recurrence_count": 4}))
                .await;
        let id = schedule["id"].as_str().unwrap().to_owned();
        let shutdown = CancellationToken::new();
        // Each scheduler has a pool of its own, as separate eris processes would.
        let runners: Vec<_> = (0..3)
            .map(|_| {
                let db = app.database.connect();
                let config =
                    SchedulerConfig { poll_interval: Duration::from_millis(200), ..SchedulerConfig::default() };
                tokio::spawn(Scheduler::new(db, Default::default(), config).run(shutdown.clone()))
            })
            .collect();
        let path = format!("/api/v1/experiment/{experiment}/schedule/{id}");
        wait_until(Duration::from_secs(15), "the schedule to be used up", || async {
            app.get(&path).await.json()["next_run_at"].is_null()
        })
        .await;
        shutdown.cancel();
        for runner in runners {
            runner.await.unwrap();
        }
        let trials = trials_of(&app, &id).await;
        let mut instants: Vec<_> = trials.iter().map(|t| instant(&t["scheduled_for"])).collect();
        instants.dedup();
        assert_eq!((trials.len(), instants.len()), (4, 4), "{}: {trials:?}", app.backend());
    }
}

#[tokio::test]
async fn a_broken_schedule_is_retried_later_and_never_blocks_the_others() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let broken = create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * * *"})).await;
        let healthy =
            create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * * *", "recurrence_count": 2}))
                .await;
        let paused =
            create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * * *", "paused": true})).await;
        let broken_id = broken["id"].as_str().unwrap().to_owned();
        // A row no fire can read (as if written by a faulty tool).
        common::sql(&app, format!("UPDATE schedules SET recurrence_pattern = '61 * * * *' WHERE id = '{broken_id}'"))
            .await;

        let shutdown = CancellationToken::new();
        let running = tokio::spawn(scheduler(&app).run(shutdown.clone()));
        let healthy_id = healthy["id"].as_str().unwrap().to_owned();
        wait_until(Duration::from_secs(10), "the healthy schedule's 2 trials", || async {
            trials_of(&app, &healthy_id).await.len() == 2
        })
        .await;
        shutdown.cancel();
        running.await.unwrap();

        assert!(trials_of(&app, &broken_id).await.is_empty());
        assert!(trials_of(&app, paused["id"].as_str().unwrap()).await.is_empty(), "paused schedules do not fire");
        let read = app
            .get(&format!("/api/v1/experiment/{experiment}/schedule/{broken_id}"))
            .await
            .expect_status(StatusCode::OK);
        assert!(read.json()["fire_error"].as_str().is_some_and(|e| !e.is_empty()), "the failure is visible");
    }
}

#[tokio::test]
async fn a_fire_while_the_emergency_stop_holds_or_a_blackout_is_in_force_is_skipped_and_counted() {
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app.experiment_id().await;
        let schedule =
            create_schedule(&app, &experiment, json!({"recurrence_pattern": "* * * * *", "recurrence_count": 5})).await;
        let id = schedule["id"].as_str().unwrap();
        app.post("/api/v1/emergency-stop/engage", &json!({"reason": "freeze"})).await.expect_status(StatusCode::OK);
        let scheduler = scheduler(&app);
        let first = instant(&schedule["next_run_at"]);
        assert_eq!(
            scheduler.fire(id, first).await.unwrap(),
            FireOutcome::NoTrial { skipped: true, missed: 0 },
            "{backend}"
        );
        app.post("/api/v1/emergency-stop/release", &json!({})).await.expect_status(StatusCode::OK);
        // So is a fire while a blackout is in force.
        let always = json!({"reason": "freeze", "windows": [{"from": "00:00", "to": "00:00"}]});
        let blackout = app.post("/api/v1/blackout", &always).await.expect_status(StatusCode::CREATED).json();
        let second = first + chrono::Duration::minutes(1);
        assert_eq!(
            scheduler.fire(id, second).await.unwrap(),
            FireOutcome::NoTrial { skipped: true, missed: 0 },
            "{backend}"
        );
        app.delete(&format!("/api/v1/blackout/{}", blackout["id"].as_str().unwrap()))
            .await
            .expect_status(StatusCode::NO_CONTENT);
        let third = second + chrono::Duration::minutes(1);
        assert!(matches!(scheduler.fire(id, third).await.unwrap(), FireOutcome::Created { .. }), "{backend}");
        let read = app.get(&format!("/api/v1/experiment/{experiment}/schedule/{id}")).await.json();
        // The skipped fires are counted, as a `forbid` skip is, and not against `recurrence_count`; the next one runs.
        assert_eq!((read["skipped_fires"].clone(), read["recurrence_left"].clone()), (json!(2), json!(4)), "{backend}");
        assert_eq!(trials_of(&app, id).await.len(), 1, "{backend}");
    }
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// An hourly schedule in America/New_York allowed from 22:00 to 02:00, over the fall-back night of 1 November
/// 2026 (at 02:00 EDT the clock goes back to 01:00 EST): it fires at 22:00, 23:00, 00:00 and in both passes of
/// 01:00, skips and counts the rest, and shows the next instant that really fires. Deferred, a fire outside moves to
/// the window's opening.
#[tokio::test]
async fn run_windows_across_midnight_follow_the_wall_clock_over_a_dst_change() {
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app.experiment_id().await;
        let night = json!({"windows": [{"from": "22:00", "to": "02:00"}]});
        let body = json!({"recurrence_pattern": "0 * * * *", "timezone": "America/New_York", "run_windows": night});
        let schedule = create_schedule(&app, &experiment, body).await;
        assert_eq!(schedule["run_windows"]["outside"], "skip", "{backend}: the default");
        let id = schedule["id"].as_str().unwrap().to_owned();
        // Saturday 31 October 20:00 EDT.
        common::sql(&app, format!("UPDATE schedules SET next_run_at = '2026-11-01 00:00:00' WHERE id = '{id}'")).await;
        let read = app.get(&format!("/api/v1/experiment/{experiment}/schedule/{id}")).await.json();
        assert_eq!(instant(&read["next_run_at"]), utc("2026-11-01T02:00:00Z"), "{backend}: 22:00 EDT really fires");
        let scheduler = scheduler(&app);
        let mut fired = Vec::new();
        for hour in 0..9 {
            let now = utc("2026-11-01T00:00:00Z") + chrono::Duration::hours(hour);
            match scheduler.fire(&id, now).await.unwrap() {
                FireOutcome::Created { scheduled_for, .. } => fired.push(scheduled_for),
                FireOutcome::NoTrial { skipped: true, missed: 0 } => {}
                other => panic!("{backend}: {now}: {other:?}"),
            }
        }
        let expected = ["02:00", "03:00", "04:00", "05:00", "06:00"].map(|t| utc(&format!("2026-11-01T{t}:00Z")));
        assert_eq!(fired, expected, "{backend}: 22:00, 23:00, 00:00 EDT, 01:00 EDT and 01:00 EST");
        let read = app.get(&format!("/api/v1/experiment/{experiment}/schedule/{id}")).await.json();
        assert_eq!(read["skipped_fires"], 4, "{backend}: 20:00, 21:00 EDT, 02:00 and 03:00 EST");
        assert_eq!(instant(&read["next_run_at"]), utc("2026-11-02T03:00:00Z"), "{backend}: 22:00 EST the next night");

        // Deferred instead: the 20:00 fire waits for 22:00 and makes one trial then, with the 21:00 one in it.
        let patch = json!({"run_windows": {"windows": [{"from": "22:00", "to": "02:00"}], "outside": "defer"}});
        app.patch(&format!("/api/v1/experiment/{experiment}/schedule/{id}"), &patch)
            .await
            .expect_status(StatusCode::OK);
        common::sql(&app, format!("UPDATE schedules SET next_run_at = '2026-11-02 01:00:00' WHERE id = '{id}'")).await;
        let outcome = scheduler.fire(&id, utc("2026-11-02T01:00:00Z")).await.unwrap();
        assert_eq!(outcome, FireOutcome::NoTrial { skipped: false, missed: 0 }, "{backend}");
        let read = app.get(&format!("/api/v1/experiment/{experiment}/schedule/{id}")).await.json();
        assert_eq!(instant(&read["next_run_at"]), utc("2026-11-02T03:00:00Z"), "{backend}: deferred to 22:00 EST");
        let outcome = scheduler.fire(&id, utc("2026-11-02T03:00:00Z")).await.unwrap();
        let FireOutcome::Created { scheduled_for, .. } = outcome else { panic!("{backend}: {outcome:?}") };
        assert_eq!(scheduled_for, utc("2026-11-02T03:00:00Z"), "{backend}");

        // Windows that the pattern never meets, or that cannot be read, are refused naming the field.
        let never =
            json!({"recurrence_pattern": "0 12 * * *", "run_windows": {"windows": [{"from": "13:00", "to": "14:00"}]}});
        app.post(&format!("/api/v1/experiment/{experiment}/schedule"), &never).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_run_windows",
            Some("run_windows"),
        );
        let bad =
            json!({"recurrence_pattern": "0 12 * * *", "run_windows": {"windows": [{"from": "9am", "to": "14:00"}]}});
        let refused = app.post(&format!("/api/v1/experiment/{experiment}/schedule"), &bad).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{backend}");
        assert!(refused.text().contains("9am"), "{backend}: {}", refused.text());
    }
}
