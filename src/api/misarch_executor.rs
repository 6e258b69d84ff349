//! The MiSArch Experiment Executor's own API at its paths (the server root), with its methods, query parameters,
//! bodies, content types and status codes, so that the MiSArch frontend and scripts written for the executor need
//! only their backend URL changed (docs/misarch.md, "Coming from the MiSArch Experiment Executor"). Thin handlers
//! over [`crate::misarch_executor`]. They obey `ERIS_AUTH` like `/api/v1`: `read` for GET, `write` for the rest.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Deserializer};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::errors::{ApiError, ApiResult, BodyErrors, CommonErrors, NotFoundError};
use super::extract::{ApiPath, ApiQuery, JsonBody, JsonListBody, TextBody};
use super::plain_text as text;
use crate::db::misarch_versions::Part;
use crate::misarch::definition::{EncodedFile, LoadType};
use crate::misarch_executor::config::ExecutionConfig;
use crate::misarch_executor::{self as executor, VersionKey, generator, outcomes};

pub const TAG: &str = "misarch executor";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate))
        .routes(routes!(list))
        .routes(routes!(versions))
        .routes(routes!(new_version))
        .routes(routes!(delete_experiment))
        .routes(routes!(delete_version))
        .routes(routes!(get_chaos_toolkit, put_chaos_toolkit))
        .routes(routes!(get_misarch, put_misarch))
        .routes(routes!(get_gatling, put_gatling))
        .routes(routes!(get_config, put_config))
        .routes(routes!(start_with_config))
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(events))
        .routes(routes!(dashboard))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExperimentPath {
    /// The experiment's UUID (any case).
    #[serde(rename = "testUUID")]
    #[param(rename = "testUUID")]
    test_uuid: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// The experiment's UUID (any case).
    #[serde(rename = "testUUID")]
    #[param(rename = "testUUID")]
    test_uuid: Uuid,
    /// The version: `v1`, `v2`, …
    #[serde(rename = "testVersion")]
    #[param(rename = "testVersion")]
    test_version: String,
}

impl From<VersionPath> for VersionKey {
    fn from(path: VersionPath) -> Self {
        Self { test_uuid: path.test_uuid, test_version: path.test_version }
    }
}

/// The query of `POST /experiment/generate`. An empty value takes the default, as in the executor.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct GenerateQuery {
    /// `NormalLoadTest` (a window of the realistic day, buy and aborted-buy scenarios, default failures),
    /// `ScalabilityLoadTest`, `ElasticityLoadTest` (buy only, no failures) or `ResilienceLoadTest`.
    #[param(required = true, value_type = LoadType)]
    load_type: LoadType,
    /// Default `My Experiment`; stored HTML-escaped, as the executor stores it.
    #[serde(default, deserialize_with = "blank_is_none")]
    #[param(value_type = Option<String>)]
    test_name: Option<String>,
    /// The peak of a `NormalLoadTest`'s realistic day, in users arriving per second. Default 10.
    #[serde(default, deserialize_with = "blank_is_none")]
    #[param(value_type = Option<i64>)]
    maximum_arriving_users_per_second: Option<i64>,
    /// Seconds, default 1800; 0 to 43201 (the realistic day's length; a longer day from
    /// `ERIS_MISARCH_TEMPLATES_DIR` does not raise it).
    #[serde(default, deserialize_with = "blank_is_none")]
    #[param(value_type = Option<i64>)]
    test_duration: Option<i64>,
    /// The growth in users per second of the other load types. Default 1.0.
    #[serde(default, deserialize_with = "blank_is_none")]
    #[param(value_type = Option<f32>)]
    rate: Option<f32>,
}

/// An empty query value is no value; any other is parsed as `T`.
fn blank_is_none<'de, D: Deserializer<'de>, T: std::str::FromStr>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|error| serde::de::Error::custom(format!("'{text}': {error}")))
}

