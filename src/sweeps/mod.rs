//! Sweeps: one experiment run over a grid of parameter sets, `repeat` trials a point, queued back to back through
//! the same sequential worker. A sweep's trials are ordinary trials that name their sweep and point; everything a
//! sweep shows (progress, results) is read from them, so a sweep survives restarts as its trials do.

pub mod results;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::page::{Page, PageRequest};
use crate::db::{self, Db, DbConnection, SweepRow, write_transaction};
use crate::error::{Error, Result};
use crate::experiments::{self, Definition, JsonObject, parse_id};
use crate::json::{from_optional_text, from_text, to_text};
use crate::redact::{self, redact};
use crate::template;
use crate::time;
use crate::trial_status::TrialStatus;
use crate::trials::{self, NewTrial, StopReasons, SweepPlace};
use crate::webhooks::delivery::WebhookConfig;
pub use results::PointResult;

/// The most axes a sweep may have, values an axis may have, runs a point may have, and trials a sweep may queue.
pub const MAX_AXES: usize = 10;
pub const MAX_AXIS_VALUES: usize = 100;
pub const MAX_REPEAT: u32 = 100;
pub const MAX_TRIALS: usize = 1000;

/// The order a sweep's trials run in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SweepOrder {
    /// Round after round: every point once, then every point again (p1, p2, p3, p1, p2, p3, …). The default: a
    /// drift of the system under test over the sweep spreads over all points instead of favouring the first.
    #[default]
    Interleaved,
    /// Each point's repetitions back to back (p1, p1, p2, p2, p3, p3).
    Grouped,
}

impl SweepOrder {
    fn as_str(self) -> &'static str {
        match self {
            Self::Interleaved => "interleaved",
            Self::Grouped => "grouped",
        }
    }

    fn parse(stored: &str) -> Result<Self> {
        match stored {
            "interleaved" => Ok(Self::Interleaved),
            "grouped" => Ok(Self::Grouped),
            other => Err(Error::internal(format!("stored sweep order '{other}' is unknown"))),
        }
    }

    /// `(point, repetition)` of each trial, in running order; repetitions count from 1.
    fn plan(self, points: usize, repeat: u32) -> Vec<(usize, u32)> {
        match self {
            Self::Interleaved => (1..=repeat).flat_map(|rep| (0..points).map(move |point| (point, rep))).collect(),
            Self::Grouped => (0..points).flat_map(|point| (1..=repeat).map(move |rep| (point, rep))).collect(),
        }
    }
}

/// The body of `POST /sweep`: the axes (`parameters`) or the `points`, one of them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"experiment": "9992d74d-89c7-4ab8-a1c7-f9cef55ff5ef",
    "parameters": {"rate": [10, 50, 100], "delay_ms": [0, 200]}, "repeat": 3, "metadata": {"study": "latency"}}))]
pub struct SweepInput {
    /// The experiment to run.
    pub experiment: Uuid,
    /// The axes: each parameter with the values it takes. The points are their cartesian product, axes in name
    /// order, the last name changing fastest. At most 10 axes of 100 values.
    #[serde(default)]
    pub parameters: Option<BTreeMap<String, Vec<Value>>>,
    /// Instead of axes, the parameter sets themselves, in order.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub points: Option<Vec<JsonObject>>,
    /// Trials per point, 1 to 100 (default 1). Points × repeat is at most 1000.
    #[serde(default = "one")]
    pub repeat: u32,
    #[serde(default)]
    pub order: SweepOrder,
    /// Labels of the sweep; each trial gets them (under its experiment's and with `sweep`, `sweep_point`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    /// Where the request came from (a tool or pipeline name). Default `api`.
    #[serde(default = "api")]
    pub initiated_from: String,
}

fn one() -> u32 {
    1
}

fn api() -> String {
    "api".to_owned()
}

