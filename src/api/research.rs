//! `/api/v1/compare` and the trends: thin handlers over [`crate::trials::figures`] and [`crate::research`].

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::errors::{ApiError, ApiResult, CommonErrors, NotFoundError};
use super::extract::{ApiPath, ApiQuery};
use crate::error::Error;
use crate::research::KeyMetric;
use crate::research::compare::{self, Comparison};
use crate::research::trend::Trend;
use crate::trials::figures::{self, MAX_TREND, TrendOf};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(compare_trials))
        .routes(routes!(experiment_trend))
        .routes(routes!(schedule_trend))
}

/// The forms of a comparison.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ComparisonFormat {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// The trials to compare, comma-separated ids (1 to 500), in the order to show them.
    trials: String,
    /// The trial the others are compared with; default the first.
    baseline: Option<Uuid>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    format: Option<ComparisonFormat>,
}

/// The comparison as JSON, or as CSV with `format=csv`.
pub(super) fn comparison_response(comparison: &Comparison, format: Option<ComparisonFormat>) -> ApiResult<Response> {
    match format.unwrap_or_default() {
        ComparisonFormat::Json => Ok(Json(comparison).into_response()),
        ComparisonFormat::Csv => {
            let text = compare::csv(comparison)?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response())
        }
    }
}

fn trial_ids(list: &str) -> Result<Vec<Uuid>, Error> {
    list.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            Uuid::parse_str(id).map_err(|_| {
                Error::invalid("invalid_query_parameter", "trials", format!("trials: '{id}' is not a trial id (UUID)"))
            })
        })
        .collect()
}

/// Compare trials side by side: per trial its parameters, status, duration, key metrics (throughput, error %,
/// response time percentiles and maximum, per request where there is one), violations, score and regressions, with
/// the differences against a baseline. As JSON, or CSV with `format=csv`.
#[utoipa::path(get, path = "/api/v1/compare", security(("bearer" = ["read"])), tag = "research", params(CompareQuery),
    responses(
        (status = 200, description = "The comparison (JSON), or CSV with `format=csv`: one row a trial.",
            content((Comparison = "application/json"), (String = "text/csv"))),
        CommonErrors,
        (status = 404, description = "A trial named does not exist.", body = super::errors::ErrorBody),
    ))]
async fn compare_trials(State(state): State<AppState>, ApiQuery(query): ApiQuery<CompareQuery>) -> ApiResult<Response> {
    let ids = trial_ids(&query.trials)?;
    let comparison = figures::compare(&state.db, ids, query.baseline).await?;
    comparison_response(&comparison, query.format)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// The metric followed (default `p95`).
    #[param(inline)]
    pub(super) metric: Option<KeyMetric>,
    /// How many of the latest ended trials, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub(super) limit: Option<i64>,
}

impl TrendQuery {
    pub(super) fn metric(&self) -> KeyMetric {
        self.metric.unwrap_or(KeyMetric::P95)
    }

    pub(super) fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(100),
            Some(limit) if (1..=MAX_TREND).contains(&limit) => Ok(limit),
            Some(limit) => Err(Error::invalid(
                "invalid_query_parameter",
                "limit",
                format!("limit must be from 1 to {MAX_TREND}, not {limit}"),
            )
            .into()),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ExperimentTrendPath {
    /// The experiment's id.
    pub(super) experiment_id: Uuid,
}

/// A metric over an experiment's latest ended trials (not those of sweeps), oldest first, with the trials flagged
/// as regressions when they ended.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}/trend", security(("bearer" = ["read"])), tag = "research",
    params(ExperimentTrendPath, TrendQuery),
    responses((status = 200, description = "The trend.", body = Trend), CommonErrors, NotFoundError))]
async fn experiment_trend(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ExperimentTrendPath>,
    ApiQuery(query): ApiQuery<TrendQuery>,
) -> ApiResult<Json<Trend>> {
    let limit = query.limit()?;
    let of = TrendOf::Experiment(path.experiment_id);
    Ok(Json(figures::trend(&state.db, of, query.metric(), limit).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ScheduleTrendPath {
    /// The experiment's id.
    pub(super) experiment_id: Uuid,
    /// The schedule's id.
    pub(super) schedule_id: Uuid,
}

/// A metric over a schedule's latest ended trials (its nightly runs, say), oldest first, with the trials flagged as
/// regressions when they ended.
#[utoipa::path(get, path = "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}/trend",
    security(("bearer" = ["read"])), tag = "research", params(ScheduleTrendPath, TrendQuery),
    responses((status = 200, description = "The trend.", body = Trend), CommonErrors, NotFoundError))]
async fn schedule_trend(
    State(state): State<AppState>,
    ApiPath(path): ApiPath<ScheduleTrendPath>,
    ApiQuery(query): ApiQuery<TrendQuery>,
) -> ApiResult<Json<Trend>> {
    let limit = query.limit()?;
    let of = TrendOf::Schedule { experiment: path.experiment_id, schedule: path.schedule_id };
    Ok(Json(figures::trend(&state.db, of, query.metric(), limit).await?))
}
