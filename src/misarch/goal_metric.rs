//! The 27 goal metrics of MiSArch: the labels its executor (`labelToStatsAttribute`), its frontend's dropdown and its
//! Grafana panel titles use, each with how eris measures it in a Gatling report, whether more is better, and the
//! InfluxDB measurement and unit of its dashboard panel. This table is the only place the labels are written.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};

use super::gatling::{Counter, GatlingMetrics, RangeGroup, RequestStats};

/// One of MiSArch's goal metrics; on the wire it is its exact label, e.g. `"95th percentile response time ok"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoalMetric {
    ShareBelow800Ms,
    ShareFrom800To1200Ms,
    ShareAbove1200Ms,
    ShareFailed,
    ShareOk,
    ShareKo,
    MinResponseTime,
    MeanResponseTime,
    MaxResponseTime,
    MinResponseTimeOk,
    MeanResponseTimeOk,
    MaxResponseTimeOk,
    MinResponseTimeKo,
    MeanResponseTimeKo,
    MaxResponseTimeKo,
    Percentile50,
    Percentile75,
    Percentile95,
    Percentile99,
    Percentile50Ok,
    Percentile75Ok,
    Percentile95Ok,
    Percentile99Ok,
    Percentile50Ko,
    Percentile75Ko,
    Percentile95Ko,
    Percentile99Ko,
}

/// Upper: violated when the actual value is above the threshold. Lower: violated when it is below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Upper,
    Lower,
}

#[derive(Debug, Clone, Copy)]
enum Flavor {
    Total,
    Ok,
    Ko,
}

#[derive(Debug, Clone, Copy)]
enum Figure {
    Min,
    Mean,
    Max,
    /// Gatling's `percentiles1..4`, by default the 50th, 75th, 95th and 99th percentile.
    Percentile(u8),
}

#[derive(Debug, Clone, Copy)]
enum Measure {
    /// `groupN.percentage`: the share of requests in a response time range, or failed (group 4).
    RangeShare(u8),
    /// The OK or KO share of all requests, in percent.
    RequestShare(Flavor),
    Figure(Figure, Flavor),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Percent,
    Milliseconds,
}

/// Everything eris knows about a metric.
struct Spec {
    metric: GoalMetric,
    label: &'static str,
    measure: Measure,
    bound: Bound,
    /// The all-requests gauge eris writes to InfluxDB, which the metric's dashboard panel shows.
    measurement: &'static str,
    unit: Unit,
}

