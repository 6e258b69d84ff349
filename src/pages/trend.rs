//! A trend's page: a metric over successive trials (the nightly runs of a schedule, say), each trial a dot, the
//! trials flagged as a regression in this metric circled in red, and the median over the points as a dashed line.

use super::html::{Cell, escape, facts, link, status, table};
use super::svg::{DataPoint, LineChart, Marker, Series, XAxis, number};
use crate::research::trend::Trend;

/// What the trend is of, for the heading and the links.
pub struct Subject<'a> {
    /// The experiment's name, and the schedule's id when the trend is one schedule's.
    pub experiment_name: &'a str,
    pub schedule: Option<String>,
    /// The JSON form of the same trend (`…/trend?metric=…`).
    pub json_path: String,
}

pub fn render(trend: &Trend, subject: &Subject) -> String {
    let metric = trend.metric;
    let of = match &subject.schedule {
        Some(schedule) => format!("schedule <code>{}</code> of {}", escape(schedule), escape(subject.experiment_name)),
        None => escape(subject.experiment_name),
    };
    let heading = format!("<h1>{} over time</h1><p>{of}</p>", escape(metric.as_str()));
    let range = match (trend.min, trend.max) {
        (Some(min), Some(max)) => format!("{} to {} {}", number(min), number(max), metric.unit()),
        _ => "–".to_owned(),
    };
    let mut body = facts(&[
        ("trials", trend.points.len().to_string()),
        ("median", trend.median.map_or("–".to_owned(), |m| format!("{} {}", number(m), metric.unit()))),
        ("range", escape(&range)),
        ("regressions in this metric", trend.regressions.to_string()),
        ("links", link(&subject.json_path, "JSON")),
    ]);
    let x = |point: &crate::research::trend::TrendPoint| point.at.timestamp_millis() as f64;
    let points = trend
        .points
        .iter()
        .map(|point| DataPoint {
            x: x(point),
            y: point.value,
            range: None,
            note: Some(format!(
                "{}: {} {} ({})",
                point.at.format("%Y-%m-%d %H:%M UTC"),
                point.value.map_or("–".to_owned(), number),
                metric.unit(),
                point.status.as_str()
            )),
        })
        .collect();
    let markers = trend
        .points
        .iter()
        .filter_map(|point| {
            let regression = point.regression.as_ref()?;
            Some(Marker {
                x: x(point),
                y: regression.value,
                label: format!(
                    "regression: {} {} against a median of {} over {} trial(s)",
                    number(regression.value),
                    metric.unit(),
                    number(regression.median),
                    regression.compared_with
                ),
            })
        })
        .collect();
    let chart = LineChart {
        id: format!("trend-{metric}"),
        title: format!("{metric} of each trial, regressions circled"),
        x_axis: XAxis::Instants,
        y_label: metric.unit().to_owned(),
        series: vec![Series { name: metric.to_string(), points, dots: true }],
        windows: vec![],
        markers,
        reference: trend.median.map(|median| (median, format!("median {} {}", number(median), metric.unit()))),
    };
    if trend.points.is_empty() {
        body.push_str(r#"<p class="muted">No trial has ended yet.</p>"#);
    } else {
        body.push_str(&chart.render());
    }
    body.push_str("<h2>Trials</h2>");
    let rows: Vec<Vec<Cell>> = trend
        .points
        .iter()
        .rev()
        .map(|point| {
            let value = point.value.map_or("–".to_owned(), number);
            vec![
                Cell::Html(link(
                    &format!("/api/v1/trial/{}/page", point.trial),
                    &point.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                )),
                Cell::Html(status(point.status.as_str())),
                if point.regression.is_some() { Cell::Worse(value) } else { Cell::Number(value) },
                Cell::Number(point.score.map_or("–".to_owned(), number)),
                Cell::Text(point.regressions.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")),
            ]
        })
        .collect();
    let value_header = format!("{metric} ({})", metric.unit());
    body.push_str(&table(&["trial (UTC)", "status", &value_header, "score", "flagged in"], &rows));
    super::html::document(&format!("{}: {metric} trend", subject.experiment_name), &heading, &body)
}
