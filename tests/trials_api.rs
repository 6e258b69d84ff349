//! `/api/v1/trial`: run now, read, list with filters, stop; trials cannot be edited or deleted.

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, sample_experiment};
use eris::trial_status::TrialStatus;
use serde_json::json;

/// Moves a trial to another status the way the worker would.
async fn force_status(app: &TestApp, trial_id: &str, from: TrialStatus, to: TrialStatus) {
    let trial_id = trial_id.to_owned();
    let moved = app
        .db
        .run(move |conn| {
            let now = eris::time::to_db(eris::time::now());
            eris::db::trials::transition(conn, &trial_id, from, to, "moved by the test", now)
        })
        .await
        .unwrap();
    assert!(moved);
}

#[tokio::test]
async fn post_queues_a_trial_with_a_snapshot_of_the_experiment() {
    for app in TestApp::all() {
        let experiment = app.create_experiment(sample_experiment()).await;
        let id = experiment["id"].as_str().unwrap();
        let trial = app
            .post(
                "/api/v1/trial",
                &json!({"experiment": id, "parameters": {"extra": "1"}, "metadata": {"run": "manual", "team": "qa"},
                        "ticket": {"type": "CHG", "number": "42"}, "initiated_from": "curl"}),
            )
            .await
            .expect_status(StatusCode::CREATED)
            .json();
        assert_eq!(trial["status"], "Scheduled");
        assert_eq!(trial["experiment"], id);
        assert_eq!(trial["schedule_id"], serde_json::Value::Null);
        assert_eq!(trial["experiment_revision"], 1);
        assert_eq!(trial["initiated_from"], "curl");
        assert_eq!(trial["initiated_by"], "anonymous");
        assert_eq!(trial["parameters"], json!({"extra": "1"}));
        assert_eq!(trial["ticket"], json!({"type": "CHG", "number": "42"}));
        // The experiment's metadata lies underneath the trial's own.
        assert_eq!(trial["metadata"], json!({"team": "qa", "run": "manual"}));
        assert_eq!(trial["trial_record"], json!({}));
        for field in ["executed_at", "completed_at", "metrics", "violations", "grafana_url", "report"] {
            assert_eq!(trial[field], serde_json::Value::Null, "{field}");
        }
        assert_eq!(trial["scheduled_for"], trial["created_at"]);
        assert_eq!(trial["experiment_snapshot"]["steps"][0], experiment["steps"][0]);
        assert_eq!(
            trial["experiment_snapshot"]["steps"][1]["where"]["headers"]["X-Token"], "*****",
            "secrets are masked"
        );

        // Changing the experiment later does not change what the trial records.
        app.patch(&format!("/api/v1/experiment/{id}"), &json!({"steps": []})).await.expect_status(StatusCode::OK);
        let read = app
            .get(&format!("/api/v1/trial/{}", trial["id"].as_str().unwrap()))
            .await
            .expect_status(StatusCode::OK)
            .json();
        assert_eq!(read, trial);

        let defaulted =
            app.post("/api/v1/trial", &json!({"experiment": id})).await.expect_status(StatusCode::CREATED).json();
        assert_eq!(defaulted["initiated_from"], "api");
        assert_eq!(defaulted["experiment_revision"], 2);
    }
}

#[tokio::test]
async fn bad_trial_requests_name_the_problem() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let unknown = uuid::Uuid::new_v4();
        app.post("/api/v1/trial", &json!({"experiment": unknown})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "experiment_not_found",
            Some("experiment"),
        );
        app.post("/api/v1/trial", &json!({})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("experiment"),
        );
        app.post("/api/v1/trial", &json!({"experiment": "nope"})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("experiment"),
        );
        app.post("/api/v1/trial", &json!({"experiment": id, "status": "Succeeded"})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("status"),
        );
        app.post("/api/v1/trial", &json!({"experiment": id, "initiated_from": "x".repeat(101)})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_initiated_from",
            Some("initiated_from"),
        );
        app.get(&format!("/api/v1/trial/{unknown}")).await.expect_error(StatusCode::NOT_FOUND, "trial_not_found", None);
        app.get("/api/v1/trial/123").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_path_parameter",
            Some("trial_id"),
        );
        app.request(Method::PUT, &format!("/api/v1/trial/{unknown}/stop"), None).await.expect_error(
            StatusCode::NOT_FOUND,
            "trial_not_found",
            None,
        );
        assert_eq!(app.get("/api/v1/trial").await.json(), json!([]), "no rejected request queued a trial");
    }
}

