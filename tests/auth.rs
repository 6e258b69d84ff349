//! Authentication, scopes, identities and the audit log, through the real router on every backend under test.

mod common;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use common::{TestApp, TestDatabase, sample_experiment};
use eris::api::scopes::Access;
use eris::auth::settings::AuthSettings;
use eris::auth::{Authenticator, Scope, tokens};
use serde_json::{Value, json};

/// An app that requires API tokens, with one token of each scope.
struct Secured {
    app: TestApp,
    read: String,
    write: String,
    admin: String,
}

impl Secured {
    async fn new(database: TestDatabase) -> Self {
        let auth = AuthSettings { authenticator: Authenticator::Token, component_allow: Vec::new() };
        let app = TestApp::with_auth(database.connect(), database, auth);
        let token = |name: &'static str, scope| {
            let db = app.db.clone();
            async move {
                let input = tokens::TokenInput { name: name.into(), scope, expires_at: None };
                tokens::create(&db, input, "test").await.unwrap().token
            }
        };
        let (read, write, admin) = (
            token("reader", Scope::Read).await,
            token("writer", Scope::Write).await,
            token("admin", Scope::Admin).await,
        );
        Self { app, read, write, admin }
    }

    async fn all() -> Vec<Self> {
        let mut apps = Vec::new();
        for database in TestDatabase::all() {
            apps.push(Self::new(database).await);
        }
        apps
    }

    async fn call(&self, bearer: &str, method: Method, path: &str, body: Option<&Value>) -> common::TestResponse {
        self.app.request_as(Some(bearer), method, path, body).await
    }

    /// A token stored as expired a minute ago (no API makes one: it refuses a past expiry).
    async fn expired_token(&self) -> String {
        let text = tokens::generate().unwrap();
        let ago = Utc::now() - chrono::Duration::minutes(1);
        let row = eris::db::TokenRow {
            id: uuid::Uuid::new_v4().to_string(),
            name: "expired".into(),
            scope: "admin".into(),
            token_hash: tokens::hash(&text),
            created_by: "test".into(),
            created_at: eris::time::to_db(ago - chrono::Duration::hours(1)),
            expires_at: Some(eris::time::to_db(ago)),
            revoked_at: None,
            revoked_by: None,
        };
        self.app.db.run(move |conn| eris::db::tokens::insert(conn, &row)).await.unwrap();
        text
    }
}

/// Every operation of `/api/v1` in the API document, with its path parameters filled with unknown ids: what the
/// guard decides does not depend on the resource existing.
fn guarded_operations() -> Vec<(Method, String, Scope)> {
    let mut operations = Vec::new();
    let parameter = regex::Regex::new(r"\{[^}]+\}").unwrap();
    for (method, route, access) in eris::api::route_scopes().iter() {
        let Access::Scoped(scope) = access else { continue };
        let path = parameter.replace_all(route, uuid::Uuid::new_v4().to_string().as_str()).into_owned();
        operations.push((method.parse().unwrap(), path, scope));
    }
    assert!(operations.len() >= 20, "the document lists the API's operations: {operations:?}");
    operations
}

