//! The built-in load generator's own limits, printed (not asserted): `cargo bench --bench load`.
//!
//! `load.http` runs (through the action catalogue, as a trial runs it) against a loopback target that answers every
//! request after a known fixed delay, at rising arrival rates. For each rate it prints what was planned and sent,
//! how late the generator sent against its timetable (its own error, p99 and max), and the measured p50 / p99 /
//! max against the known delay, and against a baseline measured first in the same run: one request at a time,
//! timed around the call (what the target really takes, its timer's rounding included). The sustained rate is the highest one where every arrival was sent and the send
//! lag's p99 stayed under 1 ms. The target shares the machine (and the process) with the generator, as the
//! demo target does in the quick start.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use eris::actions::{self, ActionContext};
use serde_json::{Value, json};

const DELAY: Duration = Duration::from_millis(20);
const SECONDS: u64 = 5;
const RATES: [u64; 6] = [250, 500, 1_000, 2_000, 4_000, 8_000];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/item", listener.local_addr().unwrap());
        let app = Router::new().route(
            "/item",
            get(|| async {
                tokio::time::sleep(DELAY).await;
                "{}"
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let baseline = baseline(&url).await;
        println!(
            "target: fixed delay {} ms; baseline, one request at a time: p50 {:.3} ms, p99 {:.3} ms; {SECONDS} s per rate",
            DELAY.as_millis(),
            baseline.0,
            baseline.1
        );
        println!(
            "{:>6} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>9} {:>7}",
            "rate/s", "planned", "sent", "lag p99 ms", "lag max ms", "p50 ms", "p99 ms", "max ms", "KO"
        );
        println!("(p50/p99/max: whole milliseconds, as Gatling reports them; compare with the baseline)");
        let mut sustained = None;
        // The sustained rate is the highest of an unbroken run of good rates from the lowest.
        let mut sustained_so_far = true;
        for rate in RATES {
            let ctx = ActionContext::new(Duration::from_secs(10));
            let arguments = json!({
                "rate": rate, "duration": SECONDS, "max_in_flight": 10_000,
                "requests": [{"name": "item", "url": url}]
            });
            let Value::Object(arguments) = arguments else { unreachable!() };
            let output = actions::run("load.http", &arguments, &ctx).await.expect("the load runs");
            let result = output.result;
            let generator = &result["generator"];
            let total = &result["total"];
            let lag_p99 = generator["send_lag_p99_ms"].as_f64().unwrap();
            let (planned, sent) = (generator["planned"].as_u64().unwrap(), generator["sent"].as_u64().unwrap());
            println!(
                "{rate:>6} {planned:>8} {sent:>8} {lag_p99:>12.3} {:>12.3} {:>9} {:>9} {:>9} {:>7}",
                generator["send_lag_max_ms"].as_f64().unwrap(),
                total["percentiles1"]["total"],
                total["percentiles4"]["total"],
                total["maxResponseTime"]["total"],
                total["numberOfRequests"]["ko"],
            );
            if sent == planned && lag_p99 < 1.0 {
                if sustained_so_far {
                    sustained = Some(rate);
                }
            } else {
                sustained_so_far = false;
            }
        }
        match sustained {
            Some(rate) => println!("sustained (all sent, send lag p99 < 1 ms): {rate} requests/s"),
            None => println!("sustained: no rate tried kept the send lag p99 under 1 ms"),
        }
    });
}

/// p50 and p99 in milliseconds of 500 requests sent one after another, each timed around the call.
async fn baseline(url: &str) -> (f64, f64) {
    let client = eris::http_client::build_pooled();
    let mut times = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for _ in 0..500 {
        let started = std::time::Instant::now();
        let response = client.get(url).send().await.unwrap();
        response.bytes().await.unwrap();
        times.record(started.elapsed().as_micros() as u64).unwrap();
    }
    (times.value_at_quantile(0.5) as f64 / 1000.0, times.value_at_quantile(0.99) as f64 / 1000.0)
}