#[tokio::test]
async fn trials_cannot_be_edited_or_deleted() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let trial = app.post("/api/v1/trial", &json!({"experiment": id})).await.json();
        let path = format!("/api/v1/trial/{}", trial["id"].as_str().unwrap());
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            app.request(method, &path, Some(&json!({"status": "Succeeded"}))).await.expect_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                None,
            );
        }
        assert_eq!(app.get(&path).await.json(), trial);
    }
}

#[tokio::test]
async fn stop_stops_a_queued_trial_and_asks_a_running_one_to_stop() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let queued = app.post("/api/v1/trial", &json!({"experiment": id})).await.json();
        let stop = format!("/api/v1/trial/{}/stop", queued["id"].as_str().unwrap());
        let stopped = app.request(Method::PUT, &stop, None).await.expect_status(StatusCode::OK).json();
        assert_eq!(stopped["status"], "Stopped");
        assert!(stopped["completed_at"].is_string());
        assert_eq!(stopped["executed_at"], serde_json::Value::Null, "it never ran");
        assert_eq!(stopped["status_reason"], "stopped before it started");
        app.request(Method::PUT, &stop, None).await.expect_error(StatusCode::CONFLICT, "trial_already_finished", None);

        let running = app.post("/api/v1/trial", &json!({"experiment": id})).await.json();
        let running_id = running["id"].as_str().unwrap();
        force_status(&app, running_id, TrialStatus::Scheduled, TrialStatus::InProgress).await;
        let stop = format!("/api/v1/trial/{running_id}/stop");
        let stopping = app.request(Method::PUT, &stop, None).await.expect_status(StatusCode::OK).json();
        assert_eq!(stopping["status"], "Stop Initiated");
        assert_eq!(stopping["completed_at"], serde_json::Value::Null);
        let again = app.request(Method::PUT, &stop, None).await.expect_status(StatusCode::OK).json();
        assert_eq!(again, stopping, "repeating a stop changes nothing");

        let finished = app.post("/api/v1/trial", &json!({"experiment": id})).await.json();
        let finished_id = finished["id"].as_str().unwrap();
        force_status(&app, finished_id, TrialStatus::Scheduled, TrialStatus::Succeeded).await;
        app.request(Method::PUT, &format!("/api/v1/trial/{finished_id}/stop"), None).await.expect_error(
            StatusCode::CONFLICT,
            "trial_already_finished",
            None,
        );
    }
}

