//! `/api/v1/trial`: thin handlers over [`crate::trials`]. Trials cannot be edited or deleted.

use axum::Json;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::errors::{ApiError, ApiResult, BodyErrors, CommonErrors, ConflictError, NotFoundError};
use super::extract::{ApiPath, ApiQuery, JsonBody};
use super::pagination::{PageResponse, page_request};
use crate::db::trials::TrialFilter;
use crate::time;
use crate::trial_status::TrialStatus;
use crate::trials::events::Tracker;
use crate::trials::{self, Trial, TrialInput, TrialSummary};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_trials, create_trial))
        .routes(routes!(find_trial))
        .routes(routes!(stop_trial))
        .routes(routes!(hold_trial))
        .routes(routes!(trial_events))
        .routes(routes!(trial_report))
        .routes(routes!(gatling_index_html))
        .routes(routes!(gatling_stats_js))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrialListQuery {
    /// Only trials of this experiment.
    experiment: Option<Uuid>,
    /// Only trials created by this schedule.
    schedule: Option<Uuid>,
    /// Only trials with this status.
    status: Option<TrialStatus>,
    /// Only trials queued at or after this instant (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only trials queued before this instant (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Where the page starts: copy it from the previous page's `Link` header.
    cursor: Option<String>,
    /// `summary` (default): what a list needs of each trial; `full`: whole trials, at most 100 a page.
    view: Option<ListView>,
}

/// How much of each trial a page of `GET /trial` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListView {
    Summary,
    Full,
}

/// The largest page of whole trials: each may carry a MiSArch run's metrics and report.
const MAX_FULL_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TrialPath {
    /// The trial's id.
    pub(super) trial_id: Uuid,
}

/// List trials in the order they were queued, oldest first: what a list needs of each (`TrialSummary`), or whole
/// trials with `view=full` (at most 100 a page).
#[utoipa::path(get, path = "/api/v1/trial", security(("bearer" = ["read"])), tag = "trials", params(TrialListQuery),
    responses(
        (status = 200, description = "A page of trials (`Trial` objects with `view=full`); the `Link` header points \
at the next one.",
            body = Vec<TrialSummary>, headers(("Link" = String, description = "`<url>; rel=\"next\"` when there is a next page"))),
        CommonErrors,
    ))]
async fn list_trials(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    ApiQuery(query): ApiQuery<TrialListQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let full = query.view == Some(ListView::Full);
    if full && query.limit.is_some_and(|limit| limit > MAX_FULL_LIMIT) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            format!("limit is at most {MAX_FULL_LIMIT} with view=full; page on with the Link header"),
            Some("limit".into()),
        ));
    }
    let page = page_request(query.limit, query.cursor.as_deref())?;
    let filter = TrialFilter {
        experiment_id: query.experiment.map(|id| id.to_string()),
        schedule_id: query.schedule.map(|id| id.to_string()),
        status: query.status,
        created_from: query.from.map(time::to_db),
        created_to: query.to.map(time::to_db),
    };
    Ok(if full {
        PageResponse { uri, page: trials::list(&state.db, filter, page).await? }.into_response()
    } else {
        PageResponse { uri, page: trials::list_summaries(&state.db, filter, page).await? }.into_response()
    })
}

/// Run an experiment now: queues a trial with status `Scheduled`. Never touches any schedule.
#[utoipa::path(post, path = "/api/v1/trial", security(("bearer" = ["write"])), tag = "trials", request_body = TrialInput,
    responses((status = 201, description = "The queued trial.", body = Trial), CommonErrors, ConflictError, BodyErrors))]
async fn create_trial(
    State(state): State<AppState>,
    Caller(caller): Caller,
    JsonBody(input): JsonBody<TrialInput>,
) -> ApiResult<(StatusCode, Json<Trial>)> {
    let trial = trials::create(&state.db, input, &caller.name).await?;
    state.wakeups.trial_queued();
    Ok((StatusCode::CREATED, Json(trial)))
}

/// Read a trial: its status, record, results and the experiment definition it ran.
#[utoipa::path(get, path = "/api/v1/trial/{trial_id}", security(("bearer" = ["read"])), tag = "trials", params(TrialPath),
    responses((status = 200, description = "The trial.", body = Trial), CommonErrors, NotFoundError))]