/// Where a sweep is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SweepStatus {
    /// No trial has started yet.
    Queued,
    /// Some trials ended or run, others are still queued or running.
    Running,
    /// Every trial ended.
    Completed,
    /// Stopped through the API: its queued trials were stopped, its running one stopped with its clean-up.
    Stopped,
}

/// How far a sweep is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub total: i64,
    pub queued: i64,
    pub running: i64,
    pub ended: i64,
    /// Trials per status.
    pub statuses: BTreeMap<String, i64>,
}

impl Progress {
    fn of(counts: &[(String, i64)]) -> Result<Self> {
        let mut progress = Self::default();
        for (status, count) in counts {
            let parsed = TrialStatus::parse(status)?;
            progress.total += count;
            match parsed {
                TrialStatus::Scheduled => progress.queued += count,
                TrialStatus::InProgress | TrialStatus::StopInitiated => progress.running += count,
                _ => progress.ended += count,
            }
            *progress.statuses.entry(status.clone()).or_default() += count;
        }
        Ok(progress)
    }
}

/// A sweep as `GET /sweep` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SweepSummary {
    pub id: Uuid,
    pub experiment: Uuid,
    /// The axes as given; null when the points were listed.
    pub parameters: Option<BTreeMap<String, Vec<Value>>>,
    /// Every point, in order (values under secret-looking keys masked).
    #[schema(value_type = Vec<Object>)]
    pub points: Vec<JsonObject>,
    pub repeat: i64,
    pub order: SweepOrder,
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    pub initiated_from: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub stopped_by: Option<String>,
    pub status: SweepStatus,
    pub progress: Progress,
    /// Where to read more of it.
    pub links: SweepLinks,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SweepLinks {
    /// The comparison of its trials (`?format=csv` for CSV).
    pub compare: String,
    /// Its page: each metric against the swept parameters, with the spread of the repetitions (HTML).
    pub page: String,
}

/// One trial of a sweep, in running order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SweepTrial {
    pub trial: Uuid,
    pub point: i64,
    pub repetition: i64,
    pub status: TrialStatus,
    pub score: Option<f64>,
}

/// A sweep with its trials and its results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Sweep {
    #[serde(flatten)]
    pub summary: SweepSummary,
    pub trials: Vec<SweepTrial>,
    /// Per point: its parameters, its trials' statuses and each key metric's spread over its repetitions.
    pub results: Vec<PointResult>,
}

fn sweep_not_found(id: Uuid) -> Error {
    Error::not_found("sweep_not_found", format!("sweep {id} does not exist"))
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::invalid("invalid_sweep", field, message)
}

/// The points of a sweep's axes: their cartesian product, axes in name order, the last changing fastest.
fn expand(axes: &BTreeMap<String, Vec<Value>>) -> Result<Vec<JsonObject>> {
    if axes.is_empty() {
        return Err(invalid("parameters", "parameters names no axis: give each swept parameter a list of values"));
    }
    if axes.len() > MAX_AXES {
        return Err(invalid("parameters", format!("at most {MAX_AXES} axes, not {}", axes.len())));
    }
    let mut count: usize = 1;
    for (name, values) in axes {
        if values.is_empty() || values.len() > MAX_AXIS_VALUES {
            return Err(invalid(
                format!("parameters.{name}"),
                format!("parameters.{name} must have 1 to {MAX_AXIS_VALUES} values, not {}", values.len()),
            ));
        }
        count = count.saturating_mul(values.len());
        if count > MAX_TRIALS {
            return Err(invalid("parameters", format!("the axes make more than {MAX_TRIALS} points")));
        }
    }
    let mut points = vec![JsonObject::new()];
    for (name, values) in axes {
        points = points
            .into_iter()
            .flat_map(|point| {
                values.iter().map(move |value| {
                    let mut point = point.clone();
                    point.insert(name.clone(), value.clone());
                    point
                })
            })
            .collect();
    }
    Ok(points)
}

