//! The report pages: thin handlers that read a trial, a sweep or a trend and hand it to [`crate::pages`].

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::errors::{ApiResult, CommonErrors, NotFoundError};
use super::extract::{ApiPath, ApiQuery};
use super::research::{ExperimentTrendPath, ScheduleTrendPath, TrendQuery};
use super::sweeps::SweepPath;
use super::trials::TrialPath;
use crate::pages;
use crate::trials::figures::{self, TrendOf};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trial_page))
        .routes(routes!(sweep_page))
        .routes(routes!(experiment_trend_page))
        .routes(routes!(schedule_trend_page))
}

/// A page as HTML. Its policy lets it load nothing and run nothing: the page needs neither, and a trial's record
/// (error messages, step names) is user text.
fn html(page: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
            ),
        ],
        page,
    )
        .into_response()
}

/// A trial's report page (HTML, charts drawn on the server as SVG): response time percentiles and throughput over
/// the workload with each failure set's window shaded, the steps and MiSArch phases on a timeline, goals against
/// their thresholds, key metrics, regressions and steps. Self-contained: it fetches nothing and runs no script.
#[utoipa::path(get, path = "/api/v1/trial/{trial_id}/page", security(("bearer" = ["read"])), tag = "research",
    params(TrialPath),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        CommonErrors,
        NotFoundError,
    ))]
async fn trial_page(State(state): State<AppState>, ApiPath(path): ApiPath<TrialPath>) -> ApiResult<Response> {
    let trial = crate::trials::find(&state.db, path.trial_id).await?;
    Ok(html(pages::trial::render(&trial)))
}

/// A sweep's page (HTML, SVG charts): each key metric against the swept parameter, the mean of each point's
/// repetitions with their range, and the results table.
#[utoipa::path(get, path = "/api/v1/sweep/{sweep_id}/page", security(("bearer" = ["read"])), tag = "research",
    params(SweepPath),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        CommonErrors,
        NotFoundError,
    ))]
async fn sweep_page(State(state): State<AppState>, ApiPath(path): ApiPath<SweepPath>) -> ApiResult<Response> {
    let sweep = crate::sweeps::find(&state.db, path.sweep_id).await?;
    let experiment = crate::experiments::find(&state.db, sweep.summary.experiment).await?;
    Ok(html(pages::sweep::render(&sweep, &experiment.name)))
}

/// The trend of an experiment as a page (HTML, an SVG chart): the metric over its latest ended trials, regressions
/// circled, the median dashed.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}/trend/page", security(("bearer" = ["read"])),
    tag = "research", params(ExperimentTrendPath, TrendQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        CommonErrors,
        NotFoundError,
    ))]
async fn experiment_trend_page(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentTrendPath>,
    ApiQuery(query): ApiQuery<TrendQuery>,
) -> ApiResult<Response> {
    trend_page(&state, TrendOf::Experiment(path.experiment_id), &query).await
}

/// The trend of one schedule as a page (HTML, an SVG chart): the metric over its latest ended trials (its nightly
/// runs, say), regressions circled, the median dashed.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}/trend/page",
    security(("bearer" = ["read"])), tag = "research", params(ScheduleTrendPath, TrendQuery),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String),
        CommonErrors,
        NotFoundError,
    ))]
async fn schedule_trend_page(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ScheduleTrendPath>,
    ApiQuery(query): ApiQuery<TrendQuery>,
) -> ApiResult<Response> {
    trend_page(&state, TrendOf::Schedule { experiment: path.experiment_id, schedule: path.schedule_id }, &query).await
}

/// The page of a trend, an experiment's or a schedule's, linking to the same trend as JSON.
async fn trend_page(state: &AppState, of: TrendOf, query: &TrendQuery) -> ApiResult<Response> {
    let limit = query.limit()?;
    let (experiment_id, schedule) = match of {
        TrendOf::Experiment(id) => (id, None),
        TrendOf::Schedule { experiment, schedule } => (experiment, Some(schedule)),
    };
    let experiment = crate::experiments::find(&state.db, experiment_id).await?;
    let trend = figures::trend(&state.db, of, query.metric(), limit).await?;
    let trend_path = match schedule {
        Some(schedule) => format!("/api/v1/experiment/{experiment_id}/schedule/{schedule}/trend"),
        None => format!("/api/v1/experiment/{experiment_id}/trend"),
    };
    let subject = pages::trend::Subject {
        experiment_name: &experiment.name,
        schedule: schedule.map(|id| id.to_string()),
        json_path: format!("{trend_path}?metric={}&limit={limit}", query.metric()),
    };
    Ok(html(pages::trend::render(&trend, &subject)))
}
