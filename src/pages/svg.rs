//! Charts drawn on the server as SVG, for the report pages: no script and nothing fetched, so a page renders offline,
//! saved to a file as well as served, and the same everywhere.
//!
//! Three kinds, each a plain value rendered by `render`:
//! - [`LineChart`]: series over x (seconds from a start, instants, or the points of a sweep), with shaded windows,
//!   a reference line, markers, and per point a range (the spread of a sweep's repetitions);
//! - [`Timeline`]: spans on rows (the steps of a trial) with instants marked;
//! - [`Bars`]: one row per goal, the measured value against its threshold.
//!
//! What a reader (or a test in a browser) needs to find is named: every element carries a class (`series`, `point`,
//! `range`, `window`, `marker`, `span`, `bar`, `threshold`), and `data-*` attributes with the values drawn.

use std::fmt::Write;

use chrono::DateTime;

use super::html::escape;

/// The width of every chart's coordinate system; the page scales it to the width of the screen.
const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 40.0;

/// How the x values of a chart read.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// Seconds from a start: `0:30`, `12:00`, `1:02:03`.
    Elapsed,
    /// Epoch milliseconds, shown as UTC dates and times.
    Instants,
    /// The values of one numeric parameter, named.
    Numbers(String),
    /// Categories at 0, 1, 2, …, with these labels.
    Labels(Vec<String>),
}

impl XAxis {
    /// The label of `x` on an axis that spans `span` (in x's unit).
    fn label(&self, x: f64, span: f64) -> String {
        match self {
            Self::Elapsed => elapsed(x),
            Self::Instants => {
                // As fine as the axis needs: seconds over minutes, minutes over days, days beyond.
                let format = if span < 600_000.0 {
                    "%H:%M:%S"
                } else if span < 2.0 * 86_400_000.0 {
                    "%m-%d %H:%M"
                } else {
                    "%Y-%m-%d"
                };
                DateTime::from_timestamp_millis(x as i64).map(|at| at.format(format).to_string()).unwrap_or_default()
            }
            Self::Numbers(_) => number(x),
            Self::Labels(labels) => labels.get(x as usize).cloned().unwrap_or_default(),
        }
    }

    fn title(&self) -> String {
        match self {
            Self::Elapsed => "time from the start".to_owned(),
            Self::Instants => "when the trial ran (UTC)".to_owned(),
            Self::Numbers(name) => name.clone(),
            Self::Labels(_) => "point".to_owned(),
        }
    }

    fn ticks(&self, min: f64, max: f64) -> Vec<f64> {
        match self {
            Self::Labels(labels) => (0..labels.len()).map(|index| index as f64).collect(),
            Self::Elapsed => {
                // Whole seconds, minutes or hours: 1, 2, 5, 10, 15, 30 of them.
                let span = (max - min).max(1.0);
                let steps = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0];
                let step = steps.into_iter().find(|step| span / step <= 8.0).unwrap_or(7200.0);
                stepped(min, max, step)
            }
            Self::Instants | Self::Numbers(_) => ticks(min, max, 6),
        }
    }
}

/// One value of a series; `y` is `None` for a gap (a second without answers).
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    pub x: f64,
    pub y: Option<f64>,
    /// The spread around `y` (the least and greatest of a point's repetitions), drawn as a whisker.
    pub range: Option<(f64, f64)>,
    /// What a pointer over the point shows.
    pub note: Option<String>,
}

