//! Retention on both backends: with a policy by age and by the last N of each schedule, one pass removes exactly the
//! ended trials the policy no longer keeps, never one on hold, a running one, or the audit log, and writes an audit
//! entry for every removal; without a policy nothing is removed.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{TestApp, start_worker};
use eris::retention::{self, Policy};
use serde_json::json;

#[tokio::test]
async fn retention_removes_what_the_policy_no_longer_keeps_and_records_each_removal() {
    for app in TestApp::all() {
        let backend = app.backend();
        let experiment = app.experiment_id().await;
        let schedule = app
            .post(&format!("/api/v1/experiment/{experiment}/schedule"), &json!({"recurrence_pattern": "0 3 * * *"}))
            .await
            .expect_status(StatusCode::CREATED)
            .json();
        let schedule = schedule["id"].as_str().unwrap().to_owned();
        // Six trials run by hand and ended, on 1 to 6 November at 03:00; the last four are then given to the schedule.
        let (shutdown, worker) = start_worker(&app.db);
        let mut ids = Vec::new();
        for _ in 0..6 {
            let trial = app.post("/api/v1/trial", &json!({"experiment": experiment})).await.json();
            let id = trial["id"].as_str().unwrap().to_owned();
            app.wait_for_end(&id).await;
            ids.push(id);
        }
        shutdown.cancel();
        worker.await.unwrap();
        for (day, id) in ids.iter().enumerate() {
            let completed = format!("2026-11-{:02} 03:00:00", day + 1);
            let owner = if day >= 2 { format!("'{schedule}'") } else { "NULL".to_owned() };
            common::sql(
                &app,
                format!("UPDATE trials SET completed_at = '{completed}', schedule_id = {owner} WHERE id = '{}'", id),
            )
            .await;
        }
        // The oldest is on hold: no policy removes it.
        let held = app.put(&format!("/api/v1/trial/{}/hold", ids[0]), &json!({"held": true})).await;
        assert_eq!(held.expect_status(StatusCode::OK).json()["held"], true, "{backend}");

        // Nothing without a policy.
        let none = retention::run_once(&app.db, &Policy::default(), "2026-12-01T00:00:00Z".parse().unwrap()).await;
        assert_eq!(none.unwrap(), [], "{backend}");
        // Keep the latest 2 of each schedule, and nothing older than 27 days (at 2026-11-30 02:00: before 11-03 02:00).
        let now: chrono::DateTime<chrono::Utc> = "2026-11-30T02:00:00Z".parse().unwrap();
        let policy = Policy {
            max_age: Some(chrono::Duration::days(27)),
            keep_per_schedule: Some(2),
            every: Duration::from_secs(3600),
        };
        let removed = retention::run_once(&app.db, &policy, now).await.unwrap();
        let mut gone: Vec<&str> = removed.iter().map(|r| r.trial.as_str()).collect();
        gone.sort();
        let mut expected = vec![ids[1].as_str(), ids[2].as_str(), ids[3].as_str()];
        expected.sort();
        // ids[0]: old but held; ids[1]: old; ids[2], ids[3]: beyond the latest 2 of the schedule; ids[4], ids[5]:
        // the latest 2, and young enough.
        assert_eq!(gone, expected, "{backend}: {removed:#?}");
        for id in &expected {
            app.get(&format!("/api/v1/trial/{id}")).await.expect_error(StatusCode::NOT_FOUND, "trial_not_found", None);
        }
        for id in [&ids[0], &ids[4], &ids[5]] {
            app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK);
        }
        let audit = app.get("/api/v1/audit?action=trial.remove").await.json();
        let entries = audit.as_array().unwrap();
        assert_eq!(entries.len(), 3, "{backend}: {audit:#}");
        assert!(entries.iter().all(|e| e["actor"] == "retention"), "{backend}");
        let beyond = entries.iter().find(|e| e["target_id"] == ids[2].as_str()).unwrap();
        assert!(beyond["path"].as_str().unwrap().contains("beyond the latest 2 of schedule"), "{backend}: {beyond}");
        // A second pass finds nothing more; the audit log keeps everything, the hold included.
        assert_eq!(
            retention::run_once(&app.db, &policy, "2026-11-30T12:00:00Z".parse().unwrap()).await.unwrap(),
            [],
            "{backend}"
        );
        let holds = app.get("/api/v1/audit?action=trial.hold").await.json();
        assert_eq!(holds.as_array().unwrap().len(), 1, "{backend}");
        // Off hold, the oldest goes at the next pass.
        app.put(&format!("/api/v1/trial/{}/hold", ids[0]), &json!({"held": false})).await.expect_status(StatusCode::OK);
        let removed = retention::run_once(&app.db, &policy, now).await.unwrap();
        assert_eq!(removed.len(), 1, "{backend}");
        assert_eq!(removed[0].trial, ids[0], "{backend}");

        // The periodic job, on the replica that takes its lease, makes the same pass at once when it starts.
        let job = tokio_util::sync::CancellationToken::new();
        let every_day = Policy {
            max_age: Some(chrono::Duration::days(1)),
            keep_per_schedule: None,
            every: Duration::from_secs(3600),
        };
        let running = tokio::spawn(retention::run(app.db.clone(), every_day, job.clone()));
        common::wait_until(Duration::from_secs(10), "the job to remove the old trials", || async {
            app.get(&format!("/api/v1/trial/{}", ids[5])).await.status == StatusCode::NOT_FOUND
        })
        .await;
        job.cancel();
        running.await.unwrap();
    }
}
