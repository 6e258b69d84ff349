//! `/api/v1/experiment`: create, read, list, replace, patch, archive and purge, and their bad inputs.

mod common;

use axum::http::StatusCode;
use common::{TestApp, sample_experiment};
use serde_json::json;

#[tokio::test]
async fn create_returns_the_experiment_at_revision_1() {
    for app in TestApp::all() {
        let created = app.create_experiment(sample_experiment()).await;
        assert_eq!(created["revision"], 1, "{}", app.backend());
        assert_eq!(created["name"], sample_experiment()["name"]);
        assert_eq!(created["created_by"], "anonymous");
        assert_eq!(created["archived_at"], serde_json::Value::Null);
        // Kallisti drops `expect` from GET responses; eris keeps it.
        assert_eq!(created["steps"][1]["expect"], sample_experiment()["steps"][1]["expect"]);
        assert_eq!(created["steps"][0]["expect"], json!([]));
        let id = created["id"].as_str().unwrap();
        let read = app.get(&format!("/api/v1/experiment/{id}")).await.expect_status(StatusCode::OK).json();
        assert_eq!(read, created);
        let list = app.get("/api/v1/experiment").await.expect_status(StatusCode::OK).json();
        assert_eq!(list, json!([created]));
    }
}

#[tokio::test]
async fn optional_fields_take_their_defaults() {
    for app in TestApp::all() {
        let created = app.create_experiment(json!({"name": "minimal", "steps": []})).await;
        assert_eq!(created["description"], "");
        assert_eq!(created["metadata"], json!({}));
        assert_eq!(created["parameters"], json!({}));
        assert_eq!(created["pre_steps"], json!([]));
        assert_eq!(created["post_steps"], json!([]));
        assert_eq!(created["misarch"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn put_replaces_patch_merges_and_both_bump_the_revision() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let path = format!("/api/v1/experiment/{id}");
        let replaced =
            app.put(&path, &json!({"name": "renamed", "steps": []})).await.expect_status(StatusCode::OK).json();
        assert_eq!(replaced["revision"], 2);
        assert_eq!(replaced["name"], "renamed");
        assert_eq!(replaced["pre_steps"], json!([]), "PUT resets what it leaves out");
        assert_eq!(replaced["metadata"], json!({}));

        let patched = app
            .patch(&path, &json!({"description": "now described", "misarch": common::misarch_sample()}))
            .await
            .expect_status(StatusCode::OK)
            .json();
        assert_eq!(patched["revision"], 3);
        assert_eq!(patched["name"], "renamed", "PATCH keeps what it leaves out");
        assert_eq!(patched["description"], "now described");
        assert_eq!(patched["misarch"], common::misarch_sample());
        assert!(patched["updated_at"].as_str() > replaced["updated_at"].as_str());
        assert_eq!(patched["created_at"], replaced["created_at"]);

        let cleared = app.patch(&path, &json!({"misarch": null})).await.expect_status(StatusCode::OK).json();
        assert_eq!(cleared["misarch"], serde_json::Value::Null);
        assert_eq!(cleared["revision"], 4);

        let unchanged = app.patch(&path, &json!({})).await.expect_status(StatusCode::OK).json();
        assert_eq!(unchanged["revision"], 5, "every update bumps the revision");
    }
}

#[tokio::test]
async fn bad_definitions_are_rejected_with_the_field_named() {
    for app in TestApp::all() {
        let cases = [
            (json!({"steps": []}), "invalid_body", "name"),
            (json!({"name": "x"}), "invalid_body", "steps"),
            (json!({"name": "  ", "steps": []}), "invalid_name", "name"),
            (json!({"name": "x".repeat(201), "steps": []}), "invalid_name", "name"),
            (json!({"name": 7, "steps": []}), "invalid_body", "name"),
            (json!({"name": "x", "steps": {}}), "invalid_body", "steps"),
            (json!({"name": "x", "steps": [], "colour": "red"}), "invalid_body", "colour"),
            (json!({"name": "x", "steps": [{"do": "cm.wait", "where": "now"}]}), "invalid_body", "steps[0].where"),
            (
                json!({"name": "x", "steps": [{"do": "cm.wait", "where": {"time_in_seconds": 1}, "with": 1}]}),
                "invalid_body",
                "steps[0].with",
            ),
            (json!({"name": "x", "steps": [{"where": {}}]}), "invalid_body", "steps[0].do"),
            (
                json!({"name": "x", "steps": [], "post_steps": [{"do": "zz.boom", "where": {}}]}),
                "unknown_action",
                "post_steps[0].do",
            ),
            (
                json!({"name": "x", "steps": [], "pre_steps": [{"do": "cm.http_probe", "where": {}}]}),
                "missing_argument",
                "pre_steps[0].where.url",
            ),
            (json!({"name": "x", "steps": [], "metadata": []}), "invalid_body", "metadata"),
            (json!({"name": "x", "steps": [], "misarch": "yes"}), "invalid_body", "misarch"),
            (json!({"name": "x", "steps": [], "notify": [{"url": "ftp://x"}]}), "invalid_notify", "notify[0].url"),
            (
                json!({"name": "x", "steps": [], "notify": [{"url": "http://x", "format": "xml"}]}),
                "invalid_body",
                "notify[0].format",
            ),
        ];
        for (body, code, field) in cases {
            let response = app.post("/api/v1/experiment", &body).await;
            response.expect_error(StatusCode::BAD_REQUEST, code, Some(field));
        }
        let id = app.experiment_id().await;
        app.patch(&format!("/api/v1/experiment/{id}"), &json!({"steps": [{"do": "cm.nap", "where": {}}]}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "unknown_action", Some("steps[0].do"));
        app.put(&format!("/api/v1/experiment/{id}"), &json!({"name": "x"})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("steps"),
        );
        let unchanged = app.get(&format!("/api/v1/experiment/{id}")).await.json();
        assert_eq!(unchanged["revision"], 1, "a rejected update changes nothing");
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_named() {
    for app in TestApp::all() {
        let unknown = uuid::Uuid::new_v4();
        for response in [
            app.get(&format!("/api/v1/experiment/{unknown}")).await,
            app.put(&format!("/api/v1/experiment/{unknown}"), &sample_experiment()).await,
            app.patch(&format!("/api/v1/experiment/{unknown}"), &json!({})).await,
            app.delete(&format!("/api/v1/experiment/{unknown}")).await,
            app.post(&format!("/api/v1/experiment/{unknown}/purge"), &json!({})).await,
        ] {
            response.expect_error(StatusCode::NOT_FOUND, "experiment_not_found", None);
        }
        app.get("/api/v1/experiment/not-a-uuid").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_path_parameter",
            Some("experiment_id"),
        );
    }
}

#[tokio::test]
async fn delete_archives_stops_queued_trials_and_deletes_schedules() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let other = app.experiment_id().await;
        let path = format!("/api/v1/experiment/{id}");
        let schedule = app
            .post(&format!("{path}/schedule"), &json!({"recurrence_pattern": "@daily"}))
            .await
            .expect_status(StatusCode::CREATED)
            .json();
        let trial =
            app.post("/api/v1/trial", &json!({"experiment": id})).await.expect_status(StatusCode::CREATED).json();
        let other_trial = app.post("/api/v1/trial", &json!({"experiment": other})).await.json();

        app.delete(&path).await.expect_status(StatusCode::NO_CONTENT);

        let listed = app.get("/api/v1/experiment").await.json();
        let listed_ids: Vec<_> = listed.as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
        assert_eq!(listed_ids, vec![json!(other)], "an archived experiment leaves the list");
        let archived = app.get(&path).await.expect_status(StatusCode::OK).json();
        assert!(archived["archived_at"].is_string(), "still readable by id");

        let stopped = app.get(&format!("/api/v1/trial/{}", trial["id"].as_str().unwrap())).await.json();
        assert_eq!(stopped["status"], "Stopped");
        assert!(stopped["completed_at"].is_string());
        let untouched = app.get(&format!("/api/v1/trial/{}", other_trial["id"].as_str().unwrap())).await.json();
        assert_eq!(untouched["status"], "Scheduled", "other experiments' trials are not touched");

        app.get(&format!("{path}/schedule/{}", schedule["id"].as_str().unwrap())).await.expect_error(
            StatusCode::NOT_FOUND,
            "schedule_not_found",
            None,
        );
        assert_eq!(app.get(&format!("{path}/schedule")).await.json(), json!([]));

        // Archived: readable, not changeable or runnable; archiving again is harmless.
        app.patch(&path, &json!({"name": "again"})).await.expect_error(
            StatusCode::CONFLICT,
            "experiment_archived",
            None,
        );
        app.post(&format!("{path}/schedule"), &json!({"recurrence_pattern": "@daily"})).await.expect_error(
            StatusCode::CONFLICT,
            "experiment_archived",
            None,
        );
        app.post("/api/v1/trial", &json!({"experiment": id})).await.expect_error(
            StatusCode::CONFLICT,
            "experiment_archived",
            Some("experiment"),
        );
        app.delete(&path).await.expect_status(StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn purge_removes_the_experiment_its_schedules_and_trials() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let kept = app.experiment_id().await;
        let path = format!("/api/v1/experiment/{id}");
        app.post(&format!("{path}/schedule"), &json!({"recurrence_pattern": "@daily"}))
            .await
            .expect_status(StatusCode::CREATED);
        let trial = app.post("/api/v1/trial", &json!({"experiment": id})).await.json();
        let kept_trial = app.post("/api/v1/trial", &json!({"experiment": kept})).await.json();

        app.post(&format!("{path}/purge"), &json!({})).await.expect_status(StatusCode::NO_CONTENT);

        app.get(&path).await.expect_error(StatusCode::NOT_FOUND, "experiment_not_found", None);
        app.get(&format!("/api/v1/trial/{}", trial["id"].as_str().unwrap())).await.expect_error(
            StatusCode::NOT_FOUND,
            "trial_not_found",
            None,
        );
        app.get(&format!("/api/v1/trial/{}", kept_trial["id"].as_str().unwrap())).await.expect_status(StatusCode::OK);
        let remaining = app.get("/api/v1/trial").await.json();
        assert_eq!(remaining.as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn purge_is_refused_while_a_trial_runs() {
    for app in TestApp::all() {
        let id = app.experiment_id().await;
        let trial = app.post("/api/v1/trial", &json!({"experiment": id})).await.json();
        let trial_id = trial["id"].as_str().unwrap().to_owned();
        app.db
            .run(move |conn| {
                let now = eris::time::to_db(eris::time::now());
                let moved = eris::db::trials::transition(
                    conn,
                    &trial_id,
                    eris::trial_status::TrialStatus::Scheduled,
                    eris::trial_status::TrialStatus::InProgress,
                    "running",
                    now,
                )?;
                assert!(moved);
                Ok(())
            })
            .await
            .unwrap();
        app.post(&format!("/api/v1/experiment/{id}/purge"), &json!({})).await.expect_error(
            StatusCode::CONFLICT,
            "trial_in_progress",
            None,
        );
        app.get(&format!("/api/v1/experiment/{id}")).await.expect_status(StatusCode::OK);
    }
}

#[tokio::test]
async fn lists_page_through_every_experiment_once_in_creation_order() {
    for app in TestApp::all() {
        let mut created = Vec::new();
        for n in 0..7 {
            let experiment = app.create_experiment(json!({"name": format!("e{n}"), "steps": []})).await;
            created.push(experiment["id"].clone());
        }
        let mut seen = Vec::new();
        let mut next = Some("/api/v1/experiment?limit=3".to_owned());
        let mut pages = 0;
        while let Some(url) = next {
            let response = app.get(&url).await.expect_status(StatusCode::OK);
            next = response.next_link();
            let page = response.json();
            assert!(page.as_array().unwrap().len() <= 3);
            seen.extend(page.as_array().unwrap().iter().map(|e| e["id"].clone()));
            pages += 1;
        }
        assert_eq!(seen, created, "{}", app.backend());
        assert_eq!(pages, 3);

        // Time filters: `from` is inclusive, `to` exclusive.
        let all = app.get("/api/v1/experiment?limit=1000").await.json();
        let third = all[2]["created_at"].as_str().unwrap().to_owned();
        let from = app.get(&format!("/api/v1/experiment?from={third}")).await.json();
        assert_eq!(from.as_array().unwrap().len(), 5);
        let to = app.get(&format!("/api/v1/experiment?to={third}")).await.json();
        assert_eq!(to.as_array().unwrap().len(), 2);
        app.get("/api/v1/experiment?from=yesterday").await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("from"),
        );
    }
}

#[tokio::test]
async fn a_misarch_experiment_is_validated_when_written() {
    for app in TestApp::all() {
        let mut experiment = json!({"name": "misarch", "steps": [], "misarch": common::misarch_sample()});
        let created = app.create_experiment(experiment.clone()).await;
        assert_eq!(created["misarch"], common::misarch_sample());
        let cases = [
            (
                "/misarch/gatling/0/encodedWorkFileContent",
                json!("not base64!"),
                "misarch.gatling[0].encodedWorkFileContent",
            ),
            ("/misarch/goals/0/metric", json!("fastest response"), "misarch.goals[0].metric"),
            ("/misarch/goals/0/threshold", json!("fast"), "misarch.goals[0].threshold"),
        ];
        for (pointer, bad, field) in cases {
            let good = experiment.pointer(pointer).unwrap().clone();
            *experiment.pointer_mut(pointer).unwrap() = bad;
            let error = app.post("/api/v1/experiment", &experiment).await.expect_error(
                StatusCode::BAD_REQUEST,
                "invalid_misarch",
                Some(field),
            );
            assert!(error["message"].as_str().unwrap().starts_with(field), "{error}");
            *experiment.pointer_mut(pointer).unwrap() = good;
        }
        // MiSArch's own formats are accepted and stored normalised: a string threshold, a whole float, one rule.
        let mut misarch_written = experiment.clone();
        *misarch_written.pointer_mut("/misarch/goals/0/threshold").unwrap() = json!("2000");
        let rule = "/misarch/misarchFailures/0/failures/0/serviceInvocationDeterioration";
        let one = misarch_written.pointer(&format!("{rule}/0")).unwrap().clone();
        *misarch_written.pointer_mut(rule).unwrap() = one;
        *misarch_written.pointer_mut(&format!("{rule}/delay")).unwrap() = json!(1000.0);
        let stored = app.create_experiment(misarch_written).await;
        assert_eq!(stored["misarch"], common::misarch_sample(), "normalised to the sample's own form");
        // A failure set the configurator would reject: a probability above 1.
        let failures = experiment
            .pointer_mut("/misarch/misarchFailures/0/failures/0/serviceInvocationDeterioration/0/errorProbability")
            .unwrap();
        *failures = json!(1.5);
        app.post("/api/v1/experiment", &experiment).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_misarch",
            Some("misarch.misarchFailures[0].failures[0].serviceInvocationDeterioration[0].errorProbability"),
        );
    }
}

const MASK: &str = "*****";
const API_TOKEN: &str = "tok-7f3a9c1e";
const BEARER_CREDENTIAL: &str = "hdr-5b2e8d40";
const CI_PASSWORD: &str = "pw-c41d77aa";

/// Fails if any of the test's secrets appears in `text` (a whole response body).
#[track_caller]
fn assert_no_secret(text: &str, what: &str) {
    for secret in [API_TOKEN, BEARER_CREDENTIAL, CI_PASSWORD] {
        assert!(!text.contains(secret), "{what} shows the secret {secret}: {text}");
    }
}

/// An experiment with secrets in its metadata, its parameters and a step's headers. Its second step sends them all:
/// the token in the query, the header as written.
fn experiment_with_secrets(base: &str) -> serde_json::Value {
    json!({
        "name": "with secrets",
        "metadata": {"team": "sre", "ci_password": CI_PASSWORD},
        "parameters": {"base": base, "api_token": API_TOKEN},
        "steps": [
            {"step": "wait", "do": "cm.wait", "where": {"time_in_seconds": 0}},
            {"step": "call", "do": "cm.http_probe", "where": {"url": "{{ base }}/fail?key={{ api_token }}",
             "headers": {"Authorization": format!("Bearer {BEARER_CREDENTIAL}"), "Accept": "application/json"}}}
        ]
    })
}

/// The definition as stored, read through the storage layer rather than the API.
async fn stored_definition(app: &TestApp, id: &str) -> eris::experiments::Definition {
    let id = id.to_owned();
    app.db
        .run(move |conn| eris::db::experiments::find(conn, &id)?.expect("the experiment is stored").definition())
        .await
        .unwrap()
}

#[track_caller]
fn assert_real_secrets(stored: &eris::experiments::Definition) {
    assert_eq!(stored.parameters["api_token"], API_TOKEN);
    assert_eq!(stored.metadata["ci_password"], CI_PASSWORD);
    assert_eq!(stored.steps[1].arguments["headers"]["Authorization"], format!("Bearer {BEARER_CREDENTIAL}"));
}

/// The body a client PUTs after a GET: the definition's fields, as read.
fn definition_of(experiment: &serde_json::Value) -> serde_json::Value {
    let fields =
        ["name", "description", "metadata", "parameters", "pre_steps", "steps", "post_steps", "misarch", "notify"];
    fields.iter().map(|field| (field.to_string(), experiment[*field].clone())).collect::<serde_json::Map<_, _>>().into()
}

#[tokio::test]
async fn secrets_are_masked_in_every_response_and_kept_in_storage() {
    for app in TestApp::all() {
        let created = app.post("/api/v1/experiment", &experiment_with_secrets("http://127.0.0.1:9")).await;
        assert_no_secret(&created.text(), "the create response");
        let created = created.expect_status(StatusCode::CREATED).json();
        assert_eq!(created["parameters"], json!({"base": "http://127.0.0.1:9", "api_token": MASK}));
        assert_eq!(created["metadata"], json!({"team": "sre", "ci_password": MASK}));
        assert_eq!(
            created["steps"][1]["where"]["headers"],
            json!({"Authorization": MASK, "Accept": "application/json"})
        );
        assert_eq!(created["steps"][1]["where"]["url"], "{{ base }}/fail?key={{ api_token }}");
        let id = created["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/experiment/{id}");

        let read = app.get(&path).await.expect_status(StatusCode::OK);
        assert_no_secret(&read.text(), "GET");
        assert_eq!(read.json(), created);
        let listed = app.get("/api/v1/experiment").await.expect_status(StatusCode::OK);
        assert_no_secret(&listed.text(), "the list");
        assert_eq!(listed.json(), json!([created]));
        assert_real_secrets(&stored_definition(&app, &id).await);

        // A client edits what it read and PUTs it back, masks and all: the secrets stay as stored.
        let mut edited = definition_of(&created);
        edited["description"] = json!("edited after a GET");
        let replaced = app.put(&path, &edited).await;
        assert_no_secret(&replaced.text(), "the PUT response");
        let replaced = replaced.expect_status(StatusCode::OK).json();
        assert_eq!(
            (replaced["revision"].clone(), replaced["description"].clone()),
            (json!(2), json!("edited after a GET"))
        );
        assert_eq!(replaced["parameters"]["api_token"], MASK);
        let stored = stored_definition(&app, &id).await;
        assert_real_secrets(&stored);
        assert_eq!(stored.description, "edited after a GET");

        // PATCH: a mask keeps the stored value, a real value replaces it.
        let patched = app
            .patch(
                &path,
                &json!({"parameters": {"base": "http://127.0.0.1:9", "api_token": MASK, "region": "eu"},
                        "metadata": {"team": "sre", "ci_password": "pw-new-value"}}),
            )
            .await;
        assert_no_secret(&patched.text(), "the PATCH response");
        let patched = patched.expect_status(StatusCode::OK).json();
        assert_eq!(patched["metadata"]["ci_password"], MASK);
        assert!(!patched.to_string().contains("pw-new-value"), "a new secret is masked too: {patched}");
        let stored = stored_definition(&app, &id).await;
        assert_eq!(stored.parameters["api_token"], API_TOKEN);
        assert_eq!(stored.parameters["region"], "eu");
        assert_eq!(stored.metadata["ci_password"], "pw-new-value");

        // A mask where nothing is stored at the same path: a new key, or a step that moved.
        let mut new_header = created["steps"].clone();
        new_header[1]["where"]["headers"]["X-Api-Key"] = json!(MASK);
        let error = app.patch(&path, &json!({"steps": new_header})).await.expect_error(
            StatusCode::BAD_REQUEST,
            "masked_secret_without_value",
            Some("steps[1].where.headers.X-Api-Key"),
        );
        assert!(error["message"].as_str().unwrap().contains("send the real value"), "{error}");
        let mut moved = definition_of(&created);
        moved["steps"] = json!([created["steps"][1]]);
        app.put(&path, &moved).await.expect_error(
            StatusCode::BAD_REQUEST,
            "masked_secret_without_value",
            Some("steps[0].where.headers.Authorization"),
        );
        // Nothing is stored before a create.
        app.post("/api/v1/experiment", &json!({"name": "copy", "steps": [], "parameters": {"api_token": MASK}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "masked_secret_without_value", Some("parameters.api_token"));
        let unchanged = app.get(&path).await.json();
        assert_eq!(unchanged["revision"], 3, "a refused update changes nothing");
        assert_eq!(app.get("/api/v1/experiment").await.json().as_array().unwrap().len(), 1);
        let stored = stored_definition(&app, &id).await;
        assert_eq!(stored.parameters["api_token"], API_TOKEN);
        assert_eq!(stored.steps[1].arguments["headers"]["Authorization"], format!("Bearer {BEARER_CREDENTIAL}"));
    }
}

/// A server that records the `Authorization` header and the query of every request; `/fail` answers 503.
async fn recording_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    use axum::routing::any;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let app = axum::Router::new().fallback(any(move |request: axum::extract::Request| {
        let recorded = recorded.clone();
        async move {
            let header = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let query = request.uri().query().unwrap_or_default().to_owned();
            recorded.lock().unwrap().push((header.to_owned(), query));
            if request.uri().path() == "/fail" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_trial_sends_the_real_secrets_and_shows_none() {
    let (base, seen) = recording_server().await;
    for app in TestApp::all() {
        let (shutdown, worker) = common::start_worker(&app.db);
        let mut definition = experiment_with_secrets(&base);
        // Deliveries are queued (nobody sends them here): their payloads are checked below.
        definition["notify"] = json!([{"url": "http://127.0.0.1:9/hook"}]);
        let experiment = app.create_experiment(definition).await;
        app.post("/api/v1/trial", &json!({"experiment": experiment["id"], "parameters": {"api_token": MASK}}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "masked_secret_without_value", Some("parameters.api_token"));
        let queued = app.post("/api/v1/trial", &json!({"experiment": experiment["id"]})).await;
        assert_no_secret(&queued.text(), "the trial");
        let trial_id = queued.expect_status(StatusCode::CREATED).json()["id"].as_str().unwrap().to_owned();
        let trial = app.wait_for_end(&trial_id).await;
        shutdown.cancel();
        worker.await.unwrap();

        // The step failed on the 503, with the templated URL (and so the token) in its message: masked there too.
        assert_eq!(trial["status"], "Failed", "{}: {trial:#}", app.backend());
        let reason = trial["status_reason"].as_str().unwrap();
        assert!(reason.contains(&format!("/fail?key={MASK} answered 503")), "{reason}");
        assert_eq!(trial["metadata"]["ci_password"], MASK);
        for response in [app.get(&format!("/api/v1/trial/{trial_id}")).await, app.get("/api/v1/trial").await] {
            assert_no_secret(&response.text(), "a trial response");
        }
        let deliveries = app
            .db
            .run(move |conn| eris::db::webhooks::of_trial(conn, &trial_id))
            .await
            .unwrap()
            .into_iter()
            .map(|delivery| delivery.payload)
            .collect::<Vec<_>>();
        assert_eq!(deliveries.len(), 2, "started and failed");
        assert_no_secret(&deliveries.join("\n"), "the webhook payloads");
    }
    // What the step sent is the stored secret, never the mask.
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for (authorization, query) in seen {
        assert_eq!(authorization, format!("Bearer {BEARER_CREDENTIAL}"));
        assert_eq!(query, format!("key={API_TOKEN}"));
    }
}

async fn forget_kept_views(app: &TestApp) {
    use diesel::RunQueryDsl;
    app.db.run(|conn| Ok(diesel::sql_query("UPDATE experiments SET api_view = NULL").execute(conn)?)).await.unwrap();
}

/// The kept view of the one experiment of `app`.
async fn kept_view(app: &TestApp) -> Option<String> {
    app.db
        .run(|conn| {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Kept {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                api_view: Option<String>,
            }
            Ok(diesel::sql_query("SELECT api_view FROM experiments").get_result::<Kept>(conn)?.api_view)
        })
        .await
        .unwrap()
}

/// An experiment is read from the masked view kept when it was written: a change writes a new one, archiving drops
/// it, and a row without one (written before views were kept) is answered the same, built on the read.
#[tokio::test]
async fn reads_answer_the_view_kept_at_each_write() {
    for app in TestApp::all() {
        let created =
            app.create_experiment(json!({"name": "kept", "parameters": {"api_token": "hunter2"}, "steps": []})).await;
        let path = format!("/api/v1/experiment/{}", created["id"].as_str().unwrap());
        let read = app.get(&path).await.expect_status(StatusCode::OK).json();
        assert_eq!(read, created, "{}", app.backend());
        assert_eq!(read["parameters"]["api_token"], "*****");
        let patched = app.patch(&path, &json!({"description": "changed"})).await.expect_status(StatusCode::OK).json();
        assert_eq!(app.get(&path).await.json(), patched);
        assert_eq!(app.get("/api/v1/experiment").await.json()[0], patched, "lists answer the same view");

        forget_kept_views(&app).await;
        assert_eq!(app.get("/api/v1/experiment").await.json()[0], patched, "a page with a row without a view");
        assert!(kept_view(&app).await.is_some_and(|view| view.starts_with("v5:")), "kept again by the page");
        forget_kept_views(&app).await;
        assert_eq!(app.get(&path).await.json(), patched, "a row without a view reads the same");
        assert!(kept_view(&app).await.is_some_and(|view| view.starts_with("v5:")), "kept again by the read");

        app.delete(&path).await.expect_status(StatusCode::NO_CONTENT);
        let archived = app.get(&path).await.expect_status(StatusCode::OK).json();
        assert!(archived["archived_at"].is_string(), "{archived}");
    }
}