#[tokio::test]
async fn lists_filter_by_experiment_status_and_time_and_page_with_links() {
    for app in TestApp::all() {
        let first = app.experiment_id().await;
        let second = app.experiment_id().await;
        let mut ids = Vec::new();
        for experiment in [&first, &second, &first, &second, &first] {
            let trial = app.post("/api/v1/trial", &json!({"experiment": experiment})).await.json();
            ids.push(trial["id"].as_str().unwrap().to_owned());
        }
        app.request(Method::PUT, &format!("/api/v1/trial/{}/stop", ids[2]), None).await.expect_status(StatusCode::OK);

        let of_first = app.get(&format!("/api/v1/trial?experiment={first}")).await.json();
        let of_first: Vec<_> =
            of_first.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(of_first, vec![ids[0].clone(), ids[2].clone(), ids[4].clone()]);

        let stopped = app.get("/api/v1/trial?status=Stopped").await.json();
        assert_eq!(stopped.as_array().unwrap().len(), 1);
        assert_eq!(stopped[0]["id"], ids[2].as_str());
        let queued = app.get(&format!("/api/v1/trial?status=Scheduled&experiment={first}")).await.json();
        assert_eq!(queued.as_array().unwrap().len(), 2);
        let in_progress = app.get("/api/v1/trial?status=In%20Progress").await.json();
        assert_eq!(in_progress, json!([]));
        app.get("/api/v1/trial?status=Done").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("status"),
        );
        app.get("/api/v1/trial?experiment=x").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("experiment"),
        );
        app.get("/api/v1/trial?limit=0").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("limit"),
        );
        app.get("/api/v1/trial?limit=1001").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("limit"),
        );
        app.get("/api/v1/trial?cursor=abc").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("cursor"),
        );
        app.get("/api/v1/trial?colour=red").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("colour"),
        );

        let all = app.get("/api/v1/trial").await.json();
        let third_created = all[2]["created_at"].as_str().unwrap().to_owned();
        let later = app.get(&format!("/api/v1/trial?from={third_created}")).await.json();
        assert_eq!(later.as_array().unwrap().len(), 3);
        let earlier = app.get(&format!("/api/v1/trial?to={third_created}")).await.json();
        assert_eq!(earlier.as_array().unwrap().len(), 2);

        // Pages with filters: the Link header keeps them.
        let page = app.get(&format!("/api/v1/trial?experiment={first}&limit=2")).await.expect_status(StatusCode::OK);
        let next = page.next_link().expect("a next page");
        assert!(next.contains(&format!("experiment={first}")), "{next}");
        let rest = app.get(&next).await.expect_status(StatusCode::OK);
        assert!(rest.next_link().is_none());
        assert_eq!(rest.json()[0]["id"], ids[4].as_str());

        // A page shows each trial's summary: the whole trial's values, without its record; view=full has them all,
        // 100 a page at most, and its Link keeps the view.
        let whole = app.get(&format!("/api/v1/trial/{}", ids[0])).await.json();
        let summary = all[0].as_object().unwrap();
        let mut keys: Vec<&str> = summary.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "completed_at",
                "created_at",
                "executed_at",
                "experiment",
                "experiment_revision",
                "grafana_url",
                "id",
                "initiated_by",
                "initiated_from",
                "schedule_id",
                "scheduled_for",
                "status",
                "violations"
            ]
        );
        assert!(summary.iter().all(|(key, value)| &whole[key] == value), "{summary:?} is part of {whole}");
        let full = app.get("/api/v1/trial?view=full&limit=2").await.expect_status(StatusCode::OK);
        assert_eq!(full.json()[0], whole);
        assert!(full.next_link().expect("a next page").contains("view=full"));
        app.get("/api/v1/trial?view=full&limit=101").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("limit"),
        );
        app.get("/api/v1/trial?view=all").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("view"),
        );
    }
}

/// An ended trial's masked view is made by its first read and kept: later reads give the very same JSON (secrets
/// masked), a trial still queued is never kept, and what a read shows equals the trial as the rules build it.
#[tokio::test]
async fn an_ended_trial_is_read_from_the_view_its_first_read_kept() {
    for app in TestApp::all() {
        let experiment =
            app.create_experiment(json!({"name": "kept", "parameters": {"api_token": "hunter2"}, "steps": []})).await;
        let trial = app.post("/api/v1/trial", &json!({"experiment": experiment["id"]})).await.json();
        let id = trial["id"].as_str().unwrap().to_owned();
        let stored_view = |id: String| {
            let db = app.db.clone();
            async move { db.run(move |conn| eris::db::trials::api_view(conn, &id)).await.unwrap().unwrap() }
        };
        let queued = app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK);
        assert_eq!(queued.json()["status"], "Scheduled");
        assert_eq!(stored_view(id.clone()).await, None, "{}: a trial that may change is never kept", app.backend());

        force_status(&app, &id, TrialStatus::Scheduled, TrialStatus::Succeeded).await;
        let first = app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK);
        assert_eq!(first.headers["content-type"], "application/json");
        let kept = stored_view(id.clone()).await.expect("the first read kept the view");
        assert!(!kept.contains("hunter2") && kept.contains("*****"), "the kept view is masked: {kept}");
        let second = app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK);
        assert_eq!(second.body, first.body, "{}: the same text", app.backend());
        let built = eris::trials::find(&app.db, id.parse().unwrap()).await.unwrap();
        assert_eq!(second.json(), serde_json::to_value(built).unwrap(), "the view is the trial as the rules build it");

        // A view of an earlier format (an older eris's) is built anew, and kept in the present one.
        let old = id.clone();
        app.db
            .run(move |conn| {
                use diesel::RunQueryDsl;
                let sql = format!("UPDATE trials SET api_view = 'v0:{{\"id\":\"old\"' WHERE id = '{old}'");
                Ok(diesel::sql_query(sql).execute(conn)?)
            })
            .await
            .unwrap();
        let rebuilt = app.get(&format!("/api/v1/trial/{id}")).await.expect_status(StatusCode::OK);
        assert_eq!(rebuilt.body, first.body, "{}", app.backend());
        assert!(stored_view(id.clone()).await.unwrap().starts_with("v5:"));
    }
}

