//! A trial's report page: what ran, what it measured and how it was judged, in pictures.
//!
//! - **Response time percentiles** (OK requests: 50th, 75th, 95th, 99th) and **throughput** (requests sent,
//!   OK and KO responses per second) over the workload, from the Gatling series in the trial's `metrics`, with each
//!   MiSArch failure set's window shaded. A set's window runs from when it was applied to when the next set was
//!   (settings hold until a later set overwrites them) or to the end of the workload. Windows are placed by their
//!   offset from T0 (the barrier's release, when Gatling's main run starts), so the clocks of the Gatling host and
//!   of eris need not agree.
//! - **The timeline**: every step, MiSArch phase and failure set on its row, coloured by outcome, T0 marked.
//! - **Goals against their thresholds**, one row each.
//! - Tables: the key metrics (all requests and each request), the regressions, the steps with their outcomes.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::html::{Cell, escape, facts, link, parameters_text, status, table};
use super::svg::{Bar, Bars, DataPoint, LineChart, Series, Span, Timeline, Window, XAxis, number};
use crate::executor::record::{FailureRecord, StepRecord, TrialRecord};
use crate::misarch::gatling::{GatlingMetrics, PercentilePoint};
use crate::misarch::goals::{Bound, EvaluatedGoal, GoalSource};
use crate::research::metrics::{KeyMetrics, Workload};
use crate::trials::Trial;

/// The percentiles drawn, of Gatling's ten, with their names on the page. Not the maximum: one slow request a
/// second would hide every other line under its spikes (the key metrics table has it).
const DRAWN_PERCENTILES: [(&str, &str); 4] = [("50%", "p50"), ("75%", "p75"), ("95%", "p95"), ("99%", "p99")];

pub fn render(trial: &Trial) -> String {
    let record: TrialRecord = serde_json::from_value(trial.trial_record.clone()).unwrap_or_default();
    let metrics: Option<GatlingMetrics> = trial.metrics.clone().and_then(|m| serde_json::from_value(m).ok());
    let goals: Vec<EvaluatedGoal> =
        trial.goals.clone().and_then(|goals| serde_json::from_value(goals).ok()).unwrap_or_default();
    let name = &trial.experiment_snapshot.name;

    let heading = format!(
        "<h1>{}</h1><p>Trial <code>{}</code> {}{}</p>",
        escape(name),
        trial.id,
        status(trial.status.as_str()),
        trial
            .status_reason
            .as_deref()
            .map(|reason| format!(" <span class=\"muted\">{}</span>", escape(reason)))
            .unwrap_or_default()
    );
    let mut body = summary(trial);
    body.push_str("<h2>Workload</h2>");
    match &metrics {
        Some(metrics) => body.push_str(&workload_charts(metrics, &record)),
        None => body.push_str(r#"<p class="muted">This trial measured no workload (no MiSArch run, no <code>load.http</code> step), or not yet.</p>"#),
    }
    body.push_str("<h2>Timeline</h2>");
    body.push_str(&timeline(trial, &record));
    if !goals.is_empty() {
        body.push_str("<h2>Goals</h2>");
        body.push_str(&goal_bars(&goals).render());
    }
    if let Some(value) = &trial.metrics {
        body.push_str("<h2>Key metrics</h2>");
        body.push_str(&key_metrics_table(value));
    }
    if let Some(regressions) = trial.regressions.as_ref().filter(|r| !r.is_empty()) {
        body.push_str("<h2>Regressions</h2>");
        let rows: Vec<Vec<Cell>> = regressions
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.metric.to_string()),
                    Cell::Worse(format!("{} {}", number(r.value), r.metric.unit())),
                    Cell::Number(format!("{} {}", number(r.median), r.metric.unit())),
                    Cell::Number(r.worse_by_percent.map_or("–".to_owned(), |p| format!("{} %", number(p)))),
                    Cell::Number(r.compared_with.to_string()),
                ]
            })
            .collect();
        body.push_str(&table(&["metric", "this trial", "median before", "worse by", "trials compared"], &rows));
    }
    body.push_str("<h2>Steps</h2>");
    body.push_str(&steps_table(&record));
    super::html::document(&format!("{name}: trial {}", trial.id), &heading, &body)
}