/// The parameter names a sweep may vary: the experiment's own parameters and every name its steps' templates use.
/// A name outside them changes nothing and is surely a mistake.
fn known_parameters(definition: &Definition) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = definition.parameters.keys().cloned().collect();
    let steps = definition.pre_steps.iter().chain(&definition.steps).chain(&definition.post_steps);
    for step in steps {
        names.extend(template::names(&serde_json::to_value(step).unwrap_or_default()));
    }
    names
}

/// The points a request asks for, checked against the experiment.
fn points_of(input: &mut SweepInput, definition: &Definition) -> Result<Vec<JsonObject>> {
    let (mut points, field) = match (&input.parameters, input.points.take()) {
        (Some(axes), None) => (expand(axes)?, "parameters"),
        (None, Some(points)) if !points.is_empty() && points.len() <= MAX_TRIALS => (points, "points"),
        (None, Some(points)) => {
            return Err(invalid("points", format!("points must list 1 to {MAX_TRIALS} sets, not {}", points.len())));
        }
        (Some(_), Some(_)) => return Err(invalid("points", "give either parameters (axes) or points, not both")),
        (None, None) => {
            return Err(invalid("parameters", "give the axes (parameters) or the points to sweep over"));
        }
    };
    if !(1..=MAX_REPEAT).contains(&input.repeat) {
        return Err(invalid("repeat", format!("repeat must be from 1 to {MAX_REPEAT}, not {}", input.repeat)));
    }
    let trials = points.len() * input.repeat as usize;
    if trials > MAX_TRIALS {
        return Err(invalid(
            "repeat",
            format!(
                "{} points × repeat {} = {trials} trials; a sweep queues at most {MAX_TRIALS}",
                points.len(),
                input.repeat
            ),
        ));
    }
    let known = known_parameters(definition);
    for (index, point) in points.iter_mut().enumerate() {
        let at = if field == "points" { format!("points[{index}]") } else { "parameters".to_owned() };
        redact::restore_object(point, None, &at)?;
        if let Some(name) = point.keys().find(|name| !known.contains(*name)) {
            let field = if field == "points" { format!("{at}.{name}") } else { format!("parameters.{name}") };
            return Err(Error::invalid(
                "unknown_sweep_parameter",
                field,
                format!(
                    "'{name}' is not a parameter of the experiment: no template of its steps uses it and it declares \
                     no such parameter, so sweeping it would change nothing (the misarch section takes no templates)"
                ),
            ));
        }
    }
    Ok(points)
}

/// `POST /sweep`: checks the sweep and queues all its trials in one transaction, in its order.
pub async fn create(db: &Db, mut input: SweepInput, actor: &str) -> Result<Sweep> {
    redact::restore_object(&mut input.metadata, None, "metadata")?;
    let actor = actor.to_owned();
    let id = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let experiment = experiments::load_active(conn, input.experiment).map_err(|e| match e.code {
                    "experiment_not_found" => Error::invalid("experiment_not_found", "experiment", e.message),
                    _ => e.with_field("experiment"),
                })?;
                let definition = experiment.definition()?;
                let points = points_of(&mut input, &definition)?;
                queue(conn, &experiment, &definition, &input, &points, &actor)
            })
        })
        .await?;
    find(db, id).await
}

fn queue(
    conn: &mut DbConnection,
    experiment: &db::ExperimentRow,
    definition: &Definition,
    input: &SweepInput,
    points: &[JsonObject],
    actor: &str,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let now = time::now();
    let row = SweepRow {
        id: id.to_string(),
        experiment_id: experiment.id.clone(),
        axes: input.parameters.as_ref().map(to_text),
        points: to_text(&points),
        repetitions: i64::from(input.repeat),
        run_order: input.order.as_str().to_owned(),
        metadata: to_text(&input.metadata),
        initiated_from: input.initiated_from.clone(),
        created_by: actor.to_owned(),
        created_at: time::to_db(now),
        stopped_at: None,
        stopped_by: None,
    };
    db::sweeps::insert(conn, &row)?;
    for (position, (point, repetition)) in input.order.plan(points.len(), input.repeat).into_iter().enumerate() {
        let mut metadata = input.metadata.clone();
        metadata.insert("sweep".into(), id.to_string().into());
        metadata.insert("sweep_point".into(), point.into());
        let new = NewTrial {
            experiment_id: input.experiment,
            schedule_id: None,
            parameters: points[point].clone(),
            metadata,
            ticket: JsonObject::new(),
            scheduled_for: Some(now),
            initiated_by: actor.to_owned(),
            initiated_from: input.initiated_from.clone(),
            sweep: Some(SweepPlace { id, point: point as i64, repetition: i64::from(repetition) }),
            queued_at: Some(now + chrono::Duration::microseconds(position as i64)),
            dry_run: false,
        };
        trials::queue_of(conn, experiment, definition, new)?;
    }
    Ok(id)
}