/// Generate an experiment: version `v1` with the load type's user steps, work files, failures and the two default
/// goals. Answers the text `<testUUID>:v1`. The body is not read.
#[utoipa::path(post, path = "/experiment/generate", security(("bearer" = ["write"])), tag = TAG, params(GenerateQuery),
    responses((status = 200, description = "`<testUUID>:v1`", content_type = "text/plain", body = String), CommonErrors))]
async fn generate(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<GenerateQuery>,
) -> ApiResult<Response> {
    let request = generator::Request {
        load_type: query.load_type,
        test_name: query.test_name.unwrap_or_else(|| "My Experiment".to_owned()),
        maximum_arriving_users_per_second: query.maximum_arriving_users_per_second.unwrap_or(10),
        test_duration: query.test_duration.unwrap_or(1800),
        rate: query.rate.unwrap_or(1.0),
    };
    let test_uuid = executor::generate(&state.db, &state.misarch_executor, request, &caller.name).await?;
    Ok(text(format!("{test_uuid}:v1")))
}

/// Every experiment's UUID, oldest first.
#[utoipa::path(get, path = "/experiment/list", security(("bearer" = ["read"])), tag = TAG,
    responses((status = 200, description = "The UUIDs.", body = Vec<String>), CommonErrors))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(executor::list(&state.db).await?))
}

/// An experiment's versions, by number (`[]` for an unknown experiment, as in the executor).
#[utoipa::path(get, path = "/experiment/{testUUID}/versions", security(("bearer" = ["read"])), tag = TAG,
    params(ExperimentPath), responses((status = 200, description = "The versions.", body = Vec<String>), CommonErrors))]
async fn versions(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentPath>,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(executor::versions(&state.db, path.test_uuid).await?))
}

/// A new version copied from this one (not necessarily the newest), numbered after the highest. Answers its name,
/// `v<N>`, as text.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/newVersion", security(("bearer" = ["write"])),
    tag = TAG, params(VersionPath),
    responses((status = 200, description = "`v<N>`", content_type = "text/plain", body = String), CommonErrors, NotFoundError))]
async fn new_version(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<Response> {
    Ok(text(executor::new_version(&state.db, path.into(), &caller.name).await?))
}

/// Delete an experiment: every version's eris experiment is archived (its queued trials stopped, a running one left
/// to end, its trials kept for audit). 200 whether or not it existed.
#[utoipa::path(delete, path = "/experiment/{testUUID}", security(("bearer" = ["write"])), tag = TAG,
    params(ExperimentPath), responses((status = 200, description = "Deleted."), CommonErrors))]
async fn delete_experiment(State(state): State<AppState>, ApiPath(path): ApiPath<ExperimentPath>) -> ApiResult<()> {
    executor::delete_experiment(&state.db, path.test_uuid).await?;
    Ok(())
}

/// Delete a version (the whole experiment when it has only one, as in the executor). 200 whether or not it existed.
#[utoipa::path(delete, path = "/experiment/{testUUID}/{testVersion}", security(("bearer" = ["write"])), tag = TAG,
    params(VersionPath), responses((status = 200, description = "Deleted."), CommonErrors))]
async fn delete_version(State(state): State<AppState>, ApiPath(path): ApiPath<VersionPath>) -> ApiResult<()> {
    executor::delete_version(&state.db, path.into()).await?;
    Ok(())
}

async fn get_text(state: &AppState, path: VersionPath, part: Part) -> ApiResult<Response> {
    Ok(text(executor::part(&state.db, &path.into(), part).await?))
}

async fn put_text(state: &AppState, path: VersionPath, part: Part, body: String) -> ApiResult<()> {
    if body.is_empty() {
        let message = "the body is empty; send the part's JSON text";
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message, Some("body".into())));
    }
    executor::save(&state.db, &path.into(), part, body).await?;
    Ok(())
}

/// The Chaos Toolkit experiment, as saved (text).
#[utoipa::path(get, path = "/experiment/{testUUID}/{testVersion}/chaosToolkitConfig", security(("bearer" = ["read"])),
    tag = TAG, params(VersionPath),
    responses((status = 200, description = "The stored text.", content_type = "text/plain", body = String), CommonErrors, NotFoundError))]