fn summary(trial: &Trial) -> String {
    let at = |time: Option<DateTime<Utc>>| time.map_or("–".to_owned(), |t| t.to_rfc3339());
    let duration = match (trial.executed_at, trial.completed_at) {
        (Some(start), Some(end)) => super::svg::elapsed((end - start).num_milliseconds() as f64 / 1000.0),
        _ => "–".to_owned(),
    };
    let score = trial.score.as_ref().map_or("–".to_owned(), |score| {
        format!(
            "{} (goals {}/{}, expectations {}/{})",
            number(score.value),
            score.goals.passed,
            score.goals.total,
            score.expectations.passed,
            score.expectations.total
        )
    });
    let id = trial.id;
    let mut links =
        vec![link(&format!("/api/v1/trial/{id}"), "JSON"), link(&format!("/api/v1/trial/{id}/report"), "report")];
    if trial.experiment_snapshot.misarch.is_some() && trial.metrics.is_some() {
        links.push(link(&format!("/api/v1/trial/{id}/gatling/index.html"), "Gatling report"));
    }
    if let Some(url) = &trial.grafana_url {
        links.push(format!(r#"<a href="{}">Grafana</a>"#, escape(url)));
    }
    links.push(link(&format!("/api/v1/experiment/{}/trend/page", trial.experiment), "experiment trend"));
    let mut pairs = vec![
        ("experiment", link(&format!("/api/v1/experiment/{}", trial.experiment), &trial.experiment.to_string())),
        ("scheduled for", escape(&trial.scheduled_for.to_rfc3339())),
        ("ran", format!("{} → {}", escape(&at(trial.executed_at)), escape(&at(trial.completed_at)))),
        ("duration", escape(&duration)),
        ("initiated by", escape(&format!("{} ({})", trial.initiated_by, trial.initiated_from))),
        ("resilience score", escape(&score)),
    ];
    if !trial.parameters.is_empty() {
        pairs.push(("parameters", escape(&parameters_text(&trial.parameters))));
    }
    if let Some(schedule) = trial.schedule_id {
        pairs.push(("schedule", escape(&schedule.to_string())));
    }
    if let Some(sweep) = &trial.sweep {
        pairs.push((
            "sweep",
            format!(
                "{}, point {}, repetition {}",
                link(&format!("/api/v1/sweep/{}/page", sweep.id), &sweep.id.to_string()),
                sweep.point,
                sweep.repetition
            ),
        ));
    }
    pairs.push(("links", links.join(" · ")));
    facts(&pairs)
}

/// The two workload charts, on one x axis: seconds from the first point of the series.
fn workload_charts(metrics: &GatlingMetrics, record: &TrialRecord) -> String {
    let series = &metrics.series;
    let Some(origin) = series.requests.first().map(|p| p.time_ms).or(series.percentiles.first().map(|p| p.time_ms))
    else {
        return r#"<p class="muted">The workload has no time series.</p>"#.to_owned();
    };
    let seconds = |time_ms: i64| (time_ms - origin) as f64 / 1000.0;
    let end = series
        .requests
        .last()
        .map(|p| p.time_ms)
        .into_iter()
        .chain(series.percentiles.last().map(|p| p.time_ms))
        .map(seconds)
        .fold(0.0, f64::max);
    let windows = failure_windows(record, end);
    let mut html = String::new();
    if series.percentiles.is_empty() {
        html.push_str(
            r#"<p class="muted">No percentiles over time: the metrics were stored before eris kept them.</p>"#,
        );
    } else {
        let percentile_series = DRAWN_PERCENTILES
            .iter()
            .map(|(label, name)| Series {
                name: (*name).to_owned(),
                points: series
                    .percentiles
                    .iter()
                    .map(|p: &PercentilePoint| DataPoint::at(seconds(p.time_ms), p.value(label)))
                    .collect(),
                dots: false,
            })
            .collect();
        let chart = LineChart {
            id: "percentiles".into(),
            title: "Response time percentiles over time (OK requests)".into(),
            x_axis: XAxis::Elapsed,
            y_label: "ms".into(),
            series: percentile_series,
            windows: windows.clone(),
            markers: vec![],
            reference: None,
        };
        html.push_str(&chart.render());
    }
    let rate = |name: &str, points: Vec<DataPoint>| Series { name: name.to_owned(), points, dots: false };
    let chart = LineChart {
        id: "throughput".into(),
        title: "Throughput".into(),
        x_axis: XAxis::Elapsed,
        y_label: "per second".into(),
        series: vec![
            rate("requests sent", series.requests.iter().map(|p| DataPoint::at(seconds(p.time_ms), p.all)).collect()),
            rate("responses OK", series.responses.iter().map(|p| DataPoint::at(seconds(p.time_ms), p.ok)).collect()),
            rate("responses KO", series.responses.iter().map(|p| DataPoint::at(seconds(p.time_ms), p.ko)).collect()),
        ],
        windows,
        markers: vec![],
        reference: None,
    };
    html.push_str(&chart.render());
    html
}

/// Each applied MiSArch failure set that injects something, from its offset from T0 to when the next set was applied
/// (a later set overwrites it, a reset clears it), or to `end`.
fn failure_windows(record: &TrialRecord, end: f64) -> Vec<Window> {
    let Some(misarch) = &record.misarch else { return Vec::new() };
    let Some(t0) = misarch.started_at else { return Vec::new() };
    let from_t0 = |at: DateTime<Utc>| (at - t0).num_milliseconds() as f64 / 1000.0;
    let applied = applied_sets(&misarch.failures);
    applied
        .iter()
        .enumerate()
        .filter(|(_, (_, failure))| failure.injects)
        .map(|(index, (at, failure))| {
            let to = applied.get(index + 1).map_or(end, |(next, _)| from_t0(*next));
            Window { from: from_t0(*at), to: to.max(from_t0(*at)), label: failure.description.clone() }
        })
        .collect()
}

/// The failure sets that were applied, with when, in the order they were.
fn applied_sets(failures: &[FailureRecord]) -> Vec<(DateTime<Utc>, &FailureRecord)> {
    failures.iter().filter_map(|failure| Some((failure.applied_at?, failure))).collect()
}

fn timeline(trial: &Trial, record: &TrialRecord) -> String {
    let steps = || record.pre_steps.iter().chain(&record.steps).chain(&record.post_steps);
    let first = steps()
        .map(|s| s.started_at)
        .chain(record.misarch.iter().flat_map(|m| m.phases.iter().map(|p| p.started_at)))
        .min();
    let Some(origin) = trial.executed_at.or(first) else {
        return r#"<p class="muted">Nothing has run yet.</p>"#.to_owned();
    };
    let last = trial.completed_at.or_else(|| {
        steps()
            .filter_map(|s| s.finished_at)
            .chain(record.misarch.iter().flat_map(|m| m.phases.iter().filter_map(|p| p.finished_at)))
            .max()
    });
    let offset = |at: DateTime<Utc>| (at - origin).num_milliseconds() as f64 / 1000.0;
    let end_of = |finished: Option<DateTime<Utc>>, started: DateTime<Utc>| offset(finished.or(last).unwrap_or(started));
    let mut spans = Vec::new();
    for (phase, list) in
        [("pre_steps", &record.pre_steps), ("steps", &record.steps), ("post_steps", &record.post_steps)]
    {
        for (index, step) in list.iter().enumerate() {
            spans.push(step_span(
                phase,
                index,
                step,
                offset(step.started_at),
                end_of(step.finished_at, step.started_at),
            ));
        }
    }
    let mut instants = Vec::new();
    if let Some(misarch) = &record.misarch {
        for phase in &misarch.phases {
            spans.push(Span {
                row: format!("MiSArch {}", phase.phase),
                from: offset(phase.started_at),
                to: end_of(phase.finished_at, phase.started_at),
                outcome: outcome_word(&phase.outcome),
                note: format!("MiSArch {}: {}", phase.phase, outcome_word(&phase.outcome)),
            });
        }
        if let Some(t0) = misarch.started_at {
            instants.push((offset(t0), "T0: every component registered, the workload starts".to_owned()));
            let run_end = last.map(offset).unwrap_or(offset(t0));
            let applied = applied_sets(&misarch.failures);
            for (index, (at, failure)) in applied.iter().enumerate() {
                if !failure.injects {
                    instants.push((offset(*at), failure.description.clone()));
                    continue;
                }
                let to = applied.get(index + 1).map_or(run_end, |(next, _)| offset(*next));
                spans.push(Span {
                    row: format!("failure set at T0+{} s", failure.at_secs),
                    from: offset(*at),
                    to: to.max(offset(*at)),
                    outcome: "failure-set".to_owned(),
                    note: failure.description.clone(),
                });
            }
        }
    }
    if spans.is_empty() {
        return r#"<p class="muted">Nothing has run yet.</p>"#.to_owned();
    }
    Timeline { id: "timeline".into(), title: "Steps and phases".into(), spans, instants }.render()
}

fn step_span(phase: &str, index: usize, step: &StepRecord, from: f64, to: f64) -> Span {
    let name = step.step.as_deref().unwrap_or(&step.step_name);
    let outcome = outcome_word(&step.outcome);
    let error = step.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
    Span {
        row: format!("{phase}[{index}] {name}"),
        from,
        to: to.max(from),
        note: format!("{phase}[{index}] {} ({}), {outcome}{error}", name, step.r#do),
        outcome,
    }
}

fn outcome_word(outcome: &impl serde::Serialize) -> String {
    serde_json::to_value(outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn goal_bars(goals: &[EvaluatedGoal]) -> Bars {
    let bars = goals
        .iter()
        .map(|goal| Bar {
            label: match goal.source {
                GoalSource::User => goal.metric.label().to_owned(),
                GoalSource::SteadyState => format!("{} (steady state)", goal.metric.label()),
            },
            actual: goal.actual,
            threshold: goal.threshold,
            violated: goal.violated,
            bound: match goal.bound {
                Bound::Upper => "upper".to_owned(),
                Bound::Lower => "lower".to_owned(),
            },
            unit: if goal.metric.is_percentage() { "%".to_owned() } else { "ms".to_owned() },
        })
        .collect();
    Bars { id: "goals".into(), title: "Goals against their thresholds".into(), bars }
}

fn key_metrics_table(metrics: &Value) -> String {
    let key = KeyMetrics::new(Some(metrics), None, None);
    let row = |name: &str, w: &Workload| {
        let cell = |value: Option<f64>| Cell::Number(value.map_or("–".to_owned(), number));
        vec![
            Cell::Text(name.to_owned()),
            cell(w.requests),
            cell(w.throughput),
            cell(w.error_percent),
            cell(w.p50),
            cell(w.p75),
            cell(w.p95),
            cell(w.p99),
            cell(w.mean),
            cell(w.max),
        ]
    };
    let mut rows: Vec<Vec<Cell>> = key.workload.iter().map(|w| row("all requests", w)).collect();
    rows.extend(key.per_request.iter().map(|r| row(&r.name, &r.workload)));
    table(
        &["requests", "count", "req/s", "error %", "p50 ms", "p75 ms", "p95 ms", "p99 ms", "mean ms", "max ms"],
        &rows,
    )
}

fn steps_table(record: &TrialRecord) -> String {
    let mut rows = Vec::new();
    for (phase, list) in
        [("pre_steps", &record.pre_steps), ("steps", &record.steps), ("post_steps", &record.post_steps)]
    {
        for (index, step) in list.iter().enumerate() {
            let checks = step.expectations.len();
            let held = step.expectations.iter().filter(|e| e.passed).count();
            let took = step.finished_at.map_or("–".to_owned(), |end| {
                super::svg::elapsed((end - step.started_at).num_milliseconds() as f64 / 1000.0)
            });
            rows.push(vec![
                Cell::Text(format!("{phase}[{index}]")),
                Cell::Text(step.step.clone().unwrap_or_else(|| step.step_name.clone())),
                Cell::Html(format!("<code>{}</code>", escape(&step.r#do))),
                Cell::Html(status(&outcome_word(&step.outcome))),
                Cell::Number(took),
                Cell::Number(if checks == 0 { "–".to_owned() } else { format!("{held}/{checks}") }),
                Cell::Text(step.error.clone().unwrap_or_default()),
            ]);
        }
    }
    if rows.is_empty() {
        return r#"<p class="muted">No step has run.</p>"#.to_owned();
    }
    table(&["place", "step", "action", "outcome", "took", "expectations held", "error"], &rows)
}
