use std::sync::LazyLock;

use super::js::*;
use super::series::*;
use super::stats_js::*;
use super::*;

/// A real 30-minute MiSArch report (the MiSArch project's own realistic 30-minute run, kept in
/// the repository so that `cargo test` works from a clone alone); goals.rs's and export.rs's tests read it too.
pub(crate) const REPORT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gatling-realistic-30min/");

pub(crate) fn real_files() -> (String, String) {
    let read = |name: &str| {
        std::fs::read_to_string(format!("{REPORT_DIR}{name}")).unwrap_or_else(|e| panic!("{REPORT_DIR}{name}: {e}"))
    };
    (read("index.html"), read("stats.js"))
}

pub(crate) fn real_metrics() -> GatlingMetrics {
    let (html, js) = real_files();
    parse(&html, &js).expect("the real report parses")
}

fn counter(total: f64, ok: f64, ko: Option<f64>) -> Counter {
    Counter { total: Some(total), ok: Some(ok), ko }
}

fn find<'a>(metrics: &'a GatlingMetrics, name: &str) -> &'a RequestStats {
    metrics.requests.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no request {name}"))
}

/// serde_json without its `float_roundtrip` feature may read a float one unit in the last place off (the file's
/// 99.86225895316805 comes back as 99.86225895316804); our reader parses exactly, as the hand-checked tests show.
fn same_double(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 2.0 * f64::EPSILON * a.abs().max(b.abs())
}

fn assert_json_close(a: &serde_json::Value, b: &serde_json::Value, place: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().expect("f64"), y.as_f64().expect("f64"));
            assert!(same_double(x, y), "{place}: {x} != {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{place}");
            for (index, (x, y)) in x.iter().zip(y).enumerate() {
                assert_json_close(x, y, &format!("{place}[{index}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{place}");
            for (key, x) in x {
                assert_json_close(x, &y[key], &format!("{place}.{key}"));
            }
        }
        _ => assert_eq!(a, b, "{place}"),
    }
}

#[test]
fn constant_patterns_compile() {
    for pattern in [&STATS_VAR, &GROUPED_NUMBER, &REQUESTS_VAR, &RESPONSES_VAR, &RENDER_TO, &SERIES_ARRAY] {
        LazyLock::force(pattern);
    }
}

#[test]
fn global_statistics_match_the_real_stats_js() {
    let total = real_metrics().total;
    assert_eq!(total.kind, EntryType::Group);
    assert_eq!(total.name, "All Requests");
    assert_eq!(total.path, "");
    assert_eq!(total.path_formatted, "group_missing-name--1146707516");
    assert_eq!(total.number_of_requests, counter(15594.0, 15591.0, Some(3.0)));
    assert_eq!(total.min_response_time, counter(6.0, 6.0, Some(14.0)));
    assert_eq!(total.max_response_time, counter(3646.0, 3646.0, Some(523.0)));
    assert_eq!(total.mean_response_time, counter(94.0, 94.0, Some(218.0)));
    assert_eq!(total.standard_deviation, counter(259.0, 259.0, Some(220.0)));
    assert_eq!(total.percentiles1, counter(30.0, 30.0, Some(116.0)));
    assert_eq!(total.percentiles2, counter(48.0, 48.0, Some(523.0)));
    assert_eq!(total.percentiles3, counter(525.0, 524.0, Some(523.0)));
    assert_eq!(total.percentiles4, counter(1685.0, 1685.0, Some(523.0)));
    let group = |name: &str, html: &str, count, percentage| RangeGroup {
        name: name.into(),
        html_name: Some(html.into()),
        count,
        percentage,
    };
    assert_eq!(total.group1, group("t < 800 ms", "t < 800 ms", 15167, 97.26176734641528));
    assert_eq!(total.group2, group("800 ms <= t < 1200 ms", "t >= 800 ms <br> t < 1200 ms", 213, 1.3659099653712967));
    assert_eq!(total.group3, group("t >= 1200 ms", "t >= 1200 ms", 211, 1.3530845196870591));
    assert_eq!(total.group4, group("failed", "failed", 3, 0.019238168526356292));
    assert_eq!(total.mean_number_of_requests_per_second, counter(8.56, 8.56, Some(0.0)));
}