async fn get_chaos_toolkit(State(state): State<AppState>, ApiPath(path): ApiPath<VersionPath>) -> ApiResult<Response> {
    get_text(&state, path, Part::ChaosToolkit).await
}

/// Save the Chaos Toolkit experiment: any text, whatever its content type, kept as it is; checked at start.
#[utoipa::path(put, path = "/experiment/{testUUID}/{testVersion}/chaosToolkitConfig", security(("bearer" = ["write"])),
    tag = TAG, params(VersionPath), request_body(content = String, content_type = "application/json"),
    responses((status = 200, description = "Saved."), CommonErrors, NotFoundError))]
async fn put_chaos_toolkit(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<VersionPath>,
    TextBody(body): TextBody,
) -> ApiResult<()> {
    put_text(&state, path, Part::ChaosToolkit, body).await
}

/// The MiSArch failure sets, as saved (text).
#[utoipa::path(get, path = "/experiment/{testUUID}/{testVersion}/misarchExperimentConfig",
    security(("bearer" = ["read"])), tag = TAG, params(VersionPath),
    responses((status = 200, description = "The stored text.", content_type = "text/plain", body = String), CommonErrors, NotFoundError))]
async fn get_misarch(State(state): State<AppState>, ApiPath(path): ApiPath<VersionPath>) -> ApiResult<Response> {
    get_text(&state, path, Part::Misarch).await
}

/// Save the MiSArch failure sets: any text, kept as it is; checked at start.
#[utoipa::path(put, path = "/experiment/{testUUID}/{testVersion}/misarchExperimentConfig",
    security(("bearer" = ["write"])), tag = TAG, params(VersionPath),
    request_body(content = String, content_type = "application/json"),
    responses((status = 200, description = "Saved."), CommonErrors, NotFoundError))]
async fn put_misarch(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<VersionPath>,
    TextBody(body): TextBody,
) -> ApiResult<()> {
    put_text(&state, path, Part::Misarch, body).await
}

/// The Gatling scenarios: each work file and user-steps file, standard Base64.
#[utoipa::path(get, path = "/experiment/{testUUID}/{testVersion}/gatlingConfig", security(("bearer" = ["read"])),
    tag = TAG, params(VersionPath),
    responses((status = 200, description = "The scenarios.", body = Vec<EncodedFile>), CommonErrors, NotFoundError))]
async fn get_gatling(State(state): State<AppState>, ApiPath(path): ApiPath<VersionPath>) -> ApiResult<Response> {
    let stored = executor::part(&state.db, &path.into(), Part::Gatling).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], stored).into_response())
}

/// Save the Gatling scenarios: the list replaces the stored set (a scenario left out is removed). Their content is
/// checked at start.
#[utoipa::path(put, path = "/experiment/{testUUID}/{testVersion}/gatlingConfig", security(("bearer" = ["write"])),
    tag = TAG, params(VersionPath), request_body = Vec<EncodedFile>,
    responses((status = 200, description = "Saved."), CommonErrors, NotFoundError, BodyErrors))]
async fn put_gatling(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<VersionPath>,
    JsonListBody(files): JsonListBody<EncodedFile>,
) -> ApiResult<()> {
    executor::save(&state.db, &path.into(), Part::Gatling, crate::json::to_text(&files)).await?;
    Ok(())
}

/// `execution.json`: name, load type, goals (every member a string), warm-up and steady state.
#[utoipa::path(get, path = "/experiment/{testUUID}/{testVersion}/config", security(("bearer" = ["read"])), tag = TAG,
    params(VersionPath),
    responses((status = 200, description = "The configuration.", body = ExecutionConfig), CommonErrors, NotFoundError))]
async fn get_config(State(state): State<AppState>, ApiPath(path): ApiPath<VersionPath>) -> ApiResult<Response> {
    let stored = executor::part(&state.db, &path.into(), Part::Execution).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], stored).into_response())
}

