//! How long validating hostile input takes, printed (not asserted): `cargo bench --bench validation`.
//!
//! Every cron pattern of `tests/fixtures/hostile/cron-patterns.json` (refused and accepted ones, rare dates
//! included) is validated as a schedule's write validates it: [`Recurrence::parse`] with its first-occurrence
//! search. Each pattern is timed over several rounds and its slowest round kept; the bench prints the worst pattern
//! and the spread. The target: at most 5 ms for any pattern.

use std::time::{Duration, Instant};

use chrono::Utc;
use eris::cron::Recurrence;

const ROUNDS: usize = 5;

fn main() {
    let corpus: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/hostile/cron-patterns.json")).unwrap();
    let patterns: Vec<&str> = ["refused", "accepted"]
        .iter()
        .flat_map(|kind| corpus[kind].as_array().unwrap())
        .map(|pattern| pattern.as_str().unwrap())
        .collect();
    let now = Utc::now();
    let mut timings: Vec<(Duration, &str)> = patterns
        .iter()
        .map(|pattern| {
            let slowest = (0..ROUNDS)
                .map(|_| {
                    let started = Instant::now();
                    let _ = std::hint::black_box(Recurrence::parse(pattern, "Europe/Berlin", now));
                    started.elapsed()
                })
                .max()
                .unwrap();
            (slowest, *pattern)
        })
        .collect();
    timings.sort();
    let at = |share: f64| timings[((timings.len() - 1) as f64 * share) as usize].0;
    let (worst, pattern) = timings.last().unwrap();
    let shown: String = pattern.chars().take(60).collect();
    println!("cron validation over {} patterns ({ROUNDS} rounds each, slowest round kept):", timings.len());
    println!("  p50 {:?}  p99 {:?}  worst {worst:?} for {shown:?}", at(0.5), at(0.99));
    let total: Duration = timings.iter().map(|(time, _)| *time).sum();
    println!("  all patterns once: {total:?}");
}