/// In the order of the dashboard's panels and of the steady-state goals: the shares, the min/mean/max response
/// times, then the percentiles of all, OK and KO requests.
const METRICS: [Spec; 27] = {
    use Bound::{Lower, Upper};
    use Figure::{Max, Mean, Min, Percentile};
    use Flavor::{Ko, Ok, Total};
    use GoalMetric as M;
    use Measure::{Figure as F, RangeShare, RequestShare};
    use Unit::{Milliseconds as Ms, Percent};
    const fn spec(
        metric: GoalMetric,
        label: &'static str,
        measure: Measure,
        bound: Bound,
        measurement: &'static str,
        unit: Unit,
    ) -> Spec {
        Spec { metric, label, measure, bound, measurement, unit }
    }
    [
        spec(
            M::ShareBelow800Ms,
            "percentage reqs with resp. time t < 800 ms",
            RangeShare(1),
            Lower,
            "group1Percentage",
            Percent,
        ),
        spec(
            M::ShareFrom800To1200Ms,
            "percentage reqs with resp. time 800 ms < t < 1200 ms",
            RangeShare(2),
            Upper,
            "group2Percentage",
            Percent,
        ),
        spec(
            M::ShareAbove1200Ms,
            "percentage reqs with resp. time t > 1200 ms",
            RangeShare(3),
            Upper,
            "group3Percentage",
            Percent,
        ),
        spec(M::ShareFailed, "percentage failed requests", RangeShare(4), Upper, "group4Percentage", Percent),
        spec(
            M::ShareOk,
            "percentage mean requests/sec ok",
            RequestShare(Ok),
            Lower,
            "percentageMeanNumberOfRequestsPerSecondOk",
            Percent,
        ),
        spec(
            M::ShareKo,
            "percentage mean requests/sec ko",
            RequestShare(Ko),
            Upper,
            "percentageMeanNumberOfRequestsPerSecondKo",
            Percent,
        ),
        spec(M::MinResponseTime, "min response time", F(Min, Total), Upper, "minResponseTime", Ms),
        spec(M::MeanResponseTime, "mean response time", F(Mean, Total), Upper, "meanResponseTime", Ms),
        spec(M::MaxResponseTime, "max response time", F(Max, Total), Upper, "maxResponseTime", Ms),
        spec(M::MinResponseTimeOk, "min response time ok", F(Min, Ok), Upper, "minResponseTimeOk", Ms),
        spec(M::MeanResponseTimeOk, "mean response time ok", F(Mean, Ok), Upper, "meanResponseTimeOk", Ms),
        spec(M::MaxResponseTimeOk, "max response time ok", F(Max, Ok), Upper, "maxResponseTimeOk", Ms),
        spec(M::MinResponseTimeKo, "min response time ko", F(Min, Ko), Upper, "minResponseTimeKo", Ms),
        spec(M::MeanResponseTimeKo, "mean response time ko", F(Mean, Ko), Upper, "meanResponseTimeKo", Ms),
        spec(M::MaxResponseTimeKo, "max response time ko", F(Max, Ko), Upper, "maxResponseTimeKo", Ms),
        spec(M::Percentile50, "50th percentile response time", F(Percentile(1), Total), Upper, "percentiles1", Ms),
        spec(M::Percentile75, "75th percentile response time", F(Percentile(2), Total), Upper, "percentiles2", Ms),
        spec(M::Percentile95, "95th percentile response time", F(Percentile(3), Total), Upper, "percentiles3", Ms),
        spec(M::Percentile99, "99th percentile response time", F(Percentile(4), Total), Upper, "percentiles4", Ms),
        spec(M::Percentile50Ok, "50th percentile response time ok", F(Percentile(1), Ok), Upper, "percentiles1Ok", Ms),
        spec(M::Percentile75Ok, "75th percentile response time ok", F(Percentile(2), Ok), Upper, "percentiles2Ok", Ms),
        spec(M::Percentile95Ok, "95th percentile response time ok", F(Percentile(3), Ok), Upper, "percentiles3Ok", Ms),
        spec(M::Percentile99Ok, "99th percentile response time ok", F(Percentile(4), Ok), Upper, "percentiles4Ok", Ms),
        spec(M::Percentile50Ko, "50th percentile response time ko", F(Percentile(1), Ko), Upper, "percentiles1Ko", Ms),
        spec(M::Percentile75Ko, "75th percentile response time ko", F(Percentile(2), Ko), Upper, "percentiles2Ko", Ms),
        spec(M::Percentile95Ko, "95th percentile response time ko", F(Percentile(3), Ko), Upper, "percentiles3Ko", Ms),
        spec(M::Percentile99Ko, "99th percentile response time ko", F(Percentile(4), Ko), Upper, "percentiles4Ko", Ms),
    ]
};

/// A label that is none of the 27, with the closest one when it differs only in case or spacing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown goal metric \"{label}\"; {}", match suggestion {
    Some(known) => format!("did you mean \"{}\"?", known.label()),
    None => format!(
        "expected one of MiSArch's 27 labels, e.g. \"max response time\", \"95th percentile response time ok\", \
         \"percentage failed requests\": {}",
        GoalMetric::ALL.iter().map(|metric| metric.label()).collect::<Vec<_>>().join(", ")
    ),
})]
pub struct UnknownGoalMetric {
    pub label: String,
    pub suggestion: Option<GoalMetric>,
}

impl GoalMetric {
    /// Every metric, in the order of the dashboard's panels.
    pub const ALL: [GoalMetric; 27] = {
        let mut all = [GoalMetric::ShareBelow800Ms; 27];
        let mut index = 0;
        while index < all.len() {
            all[index] = METRICS[index].metric;
            index += 1;
        }
        all
    };