fn summary(row: SweepRow, counts: &[(String, i64)]) -> Result<SweepSummary> {
    let progress = Progress::of(counts)?;
    let status = if row.stopped_at.is_some() {
        SweepStatus::Stopped
    } else if progress.queued + progress.running == 0 {
        SweepStatus::Completed
    } else if progress.queued == progress.total {
        SweepStatus::Queued
    } else {
        SweepStatus::Running
    };
    let points: Vec<Value> = from_text(&row.points)?;
    let points = points
        .iter()
        .map(|point| match redact(point) {
            Value::Object(point) => Ok(point),
            _ => Err(Error::internal("a stored sweep point is not an object")),
        })
        .collect::<Result<_>>()?;
    Ok(SweepSummary {
        links: SweepLinks {
            compare: format!("/api/v1/sweep/{}/compare", row.id),
            page: format!("/api/v1/sweep/{}/page", row.id),
        },
        id: parse_id(&row.id)?,
        experiment: parse_id(&row.experiment_id)?,
        parameters: from_optional_text(row.axes.as_deref())?,
        points,
        repeat: row.repetitions,
        order: SweepOrder::parse(&row.run_order)?,
        metadata: match redact(&from_text(&row.metadata)?) {
            Value::Object(metadata) => metadata,
            _ => return Err(Error::internal("a sweep's stored metadata is not an object")),
        },
        initiated_from: row.initiated_from,
        created_by: row.created_by,
        created_at: time::from_db(row.created_at),
        stopped_at: row.stopped_at.map(time::from_db),
        stopped_by: row.stopped_by,
        status,
        progress,
    })
}

/// `GET /sweep/{id}`: the sweep, its trials in running order and its results table.
pub async fn find(db: &Db, id: Uuid) -> Result<Sweep> {
    db.run(move |conn| {
        let key = id.to_string();
        let row = db::sweeps::find(conn, &key)?.ok_or_else(|| sweep_not_found(id))?;
        let figures = trials::figures::of_sweep(conn, &key)?;
        let counts = count_statuses(figures.iter().map(|f| f.status));
        let summary = summary(row, &counts)?;
        let trials = figures
            .iter()
            .map(|f| SweepTrial {
                trial: f.trial,
                point: f.sweep_point.unwrap_or_default(),
                repetition: f.sweep_repetition.unwrap_or_default(),
                status: f.status,
                score: f.metrics.score,
            })
            .collect();
        let results = results::table(&summary.points, &figures);
        Ok(Sweep { summary, trials, results })
    })
    .await
}