/// Reads need `read`, changes `write`, purging, tokens and the audit log `admin`; probes, metrics and the MiSArch
/// callbacks need nothing: as each route declares it.
#[test]
fn routes_declare_the_scope_of_what_they_do() {
    let scopes = eris::api::route_scopes();
    let access = |method: Method, route: &str| scopes.access(&method, route);
    assert_eq!(access(Method::GET, "/api/v1/experiment/{experiment_id}"), Some(Access::Scoped(Scope::Read)));
    assert_eq!(access(Method::HEAD, "/api/v1/experiment/{experiment_id}"), Some(Access::Scoped(Scope::Read)));
    assert_eq!(access(Method::POST, "/api/v1/trial"), Some(Access::Scoped(Scope::Write)));
    assert_eq!(access(Method::PUT, "/api/v1/trial/{trial_id}/stop"), Some(Access::Scoped(Scope::Write)));
    assert_eq!(access(Method::POST, "/api/v1/experiment/{experiment_id}/purge"), Some(Access::Scoped(Scope::Admin)));
    assert_eq!(access(Method::GET, "/api/v1/audit"), Some(Access::Scoped(Scope::Admin)));
    assert_eq!(access(Method::GET, "/api/v1/token"), Some(Access::Scoped(Scope::Admin)));
    assert_eq!(access(Method::GET, "/ready"), Some(Access::Public));
    assert_eq!(access(Method::POST, "/trigger/{testUUID}/{testVersion}"), Some(Access::Public));
    assert_eq!(access(Method::GET, "/experiment/list"), Some(Access::Scoped(Scope::Read)));
    assert_eq!(access(Method::POST, "/experiment/{testUUID}/{testVersion}/start"), Some(Access::Scoped(Scope::Write)));
    // Every other GET of /api/v1 and of the MiSArch executor's API needs `read`, every other change `write`; the
    // components' callbacks and the probes need nothing.
    for (method, route, access) in scopes.iter() {
        // The emergency stop's levers are admin's; reading its state is anyone's with `read`.
        let admin = route.starts_with("/api/v1/token")
            || route.starts_with("/api/v1/audit")
            || route.ends_with("/purge")
            || route.starts_with("/api/v1/emergency-stop/")
            || (route.starts_with("/api/v1/blackout") && method != "GET");
        let callback = route.starts_with("/trigger/") || route.contains("/gatling/metrics");
        let executor = (route.starts_with("/experiment/") || route.starts_with("/d/")) && !callback;
        let expected = match method {
            _ if !route.starts_with("/api/v1/") && !executor => Access::Public,
            _ if admin => Access::Scoped(Scope::Admin),
            "GET" => Access::Scoped(Scope::Read),
            _ => Access::Scoped(Scope::Write),
        };
        assert_eq!(access, expected, "{method} {route}");
    }
}

#[tokio::test]
async fn every_operation_answers_each_credential_by_its_scope() {
    for secured in Secured::all().await {
        let expired = secured.expired_token().await;
        let invalid = [
            "eris_not-a-token-eris-ever-made-aaaaaaaaaaaaaaaaaa".to_owned(),
            "not-even-the-format".to_owned(),
            expired,
        ];
        let body = json!({});
        for (method, path, needed) in guarded_operations() {
            let body = (method != Method::GET && method != Method::DELETE).then_some(&body);
            let what = format!("{method} {path} on {}", secured.app.backend());

            let missing = secured.app.request(method.clone(), &path, body).await;
            let error = missing.expect_error(StatusCode::UNAUTHORIZED, "unauthenticated", None);
            assert!(error["message"].as_str().unwrap().contains("Authorization: Bearer"), "{what}");
            let first_invalid = secured.call(&invalid[0], method.clone(), &path, body).await;
            assert_eq!(first_invalid.headers["www-authenticate"], "Bearer realm=\"eris\"", "{what}");
            let first_invalid = first_invalid.expect_error(StatusCode::UNAUTHORIZED, "invalid_credential", None);
            for bad in &invalid[1..] {
                // Unknown, malformed and expired credentials get the very same answer.
                let answer =
                    secured.call(bad, method.clone(), &path, body).await.expect_status(StatusCode::UNAUTHORIZED);
                assert_eq!(answer.json(), first_invalid, "{what}");
            }

            for (token, scope) in
                [(&secured.read, Scope::Read), (&secured.write, Scope::Write), (&secured.admin, Scope::Admin)]
            {
                let answer = secured.call(token, method.clone(), &path, body).await;
                if scope.allows(needed) {
                    assert!(
                        ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&answer.status),
                        "{what} with {scope}: {} {}",
                        answer.status,
                        answer.text()
                    );
                } else {
                    let error = answer.expect_error(StatusCode::FORBIDDEN, "insufficient_scope", None);
                    let message = error["message"].as_str().unwrap();
                    assert!(
                        message.contains(&format!("'{needed}' scope")) && message.contains(&format!("'{scope}'")),
                        "{what}: {message}"
                    );
                }
            }
        }
        for open in ["/health", "/ready", "/metrics", "/api-docs/openapi.json"] {
            secured.app.get(open).await.expect_status(StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_stop_working_when_revoked() {
    for secured in Secured::all().await {
        let admin = &secured.admin;
        let created = secured
            .call(admin, Method::POST, "/api/v1/token", Some(&json!({"name": "ci-pipeline", "scope": "write"})))
            .await
            .expect_status(StatusCode::CREATED)
            .json();
        let text = created["token"].as_str().unwrap().to_owned();
        assert!(text.starts_with("eris_"));
        assert_eq!(created["created_by"], "token:admin");
        assert_eq!(created["scope"], "write");
        let id = created["id"].as_str().unwrap().to_owned();

        let listed = secured.call(admin, Method::GET, "/api/v1/token", None).await.expect_status(StatusCode::OK);
        assert!(!listed.text().contains(&text) && !listed.text().contains(&tokens::hash(&text)));
        assert!(listed.json().as_array().unwrap().iter().all(|token| token.get("token").is_none()));
        let stored = secured.app.db.run({
            let id = id.clone();
            move |conn| eris::db::tokens::find(conn, &id)
        });
        let stored = stored.await.unwrap().unwrap();
        assert_eq!(stored.token_hash, tokens::hash(&text), "only the hash is stored");

        secured
            .call(&text, Method::POST, "/api/v1/experiment", Some(&sample_experiment()))
            .await
            .expect_status(StatusCode::CREATED);

        let taken = secured
            .call(admin, Method::POST, "/api/v1/token", Some(&json!({"name": "ci-pipeline", "scope": "read"})))
            .await;
        taken.expect_error(StatusCode::CONFLICT, "token_name_taken", None);
        let bad = json!({"name": "has spaces", "scope": "read"});
        secured.call(admin, Method::POST, "/api/v1/token", Some(&bad)).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_token_name",
            Some("name"),
        );
        let past = json!({"name": "late", "scope": "read", "expires_at": "2020-01-01T00:00:00Z"});
        secured.call(admin, Method::POST, "/api/v1/token", Some(&past)).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_expiry",
            Some("expires_at"),
        );
        let root = json!({"name": "root", "scope": "root"});
        secured.call(admin, Method::POST, "/api/v1/token", Some(&root)).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            Some("scope"),
        );

        let revoked = secured
            .call(admin, Method::DELETE, &format!("/api/v1/token/{id}"), None)
            .await
            .expect_status(StatusCode::OK)
            .json();
        assert_eq!(revoked["revoked_by"], "token:admin");
        assert!(revoked["revoked_at"].is_string());
        let again = secured
            .call(admin, Method::DELETE, &format!("/api/v1/token/{id}"), None)
            .await
            .expect_status(StatusCode::OK)
            .json();
        assert_eq!(again["revoked_at"], revoked["revoked_at"], "revoking twice changes nothing");
        secured.call(&text, Method::GET, "/api/v1/experiment", None).await.expect_error(
            StatusCode::UNAUTHORIZED,
            "invalid_credential",
            None,
        );
        let unknown = format!("/api/v1/token/{}", uuid::Uuid::new_v4());
        secured.call(admin, Method::DELETE, &unknown, None).await.expect_error(
            StatusCode::NOT_FOUND,
            "token_not_found",
            None,
        );
    }
}

