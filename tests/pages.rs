//! The report pages on both backends, against the demo target: a trial's, a sweep's and a trend's page are
//! self-contained HTML whose SVG charts hold the data the API gives as JSON (the same points, windows, spans, goals,
//! regressions); each is linked from its resource. With a browser set up (`ERIS_TEST_BROWSER`, by `.ci/browser`;
//! required under CI), every page is also loaded in headless Chromium, which must draw every chart and fetch
//! nothing but the page; the screenshots go to `target/page-screenshots/`.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{TestApp, browser_check, demo_target, serve, start_worker, wait_until};
use serde_json::{Value, json};

/// How many times `needle` occurs in `haystack`.
fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The `<svg>` element of the chart `id` in a page.
fn chart<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page.find(&format!(r#"data-chart="{id}""#)).unwrap_or_else(|| panic!("no chart {id} in the page"));
    let end = start + page[start..].find("</svg>").expect("the chart ends");
    &page[start..end]
}

/// The page at `path`: 200, HTML, a policy that lets it load and run nothing, and no script in it.
async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await.expect_status(StatusCode::OK);
    assert_eq!(response.headers["content-type"], "text/html; charset=utf-8", "{path}");
    let policy = response.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'") && !policy.contains("script"), "{path}: {policy}");
    let text = response.text();
    assert!(text.starts_with("<!DOCTYPE html>") && !text.contains("<script"), "{path}");
    println!("{} {path}: {} bytes", app.backend(), text.len());
    text
}

fn screenshot(backend: &str, name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-screenshots").join(format!("{backend}-{name}.png"))
}

/// Loads the page in Chromium (when one is set up) and returns its charts by id: each drawn with a size, nothing
/// fetched but the page, no error in the console.
async fn drawn(base: &str, path: &str, shot: std::path::PathBuf) -> Option<serde_json::Map<String, Value>> {
    let url = format!("{base}{path}");
    let result = browser_check(&url, Some(&shot)).await?;
    assert_eq!(result["status"], 200, "{url}: {result:#}");
    assert_eq!(result["requests"], json!([url]), "{url}: the page fetches nothing else");
    assert_eq!(result["errors"], json!([]), "{url}");
    let mut charts = serde_json::Map::new();
    for chart in result["charts"].as_array().unwrap() {
        assert!(chart["width"].as_f64().unwrap() > 900.0 && chart["height"].as_f64().unwrap() > 50.0, "{chart}");
        charts.insert(chart["chart"].as_str().unwrap().to_owned(), chart.clone());
    }
    Some(charts)
}