/// Save `execution.json`. Read as the executor reads it (unknown members ignored, numbers and numeric strings
/// converted); its `testUUID`/`testVersion` are kept as sent, the path decides which version is saved.
#[utoipa::path(put, path = "/experiment/{testUUID}/{testVersion}/config", security(("bearer" = ["write"])), tag = TAG,
    params(VersionPath), request_body = ExecutionConfig,
    responses((status = 200, description = "Saved."), CommonErrors, NotFoundError, BodyErrors))]
async fn put_config(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<VersionPath>,
    JsonBody(config): JsonBody<ExecutionConfig>,
) -> ApiResult<()> {
    executor::save(&state.db, &path.into(), Part::Execution, crate::json::to_text(&config)).await?;
    Ok(())
}

/// Start the version named by the body's `testUUID`/`testVersion` with the body's goals, warm-up and steady state
/// (for this trial only; the stored `execution.json` is not changed). Otherwise as `POST …/start`.
#[utoipa::path(post, path = "/experiment/start", security(("bearer" = ["write"])), tag = TAG,
    request_body = ExecutionConfig,
    responses((status = 200, description = "Queued: the text says as which trial, and how many are ahead of it.",
        content_type = "text/plain", body = String), CommonErrors, NotFoundError, BodyErrors))]
async fn start_with_config(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(config): JsonBody<ExecutionConfig>,
) -> ApiResult<Response> {
    let test_uuid = Uuid::parse_str(&config.test_uuid).map_err(|error| {
        let message = format!("testUUID '{}' is not a UUID: {error}", config.test_uuid);
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message, Some("testUUID".into()))
    })?;
    let key = VersionKey { test_uuid, test_version: config.test_version.clone() };
    let started = executor::start(&state.db, &key, Some(config), &caller.name).await?;
    state.wakeups.trial_queued();
    Ok(text(started.text()))
}

/// Start a run: the four parts are checked as one, and a trial is queued through the sequential worker, behind
/// any running or queued trial (the executor refused a second start; eris queues it). A problem answers 400 naming
/// the part, and the event stream tells it in the executor's error form.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/start", security(("bearer" = ["write"])), tag = TAG,
    params(VersionPath),
    responses((status = 200, description = "Queued: the text says as which trial, and how many are ahead of it.",
        content_type = "text/plain", body = String), CommonErrors, NotFoundError))]
async fn start(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(path): ApiPath<VersionPath>,
) -> ApiResult<Response> {
    let started = executor::start(&state.db, &path.into(), None, &caller.name).await?;
    state.wakeups.trial_queued();
    Ok(text(started.text()))
}

/// Stop the version's queued and running trials; their cleanup runs (failures reset, rollbacks). 200 also when
/// nothing runs.
#[utoipa::path(post, path = "/experiment/{testUUID}/{testVersion}/stop", security(("bearer" = ["write"])), tag = TAG,
    params(VersionPath), responses((status = 200, description = "Stopped."), CommonErrors, NotFoundError))]
async fn stop(State(state): State<AppState>, ApiPath(path): ApiPath<VersionPath>) -> ApiResult<()> {
    executor::stop(&state.db, &path.into(), state.webhooks.clone()).await?;
    Ok(())
}

/// How often an event stream looks at the record.
const EVENTS_POLL: Duration = Duration::from_millis(250);

/// The version's outcomes as unnamed server-sent events, the executor's way: `data:<dashboard link>` for a run
/// that ended with its metrics, `data:Error occurred during experiment execution: …` for one that could not run
/// or a refused start, nothing for a stop. Each has an `id:`; with `Last-Event-ID` the stream first tells what
/// came after it, without it the newest outcome no stream has told yet. The stream does not end; comments keep it
/// alive.
#[utoipa::path(get, path = "/experiment/{testUUID}/{testVersion}/events", security(("bearer" = ["read"])), tag = TAG,
    params(VersionPath),
    responses((status = 200, description = "`text/event-stream`, e.g. `id:1764633600000000` / \
`data:http://eris:8080/d/3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10-v1`.", content_type = "text/event-stream", body = String),
        CommonErrors, NotFoundError))]