    fn spec(self) -> &'static Spec {
        // METRICS lists the variants in declaration order (a unit test checks it).
        &METRICS[self as usize]
    }

    /// The exact MiSArch label.
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    pub fn from_label(label: &str) -> Result<GoalMetric, UnknownGoalMetric> {
        if let Some(metric) = Self::ALL.into_iter().find(|metric| metric.label() == label) {
            return Ok(metric);
        }
        let normalized = normalize_label(label);
        let suggestion = Self::ALL.into_iter().find(|metric| normalize_label(metric.label()) == normalized);
        Err(UnknownGoalMetric { label: label.to_owned(), suggestion })
    }

    /// Lower for the metrics where more is better (`percentage reqs with resp. time t < 800 ms`, `percentage mean
    /// requests/sec ok`), upper for all others.
    pub fn bound(self) -> Bound {
        self.spec().bound
    }

    /// Whether the metric is a share in percent (0 to 100), as opposed to a time in milliseconds.
    pub fn is_percentage(self) -> bool {
        self.spec().unit == Unit::Percent
    }

    /// The InfluxDB measurement of the metric's all-requests gauge, which its dashboard panel queries.
    pub fn measurement(self) -> &'static str {
        self.spec().measurement
    }

    /// The Grafana unit of the metric's panel.
    pub fn grafana_unit(self) -> &'static str {
        match self.spec().unit {
            Unit::Percent => "percent",
            Unit::Milliseconds => "ms",
        }
    }

    /// The measured value over all requests, or `None` when Gatling reported `"-"` or there were no requests to
    /// take a share of.
    pub fn actual(self, metrics: &GatlingMetrics) -> Option<f64> {
        let stats = &metrics.total;
        // A share of no requests is undefined (Gatling writes 0 %): such a goal is reported unchecked, not judged on 0.
        let requests = stats.number_of_requests;
        let total_requests = requests.total.filter(|&total| total > 0.0);
        match self.spec().measure {
            Measure::RangeShare(group) => total_requests.map(|_| range_group(stats, group).percentage),
            Measure::RequestShare(flavor) => Some(flavored(requests, flavor)? / total_requests? * 100.0),
            Measure::Figure(figure, flavor) => {
                let counter = match figure {
                    Figure::Min => stats.min_response_time,
                    Figure::Mean => stats.mean_response_time,
                    Figure::Max => stats.max_response_time,
                    Figure::Percentile(1) => stats.percentiles1,
                    Figure::Percentile(2) => stats.percentiles2,
                    Figure::Percentile(3) => stats.percentiles3,
                    Figure::Percentile(_) => stats.percentiles4,
                };
                flavored(counter, flavor)
            }
        }
    }
}

fn normalize_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn range_group(stats: &RequestStats, group: u8) -> &RangeGroup {
    match group {
        1 => &stats.group1,
        2 => &stats.group2,
        3 => &stats.group3,
        _ => &stats.group4,
    }
}

fn flavored(counter: Counter, flavor: Flavor) -> Option<f64> {
    match flavor {
        Flavor::Total => counter.total,
        Flavor::Ok => counter.ok,
        Flavor::Ko => counter.ko,
    }
}

impl fmt::Display for GoalMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for GoalMetric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for GoalMetric {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let label = String::deserialize(deserializer)?;
        GoalMetric::from_label(&label).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for GoalMetric {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(None::<SchemaFormat>)
            .description(Some("One of MiSArch's 27 goal metric labels, exactly as MiSArch spells them."))
            .enum_values(Some(GoalMetric::ALL.iter().map(|metric| metric.label())))
            .into()
    }
}

impl utoipa::ToSchema for GoalMetric {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::misarch::gatling::tests::real_metrics;

    #[test]
    fn the_table_lists_every_variant_once_in_declaration_order() {
        for (index, spec) in METRICS.iter().enumerate() {
            assert_eq!(spec.metric as usize, index, "{}", spec.label);
        }
        let labels: std::collections::BTreeSet<_> = GoalMetric::ALL.iter().map(|metric| metric.label()).collect();
        assert_eq!(labels.len(), 27, "no label twice");
    }

    #[test]
    fn labels_round_trip_and_near_misses_get_a_suggestion() {
        for metric in GoalMetric::ALL {
            assert_eq!(GoalMetric::from_label(metric.label()), Ok(metric));
            let json = serde_json::to_value(metric).expect("serializes");
            assert_eq!(json, metric.label());
            assert_eq!(serde_json::from_value::<GoalMetric>(json).expect("deserializes"), metric);
        }
        let typo = GoalMetric::from_label("Max Response  Time").expect_err("not exact");
        assert_eq!(typo.suggestion, Some(GoalMetric::MaxResponseTime));
        assert!(typo.to_string().contains("did you mean \"max response time\""), "{typo}");
        let unknown = GoalMetric::from_label("p99").expect_err("unknown");
        assert_eq!(unknown.suggestion, None);
        assert!(unknown.to_string().contains("percentage reqs with resp. time 800 ms < t < 1200 ms"), "{unknown}");
    }

    #[test]
    fn every_metric_has_a_value_in_the_real_report() {
        let metrics = real_metrics();
        for metric in GoalMetric::ALL {
            assert!(metric.actual(&metrics).is_some(), "{metric} has no value in the real report");
            assert_eq!(metric.is_percentage(), metric.label().starts_with("percentage"), "{metric}");
            assert_eq!(metric.grafana_unit() == "percent", metric.is_percentage(), "{metric}");
        }
    }
}