async fn find_trial(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<TrialPath>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let json = trials::find_json(&state.db, path.trial_id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], json).into_response())
}

/// Whether a trial is on hold.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"held": true}))]
pub struct HoldInput {
    /// `true`: no retention policy removes the trial; `false`: the policy applies to it again.
    pub held: bool,
}

/// Put a trial on hold, so that no retention policy removes it (an incident's evidence, say), or take it off hold
/// (docs/safety.md#retention).
#[utoipa::path(put, path = "/api/v1/trial/{trial_id}/hold", security(("bearer" = ["write"])), tag = "trials",
    params(TrialPath), request_body = HoldInput,
    responses((status = 200, description = "The trial.", body = Trial), CommonErrors, NotFoundError, super::errors::BodyErrors))]
async fn hold_trial(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<TrialPath>,
    super::extract::JsonBody(input): super::extract::JsonBody<HoldInput>,
) -> ApiResult<Json<Trial>> {
    Ok(Json(trials::set_held(&state.db, path.trial_id, input.held).await?))
}

/// Stop a trial. A `Scheduled` trial becomes `Stopped` without running; an `In Progress` one becomes
/// `Stop Initiated`, then `Stopped` once its clean-up ran. Repeating a stop is harmless.
#[utoipa::path(put, path = "/api/v1/trial/{trial_id}/stop", security(("bearer" = ["write"])), tag = "trials", params(TrialPath),
    responses((status = 200, description = "The trial with its new status.", body = Trial),
        CommonErrors, NotFoundError, ConflictError))]
async fn stop_trial(State(state): State<AppState>, ApiPath(path): ApiPath<TrialPath>) -> ApiResult<Json<Trial>> {
    let trial = trials::stop(&state.db, path.trial_id, state.webhooks.clone()).await?;
    if trial.status == TrialStatus::Stopped {
        // Stopped before it ran: the worker never sees it, so it is counted here.
        crate::telemetry::trial_finished(TrialStatus::Stopped, None);
    }
    state.wakeups.webhooks_queued();
    Ok(Json(trial))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `json` (default): the original MiSArch `report.json` fields plus eris's; `junit`: JUnit XML, one test case
    /// per goal.
    #[param(inline)]
    format: Option<ReportFormat>,
}

/// The forms of a trial's report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum ReportFormat {
    #[default]
    Json,
    Junit,
}

/// The report of a MiSArch trial: the MiSArch Experiment Executor's `report.json` fields (`testUUID`,
/// `testVersion`, `startTime`, `endTime`, `goals`, `goalViolations`, …) with eris's (`trial`, `revision`,
/// `metrics_summary`, `goal_results`, `violations`, `grafana_url`, `status`), or JUnit XML with `?format=junit`.
#[utoipa::path(get, path = "/api/v1/trial/{trial_id}/report", security(("bearer" = ["read"])), tag = "trials", params(TrialPath, ReportQuery),
    responses(
        (status = 200, description = "The report (JSON), or JUnit XML with `format=junit`.",
            content((Object = "application/json"), (String = "application/xml"))),
        CommonErrors, NotFoundError,
        (status = 409, description = "The trial has no report (not a MiSArch trial, or its goals are not evaluated yet).",
            body = super::errors::ErrorBody),
    ))]
async fn trial_report(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<TrialPath>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (report, status, reason) = trials::report(&state.db, path.trial_id).await?;
    if query.format.unwrap_or_default() == ReportFormat::Junit {
        let xml = crate::misarch::report::junit(&report, status.as_str(), reason.as_deref());
        return Ok(([(axum::http::header::CONTENT_TYPE, "application/xml; charset=utf-8")], xml).into_response());
    }
    let value = serde_json::to_value(&report).map_err(|error| ApiError::from(crate::error::Error::from(error)))?;
    Ok(Json(crate::misarch::report::with_status(&value, status.as_str(), reason.as_deref())).into_response())
}

/// One server-sent event of a trial's stream: its `event:`, `id:` and `data:` lines. Documents the stream item by
/// item, as OpenAPI tools read an event-stream schema.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "only documents the stream")]
struct TrialStreamEvent {
    /// `status`, `step_started`, `step_finished` or `log`.
    #[schema(pattern = "^(status|step_started|step_finished|log)$")]
    event: String,
    /// 1, 2, 3, … in the order sent.
    id: String,
    /// The event's fields as a JSON object, e.g. `{"status":"In Progress", …}`.
    data: String,
}

