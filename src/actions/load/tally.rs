//! What a load measured, as the figures a Gatling report gives eris ([`GatlingMetrics`]): so goals, violations, the
//! report and the trial's `metrics` read a built-in load exactly as they read a MiSArch run.
//!
//! How each figure is made, Gatling's way:
//! - Response times are in whole milliseconds (rounded), from the request's due time to the end of its response
//!   body; min, max, mean, standard deviation and the 50th, 75th, 95th and 99th percentiles, over all requests,
//!   the OK ones and the KO ones, each `null` where there is no request to measure (no KO in a clean run).
//!   Percentiles come from an HDR histogram with three significant digits (a 0.1 % error at most).
//! - OK is an answer with a status below 400; KO is any other answer, a timeout or a failed connection.
//! - The ranges `t < 800 ms`, `800 ms <= t < 1200 ms`, `t >= 1200 ms` count OK requests; `failed` counts KO ones;
//!   each with its share of all requests in percent.
//! - Requests per second: the count over the planned duration, to two decimals.
//! - Series: requests sent and responses received per second (all, OK, KO), each second stamped with its start in
//!   epoch milliseconds; an open model has no users to count, so `active_users` is empty. The response time
//!   percentiles of the OK requests over time, as Gatling's chart has them (min, 25th … 99th, max), per interval of
//!   due times: one second, or as many as keep the series to 1000 intervals, each from an HDR histogram with two
//!   significant digits (a 1 % error at most) that holds only the values it saw.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::misarch::gatling::{
    Counter, EntryType, GatlingMetrics, PercentilePoint, RangeGroup, RatePoint, RequestStats, TimeSeries,
};

/// The longest response time a histogram holds: an hour, in microseconds (a request's timeout is at most that).
const MAX_MICROS: u64 = 3_600_000_000;

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Which of the load's requests it was.
    pub request: usize,
    /// When it was due, from the start of the run.
    pub due: Duration,
    /// From its due time to the end of its answer (or its failure).
    pub latency: Duration,
    pub answer: Answer,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    TimedOut,
    /// No answer: the connection failed or broke, with the error's text.
    Failed(String),
}

impl Answer {
    /// Gatling's default check: a status below 400.
    pub fn ok(&self) -> bool {
        matches!(self, Self::Status(status) if *status < 400)
    }

    fn text(&self) -> String {
        match self {
            Self::Status(status) => status.to_string(),
            Self::TimedOut => "timed out".to_owned(),
            Self::Failed(error) => error.clone(),
        }
    }
}

/// The percentile series has at most this many intervals, as Gatling thins its charts to about 1000 points.
const MAX_INTERVALS: u64 = 1000;

/// The quantiles of one interval of the percentile series, in the order of [`PercentilePoint::values`].
const INTERVAL_QUANTILES: [f64; 10] = [0.0, 0.25, 0.50, 0.75, 0.80, 0.85, 0.90, 0.95, 0.99, 1.0];

/// How many different answers are told apart in [`Tally::answers`]; the rest are counted as `other`.
const MAX_ANSWER_KINDS: usize = 20;

/// Figures of one request, or of all of them.
struct Figures {
    all: Histogram<u64>,
    ok: Histogram<u64>,
    ko: Histogram<u64>,
    /// OK requests below 800 ms, from 800 ms to below 1200 ms, from 1200 ms.
    bands: [u64; 3],
}

impl Figures {
    fn new() -> Self {
        let histogram = || Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("the bounds are valid");
        Self { all: histogram(), ok: histogram(), ko: histogram(), bands: [0; 3] }
    }

    fn record(&mut self, sample: &Sample) {
        let micros = u64::try_from(sample.latency.as_micros()).unwrap_or(u64::MAX).clamp(1, MAX_MICROS);
        self.all.saturating_record(micros);
        if sample.answer.ok() {
            self.ok.saturating_record(micros);
            let millis = whole_millis(micros);
            let band = if millis < 800 {
                0
            } else if millis < 1200 {
                1
            } else {
                2
            };
            self.bands[band] += 1;
        } else {
            self.ko.saturating_record(micros);
        }
    }