async fn events(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<VersionPath>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let key: VersionKey = path.into();
    // An unknown version is 404 at once (the executor answered an idle stream); a deleted one ends no open stream.
    executor::part(&state.db, &key, Part::Execution).await?;
    let link = outcomes::dashboard_link(&public_base(&state, &headers), &key);
    let last_seen = headers.get("last-event-id").and_then(|id| id.to_str().ok()).and_then(outcomes::parse_id);
    // Without Last-Event-ID: only the newest of what no stream has told.
    let (cursor, newest_only) = match last_seen {
        Some(seen) => (Some(seen), false),
        None => (outcomes::told_through(&state.db, &key).await?, true),
    };
    let start = (cursor, newest_only, true);
    let events = stream::unfold(start, move |(mut cursor, mut newest_only, mut first)| {
        let (db, shutdown, key, link) = (state.db.clone(), state.shutdown.clone(), key.clone(), link.clone());
        async move {
            loop {
                if !first {
                    tokio::select! {
                        () = tokio::time::sleep(EVENTS_POLL) => {}
                        () = shutdown.cancelled() => return None,
                    }
                }
                first = false;
                // A passing database error is retried at the next poll; the stream stays open.
                let Ok(mut found) = outcomes::since(&db, &key, cursor, &link).await else { continue };
                if newest_only {
                    // What came before the subscription: only the newest start of this API's.
                    if let Some(seen) = found.last() {
                        cursor = Some(seen.at);
                    }
                    found = found.into_iter().rev().find(|outcome| outcome.asked_here).into_iter().collect();
                    newest_only = false;
                }
                let Some(last) = found.last() else { continue };
                cursor = cursor.max(Some(last.at));
                if let Err(error) = outcomes::mark_told(&db, &key, last.at).await {
                    tracing::warn!("cannot note what the event stream told: {error}");
                }
                let batch: Vec<Result<Event, Infallible>> =
                    found.iter().map(|outcome| Ok(Event::default().id(outcome.id()).data(&outcome.message))).collect();
                return Some((stream::iter(batch), (cursor, newest_only, first)));
            }
        }
    })
    .flatten();
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The base of the links the event stream sends: `ERIS_PUBLIC_URL` when it is set, otherwise the host the client
/// called.
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.misarch_executor.public_url {
        return url.as_str().trim_end_matches('/').to_owned();
    }
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DashboardPath {
    /// `<testUUID>-<testVersion>`, as the event stream's link has it.
    dashboard: String,
}

/// The link the event stream sends: redirects to the Grafana dashboard of the version's newest trial that ran, or
/// to that trial in the API when it has no dashboard.
#[utoipa::path(get, path = "/d/{dashboard}", security(("bearer" = ["read"])), tag = TAG, params(DashboardPath),
    responses((status = 303, description = "To the dashboard, or to the trial."), CommonErrors, NotFoundError))]
async fn dashboard(State(state): State<AppState>, ApiPath(path): ApiPath<DashboardPath>) -> ApiResult<Redirect> {
    let key = dashboard_key(&path.dashboard).ok_or_else(|| {
        let message = format!("'{}' is not <testUUID>-<testVersion>", path.dashboard);
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path_parameter", message, Some("dashboard".into()))
    })?;
    let trial = outcomes::newest_run(&state.db, &key).await?.ok_or_else(|| {
        let message = format!("version {} of experiment {} has no trial that ran", key.test_version, key.test_uuid);
        ApiError::new(StatusCode::NOT_FOUND, "no_run", message, None)
    })?;
    Ok(Redirect::to(&trial.grafana_url.unwrap_or_else(|| format!("/api/v1/trial/{}", trial.id))))
}

fn dashboard_key(text: &str) -> Option<VersionKey> {
    let (uuid, version) = (text.get(..36)?, text.get(37..)?);
    (text.as_bytes().get(36) == Some(&b'-') && !version.is_empty())
        .then(|| Uuid::parse_str(uuid).ok())
        .flatten()
        .map(|test_uuid| VersionKey { test_uuid, test_version: version.to_owned() })
}