fn count_statuses(statuses: impl Iterator<Item = TrialStatus>) -> Vec<(String, i64)> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for status in statuses {
        *counts.entry(status.as_str().to_owned()).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// The figures of a sweep's trials, in running order (its comparison).
pub async fn figures(db: &Db, id: Uuid) -> Result<(SweepSummary, Vec<crate::research::TrialFigures>)> {
    db.run(move |conn| {
        let key = id.to_string();
        let row = db::sweeps::find(conn, &key)?.ok_or_else(|| sweep_not_found(id))?;
        let figures = trials::figures::of_sweep(conn, &key)?;
        let summary = summary(row, &count_statuses(figures.iter().map(|f| f.status)))?;
        Ok((summary, figures))
    })
    .await
}

/// `GET /sweep`: a page of sweeps, oldest first, with their progress read in one query.
pub async fn list(db: &Db, experiment: Option<Uuid>, page: PageRequest) -> Result<Page<SweepSummary>> {
    db.run(move |conn| {
        let experiment = experiment.map(|id| id.to_string());
        let page = db::sweeps::list(conn, experiment.as_deref(), &page)?;
        let ids: Vec<String> = page.items.iter().map(|row| row.id.clone()).collect();
        let counts = db::trials::sweep_progress(conn, &ids)?;
        page.map(|row| {
            let mine: Vec<(String, i64)> =
                counts.iter().filter(|(id, _, _)| *id == row.id).map(|(_, status, n)| (status.clone(), *n)).collect();
            summary(row, &mine)
        })
    })
    .await
}

/// `PUT /sweep/{id}/stop`: the sweep is marked stopped, its queued trials become `Stopped` and its running one
/// `Stop Initiated` (the worker stops it with its clean-up). Repeating it is harmless. Returns the sweep and how
/// many queued trials were stopped.
pub async fn stop(db: &Db, id: Uuid, actor: &str, webhooks: std::sync::Arc<WebhookConfig>) -> Result<(Sweep, u64)> {
    let actor = actor.to_owned();
    let stopped = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let key = id.to_string();
                db::sweeps::find(conn, &key)?.ok_or_else(|| sweep_not_found(id))?;
                db::sweeps::set_stopped(conn, &key, &actor, time::to_db(time::now()))?;
                let queued = format!("stopped with its sweep {id} before it started");
                let running = trials::stop_requested_because(&format!("its sweep {id} was stopped"));
                let reasons = StopReasons { queued: &queued, running: &running };
                let mut stopped = 0;
                for row in db::trials::of_sweep(conn, &key)? {
                    if trials::stop_row(conn, &row, &webhooks, reasons)? == Some(TrialStatus::Scheduled) {
                        stopped += 1;
                    }
                }
                Ok(stopped)
            })
        })
        .await?;
    Ok((find(db, id).await?, stopped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn axes_expand_to_their_cartesian_product_last_name_fastest() {
        let axes: BTreeMap<String, Vec<Value>> =
            serde_json::from_value(json!({"users": [10, 50], "delay": [0, 200, 400]})).unwrap();
        let points = expand(&axes).unwrap();
        assert_eq!(points.len(), 6);
        assert_eq!(Value::Object(points[0].clone()), json!({"delay": 0, "users": 10}));
        assert_eq!(Value::Object(points[1].clone()), json!({"delay": 0, "users": 50}));
        assert_eq!(Value::Object(points[5].clone()), json!({"delay": 400, "users": 50}));
    }

    #[test]
    fn the_orders_are_rounds_or_groups() {
        assert_eq!(SweepOrder::Interleaved.plan(2, 2), [(0, 1), (1, 1), (0, 2), (1, 2)]);
        assert_eq!(SweepOrder::Grouped.plan(2, 2), [(0, 1), (0, 2), (1, 1), (1, 2)]);
    }

    #[test]
    fn empty_and_oversized_axes_are_refused_with_their_field() {
        let empty: BTreeMap<String, Vec<Value>> = serde_json::from_value(json!({"users": []})).unwrap();
        assert_eq!(expand(&empty).unwrap_err().field.as_deref(), Some("parameters.users"));
        assert_eq!(expand(&BTreeMap::new()).unwrap_err().field.as_deref(), Some("parameters"));
        let values: Vec<Value> = (0..40).map(Value::from).collect();
        let big: BTreeMap<String, Vec<Value>> =
            [("a", &values), ("b", &values)].into_iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
        let error = expand(&big).unwrap_err();
        assert!(error.message.contains("more than 1000 points"), "{}", error.message);
    }
}