#[test]
fn named_requests_match_the_real_stats_js() {
    let metrics = real_metrics();
    let names: Vec<_> = metrics.requests.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Get Access Token",
            "products",
            "product",
            "users",
            "address",
            "createShoppingcartItemMutation",
            "shipmentMethodsQuery",
            "paymentInformationsQuery",
            "createOrderMutation",
            "placeOrderMutation"
        ]
    );
    assert!(metrics.requests.iter().all(|r| r.kind == EntryType::Request));

    let token = find(&metrics, "Get Access Token");
    assert_eq!(
        (token.path.as_str(), token.path_formatted.as_str()),
        ("Get Access Token", "req_get-access-toke-1423633639")
    );
    assert_eq!(token.number_of_requests, counter(2115.0, 2115.0, Some(0.0)));
    // Gatling's "-": no failed request, so no KO response time.
    assert_eq!(token.min_response_time, counter(36.0, 36.0, None));
    assert_eq!(token.max_response_time, counter(123.0, 123.0, None));
    assert_eq!(token.mean_response_time, counter(50.0, 50.0, None));
    assert_eq!(token.standard_deviation, counter(14.0, 14.0, None));
    assert_eq!(token.percentiles1, counter(45.0, 45.0, None));
    assert_eq!(token.percentiles2, counter(56.0, 56.0, None));
    assert_eq!(token.percentiles3, counter(80.0, 80.0, None));
    assert_eq!(token.percentiles4, counter(101.0, 101.0, None));
    assert_eq!((token.group1.count, token.group1.percentage), (2115, 100.0));
    assert_eq!((token.group2.count, token.group2.percentage), (0, 0.0));
    assert_eq!((token.group3.count, token.group3.percentage), (0, 0.0));
    assert_eq!((token.group4.count, token.group4.percentage), (0, 0.0));
    assert_eq!(token.mean_number_of_requests_per_second, counter(1.16, 1.16, None));

    let order = find(&metrics, "createOrderMutation");
    assert_eq!(order.path_formatted, "req_createordermuta-14112891");
    assert_eq!(order.number_of_requests, counter(726.0, 724.0, Some(2.0)));
    assert_eq!(order.min_response_time, counter(116.0, 512.0, Some(116.0)));
    assert_eq!(order.max_response_time, counter(3646.0, 3646.0, Some(523.0)));
    assert_eq!(order.mean_response_time, counter(1036.0, 1038.0, Some(320.0)));
    assert_eq!(order.standard_deviation, counter(583.0, 583.0, Some(204.0)));
    assert_eq!(order.percentiles1, counter(815.0, 816.0, Some(523.0)));
    assert_eq!(order.percentiles2, counter(1253.0, 1256.0, Some(523.0)));
    assert_eq!(order.percentiles3, counter(2232.0, 2234.0, Some(523.0)));
    assert_eq!(order.percentiles4, counter(3156.0, 3158.0, Some(523.0)));
    assert_eq!((order.group1.count, order.group1.percentage), (353, 48.62258953168045));
    assert_eq!((order.group2.count, order.group2.percentage), (179, 24.655647382920108));
    assert_eq!((order.group3.count, order.group3.percentage), (192, 26.446280991735538));
    assert_eq!((order.group4.count, order.group4.percentage), (2, 0.27548209366391185));
    assert_eq!(order.mean_number_of_requests_per_second, counter(0.4, 0.4, Some(0.0)));

    let place = find(&metrics, "placeOrderMutation");
    assert_eq!(place.number_of_requests, counter(726.0, 726.0, Some(0.0)));
    assert_eq!(place.max_response_time, counter(1790.0, 1790.0, None));
    assert_eq!(place.percentiles4, counter(1335.0, 1335.0, None));
    assert_eq!((place.group3.count, place.group3.percentage), (19, 2.6170798898071626));
    assert_eq!(place.mean_number_of_requests_per_second, counter(0.4, 0.4, None));
}