    fn stats(&self, kind: EntryType, name: &str, path_formatted: String, seconds: f64) -> RequestStats {
        let figure = |measure: fn(&Histogram<u64>) -> f64| Counter {
            total: some_if_any(&self.all).map(measure),
            ok: some_if_any(&self.ok).map(measure),
            ko: some_if_any(&self.ko).map(measure),
        };
        let percentile = |quantile: f64| Counter {
            total: some_if_any(&self.all).map(|h| whole_millis(h.value_at_quantile(quantile)) as f64),
            ok: some_if_any(&self.ok).map(|h| whole_millis(h.value_at_quantile(quantile)) as f64),
            ko: some_if_any(&self.ko).map(|h| whole_millis(h.value_at_quantile(quantile)) as f64),
        };
        let count = self.all.len();
        let share = |part: u64| if count == 0 { 0.0 } else { part as f64 / count as f64 * 100.0 };
        let group = |name: &str, html_name: &str, part: u64| RangeGroup {
            name: name.to_owned(),
            html_name: Some(html_name.to_owned()),
            count: part,
            percentage: share(part),
        };
        let rate = |part: u64| (part as f64 / seconds * 100.0).round() / 100.0;
        RequestStats {
            kind,
            name: name.to_owned(),
            path: if kind == EntryType::Group { String::new() } else { name.to_owned() },
            path_formatted,
            number_of_requests: Counter {
                total: Some(count as f64),
                ok: Some(self.ok.len() as f64),
                ko: Some(self.ko.len() as f64),
            },
            min_response_time: figure(|h| whole_millis(h.min()) as f64),
            max_response_time: figure(|h| whole_millis(h.max()) as f64),
            mean_response_time: figure(|h| (h.mean() / 1000.0).round()),
            standard_deviation: figure(|h| (h.stdev() / 1000.0).round()),
            percentiles1: percentile(0.50),
            percentiles2: percentile(0.75),
            percentiles3: percentile(0.95),
            percentiles4: percentile(0.99),
            group1: group("t < 800 ms", "t < 800 ms", self.bands[0]),
            group2: group("800 ms <= t < 1200 ms", "t >= 800 ms <br> t < 1200 ms", self.bands[1]),
            group3: group("t >= 1200 ms", "t >= 1200 ms", self.bands[2]),
            group4: group("failed", "failed", self.ko.len()),
            mean_number_of_requests_per_second: Counter {
                total: Some(rate(count)),
                ok: Some(rate(self.ok.len())),
                ko: Some(rate(self.ko.len())),
            },
        }
    }
}

fn some_if_any(histogram: &Histogram<u64>) -> Option<&Histogram<u64>> {
    (!histogram.is_empty()).then_some(histogram)
}

fn whole_millis(micros: u64) -> u64 {
    (micros + 500) / 1000
}

/// Collects the samples of one load.
pub struct Tally {
    names: Vec<String>,
    total: Figures,
    per_request: Vec<Figures>,
    /// Per second of the run: [all, ok, ko] sent (by due time) and received.
    sent: BTreeMap<u64, [u64; 3]>,
    received: BTreeMap<u64, [u64; 3]>,
    /// Per interval of due times (`interval_secs` long): the OK response times, in milliseconds.
    percentiles: BTreeMap<u64, Histogram<u32>>,
    interval_secs: u64,
    answers: BTreeMap<String, u64>,
}

impl Tally {
    /// `names` are the load's requests, in the order their index refers to; `planned` is how long arrivals last.
    pub fn new(names: Vec<String>, planned: Duration) -> Self {
        let per_request = names.iter().map(|_| Figures::new()).collect();
        Self {
            names,
            total: Figures::new(),
            per_request,
            sent: BTreeMap::new(),
            received: BTreeMap::new(),
            percentiles: BTreeMap::new(),
            interval_secs: planned.as_secs().div_ceil(MAX_INTERVALS).max(1),
            answers: BTreeMap::new(),
        }
    }