#[tokio::test]
async fn the_trial_sweep_and_trend_pages_draw_what_the_api_measured() {
    let shop = demo_target().await;
    for app in TestApp::all() {
        let backend = app.backend();
        let mut definition = common::shop_study(&shop);
        // Three seconds of load: three intervals in the percentile series.
        definition["steps"][1]["where"]["duration"] = json!(3);
        let experiment = app.create_experiment(definition).await;
        let experiment_id = experiment["id"].as_str().unwrap().to_owned();
        assert_eq!(experiment["links"]["trend_page"], format!("/api/v1/experiment/{experiment_id}/trend/page"));

        // A sweep of two latencies, twice each; then four trials of their own, the last slower than the three
        // before it, so flagged as a regression.
        let body = json!({"experiment": experiment_id, "parameters": {"latency_ms": [0, 150]}, "repeat": 2});
        let sweep = app.post("/api/v1/sweep", &body).await.expect_status(StatusCode::CREATED).json();
        let sweep_id = sweep["id"].as_str().unwrap().to_owned();
        let mut trials = Vec::new();
        for latency in [0, 0, 0, 60] {
            let body = json!({"experiment": experiment_id, "parameters": {"latency_ms": latency}});
            let trial = app.post("/api/v1/trial", &body).await.expect_status(StatusCode::CREATED).json();
            trials.push(trial["id"].as_str().unwrap().to_owned());
        }
        let (shutdown, worker) = start_worker(&app.db);
        let last = trials.last().unwrap().clone();
        wait_until(Duration::from_secs(90), "every trial to end", || async {
            app.get(&format!("/api/v1/trial/{last}")).await.json()["completed_at"].is_string()
        })
        .await;
        shutdown.cancel();
        worker.await.unwrap();
        let base = serve(&app).await;

        // The slow trial's page: its series, its steps, its goals.
        let trial = app.get(&format!("/api/v1/trial/{last}")).await.json();
        assert_eq!(trial["links"]["page"], format!("/api/v1/trial/{last}/page"), "{backend}");
        assert!(trial["regressions"].as_array().unwrap().iter().any(|r| r["metric"] == "p95"), "{backend}: {trial:#}");
        let html = page(&app, trial["links"]["page"].as_str().unwrap()).await;
        let percentiles = &trial["metrics"]["series"]["percentiles"];
        let intervals = percentiles.as_array().unwrap().iter().filter(|p| !p[1].is_null()).count();
        assert!(intervals >= 3, "{backend}: {percentiles}");
        let drawn_percentiles = chart(&html, "percentiles");
        for series in ["p50", "p75", "p95", "p99"] {
            assert!(
                drawn_percentiles.contains(&format!(r#"data-series="{series}" data-points="{intervals}""#)),
                "{backend}: {series} has a point for each interval with OK answers"
            );
        }
        let seconds = trial["metrics"]["series"]["requests"].as_array().unwrap().len();
        assert!(
            chart(&html, "throughput").contains(&format!(r#"data-series="requests sent" data-points="{seconds}""#))
        );
        assert_eq!(
            count(chart(&html, "timeline"), r#"<rect class="span "#),
            3,
            "{backend}: the steps and the clean-up"
        );
        let goals = chart(&html, "goals");
        assert_eq!(count(goals, r#"<rect class="bar "#), 2, "{backend}");
        assert_eq!(count(goals, r#"class="threshold""#), 2, "{backend}");
        assert!(html.contains("<h2>Regressions</h2>") && html.contains("Shoppers arrive"), "{backend}");
        if let Some(charts) = drawn(&base, &format!("/api/v1/trial/{last}/page"), screenshot(backend, "trial")).await {
            let p95 = &charts["percentiles"]["series"].as_array().unwrap()[2];
            assert_eq!((p95["name"].as_str(), p95["points"].as_u64()), (Some("p95"), Some(intervals as u64)));
            assert!(p95["length"].as_f64().unwrap() > 10.0, "{backend}: the line is drawn: {p95}");
            assert_eq!(charts["timeline"]["spans"], 3, "{backend}");
            assert_eq!(charts["goals"]["bars"], 2, "{backend}");
            assert_eq!(charts["goals"]["thresholds"], 2, "{backend}");
        }

        // The sweep's page: every metric against latency_ms, a dot and a range per point.
        let sweep = app.get(&format!("/api/v1/sweep/{sweep_id}")).await.json();
        assert_eq!(sweep["status"], "completed", "{backend}");
        assert_eq!(sweep["links"]["page"], format!("/api/v1/sweep/{sweep_id}/page"));
        let html = page(&app, &format!("/api/v1/sweep/{sweep_id}/page")).await;
        let p95 = chart(&html, "sweep-p95");
        assert_eq!(count(p95, r#"<circle class="point "#), 2, "{backend}: one dot per point");
        assert_eq!(count(p95, r#"<line class="range "#), 2, "{backend}: one range per point");
        for (point, result) in sweep["results"].as_array().unwrap().iter().enumerate() {
            let mean = result["metrics"]["p95"]["mean"].as_f64().unwrap();
            let latency = [0, 150][point];
            assert!(
                p95.contains(&format!(r#"data-x="{latency}" data-y="{}""#, eris::pages::svg::number(mean))),
                "{backend}: point {point} at latency {latency} with its mean p95 {mean}: {p95}"
            );
        }
        if let Some(charts) =
            drawn(&base, &format!("/api/v1/sweep/{sweep_id}/page"), screenshot(backend, "sweep")).await
        {
            assert_eq!(charts["sweep-p95"]["points"], 2, "{backend}");
            assert_eq!(charts["sweep-p95"]["ranges"], 2, "{backend}");
        }

        // The trend's page: the four trials of their own (not the sweep's), the last circled.
        let path = format!("/api/v1/experiment/{experiment_id}/trend/page?metric=p95");
        let html = page(&app, &path).await;
        let trend = chart(&html, "trend-p95");
        assert_eq!(count(trend, r#"<circle class="point "#), 4, "{backend}");
        assert_eq!(count(trend, r#"<circle class="marker""#), 1, "{backend}: the regression");
        assert_eq!(count(trend, r#"<line class="reference""#), 1, "{backend}: the median");
        assert!(html.contains(&format!("/api/v1/trial/{last}/page")), "{backend}: each trial links to its page");
        if let Some(charts) = drawn(&base, &path, screenshot(backend, "trend")).await {
            assert_eq!(charts["trend-p95"]["points"], 4, "{backend}");
            assert_eq!(charts["trend-p95"]["markers"], 1, "{backend}");
        }

        // What does not exist is a 404 naming it; a bad metric a 400 naming the parameter.
        let unknown = uuid::Uuid::new_v4();
        app.get(&format!("/api/v1/trial/{unknown}/page")).await.expect_error(
            StatusCode::NOT_FOUND,
            "trial_not_found",
            None,
        );
        app.get(&format!("/api/v1/sweep/{unknown}/page")).await.expect_error(
            StatusCode::NOT_FOUND,
            "sweep_not_found",
            None,
        );
        app.get(&format!("/api/v1/experiment/{experiment_id}/trend/page?metric=speed")).await.expect_error(
            StatusCode::BAD_REQUEST,
            "invalid_query_parameter",
            Some("metric"),
        );
    }
}