#[tokio::test]
async fn audit_fields_name_the_principal_in_full() {
    for secured in Secured::all().await {
        let name = "release-pipeline-of-the-payments-team@example.com";
        let input = tokens::TokenInput { name: name.into(), scope: Scope::Write, expires_at: None };
        let token = tokens::create(&secured.app.db, input, "test").await.unwrap().token;
        let actor = format!("token:{name}");

        let experiment =
            secured.call(&token, Method::POST, "/api/v1/experiment", Some(&sample_experiment())).await.json();
        assert_eq!(experiment["created_by"], actor.as_str());
        let id = experiment["id"].as_str().unwrap();
        let schedule = json!({"recurrence_pattern": "0 3 * * *"});
        let schedule = secured
            .call(&token, Method::POST, &format!("/api/v1/experiment/{id}/schedule"), Some(&schedule))
            .await
            .json();
        assert_eq!(schedule["created_by"], actor.as_str());
        let trial = secured.call(&token, Method::POST, "/api/v1/trial", Some(&json!({"experiment": id}))).await.json();
        assert_eq!(trial["initiated_by"], actor.as_str());
    }
}

/// Reads the whole audit log as the admin.
async fn audit(secured: &Secured, query: &str) -> Vec<Value> {
    let answer = secured.call(&secured.admin, Method::GET, &format!("/api/v1/audit{query}"), None).await;
    answer.expect_status(StatusCode::OK).json().as_array().unwrap().clone()
}