impl DataPoint {
    pub fn at(x: f64, y: Option<f64>) -> Self {
        Self { x, y, range: None, note: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name, in the legend and in `data-series`.
    pub name: String,
    pub points: Vec<DataPoint>,
    /// Draw a dot at every point (trends and sweeps), not only the line.
    pub dots: bool,
}

/// A shaded stretch of x: a failure set's window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

/// A point called out: a regression.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// The chart's id in the page (`data-chart`).
    pub id: String,
    pub title: String,
    pub x_axis: XAxis,
    pub y_label: String,
    pub series: Vec<Series>,
    pub windows: Vec<Window>,
    pub markers: Vec<Marker>,
    /// A horizontal line (the median of a trend), with its label.
    pub reference: Option<(f64, String)>,
}

impl LineChart {
    pub fn render(&self) -> String {
        let height = 320.0;
        let points = self.series.iter().flat_map(|series| &series.points);
        let xs: Vec<f64> =
            points.clone().map(|p| p.x).chain(self.windows.iter().flat_map(|w| [w.from, w.to])).collect();
        let ys: Vec<f64> = points
            .flat_map(|p| p.y.into_iter().chain(p.range.into_iter().flat_map(|(low, high)| [low, high])))
            .chain(self.reference.iter().map(|(y, _)| *y))
            .collect();
        let (x_min, x_max) = match &self.x_axis {
            XAxis::Labels(labels) => (-0.5, labels.len() as f64 - 0.5),
            _ => extent(&xs),
        };
        let (_, y_top) = extent(&ys);
        let y_ticks = ticks(0.0_f64.min(ys.iter().copied().fold(0.0, f64::min)), y_top * 1.05, 5);
        let y_min = y_ticks.first().copied().unwrap_or(0.0);
        let y_max = y_ticks.last().copied().unwrap_or(1.0).max(y_top);
        let x = Scale::new(x_min, x_max, LEFT, WIDTH - RIGHT);
        let y = Scale::new(y_min, y_max, height - BOTTOM, TOP);

        let mut svg = open(&self.id, "line", &self.title, height);
        for window in &self.windows {
            let (from, to) = (x.at(window.from.max(x_min)), x.at(window.to.min(x_max)));
            let _ = write!(
                svg,
                r#"<rect class="window" x="{:.1}" y="{TOP}" width="{:.1}" height="{:.1}" data-from="{}" data-to="{}"><title>{}</title></rect>"#,
                from,
                (to - from).max(1.0),
                height - BOTTOM - TOP,
                number(window.from),
                number(window.to),
                escape(&window.label)
            );
        }
        axes(&mut svg, &self.x_axis, &x, &y, &y_ticks, x_min, x_max, height, &self.y_label);
        if let Some((value, label)) = &self.reference {
            let at = y.at(*value);
            let _ = write!(
                svg,
                r#"<line class="reference" x1="{LEFT}" x2="{}" y1="{at:.1}" y2="{at:.1}" data-y="{}"><title>{}</title></line>"#,
                WIDTH - RIGHT,
                number(*value),
                escape(label)
            );
        }
        for (index, series) in self.series.iter().enumerate() {
            draw_series(&mut svg, series, index, &x, &y);
        }
        for marker in &self.markers {
            let _ = write!(
                svg,
                r#"<circle class="marker" cx="{:.1}" cy="{:.1}" r="7" data-x="{}" data-y="{}"><title>{}</title></circle>"#,
                x.at(marker.x),
                y.at(marker.y),
                number(marker.x),
                number(marker.y),
                escape(&marker.label)
            );
        }
        legend(&mut svg, self.series.iter().map(|s| s.name.as_str()), !self.windows.is_empty());
        svg.push_str("</svg>");
        svg
    }
}

fn draw_series(svg: &mut String, series: &Series, index: usize, x: &Scale, y: &Scale) {
    let class = format!("s{}", index % 6);
    // Gaps break the line: a second without answers is not a second at zero.
    let mut path = String::new();
    let mut pen_down = false;
    for point in &series.points {
        match point.y {
            Some(value) => {
                let _ = write!(path, "{}{:.1},{:.1}", if pen_down { "L" } else { "M" }, x.at(point.x), y.at(value));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let drawn = series.points.iter().filter(|p| p.y.is_some()).count();
    let _ = write!(
        svg,
        r#"<path class="series {class}" data-series="{}" data-points="{drawn}" d="{path}"/>"#,
        escape(&series.name)
    );
    for point in &series.points {
        let Some(value) = point.y else { continue };
        let note = point.note.as_deref().map(|note| format!("<title>{}</title>", escape(note))).unwrap_or_default();
        if let Some((low, high)) = point.range {
            let at = x.at(point.x);
            let _ = write!(
                svg,
                r#"<line class="range {class}" x1="{at:.1}" x2="{at:.1}" y1="{:.1}" y2="{:.1}" data-low="{}" data-high="{}">{note}</line>"#,
                y.at(low),
                y.at(high),
                number(low),
                number(high)
            );
        }
        if series.dots {
            let _ = write!(
                svg,
                r#"<circle class="point {class}" cx="{:.1}" cy="{:.1}" r="3.5" data-x="{}" data-y="{}">{note}</circle>"#,
                x.at(point.x),
                y.at(value),
                number(point.x),
                number(value)
            );
        }
    }
}

/// Spans on rows, over seconds from a start.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub id: String,
    pub title: String,
    pub spans: Vec<Span>,
    /// Instants marked across every row (T0, a failure set applied), with their labels.
    pub instants: Vec<(f64, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The row it is drawn on; spans with the same row share it.
    pub row: String,
    pub from: f64,
    pub to: f64,
    /// How it ended (`succeeded`, `failed`, …): its colour.
    pub outcome: String,
    pub note: String,
}

impl Timeline {
    pub fn render(&self) -> String {
        const ROW: f64 = 24.0;
        const LABELS: f64 = 230.0;
        let mut rows: Vec<&str> = Vec::new();
        for span in &self.spans {
            if !rows.contains(&span.row.as_str()) {
                rows.push(&span.row);
            }
        }
        let height = TOP + rows.len().max(1) as f64 * ROW + BOTTOM;
        let xs: Vec<f64> =
            self.spans.iter().flat_map(|s| [s.from, s.to]).chain(self.instants.iter().map(|(at, _)| *at)).collect();
        let (min, max) = extent(&xs);
        let x = Scale::new(min.min(0.0), max, LABELS, WIDTH - RIGHT);
        let mut svg = open(&self.id, "timeline", &self.title, height);
        for tick in XAxis::Elapsed.ticks(min.min(0.0), max) {
            let at = x.at(tick);
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{at:.1}" x2="{at:.1}" y1="{TOP}" y2="{:.1}"/><text class="tick" x="{at:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                height - BOTTOM,
                height - BOTTOM + 16.0,
                elapsed(tick)
            );
        }
        for (index, row) in rows.iter().enumerate() {
            let _ = write!(
                svg,
                r#"<text class="row-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LABELS - 8.0,
                TOP + index as f64 * ROW + ROW * 0.65,
                escape(&shorten(row, 34))
            );
        }
        for span in &self.spans {
            let row = rows.iter().position(|r| *r == span.row).unwrap_or(0);
            let (from, to) = (x.at(span.from), x.at(span.to));
            let _ = write!(
                svg,
                r#"<rect class="span {}" x="{from:.1}" y="{:.1}" width="{:.1}" height="{:.1}" data-row="{}" data-from="{}" data-to="{}"><title>{}</title></rect>"#,
                css_word(&span.outcome),
                TOP + row as f64 * ROW + 4.0,
                (to - from).max(2.0),
                ROW - 8.0,
                escape(&span.row),
                number(span.from),
                number(span.to),
                escape(&span.note)
            );
        }
        for (at, label) in &self.instants {
            let at_x = x.at(*at);
            let _ = write!(
                svg,
                r#"<line class="instant" x1="{at_x:.1}" x2="{at_x:.1}" y1="{:.1}" y2="{:.1}" data-at="{}"><title>{}</title></line>"#,
                TOP - 6.0,
                height - BOTTOM,
                number(*at),
                escape(label)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// One measured value against its threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    /// `None` when nothing was measured (Gatling's `-`).
    pub actual: Option<f64>,
    pub threshold: f64,
    pub violated: bool,
    /// `upper`: violated above the threshold; `lower`: below.
    pub bound: String,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    pub id: String,
    pub title: String,
    pub bars: Vec<Bar>,
}

impl Bars {
    /// Each row has its own scale, from 0 to a little past the larger of the value and the threshold: goals are in
    /// milliseconds and in percent side by side.
    pub fn render(&self) -> String {
        const ROW: f64 = 30.0;
        const LABELS: f64 = 300.0;
        const VALUES: f64 = 190.0;
        let height = TOP + self.bars.len().max(1) as f64 * ROW + 16.0;
        let mut svg = open(&self.id, "bars", &self.title, height);
        let (start, end) = (LABELS, WIDTH - VALUES);
        for (index, bar) in self.bars.iter().enumerate() {
            let top = TOP + index as f64 * ROW;
            let reach = bar.actual.unwrap_or(0.0).max(bar.threshold).max(f64::MIN_POSITIVE) * 1.15;
            let scale = Scale::new(0.0, reach, start, end);
            let verdict = if bar.violated { "violated" } else { "met" };
            let _ = write!(
                svg,
                r#"<text class="row-label" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LABELS - 8.0,
                top + ROW * 0.6,
                escape(&shorten(&bar.label, 44))
            );
            if let Some(actual) = bar.actual {
                let _ = write!(
                    svg,
                    r#"<rect class="bar {verdict}" x="{start:.1}" y="{:.1}" width="{:.1}" height="{:.1}" data-actual="{}" data-threshold="{}"><title>{}: {} {} (threshold {} {}, {})</title></rect>"#,
                    top + 6.0,
                    (scale.at(actual) - start).max(1.0),
                    ROW - 12.0,
                    number(actual),
                    number(bar.threshold),
                    escape(&bar.label),
                    number(actual),
                    escape(&bar.unit),
                    number(bar.threshold),
                    escape(&bar.unit),
                    verdict
                );
            }
            let at = scale.at(bar.threshold);
            let _ = write!(
                svg,
                r#"<line class="threshold" x1="{at:.1}" x2="{at:.1}" y1="{:.1}" y2="{:.1}" data-threshold="{}"/>"#,
                top + 2.0,
                top + ROW - 2.0,
                number(bar.threshold)
            );
            let measured =
                bar.actual.map_or("not measured".to_owned(), |actual| format!("{} {}", number(actual), bar.unit));
            let sign = if bar.bound == "lower" { "≥" } else { "≤" };
            let _ = write!(
                svg,
                r#"<text class="value {verdict}" x="{:.1}" y="{:.1}">{} (goal {sign} {})</text>"#,
                end + 10.0,
                top + ROW * 0.6,
                escape(&measured),
                number(bar.threshold)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

fn open(id: &str, kind: &str, title: &str, height: f64) -> String {
    format!(
        r#"<svg class="chart {kind}" data-chart="{}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><text class="title" x="{LEFT}" y="20">{}</text>"#,
        escape(id),
        escape(title),
        escape(title)
    )
}

#[allow(clippy::too_many_arguments)]
fn axes(
    svg: &mut String,
    x_axis: &XAxis,
    x: &Scale,
    y: &Scale,
    y_ticks: &[f64],
    x_min: f64,
    x_max: f64,
    height: f64,
    y_label: &str,
) {
    for tick in y_ticks {
        let at = y.at(*tick);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{at:.1}" y2="{at:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            at + 4.0,
            number(*tick)
        );
    }
    let x_ticks: Vec<f64> = x_axis.ticks(x_min, x_max).into_iter().filter(|t| *t >= x_min && *t <= x_max).collect();
    // Labels of many categories would overlap: every n-th is written.
    let every = (x_ticks.len() / 12).max(1);
    for (index, tick) in x_ticks.iter().enumerate() {
        let at = x.at(*tick);
        let _ = write!(
            svg,
            r#"<line class="axis" x1="{at:.1}" x2="{at:.1}" y1="{:.1}" y2="{:.1}"/>"#,
            height - BOTTOM,
            height - BOTTOM + 4.0
        );
        if index % every == 0 {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{at:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                height - BOTTOM + 16.0,
                escape(&shorten(&x_axis.label(*tick, x_max - x_min), 24))
            );
        }
    }
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{LEFT}" x2="{}" y1="{:.1}" y2="{:.1}"/><line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}"/>"#,
        WIDTH - RIGHT,
        height - BOTTOM,
        height - BOTTOM,
        height - BOTTOM
    );
    let _ = write!(
        svg,
        r#"<text class="axis-title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="axis-title" x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        height - 6.0,
        escape(&x_axis.title()),
        (TOP + height - BOTTOM) / 2.0,
        (TOP + height - BOTTOM) / 2.0,
        escape(y_label)
    );
}

fn legend<'a>(svg: &mut String, names: impl Iterator<Item = &'a str>, windows: bool) {
    let mut at = WIDTH - RIGHT;
    let mut items: Vec<(String, String)> =
        names.enumerate().map(|(i, name)| (format!("s{}", i % 6), name.to_owned())).collect();
    if windows {
        items.push(("key-window".to_owned(), "failure window".to_owned()));
    }
    for (class, name) in items.iter().rev() {
        let width = 22.0 + name.chars().count() as f64 * 6.6;
        at -= width;
        let _ = write!(
            svg,
            r#"<rect class="key {class}" x="{at:.1}" y="12" width="12" height="8"/><text class="legend" x="{:.1}" y="20">{}</text>"#,
            at + 16.0,
            escape(name)
        );
        at -= 8.0;
    }
}

/// A linear map from data to pixels.
#[derive(Debug, Clone, Copy)]
struct Scale {
    from: (f64, f64),
    to: (f64, f64),
}

impl Scale {
    fn new(min: f64, max: f64, to_min: f64, to_max: f64) -> Self {
        // A single value (one point, one trial) still needs a span to draw in.
        let (min, max) = if max > min { (min, max) } else { (min - 1.0, min + 1.0) };
        Self { from: (min, max), to: (to_min, to_max) }
    }

    fn at(&self, value: f64) -> f64 {
        let (min, max) = self.from;
        self.to.0 + (value - min) / (max - min) * (self.to.1 - self.to.0)
    }
}

fn extent(values: &[f64]) -> (f64, f64) {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let min = finite.clone().fold(f64::INFINITY, f64::min);
    let max = finite.fold(f64::NEG_INFINITY, f64::max);
    if min.is_finite() { (min, max) } else { (0.0, 1.0) }
}

/// Round values from `min` to past `max`: 1, 2 or 5 times a power of ten apart, about `count` of them.
pub fn ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let span = if max > min { max - min } else { min.abs().max(1.0) };
    let rough = span / count.max(1) as f64;
    let power = 10_f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|step| *step >= rough).unwrap_or(power * 10.0);
    stepped(min, max, step)
}

fn stepped(min: f64, max: f64, step: f64) -> Vec<f64> {
    let first = (min / step).floor() * step;
    let mut values = Vec::new();
    let mut value = first;
    while value < max + step * 0.999 && values.len() < 200 {
        values.push(value);
        value += step;
    }
    if values.len() < 2 {
        values.push(first + step);
    }
    values
}

/// A number as a chart writes it: whole above 100, with at most two decimals below.
pub fn number(value: f64) -> String {
    let rounded = if value.abs() >= 100.0 {
        value.round()
    } else if value.abs() >= 10.0 {
        (value * 10.0).round() / 10.0
    } else {
        (value * 100.0).round() / 100.0
    };
    let text = format!("{rounded}");
    if text == "-0" { "0".to_owned() } else { text }
}

/// Seconds as `m:ss` or `h:mm:ss`; under two minutes as `45 s`.
pub fn elapsed(seconds: f64) -> String {
    let whole = seconds.round() as i64;
    let (sign, whole) = if whole < 0 { ("-", -whole) } else { ("", whole) };
    if whole < 120 {
        return format!("{sign}{whole} s");
    }
    let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60);
    if hours > 0 { format!("{sign}{hours}:{minutes:02}:{secs:02}") } else { format!("{sign}{minutes}:{secs:02}") }
}

fn shorten(text: &str, at_most: usize) -> String {
    if text.chars().count() <= at_most {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(at_most.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// A word safe in a class attribute: letters, digits and `-`.
fn css_word(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 3038.0, 5), [0.0, 1000.0, 2000.0, 3000.0, 4000.0]);
        assert_eq!(ticks(0.0, 9.0, 5), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(5.0, 5.0, 5).len(), 2, "a single value still gets an axis");
        assert_eq!(XAxis::Elapsed.ticks(0.0, 1820.0), [0.0, 300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0, 2100.0]);
    }

    #[test]
    fn numbers_and_durations_read_as_people_write_them() {
        assert_eq!([number(3038.4), number(12.34), number(0.456), number(-0.0)], ["3038", "12.3", "0.46", "0"]);
        assert_eq!([elapsed(45.0), elapsed(1821.0), elapsed(3723.0)], ["45 s", "30:21", "1:02:03"]);
    }

    #[test]
    fn a_series_with_gaps_is_drawn_in_pieces_and_counts_only_its_values() {
        let chart = LineChart {
            id: "p".into(),
            title: "percentiles <ok>".into(),
            x_axis: XAxis::Elapsed,
            y_label: "ms".into(),
            series: vec![Series {
                name: "p95".into(),
                points: vec![DataPoint::at(0.0, Some(10.0)), DataPoint::at(1.0, None), DataPoint::at(2.0, Some(30.0))],
                dots: false,
            }],
            windows: vec![Window { from: 1.0, to: 2.0, label: "catalog & gateway".into() }],
            markers: vec![],
            reference: None,
        };
        let svg = chart.render();
        assert!(svg.contains(r#"data-series="p95" data-points="2""#), "{svg}");
        let path = svg.split(r#" d=""#).nth(1).and_then(|rest| rest.split('"').next()).expect("a path");
        assert_eq!(path.matches('M').count(), 2, "two pieces: {path}");
        assert!(svg.contains("percentiles &lt;ok&gt;") && svg.contains("catalog &amp; gateway"), "escaped: {svg}");
        assert_eq!(svg.matches(r#"class="window""#).count(), 1);
    }
}
