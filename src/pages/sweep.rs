//! A sweep's page: each key metric against the swept parameter, the mean of a point's repetitions drawn with their
//! range (least to greatest), and the results table.
//!
//! The x axis is the swept parameter's values when the sweep has one axis and its values are all numbers (so 10,
//! 50 and 100 users sit at their distances); otherwise each point is a category labelled `name=value, …`.

use serde_json::Value;

use super::html::{Cell, escape, facts, link, parameters_text, status, table};
use super::svg::{DataPoint, LineChart, Series, XAxis, number};
use crate::research::KeyMetric;
use crate::sweeps::Sweep;

/// The metrics drawn, in this order, when any point measured them.
const CHARTED: [KeyMetric; 8] = [
    KeyMetric::P95,
    KeyMetric::P99,
    KeyMetric::P50,
    KeyMetric::ErrorPercent,
    KeyMetric::Throughput,
    KeyMetric::Max,
    KeyMetric::Score,
    KeyMetric::Duration,
];

pub fn render(sweep: &Sweep, experiment_name: &str) -> String {
    let summary = &sweep.summary;
    let heading = format!(
        "<h1>{}</h1><p>Sweep <code>{}</code> {}</p>",
        escape(experiment_name),
        summary.id,
        status(
            &serde_json::to_value(summary.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
        )
    );
    let progress = &summary.progress;
    let mut body = facts(&[
        ("experiment", link(&format!("/api/v1/experiment/{}", summary.experiment), &summary.experiment.to_string())),
        ("points", format!("{} × {} repetition(s)", summary.points.len(), summary.repeat)),
        ("progress", format!("{} ended, {} running, {} queued", progress.ended, progress.running, progress.queued)),
        ("created", escape(&format!("{} by {}", summary.created_at.to_rfc3339(), summary.created_by))),
        (
            "links",
            [
                link(&format!("/api/v1/sweep/{}", summary.id), "JSON"),
                link(&summary.links.compare, "comparison"),
                link(&format!("{}?format=csv", summary.links.compare), "CSV"),
            ]
            .join(" · "),
        ),
    ]);
    let x_axis = x_axis(sweep);
    let x_of = |point: usize| match &x_axis {
        XAxis::Numbers(name) => summary.points[point].get(name).and_then(Value::as_f64).unwrap_or(point as f64),
        _ => point as f64,
    };
    let mut charts = 0;
    for metric in CHARTED {
        let points: Vec<DataPoint> = sweep
            .results
            .iter()
            .filter_map(|result| {
                let spread = result.metrics.get(&metric)?;
                Some(DataPoint {
                    x: x_of(result.point),
                    y: Some(spread.mean),
                    range: Some((spread.min, spread.max)),
                    note: Some(format!(
                        "{}: mean {} {unit}, {} to {}, sd {} over {} trial(s)",
                        parameters_text(&result.parameters),
                        number(spread.mean),
                        number(spread.min),
                        number(spread.max),
                        number(spread.stddev),
                        spread.count,
                        unit = metric.unit()
                    )),
                })
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        charts += 1;
        let chart = LineChart {
            id: format!("sweep-{metric}"),
            title: format!("{metric} against the swept parameters (mean, least to greatest)"),
            x_axis: x_axis.clone(),
            y_label: metric.unit().to_owned(),
            series: vec![Series { name: metric.to_string(), points, dots: true }],
            windows: vec![],
            markers: vec![],
            reference: None,
        };
        body.push_str(&chart.render());
    }
    if charts == 0 {
        body.push_str(r#"<p class="muted">No trial of the sweep has measured anything yet.</p>"#);
    }
    body.push_str("<h2>Results</h2>");
    body.push_str(&results_table(sweep));
    super::html::document(&format!("{experiment_name}: sweep {}", summary.id), &heading, &body)
}

fn x_axis(sweep: &Sweep) -> XAxis {
    let summary = &sweep.summary;
    if let Some(axes) = &summary.parameters
        && axes.len() == 1
        && let Some((name, values)) = axes.iter().next()
        && values.iter().all(Value::is_number)
    {
        return XAxis::Numbers(name.clone());
    }
    XAxis::Labels(summary.points.iter().map(parameters_text).collect())
}

fn results_table(sweep: &Sweep) -> String {
    let spread = |result: &crate::sweeps::results::PointResult, metric: KeyMetric| {
        Cell::Number(result.metrics.get(&metric).map_or("–".to_owned(), |s| {
            if s.count > 1 { format!("{} ± {}", number(s.mean), number(s.stddev)) } else { number(s.mean) }
        }))
    };
    let rows: Vec<Vec<Cell>> = sweep
        .results
        .iter()
        .map(|result| {
            let statuses: Vec<String> = result.statuses.iter().map(|(status, n)| format!("{n} {status}")).collect();
            vec![
                Cell::Number(result.point.to_string()),
                Cell::Text(parameters_text(&result.parameters)),
                Cell::Text(statuses.join(", ")),
                spread(result, KeyMetric::Throughput),
                spread(result, KeyMetric::ErrorPercent),
                spread(result, KeyMetric::P50),
                spread(result, KeyMetric::P95),
                spread(result, KeyMetric::P99),
                spread(result, KeyMetric::Score),
            ]
        })
        .collect();
    table(&["point", "parameters", "trials", "req/s", "error %", "p50 ms", "p95 ms", "p99 ms", "score"], &rows)
}