#[tokio::test]
async fn every_change_is_audited_with_who_what_target_and_outcome() {
    for secured in Secured::all().await {
        let (write, admin) = (&secured.write, &secured.admin);
        let mut definition = sample_experiment();
        definition["parameters"]["api_token"] = json!("s3cr3t-value");
        let experiment = secured.call(write, Method::POST, "/api/v1/experiment", Some(&definition)).await.json();
        let id = experiment["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/experiment/{id}");
        secured
            .call(write, Method::PATCH, &path, Some(&json!({"description": "patched"})))
            .await
            .expect_status(StatusCode::OK);
        secured.call(write, Method::PUT, &path, Some(&sample_experiment())).await.expect_status(StatusCode::OK);
        let schedules = format!("{path}/schedule");
        let schedule = secured
            .call(write, Method::POST, &schedules, Some(&json!({"recurrence_pattern": "0 3 * * *"})))
            .await
            .json();
        let schedule_path = format!("{schedules}/{}", schedule["id"].as_str().unwrap());
        secured
            .call(write, Method::PATCH, &schedule_path, Some(&json!({"paused": true})))
            .await
            .expect_status(StatusCode::OK);
        secured
            .call(write, Method::PUT, &schedule_path, Some(&json!({"recurrence_pattern": "0 4 * * *"})))
            .await
            .expect_status(StatusCode::OK);
        secured.call(write, Method::DELETE, &schedule_path, None).await.expect_status(StatusCode::NO_CONTENT);
        let trial = secured.call(write, Method::POST, "/api/v1/trial", Some(&json!({"experiment": id}))).await.json();
        let trial_id = trial["id"].as_str().unwrap().to_owned();
        secured
            .call(write, Method::PUT, &format!("/api/v1/trial/{trial_id}/stop"), None)
            .await
            .expect_status(StatusCode::OK);
        let token = secured
            .call(admin, Method::POST, "/api/v1/token", Some(&json!({"name": "short-lived", "scope": "read"})))
            .await
            .json();
        let token_id = token["id"].as_str().unwrap().to_owned();
        secured
            .call(admin, Method::DELETE, &format!("/api/v1/token/{token_id}"), None)
            .await
            .expect_status(StatusCode::OK);
        secured.call(write, Method::POST, &format!("{path}/purge"), None).await.expect_status(StatusCode::FORBIDDEN);
        secured
            .call(write, Method::PATCH, &path, Some(&json!({"name": ""})))
            .await
            .expect_status(StatusCode::BAD_REQUEST);
        secured.call(write, Method::DELETE, &path, None).await.expect_status(StatusCode::NO_CONTENT);
        secured.call(admin, Method::POST, &format!("{path}/purge"), None).await.expect_status(StatusCode::NO_CONTENT);
        // Reads are not changes.
        secured.call(&secured.read, Method::GET, "/api/v1/experiment", None).await.expect_status(StatusCode::OK);

        let entries = audit(&secured, "").await;
        let summary: Vec<(String, String, String, u64, String)> = entries
            .iter()
            .map(|entry| {
                let field = |name: &str| entry[name].as_str().unwrap_or("-").to_owned();
                (
                    field("actor"),
                    field("action"),
                    field("target_id"),
                    entry["status"].as_u64().unwrap(),
                    field("outcome"),
                )
            })
            .collect();
        let schedule_id = schedule["id"].as_str().unwrap().to_owned();
        let row = |actor: &str, action: &str, target: &str, status: u64, outcome: &str| {
            (format!("token:{actor}"), action.to_owned(), target.to_owned(), status, outcome.to_owned())
        };
        assert_eq!(
            summary,
            vec![
                row("writer", "experiment.create", &id, 201, "succeeded"),
                row("writer", "experiment.update", &id, 200, "succeeded"),
                row("writer", "experiment.replace", &id, 200, "succeeded"),
                row("writer", "schedule.create", &schedule_id, 201, "succeeded"),
                row("writer", "schedule.update", &schedule_id, 200, "succeeded"),
                row("writer", "schedule.replace", &schedule_id, 200, "succeeded"),
                row("writer", "schedule.delete", &schedule_id, 204, "succeeded"),
                row("writer", "trial.create", &trial_id, 201, "succeeded"),
                row("writer", "trial.stop", &trial_id, 200, "succeeded"),
                row("admin", "token.create", &token_id, 201, "succeeded"),
                row("admin", "token.delete", &token_id, 200, "succeeded"),
                row("writer", "experiment.purge", &id, 403, "denied"),
                row("writer", "experiment.update", &id, 400, "failed"),
                row("writer", "experiment.delete", &id, 204, "succeeded"),
                row("admin", "experiment.purge", &id, 204, "succeeded"),
            ],
            "on {}",
            secured.app.backend()
        );

        // The body digest is of the body with its secrets masked: the secret cannot be confirmed from it.
        let mut masked = definition.clone();
        masked["parameters"]["api_token"] = json!("*****");
        let expected = eris::audit::body_digest(&serde_json::to_vec(&masked).unwrap());
        assert_eq!(entries[0]["body_sha256"].as_str(), expected.as_deref());
        assert!(entries[8]["body_sha256"].is_null(), "a stop has no body");
        assert!(entries[0]["request_id"].is_string() && entries[0]["method"] == "POST");
        assert_eq!(entries[0]["path"], "/api/v1/experiment");
        let log = serde_json::to_string(&entries).unwrap();
        assert!(!log.contains("s3cr3t-value"));

        // Filters and pages.
        assert_eq!(audit(&secured, "?outcome=denied").await.len(), 1);
        assert_eq!(audit(&secured, "?action=experiment.purge").await.len(), 2);
        assert_eq!(audit(&secured, "?actor=token:admin").await.len(), 3);
        assert_eq!(audit(&secured, &format!("?target_id={trial_id}")).await.len(), 2);
        let first = secured.call(admin, Method::GET, "/api/v1/audit?limit=10", None).await;
        let next = first.next_link().expect("a second page");
        assert_eq!(first.json().as_array().unwrap().len(), 10);
        let second = secured.call(admin, Method::GET, &next, None).await.json();
        assert_eq!(second.as_array().unwrap().len(), entries.len() - 10);
        secured
            .call(admin, Method::GET, "/api/v1/audit?outcome=maybe", None)
            .await
            .expect_status(StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn nothing_can_change_or_remove_an_audit_entry() {
    for secured in Secured::all().await {
        secured
            .call(&secured.write, Method::POST, "/api/v1/experiment", Some(&sample_experiment()))
            .await
            .expect_status(StatusCode::CREATED);
        for method in [Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
            let answer = secured.call(&secured.admin, method.clone(), "/api/v1/audit", Some(&json!({}))).await;
            answer.expect_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
        }
        let backend = secured.app.backend();
        for statement in ["UPDATE audit_log SET actor = 'someone-else'", "DELETE FROM audit_log"] {
            let refused = secured
                .app
                .db
                .run(move |conn| {
                    use diesel::RunQueryDsl;
                    Ok(diesel::sql_query(statement).execute(conn))
                })
                .await
                .unwrap();
            let error = refused.expect_err("the database refuses it").to_string();
            assert!(error.contains("append-only"), "{statement} on {backend}: {error}");
        }
        // The attempts are recorded too: failed, and nothing changed.
        let entries = audit(&secured, "").await;
        let actions: Vec<_> =
            entries.iter().map(|e| (e["action"].as_str().unwrap(), e["status"].as_u64().unwrap())).collect();
        assert_eq!(
            actions,
            [
                ("experiment.create", 201),
                ("audit.replace", 405),
                ("audit.update", 405),
                ("audit.delete", 405),
                ("audit.create", 405)
            ]
        );
        assert_eq!(entries[0]["actor"], "token:writer");
    }
}

/// An identity provider: an ES256 key, its key set served over HTTP, and tokens it signs.
struct IdentityProvider {
    key: jsonwebtoken::EncodingKey,
    jwks_url: String,
}

impl IdentityProvider {
    async fn start() -> Self {
        use base64::Engine as _;
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let (alg, rng) = (&ECDSA_P256_SHA256_FIXED_SIGNING, ring::rand::SystemRandom::new());
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let point = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap().public_key().as_ref().to_vec();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "kid": "k1", "alg": "ES256"});
        let keys = json!({"keys": [jwk]});
        let app = axum::Router::new().route("/keys", axum::routing::get(move || async move { axum::Json(keys) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jwks_url = format!("http://{}/keys", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { key: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), jwks_url }
    }

    fn sign(&self, user: &str, groups: &[&str]) -> String {
        let exp = Utc::now().timestamp() + 300;
        let claims = json!({"iss": "https://idp.example", "aud": "eris", "preferred_username": user, "groups": groups, "exp": exp});
        let header = jsonwebtoken::Header {
            kid: Some("k1".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256)
        };
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    fn settings(&self) -> AuthSettings {
        let args = [
            "eris",
            "--auth=jwt",
            &format!("--jwt-jwks-url={}", self.jwks_url),
            "--jwt-issuer=https://idp.example",
            "--jwt-audience=eris",
            "--jwt-user-claim=preferred_username",
            "--jwt-scope-claim=groups",
            "--jwt-scope-map=chaos-admins=admin,sre=write,developers=read",
        ];
        let args = <eris::auth::settings::AuthArgs as clap::Parser>::parse_from(args);
        args.resolve("0.0.0.0:8080".parse().unwrap(), eris::http_client::build()).unwrap()
    }
}

#[tokio::test]
async fn jwts_from_the_identity_provider_name_the_user_and_map_groups_to_scopes() {
    let idp = IdentityProvider::start().await;
    for database in TestDatabase::all() {
        let app = TestApp::with_auth(database.connect(), database, idp.settings());
        let alice = idp.sign("alice@example.com", &["staff", "sre"]);
        let experiment =
            app.request_as(Some(&alice), Method::POST, "/api/v1/experiment", Some(&sample_experiment())).await;
        let experiment = experiment.expect_status(StatusCode::CREATED).json();
        assert_eq!(experiment["created_by"], "jwt:alice@example.com");

        let bob = idp.sign("bob", &["developers"]);
        app.request_as(Some(&bob), Method::GET, "/api/v1/experiment", None).await.expect_status(StatusCode::OK);
        let denied = app.request_as(Some(&bob), Method::POST, "/api/v1/experiment", Some(&sample_experiment())).await;
        denied.expect_error(StatusCode::FORBIDDEN, "insufficient_scope", None);
        let nobody = idp.sign("carol", &["staff"]);
        let denied = app.request_as(Some(&nobody), Method::GET, "/api/v1/experiment", None).await;
        let message = denied.expect_error(StatusCode::FORBIDDEN, "insufficient_scope", None)["message"].clone();
        assert!(message.as_str().unwrap().contains("jwt:carol has no scope"), "{message}");

        let forged = IdentityProvider::start().await.sign("mallory", &["chaos-admins"]);
        let rejected = app.request_as(Some(&forged), Method::GET, "/api/v1/experiment", None).await;
        rejected.expect_error(StatusCode::UNAUTHORIZED, "invalid_credential", None);

        // API tokens keep working for automation.
        let input = tokens::TokenInput { name: "ci".into(), scope: Scope::Read, expires_at: None };
        let token = tokens::create(&app.db, input, "test").await.unwrap().token;
        app.request_as(Some(&token), Method::GET, "/api/v1/audit", None).await.expect_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            None,
        );
        app.request_as(Some(&token), Method::GET, "/api/v1/trial", None).await.expect_status(StatusCode::OK);

        let entries =
            app.request_as(Some(&idp.sign("root", &["chaos-admins"])), Method::GET, "/api/v1/audit", None).await;
        let actors: Vec<_> =
            entries.json().as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap().to_owned()).collect();
        assert_eq!(actors, ["jwt:alice@example.com", "jwt:bob"]);
    }
}

#[tokio::test]
async fn callbacks_answer_only_the_allowed_addresses() {
    for (allow, allowed) in [("10.0.0.0/8", false), ("10.0.0.0/8,127.0.0.1/32", true), ("", true)] {
        let database = TestDatabase::sqlite();
        let auth = AuthSettings {
            component_allow: eris::auth::settings::parse_cidrs(allow).unwrap(),
            ..AuthSettings::default()
        };
        let app = TestApp::with_auth(database.connect(), database, auth);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = app.router.clone();
        tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap()
        });
        let client = eris::http_client::build();
        let url = format!("http://{address}/trigger/{}/v1?client=gatling", uuid::Uuid::new_v4());
        let answer = client.post(&url).send().await.unwrap();
        let status = answer.status().as_u16();
        let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
        if allowed {
            // Allowed through, then refused because no trial runs: nothing changes either way.
            assert_eq!((status, body["code"].as_str()), (404, Some("misarch_run_not_found")), "{allow}");
        } else {
            assert_eq!((status, body["code"].as_str()), (403, Some("component_address_not_allowed")), "{allow}");
            assert!(body["message"].as_str().unwrap().contains("127.0.0.1"));
        }
    }
}