    pub fn record(&mut self, sample: Sample) {
        self.total.record(&sample);
        if let Some(figures) = self.per_request.get_mut(sample.request) {
            figures.record(&sample);
        }
        let text = sample.answer.text();
        let key = if self.answers.contains_key(&text) || self.answers.len() < MAX_ANSWER_KINDS {
            text
        } else {
            "other".to_owned()
        };
        *self.answers.entry(key).or_default() += 1;
        if sample.answer.ok() {
            let millis = whole_millis(u64::try_from(sample.latency.as_micros()).unwrap_or(u64::MAX));
            let interval = sample.due.as_secs() / self.interval_secs;
            // Two significant digits, growing with the values seen: a few kilobytes per interval at most.
            let histogram = self
                .percentiles
                .entry(interval)
                .or_insert_with(|| Histogram::new(2).expect("two significant digits are valid"));
            histogram.saturating_record(millis);
        }
        let column = if sample.answer.ok() { 1 } else { 2 };
        for (series, at) in [(&mut self.sent, sample.due), (&mut self.received, sample.due + sample.latency)] {
            let second = series.entry(at.as_secs()).or_default();
            second[0] += 1;
            second[column] += 1;
        }
    }

    /// How many requests ended each way: a status code, `timed out`, or the error of a failed connection.
    pub fn answers(&self) -> &BTreeMap<String, u64> {
        &self.answers
    }

    /// How many requests were recorded.
    pub fn count(&self) -> u64 {
        self.total.all.len()
    }

    /// The figures, for a run that started at `started_ms` (epoch milliseconds) and was planned to last `planned`.
    pub fn metrics(&self, started_ms: i64, planned: Duration) -> GatlingMetrics {
        let seconds = planned.as_secs_f64().max(0.001);
        let total = self.total.stats(EntryType::Group, "All Requests", "group_missing-name-b06d1".to_owned(), seconds);
        let requests = self
            .names
            .iter()
            .zip(&self.per_request)
            .map(|(name, figures)| figures.stats(EntryType::Request, name, path_formatted(name), seconds))
            .collect();
        let points = |series: &BTreeMap<u64, [u64; 3]>| -> Vec<RatePoint> {
            let last = series.keys().next_back().copied().unwrap_or(0).max(planned.as_secs().saturating_sub(1));
            (0..=last)
                .map(|second| {
                    let [all, ok, ko] = series.get(&second).copied().unwrap_or_default();
                    RatePoint {
                        time_ms: started_ms + i64::try_from(second * 1000).unwrap_or(i64::MAX),
                        all: Some(all as f64),
                        ok: Some(ok as f64),
                        ko: Some(ko as f64),
                    }
                })
                .collect()
        };
        let series = TimeSeries {
            requests: points(&self.sent),
            responses: points(&self.received),
            active_users: Vec::new(),
            percentiles: self.percentile_points(started_ms, planned),
        };
        GatlingMetrics { total, requests, series }
    }

    /// One point per interval from the start to the last interval with an answer or of the plan, whichever is later;
    /// `null` values for an interval without OK answers, as Gatling writes them.
    fn percentile_points(&self, started_ms: i64, planned: Duration) -> Vec<PercentilePoint> {
        let planned_last = planned.as_secs().saturating_sub(1) / self.interval_secs;
        let last = self.percentiles.keys().next_back().copied().unwrap_or(0).max(planned_last);
        (0..=last)
            .map(|interval| PercentilePoint {
                time_ms: started_ms + i64::try_from(interval * self.interval_secs * 1000).unwrap_or(i64::MAX),
                values: self
                    .percentiles
                    .get(&interval)
                    .map(|histogram| INTERVAL_QUANTILES.map(|quantile| histogram.value_at_quantile(quantile) as f64)),
            })
            .collect()
    }
}

