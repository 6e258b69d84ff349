//! The cost of authentication per request, printed (not asserted): `cargo bench --bench auth`.
//!
//! The same `GET /api/v1/experiment/{id}` through the whole application, with ERIS_AUTH=none, with an API token
//! (one indexed lookup of its hash) and with a JWT (an ES256 signature check against cached keys), on SQLite and,
//! with `ERIS_TEST_DATABASE_URL`, PostgreSQL. Also the cost of a change, which appends an audit entry.

mod common;

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use clap::Parser as _;
use eris::api::{self, AppState};
use eris::auth::settings::{AuthArgs, AuthSettings};
use eris::auth::{Authenticator, Scope, tokens};
use eris::db::{self, Db, PoolOptions};
use http_body_util::BodyExt;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::json;
use tower::ServiceExt;

const REQUESTS: usize = 2_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (jwks_url, sign) = identity_provider().await;
        for database in common::databases() {
            db::migrate(&database.url).unwrap();
            let db = Db::connect(database.url.clone(), PoolOptions::default()).unwrap();
            let input = serde_json::from_value(json!({"name": "bench", "steps": []})).unwrap();
            let experiment = eris::experiments::create(&db, input, "bench").await.unwrap();
            let token_input = tokens::TokenInput { name: "bench".into(), scope: Scope::Admin, expires_at: None };
            let token = tokens::create(&db, token_input, "bench").await.unwrap().token;
            let jwt_settings = AuthArgs::try_parse_from([
                "eris",
                "--auth=jwt",
                &format!("--jwt-jwks-url={jwks_url}"),
                "--jwt-issuer=https://idp.bench",
                "--jwt-audience=eris",
            ])
            .unwrap()
            .resolve("0.0.0.0:8080".parse().unwrap(), eris::http_client::build())
            .unwrap();
            let token_settings = AuthSettings { authenticator: Authenticator::Token, component_allow: Vec::new() };
            let path = format!("/api/v1/experiment/{}", experiment.id);
            let cases = [
                ("ERIS_AUTH=none", AuthSettings::default(), None),
                ("API token", token_settings, Some(token)),
                ("JWT (ES256)", jwt_settings, Some(sign())),
            ];
            let mut baseline = None;
            for (name, auth, bearer) in cases {
                let app = app(&db, auth);
                timed(&app, "GET", &path, bearer.as_deref(), 200).await; // warm up: pool, JWKS cache
                let mut micros = timed(&app, "GET", &path, bearer.as_deref(), REQUESTS).await;
                let p50 = percentile(&mut micros, 0.5);
                let extra = baseline.map_or(String::new(), |base: f64| format!(" (+{:.0} µs)", p50 - base));
                baseline.get_or_insert(p50);
                println!(
                    "{}: GET an experiment with {name}: p50 {p50:.0} µs{extra}, p90 {:.0} µs, n={REQUESTS}",
                    database.name,
                    percentile(&mut micros, 0.9)
                );
            }
            let app = app(&db, AuthSettings::default());
            let patch = format!("/api/v1/experiment/{}", experiment.id);
            let mut micros = timed(&app, "PATCH", &patch, None, REQUESTS / 4).await;
            println!(
                "{}: PATCH an experiment (the change, and its audit entry): p50 {:.0} µs, p90 {:.0} µs, n={}",
                database.name,
                percentile(&mut micros, 0.5),
                percentile(&mut micros, 0.9),
                REQUESTS / 4
            );
        }
    });
}

fn app(db: &Db, auth: AuthSettings) -> Router {
    let state = AppState { auth: std::sync::Arc::new(auth), ..AppState::with_defaults(db.clone()) };
    api::app(state, api::Limits::default())
}

/// Each request's time in µs.
async fn timed(app: &Router, method: &str, path: &str, bearer: Option<&str>, requests: usize) -> Vec<f64> {
    let mut micros = Vec::with_capacity(requests);
    for n in 0..requests {
        let mut request = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(bearer) = bearer {
            request = request.header("authorization", format!("Bearer {bearer}"));
        }
        let body =
            if method == "GET" { Body::empty() } else { Body::from(json!({"description": n.to_string()}).to_string()) };
        let started = Instant::now();
        let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let _ = response.into_body().collect().await.unwrap();
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(status.is_success(), "{method} {path}: {status}");
    }
    micros
}

fn percentile(values: &mut [f64], at: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * at) as usize]
}

/// Serves an ES256 key set on loopback; returns its URL and a function that signs a fresh admin JWT.
async fn identity_provider() -> (String, impl Fn() -> String) {
    let (alg, rng) = (&ECDSA_P256_SHA256_FIXED_SIGNING, ring::rand::SystemRandom::new());
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let point = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap().public_key().as_ref().to_vec();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]), "kid": "k", "alg": "ES256"});
    let keys = json!({"keys": [jwk]});
    let app = axum::Router::new().route("/keys", axum::routing::get(move || async move { axum::Json(keys) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref());
    let sign = move || {
        let exp = chrono::Utc::now().timestamp() + 3600;
        let claims =
            json!({"iss": "https://idp.bench", "aud": "eris", "sub": "bench", "scope": "eris:admin", "exp": exp});
        let header =
            jsonwebtoken::Header { kid: Some("k".into()), ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256) };
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    (url, sign)
}
