//! The read path's figures, printed (not asserted): `cargo bench --bench http`.
//!
//! On SQLite always, and on PostgreSQL when `ERIS_TEST_DATABASE_URL` is set. For each, the bench seeds a database
//! ([`common::seed`]: a small ended trial, a MiSArch trial carrying the metrics of the real 30-minute Gatling report,
//! 1,000,000 trials of 10 experiments, 100,000 experiments and 100,000 audit entries), starts the `eris` binary on
//! it with its default settings, and drives each route over loopback with [`common::serve::CONNECTIONS`] keep-alive
//! HTTP/1.1 connections for [`common::serve::SECONDS`], as wrk does, and then alone. It prints each route's req/s
//! and their share of `GET /health`'s (the server's own floor, measured first and last in the same run: the mean of
//! the two), p50/p99/max at 32 connections, p50 alone, the server's CPU per request, and the server's peak
//! RSS over the whole run.
//!
//! With `ERIS_BENCH_BASELINE=<path of another eris binary>` (an earlier commit's `target/release/eris`, copied), it
//! serves the same database with both and drives each route alternately, twice each, then prints both side by side
//! and the ratio of their throughputs: a before/after comparison measured in one run, on one machine's noise.

mod common;

use std::time::Instant;

use common::serve::{Load, Server, drive, drive_with};
use eris::db;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in common::databases() {
        println!("== {}", database.name);
        db::migrate(&database.url).unwrap();
        let started = Instant::now();
        let seeded = runtime.block_on(common::seed::everything(&database.url));
        println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
        let server = Server::start(&database.url);
        let baseline = std::env::var_os("ERIS_BENCH_BASELINE")
            .map(|binary| Server::start_binary(std::path::Path::new(&binary), &database.url));
        runtime.block_on(async {
            server.wait_ready().await;
            let deep_trials = common::seed::follow(&server, "/api/v1/trial?limit=100", 50).await;
            let deep_experiments = common::seed::follow(&server, "/api/v1/experiment?limit=100", 50).await;
            let routes = [
                ("GET /health", "/health".to_owned()),
                ("trial, small", format!("/api/v1/trial/{}", seeded.trial)),
                ("trial, MiSArch 30-min report", format!("/api/v1/trial/{}", seeded.misarch_trial)),
                ("trials, first page", "/api/v1/trial?limit=100".to_owned()),
                ("trials, 50 pages deep", deep_trials),
                (
                    "trials, experiment + status",
                    format!("/api/v1/trial?limit=100&experiment={}&status=Failed", seeded.experiment),
                ),
                ("experiments, first page", "/api/v1/experiment?limit=100".to_owned()),
                ("experiments, 50 pages deep", deep_experiments),
                ("audit log, first page", "/api/v1/audit?limit=100".to_owned()),
                ("audit log, one actor", "/api/v1/audit?limit=100&actor=token:ci-3".to_owned()),
                ("GET /health, again", "/health".to_owned()),
            ];
            if let Some(baseline) = &baseline {
                baseline.wait_ready().await;
                compare(baseline, &server, &routes).await;
                return;
            }
            let mut rows = Vec::new();
            for (name, path) in routes {
                let loaded = drive(&server, &path).await;
                let alone = drive_with(&server, &path, 1).await;
                loaded.print(name);
                rows.push((name, loaded, alone));
            }
            print_table(&rows);
            println!("server peak RSS: {} MB", server.peak_rss_kb() / 1024);
        });
    }
}

/// The figures as one Markdown table, each route's throughput as a share of `/health`'s: the mean of its first and
/// last runs, as the machine's speed drifts over the run (other work, the CPU's clock).
fn print_table(rows: &[(&str, Load, Load)]) {
    let floor = (rows[0].1.per_second() + rows[rows.len() - 1].1.per_second()) / 2.0;
    println!("| route | req/s | of /health | p50 | p99 | max | p50 alone | CPU per request |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, loaded, alone) in rows {
        println!(
            "| {name} | {:.0} | {:.0} % | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.3} ms |",
            loaded.per_second(),
            100.0 * loaded.per_second() / floor,
            loaded.ms(0.5),
            loaded.ms(0.99),
            loaded.ms(1.0),
            alone.ms(0.5),
            loaded.cpu_ms_per_request()
        );
    }
}

/// Drives each route on `baseline` and on `server` alternately, twice each, and prints both and their ratio.
async fn compare(baseline: &Server, server: &Server, routes: &[(&str, String)]) {
    let mut rows = Vec::new();
    for (name, path) in routes {
        let mut before = drive(baseline, path).await;
        let mut after = drive(server, path).await;
        before += drive(baseline, path).await;
        after += drive(server, path).await;
        rows.push((*name, before, after));
    }
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    let floor_before = (first.1.per_second() + last.1.per_second()) / 2.0;
    let floor_after = (first.2.per_second() + last.2.per_second()) / 2.0;
    println!(
        "| route | baseline req/s (of /health) | this req/s (of /health) | this / baseline | baseline p50 / p99 | this p50 / p99 | baseline CPU | this CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, before, after) in &rows {
        println!(
            "| {name} | {:.0} ({:.0} %) | {:.0} ({:.0} %) | {:.2} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.3} ms | {:.3} ms |",
            before.per_second(),
            100.0 * before.per_second() / floor_before,
            after.per_second(),
            100.0 * after.per_second() / floor_after,
            after.per_second() / before.per_second(),
            before.ms(0.5),
            before.ms(0.99),
            after.ms(0.5),
            after.ms(0.99),
            before.cpu_ms_per_request(),
            after.cpu_ms_per_request()
        );
    }
    println!("peak RSS: baseline {} MB, this {} MB", baseline.peak_rss_kb() / 1024, server.peak_rss_kb() / 1024);
}