/// How often an event stream looks at the trial.
const EVENTS_POLL: Duration = Duration::from_millis(200);

/// Follow a trial's progress as server-sent events: `status`, `step_started`, `step_finished` and `log`, each with
/// an `id` and JSON data. A late subscriber first gets what already happened. The stream ends when the trial ends;
/// comments keep it alive meanwhile.
#[utoipa::path(get, path = "/api/v1/trial/{trial_id}/events", security(("bearer" = ["read"])), tag = "trials", params(TrialPath),
    responses(
        (status = 200, description = "A stream of events (`text/event-stream`), e.g. `event: status` / `id: 1` / \
`data: {\"status\":\"In Progress\", …}`.", content_type = "text/event-stream", body = TrialStreamEvent),
        CommonErrors, NotFoundError,
    ))]
async fn trial_events(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<TrialPath>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let first = trials::find(&state.db, path.trial_id).await?;
    let start = (Some(first), Tracker::default(), 0_u64, false);
    let events = stream::unfold(start, move |(mut pending, mut tracker, mut sent, mut done)| {
        let (db, shutdown, id) = (state.db.clone(), state.shutdown.clone(), path.trial_id);
        async move {
            loop {
                if done {
                    return None;
                }
                let trial = match pending.take() {
                    Some(trial) => trial,
                    None => {
                        tokio::select! {
                            () = tokio::time::sleep(EVENTS_POLL) => {}
                            () = shutdown.cancelled() => return None,
                        }
                        // A trial that disappeared (purged) or cannot be read ends the stream.
                        trials::find(&db, id).await.ok()?
                    }
                };
                done = trial.status.is_final();
                let batch: Vec<Event> = tracker
                    .advance(&trial)
                    .into_iter()
                    .map(|event| {
                        sent += 1;
                        Event::default().event(event.name).id(sent.to_string()).data(event.data.to_string())
                    })
                    .collect();
                if !batch.is_empty() {
                    let items = stream::iter(batch.into_iter().map(Ok::<_, Infallible>));
                    return Some((items, (None, tracker, sent, done)));
                }
            }
        }
    })
    .flatten();
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The Gatling report of a MiSArch trial, as the Gatling executor uploaded it: its `index.html`. It is sent with
/// `Content-Security-Policy: sandbox allow-scripts`, so that its scripts run in an origin of their own, never eris's.
#[utoipa::path(get, path = "/api/v1/trial/{trial_id}/gatling/index.html", security(("bearer" = ["read"])), tag = "trials",
    params(TrialPath),
    responses(
        (status = 200, description = "Gatling's index.html.", content_type = "text/html", body = String),
        CommonErrors,
        (status = 404, description = "No such trial, or no Gatling report kept for it.", body = super::errors::ErrorBody),
    ))]
async fn gatling_index_html(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<TrialPath>,
) -> ApiResult<axum::response::Response> {
    let report = trials::gatling_report(&state.db, path.trial_id).await?;
    Ok(gatling_file("text/html; charset=utf-8", report.index_html))
}

/// The Gatling report of a MiSArch trial, as the Gatling executor uploaded it: its `js/stats.js`.
#[utoipa::path(get, path = "/api/v1/trial/{trial_id}/gatling/stats.js", security(("bearer" = ["read"])), tag = "trials",
    params(TrialPath),
    responses(
        (status = 200, description = "Gatling's js/stats.js.", content_type = "text/javascript", body = String),
        CommonErrors,
        (status = 404, description = "No such trial, or no Gatling report kept for it.", body = super::errors::ErrorBody),
    ))]
async fn gatling_stats_js(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<TrialPath>,
) -> ApiResult<axum::response::Response> {
    let report = trials::gatling_report(&state.db, path.trial_id).await?;
    Ok(gatling_file("text/javascript; charset=utf-8", report.stats_js))
}

fn gatling_file(content_type: &'static str, text: String) -> axum::response::Response {
    use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
    use axum::response::IntoResponse;
    ([(CONTENT_TYPE, content_type), (CONTENT_SECURITY_POLICY, "sandbox allow-scripts")], text).into_response()
}