/// An independent reading of the real file, the way the original executor did it (quote the six bare keys, cut the
/// functions off, parse as JSON), compared figure by figure with ours for the global stats and every request.
#[test]
fn every_figure_matches_an_independent_json_reading() {
    let (_, js) = real_files();
    let body = js.trim_start().strip_prefix("var stats =").expect("prefix");
    let body = &body[..body.find("function fillStats").expect("functions")];
    let quoted = Regex::new(r"(?m)^(\s*)(type|name|path|pathFormatted|stats|contents):")
        .expect("pattern")
        .replace_all(body, r#"$1"$2":"#);
    let oracle: serde_json::Value = serde_json::from_str(&quoted).expect("oracle JSON");
    let metrics = real_metrics();

    let figure = |value: &serde_json::Value| -> Option<f64> {
        match value {
            serde_json::Value::String(s) if s == "-" => None,
            serde_json::Value::String(s) => Some(s.parse().expect("number")),
            other => other.as_f64(),
        }
    };
    let compare = |ours: &RequestStats, theirs: &serde_json::Value| {
        let stats = &theirs["stats"];
        assert_eq!(ours.name, theirs["name"].as_str().expect("name"));
        assert_eq!(ours.path, theirs["path"].as_str().expect("path"));
        assert_eq!(ours.path_formatted, theirs["pathFormatted"].as_str().expect("pathFormatted"));
        let counters = [
            ("numberOfRequests", ours.number_of_requests),
            ("minResponseTime", ours.min_response_time),
            ("maxResponseTime", ours.max_response_time),
            ("meanResponseTime", ours.mean_response_time),
            ("standardDeviation", ours.standard_deviation),
            ("percentiles1", ours.percentiles1),
            ("percentiles2", ours.percentiles2),
            ("percentiles3", ours.percentiles3),
            ("percentiles4", ours.percentiles4),
            ("meanNumberOfRequestsPerSecond", ours.mean_number_of_requests_per_second),
        ];
        for (field, counter) in counters {
            for (flavor, value) in [("total", counter.total), ("ok", counter.ok), ("ko", counter.ko)] {
                assert_eq!(value, figure(&stats[field][flavor]), "{} {field}.{flavor}", ours.name);
            }
        }
        for (field, group) in
            [("group1", &ours.group1), ("group2", &ours.group2), ("group3", &ours.group3), ("group4", &ours.group4)]
        {
            assert_eq!(Some(group.count), stats[field]["count"].as_u64(), "{} {field}", ours.name);
            let theirs = stats[field]["percentage"].as_f64().expect("percentage");
            assert!(same_double(group.percentage, theirs), "{} {field}: {} {theirs}", ours.name, group.percentage);
            assert_eq!(group.name, stats[field]["name"].as_str().expect("name"));
            assert_eq!(group.html_name.as_deref(), stats[field]["htmlName"].as_str());
        }
    };
    compare(&metrics.total, &oracle);
    let contents = oracle["contents"].as_object().expect("contents");
    assert_eq!(metrics.requests.len(), contents.len());
    for request in &metrics.requests {
        compare(request, &contents[&request.path_formatted]);
    }
    // The order is stats.js's order.
    let in_file: Vec<_> = Regex::new(r#"(?m)^pathFormatted: "(req_[^"]*)""#)
        .expect("pattern")
        .captures_iter(&js)
        .map(|c| c[1].to_owned())
        .collect();
    let ours: Vec<_> = metrics.requests.iter().map(|r| r.path_formatted.clone()).collect();
    assert_eq!(ours, in_file);
    // Every "-" of the file became a None: 72 of them, all KO figures of requests that never failed.
    let nones: usize = metrics
        .requests
        .iter()
        .flat_map(|r| {
            [r.min_response_time, r.max_response_time, r.mean_response_time, r.standard_deviation]
                .into_iter()
                .chain([r.percentiles1, r.percentiles2, r.percentiles3, r.percentiles4])
                .chain([r.mean_number_of_requests_per_second, r.number_of_requests])
        })
        .flat_map(|c| [c.total, c.ok, c.ko])
        .filter(Option::is_none)
        .count();
    assert_eq!(nones, js.matches(r#""-""#).count());
    assert_eq!(nones, 72);
}

#[test]
fn time_series_match_the_real_index_html() {
    let series = real_metrics().series;
    for (name, points, sums) in
        [("requests", &series.requests, [8549.0, 8546.0, 3.0]), ("responses", &series.responses, [8536.0, 8533.0, 3.0])]
    {
        assert_eq!(points.len(), 1000, "{name}");
        let point =
            |time_ms, all: f64, ok: f64, ko: f64| RatePoint { time_ms, all: Some(all), ok: Some(ok), ko: Some(ko) };
        assert_eq!(points[0], point(1_752_755_877_000, 2.0, 2.0, 0.0), "{name}");
        assert_eq!(points[500], point(1_752_756_788_000, 2.0, 2.0, 0.0), "{name}");
        assert_eq!(points[999], point(1_752_757_698_000, 1.0, 1.0, 0.0), "{name}");
        let sum = |f: fn(&RatePoint) -> Option<f64>| points.iter().filter_map(f).sum::<f64>();
        assert_eq!([sum(|p| p.all), sum(|p| p.ok), sum(|p| p.ko)], sums, "{name}");
    }
    let scenarios: Vec<_> = series.active_users.iter().map(|s| s.scenario.as_str()).collect();
    assert_eq!(scenarios, ["buyProcessScenario", "abortedBuyProcessScenario"]);
    for (scenario, sum, middle) in [(&series.active_users[0], 9733.0, 1.0), (&series.active_users[1], 6579.0, 3.0)] {
        assert_eq!(scenario.data.len(), 1000);
        assert_eq!(scenario.data[0], Point { time_ms: 1_752_755_877_000, value: Some(2.0) });
        assert_eq!(scenario.data[500], Point { time_ms: 1_752_756_788_000, value: Some(middle) });
        assert_eq!(scenario.data.iter().filter_map(|p| p.value).sum::<f64>(), sum);
    }
    // The first, a middle and the last interval of "Response Time Percentiles over Time (OK)", and its empty ones.
    let percentiles = &series.percentiles;
    assert_eq!(percentiles.len(), 1000);
    assert_eq!(percentiles[0].time_ms, 1_752_755_877_000);
    assert_eq!(percentiles[0].values, Some([36.0, 36.0, 80.0, 82.0, 82.0, 82.0, 82.0, 82.0, 82.0, 82.0]));
    assert_eq!(percentiles[12].value("95%"), Some(2929.0));
    assert_eq!(percentiles[12].value("max"), Some(3038.0));
    assert_eq!(percentiles[999].time_ms, 1_752_757_698_000);
    assert_eq!(percentiles[999].value("50%"), Some(149.0));
    assert!(percentiles.iter().filter(|point| point.values.is_none()).count() >= 5, "intervals without OK answers");
}

#[test]
fn json_shape_keeps_gatling_names_numbers_and_nulls() {
    let metrics = real_metrics();
    let json = serde_json::to_value(&metrics).expect("serializes");
    assert_eq!(json["total"]["type"], "GROUP");
    assert_eq!(json["total"]["numberOfRequests"], serde_json::json!({"total": 15594, "ok": 15591, "ko": 3}));
    assert_eq!(json["total"]["meanNumberOfRequestsPerSecond"], serde_json::json!({"total": 8.56, "ok": 8.56, "ko": 0}));
    assert_eq!(
        json["total"]["group1"],
        serde_json::json!({
            "name": "t < 800 ms", "htmlName": "t < 800 ms", "count": 15167, "percentage": 97.26176734641528
        })
    );
    assert_eq!(json["requests"][0]["minResponseTime"], serde_json::json!({"total": 36, "ok": 36, "ko": null}));
    assert_eq!(json["requests"][0]["pathFormatted"], "req_get-access-toke-1423633639");
    assert_eq!(json["series"]["requests"][0], serde_json::json!([1_752_755_877_000_i64, 2, 2, 0]));
    assert_eq!(json["series"]["active_users"][1]["scenario"], "abortedBuyProcessScenario");
    assert_eq!(json["series"]["active_users"][1]["data"][0], serde_json::json!([1_752_755_877_000_i64, 2]));
    assert_eq!(
        json["series"]["percentiles"][0],
        serde_json::json!([1_752_755_877_000_i64, [36, 36, 80, 82, 82, 82, 82, 82, 82, 82]])
    );
    // A stored trial reads back unchanged (to the last bit where serde_json reads floats exactly).
    let text = serde_json::to_string(&metrics).expect("serializes");
    let back: GatlingMetrics = serde_json::from_str(&text).expect("deserializes");
    assert_json_close(&serde_json::to_value(&back).expect("serializes"), &json, "");
    println!("metrics JSON: {} bytes, of which series {} bytes", text.len(), json["series"].to_string().len());
}

#[test]
fn split_upload_as_the_gatling_executor_sends_it() {
    let (html, js) = real_files();
    let body = format!("{html}\nSPLIT_HERE\n{js}");
    let (h, j) = split_upload(&body).expect("splits");
    assert_eq!((h, j), (html.as_str(), js.as_str()));
    assert_eq!(parse(h, j).expect("parses"), real_metrics());

    assert_eq!(split_upload("<html>\r\nSPLIT_HERE\r\nvar stats"), Ok(("<html>", "var stats")));
    assert_eq!(split_upload("\nSPLIT_HERE\n"), Ok(("", "")));
    assert_eq!(split_upload("SPLIT_HERE\njs"), Ok(("", "js")));
    assert_eq!(split_upload("html\nSPLIT_HERE"), Ok(("html", "")));
    // A user's text in index.html may hold the marker; the executor's separator is the last line of its own.
    assert_eq!(split_upload("a\nSPLIT_HERE\nb\nSPLIT_HERE\nc"), Ok(("a\nSPLIT_HERE\nb", "c")));
    assert_eq!(split_upload("html SPLIT_HERE js"), Err(ReportError::NoSplit));
    assert_eq!(split_upload("html\nSPLIT_HERE js"), Err(ReportError::NoSplit));
    assert_eq!(split_upload(""), Err(ReportError::NoSplit));
    assert_eq!(parse("", "").map(|_| ()), Err(ReportError::StatsNotFound));
}

fn minimal_stats(figure: &str) -> String {
    let counter = format!(r#"{{"total": {figure}, "ok": "1", "ko": "-"}}"#);
    let group = r#"{"name": "g", "count": 1, "percentage": 100.0}"#;
    let stats = format!(
        r#"{{"name": "All", "numberOfRequests": {counter}, "minResponseTime": {counter},
        "maxResponseTime": {counter}, "meanResponseTime": {counter}, "standardDeviation": {counter},
        "percentiles1": {counter},
        "percentiles2": {counter}, "percentiles3": {counter}, "percentiles4": {counter}, "group1": {group},
        "group2": {group}, "group3": {group}, "group4": {group}, "meanNumberOfRequestsPerSecond": {counter}}}"#
    );
    let header = "type: 'GROUP', name: 'All', path: '', pathFormatted: 'g'";
    format!("var stats = {{ {header}, stats: {stats}, contents: {{}} }};")
}

#[test]
fn figures_in_every_format_gatling_has_written() {
    let total = |figure: &str| parse("", &minimal_stats(figure)).map(|m| m.total.number_of_requests.total);
    assert_eq!(total(r#""1234""#), Ok(Some(1234.0)));
    assert_eq!(total(r#""8.56""#), Ok(Some(8.56)));
    assert_eq!(total(r#""-""#), Ok(None));
    assert_eq!(total(r#""        -""#), Ok(None));
    assert_eq!(total(r#""    1,300""#), Ok(Some(1300.0)));
    assert_eq!(total(r#""1,234,567.5""#), Ok(Some(1234567.5)));
    assert_eq!(total("1234"), Ok(Some(1234.0)));
    assert_eq!(total("1.2E-4"), Ok(Some(0.00012)));
    assert!(matches!(total(r#""12,34""#), Err(ReportError::Malformed { .. })));
    assert!(matches!(total(r#""abc""#), Err(ReportError::Malformed { .. })));
    assert!(matches!(total(r#""1e999""#), Err(ReportError::Malformed { .. })));
    assert!(matches!(total("NaN"), Err(ReportError::Malformed { .. })));
    assert!(matches!(total("true"), Err(ReportError::Malformed { .. })));
    let error = parse("", &minimal_stats(r#""abc""#)).expect_err("not a number").to_string();
    assert_eq!(error, r#"stats.js: stats.stats.numberOfRequests.total: "abc" is not a number"#);
}

#[test]
fn groups_are_listed_before_their_contents_with_their_paths() {
    let stats = minimal_stats(r#""1""#);
    let entry = |kind: &str, name: &str, path: &str, contents: &str| {
        let inner = &stats[stats.find("stats: ").expect("stats")..stats.rfind(", contents").expect("contents")];
        let header = format!(r#"type: "{kind}", name: "{name}", path: "{path}", pathFormatted: "{path}""#);
        format!(r#""{path}": {{ {header}, {inner} {contents} }}"#)
    };
    let request = entry("REQUEST", "r", "Checkout / r", "");
    let group = entry("GROUP", "Checkout", "Checkout", &format!(", contents: {{ {request} }}"));
    let top = entry("REQUEST", "home", "home", "");
    let js = stats.replace("contents: {}", &format!("contents: {{ {group}, {top} }}"));
    let metrics = parse("", &js).expect("parses");
    let listed: Vec<_> = metrics.requests.iter().map(|r| (r.kind, r.path.as_str())).collect();
    assert_eq!(
        listed,
        [(EntryType::Group, "Checkout"), (EntryType::Request, "Checkout / r"), (EntryType::Request, "home")]
    );
}

#[test]
fn javascript_literals() {
    let read = |text: &str| Reader::new(text, 0, "test").read_value();
    assert_eq!(
        read(r#"{a: 1, 'b': "x\"y", "c": [1, -2.5, .5, 3e2, null, true,], d: undefined, e: -Infinity, 7: 0,}"#),
        Ok(Js::Obj(vec![
            ("a".into(), Js::Num(1.0)),
            ("b".into(), Js::Str("x\"y".into())),
            (
                "c".into(),
                Js::Arr(vec![Js::Num(1.0), Js::Num(-2.5), Js::Num(0.5), Js::Num(300.0), Js::Null, Js::Bool(true)])
            ),
            ("d".into(), Js::Ident("undefined".into())),
            ("e".into(), Js::Ident("-Infinity".into())),
            ("7".into(), Js::Num(0.0)),
        ]))
    );
    assert_eq!(
        read(
            r"'a\n\t\x41\u0042\u{43}\uD83D\uDE00\q\
b'"
        ),
        Ok(Js::Str("a\n\tABC😀qb".into()))
    );
    assert_eq!(read("/* c */ // line\n [1 /* in */, 2]"), Ok(Js::Arr(vec![Js::Num(1.0), Js::Num(2.0)])));
    assert_eq!(read("'日本語 \\u00e9'"), Ok(Js::Str("日本語 é".into())));
    assert_eq!(get(&[("k".into(), Js::Num(1.0)), ("k".into(), Js::Num(2.0))], "k"), Some(&Js::Num(2.0)));
    for bad in [
        "",
        "{",
        "[1,",
        "{a 1}",
        "{a: 1 b: 2}",
        "'open",
        "function () {}",
        "/* open",
        "[1 2]",
        "-",
        "'\\u12'",
        "'\\u{110000000}'",
        "{: 1}",
        "@",
    ] {
        assert!(matches!(read(bad), Err(ReportError::Syntax { .. })), "{bad:?}: {:?}", read(bad));
    }
    let error = read("{\n  a: 1,\n  b: ]\n}").expect_err("bad");
    assert_eq!(
        error,
        ReportError::Syntax { file: "test", line: 3, column: 6, what: "unexpected ']', expected a value".into() }
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{a:"] {
        let text = format!("var stats = {}", open.repeat(100_000));
        let error = parse("", &text).expect_err("too deep");
        assert!(error.to_string().contains("nested deeper than 128 levels"), "{error}");
    }
    let html = format!("var requests = unpack({});", "[".repeat(100_000));
    assert!(parse(&html, &real_files().1).is_err());
}

#[test]
fn malformed_stats_are_errors_that_name_the_place() {
    let (_, js) = real_files();
    let cases = [
        (js.replacen("\"percentiles3\"", "\"percentilesX\"", 1), "stats.stats.percentiles3 is missing"),
        (js.replacen("type: \"REQUEST\"", "type: \"THING\"", 1), "type: expected \"GROUP\" or \"REQUEST\""),
        (js.replacen("\"count\": 15167", "\"count\": -1", 1), "stats.stats.group1.count: expected a count"),
        (js.replacen("\"total\": \"15594\"", "\"total\": [1]", 1), "numberOfRequests.total: expected a number"),
        (js.replacen("contents: {", "contents: [", 1), ""),
        ("var stats = 5;".to_owned(), "stats: expected an object, found 5"),
        ("var stats = {};".to_owned(), "stats.stats is missing"),
    ];
    for (text, expected) in cases {
        let error = parse("", &text).expect_err(expected).to_string();
        assert!(error.contains(expected), "{error} should contain {expected}");
    }
    let contents_of_request =
        js.replacen("\"req_get-access-toke-1423633639\": {", "\"req_get-access-toke-1423633639\": 3, \"x\": {", 1);
    let error = parse("", &contents_of_request).expect_err("not an object").to_string();
    assert_eq!(error, r#"stats.js: stats.contents["req_get-access-toke-1423633639"]: expected an object, found 3"#);
}

/// Truncation anywhere never panics. stats.js cut before the end of its object is an error; index.html cut inside a
/// series is an error, and cut before the charts only loses them.
#[test]
fn truncated_files_give_errors_never_panics() {
    let (html, js) = real_files();
    let object_end = js.find("function fillStats").expect("functions");
    let mut cut = 0;
    while cut < js.len() {
        if js.is_char_boundary(cut) {
            let result = parse("", &js[..cut]);
            if cut < object_end - 3 {
                assert!(result.is_err(), "stats.js cut at {cut} parsed");
            }
        }
        cut += 37;
    }
    let users_start = html.find("renderTo: 'active_users'").expect("users chart");
    let requests_start = html.find("var requests").expect("requests");
    let requests_end = requests_start + html[requests_start..].find("]);").expect("end");
    let mut cut = 0;
    while cut < html.len() {
        if html.is_char_boundary(cut) {
            match parse(&html[..cut], &js) {
                Ok(metrics) => {
                    assert!(!(requests_start + 25..requests_end).contains(&cut), "html cut at {cut} in requests");
                    if cut < users_start {
                        assert_eq!(metrics.series, TimeSeries::default());
                    }
                }
                Err(error) => assert!(
                    cut > users_start && matches!(error, ReportError::Syntax { file: "index.html", .. }),
                    "html cut at {cut}: {error}"
                ),
            }
        }
        cut += 401;
    }
}

/// Random printable bytes written over the real files: whatever the outcome, no panic.
#[test]
fn scrambled_files_never_panic() {
    let (html, js) = real_files();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"{}[]()'\"\\,:;.-+0123456789eE \n/*abcxu";
    for round in 0..300 {
        let (mut html, mut js) = (html.clone().into_bytes(), js.clone().into_bytes());
        for _ in 0..(1 + round % 20) {
            let target = if next() % 2 == 0 { &mut html } else { &mut js };
            let at = (next() % target.len() as u64) as usize;
            if target[at].is_ascii() {
                target[at] = alphabet[(next() % alphabet.len() as u64) as usize];
            }
        }
        let (html, js) = (String::from_utf8(html).expect("ASCII for ASCII"), String::from_utf8(js).expect("ASCII"));
        let _ = parse(&html, &js);
    }
}

/// Prints how long parsing the real report takes; run with `--release` too. A figure, not an assertion.
#[test]
fn parse_timing() {
    let (html, js) = real_files();
    let body = format!("{html}\nSPLIT_HERE\n{js}");
    let rounds = 50;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let (html, js) = split_upload(&body).expect("splits");
        std::hint::black_box(parse(html, js).expect("parses"));
    }
    let each = started.elapsed() / rounds;
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let stats_only = std::time::Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(parse("", &js).expect("parses"));
    }
    let stats_each = stats_only.elapsed() / rounds;
    println!(
        "parse of the real report ({} KB index.html + {} KB stats.js), {profile}: {each:?} per upload, \
         of which stats.js {stats_each:?}",
        html.len() / 1024,
        js.len() / 1024
    );
}