/// `db::trials::insert_many` (bulk loads, as the read benchmark's million trials) writes rows that read back as
/// trials exactly as rows inserted one by one do, on both backends.
#[tokio::test]
async fn trials_inserted_in_bulk_read_back_whole() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let queued =
            app.post("/api/v1/trial", &json!({"experiment": experiment})).await.expect_status(StatusCode::CREATED);
        let one_by_one = queued.json();
        let id = one_by_one["id"].as_str().unwrap().to_owned();
        let row = app.db.run(move |conn| Ok(eris::db::trials::find(conn, &id)?.unwrap())).await.unwrap();
        let copies: Vec<eris::db::TrialRow> = (0..600)
            .map(|n| eris::db::TrialRow {
                id: uuid::Uuid::new_v4().to_string(),
                created_at: row.created_at + chrono::TimeDelta::microseconds(n + 1),
                ..row.clone()
            })
            .collect();
        let first = copies[0].id.clone();
        app.db
            .run(move |conn| {
                // More rows than one statement takes on either backend, as the benchmark inserts them.
                copies.chunks(500).try_for_each(|chunk| eris::db::trials::insert_many(conn, chunk))
            })
            .await
            .unwrap();
        let copy = app.get(&format!("/api/v1/trial/{first}")).await.expect_status(StatusCode::OK).json();
        let strip = |mut trial: serde_json::Value| {
            let object = trial.as_object_mut().unwrap();
            for key in ["id", "created_at", "links"] {
                object.remove(key);
            }
            trial
        };
        assert_eq!(strip(copy), strip(one_by_one), "{}", app.backend());
        let page = app.get(&format!("/api/v1/trial?experiment={experiment}&limit=1000")).await.json();
        assert_eq!(page.as_array().unwrap().len(), 601, "{}", app.backend());
    }
}

/// A page reads the timestamps diesel writes by hand on SQLite (`src/db/stored_time.rs`), and any other text that
/// diesel reads, as diesel does: written by another tool, or by hand, a timestamp reads the same.
#[tokio::test]
async fn list_pages_read_timestamps_in_every_format_diesel_reads() {
    for app in TestApp::all() {
        let experiment = app.experiment_id().await;
        let trial = app.post("/api/v1/trial", &json!({"experiment": experiment})).await.json();
        let listed = app.get("/api/v1/trial").await.json();
        assert_eq!(listed[0]["created_at"], trial["created_at"], "{}: as written", app.backend());
        let id = trial["id"].as_str().unwrap().to_owned();
        for (stored, shown) in [
            ("2026-11-04 02:06:22.5", "2026-11-04T02:06:22.500Z"),
            ("2026-11-04 02:06:22", "2026-11-04T02:06:22Z"),
            ("2026-11-04T02:06:22.123456", "2026-11-04T02:06:22.123456Z"),
            ("2026-11-04 02:06", "2026-11-04T02:06:00Z"),
        ] {
            let sql = format!("UPDATE trials SET executed_at = '{stored}', completed_at = NULL WHERE id = '{id}'");
            app.db
                .run(move |conn| {
                    use diesel::RunQueryDsl;
                    Ok(diesel::sql_query(sql).execute(conn)?)
                })
                .await
                .unwrap();
            let listed = app.get("/api/v1/trial").await.json();
            assert_eq!(listed[0]["executed_at"], shown, "{}: {stored}", app.backend());
            assert_eq!(listed[0]["completed_at"], serde_json::Value::Null);
        }
    }
}