/// Gatling's file-name form of a request's name: `req_` and the name's letters and digits, lower case, the rest
/// as `-`.
fn path_formatted(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("req_{cleaned}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(request: usize, due_ms: u64, latency_ms: u64, ok: bool) -> Sample {
        let answer = if ok { Answer::Status(200) } else { Answer::Status(503) };
        Sample { request, due: Duration::from_millis(due_ms), latency: Duration::from_millis(latency_ms), answer }
    }

    #[test]
    fn the_figures_are_gatlings() {
        let mut tally = Tally::new(vec!["list products".to_owned(), "order".to_owned()], Duration::from_secs(2));
        for i in 0..90 {
            tally.record(sample(0, i * 10, 100 + i, true));
        }
        for i in 0..8 {
            tally.record(sample(1, 900 + i * 10, 900, true));
        }
        tally.record(sample(1, 990, 1500, true));
        tally.record(sample(1, 995, 30, false));
        let metrics = tally.metrics(1_700_000_000_000, Duration::from_secs(2));
        let total = &metrics.total;
        assert_eq!((total.name.as_str(), total.kind), ("All Requests", EntryType::Group));
        assert_eq!(total.number_of_requests, Counter { total: Some(100.0), ok: Some(99.0), ko: Some(1.0) });
        assert_eq!(total.min_response_time.total, Some(30.0));
        assert_eq!(total.min_response_time.ok, Some(100.0));
        assert_eq!(total.max_response_time.ok, Some(1500.0));
        assert_eq!(total.max_response_time.ko, Some(30.0));
        assert_eq!((total.group1.count, total.group2.count, total.group3.count, total.group4.count), (90, 8, 1, 1));
        assert_eq!(total.group4.percentage, 1.0);
        assert_eq!(total.mean_number_of_requests_per_second.total, Some(50.0));
        assert_eq!(total.mean_number_of_requests_per_second.ko, Some(0.5));
        // The 50th of the 99 OK times: 100 + 49.
        assert_eq!(total.percentiles1.ok, Some(149.0));
        let order = &metrics.requests[1];
        assert_eq!(
            (order.name.as_str(), order.path.as_str(), order.path_formatted.as_str()),
            ("order", "order", "req_order")
        );
        assert_eq!(order.percentiles1.ko, Some(30.0));
        assert_eq!(metrics.requests[0].percentiles1.ko, None, "no KO, no KO figures");
        assert_eq!(metrics.requests[0].path_formatted, "req_list-products");
    }

    #[test]
    fn the_series_have_a_point_each_second_of_the_run() {
        let mut tally = Tally::new(vec!["a".to_owned()], Duration::from_secs(3));
        tally.record(sample(0, 100, 50, true));
        tally.record(sample(0, 2100, 1000, false));
        let series = tally.metrics(5_000, Duration::from_secs(3)).series;
        let sent: Vec<_> = series.requests.iter().map(|p| (p.time_ms, p.all, p.ko)).collect();
        assert_eq!(sent, [(5_000, Some(1.0), Some(0.0)), (6_000, Some(0.0), Some(0.0)), (7_000, Some(1.0), Some(1.0))]);
        let received: Vec<_> = series.responses.iter().map(|p| (p.time_ms, p.all)).collect();
        assert_eq!(received, [(5_000, Some(1.0)), (6_000, Some(0.0)), (7_000, Some(0.0)), (8_000, Some(1.0))]);
        // OK answers only, by due time: the KO request of second 2 leaves it empty.
        let percentiles: Vec<_> = series.percentiles.iter().map(|p| (p.time_ms, p.value("50%"))).collect();
        assert_eq!(percentiles, [(5_000, Some(50.0)), (6_000, None), (7_000, None)]);
    }

    #[test]
    fn the_percentile_series_has_gatlings_ten_values_and_at_most_1000_intervals() {
        let mut tally = Tally::new(vec!["a".to_owned()], Duration::from_secs(3000));
        for millis in 1..=100 {
            tally.record(sample(0, 2500 + millis, millis, true));
        }
        let series = tally.metrics(0, Duration::from_secs(3000)).series;
        // Three seconds per interval; the samples fell into the first (due 2.5 to 2.6 s).
        assert_eq!(series.percentiles.len(), 1000);
        assert_eq!(series.percentiles[1].time_ms, 3_000);
        let values = series.percentiles[0].values.expect("OK answers");
        assert_eq!(values, [1.0, 25.0, 50.0, 75.0, 80.0, 85.0, 90.0, 95.0, 99.0, 100.0]);
    }

    #[test]
    fn a_load_without_answers_has_no_times() {
        let metrics = Tally::new(vec!["a".to_owned()], Duration::from_secs(1)).metrics(0, Duration::from_secs(1));
        assert_eq!(metrics.total.mean_response_time, Counter { total: None, ok: None, ko: None });
        assert_eq!(metrics.total.group1.percentage, 0.0);
    }
}
