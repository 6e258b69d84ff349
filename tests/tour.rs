//! The README's five-minute tour, run as written: its shell blocks, copied from README.md, against a real
//! `eris serve` on the SQLite default and a real `eris demo-target`, so the tour never goes stale. Only the
//! addresses change (free ports instead of 8080 and 9000), and the blocks that start a process (`cargo run`) or
//! follow a stream (`curl -N`) are left to the test.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::wait_until;
use serde_json::Value;

const README: &str = include_str!("../README.md");
/// Where the README says both trials have been asked for; the test waits for them to end there.
const WAIT_MARK: &str = "<!-- The tour test (tests/tour.rs) waits here until both trials have ended. -->";

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The tour's `sh` blocks before and after the wait mark, without those the test does itself.
fn tour_blocks() -> (Vec<String>, Vec<String>) {
    let start = README.find("## A five-minute tour").expect("the README has the tour");
    let rest = &README[start + 3..];
    let tour = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let (before, after) = tour.split_once(WAIT_MARK).expect("the tour has the wait mark");
    let blocks = |text: &str| -> Vec<String> {
        text.split("```sh\n")
            .skip(1)
            .map(|block| block.split("```").next().unwrap().to_owned())
            .filter(|block| !block.contains("cargo run") && !block.contains("curl -N"))
            .collect()
    };
    (blocks(before), blocks(after))
}

/// Runs shell text with bash, failing on the first failing command; returns its standard output.
fn bash(script: &str, env: &[(&str, &str)]) -> String {
    let mut command = Command::new("bash");
    command.arg("-c").arg(format!("set -euo pipefail\n{script}"));
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the tour failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_tour_runs_as_written() {
    let (eris_port, shop_port) = (free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    let _shop = Process(
        Command::new(env!("CARGO_BIN_EXE_eris"))
            .args(["demo-target", "--bind", &format!("127.0.0.1:{shop_port}")])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _eris = Process(
        Command::new(env!("CARGO_BIN_EXE_eris"))
            .arg("serve")
            .env("ERIS_DATA_DIR", data.path())
            .env("ERIS_BIND", format!("127.0.0.1:{eris_port}"))
            .env_remove("DATABASE_URL")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (eris, shop) = (format!("http://127.0.0.1:{eris_port}"), format!("http://127.0.0.1:{shop_port}"));
    let http = eris::http_client::build();
    for url in [format!("{eris}/ready"), format!("{shop}/health")] {
        wait_until(Duration::from_secs(30), &url, || async {
            http.get(&url).send().await.is_ok_and(|response| response.status() == 200)
        })
        .await;
    }
    let localise = |block: &str| {
        block
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{eris_port}"))
            .replace("127.0.0.1:9000", &format!("127.0.0.1:{shop_port}"))
    };
    let (before, after) = tour_blocks();
    assert!(before.len() >= 3 && after.len() >= 2, "the tour's blocks: {before:?} {after:?}");

    let first = bash(
        &format!(
            "{}\nprintf '\\nEXPERIMENT=%s\\n' \"$EXPERIMENT\"\n",
            before.iter().map(|b| localise(b)).collect::<String>()
        ),
        &[],
    );
    let experiment =
        first.lines().find_map(|line| line.strip_prefix("EXPERIMENT=")).expect("the tour keeps the id").to_owned();
    let trials_url = format!("{eris}/api/v1/trial?experiment={experiment}");
    let ended = |trials: &Value| {
        trials
            .as_array()
            .is_some_and(|list| list.len() == 2 && list.iter().all(|trial| trial["completed_at"].is_string()))
    };
    wait_until(Duration::from_secs(90), "both tour trials to end", || async {
        let text = http.get(&trials_url).send().await.unwrap().text().await.unwrap();
        ended(&serde_json::from_str(&text).unwrap())
    })
    .await;
    let trials: Value =
        serde_json::from_str(&http.get(&trials_url).send().await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(trials[0]["status"], "Succeeded", "the clean trial: {trials:#}");
    assert_eq!(trials[1]["status"], "Failed", "the slow trial: {trials:#}");

    let second = bash(&after.iter().map(|b| localise(b)).collect::<String>(), &[("EXPERIMENT", &experiment)]);
    assert!(
        second.contains("Failed - steps[1] failed: 1 goal(s) violated: 95th percentile response time: actual 3"),
        "the record says which goal failed:\n{second}"
    );
    assert!(second.contains("\"next_run_at\""), "the schedule was made:\n{second}");
    assert!(
        second.contains(r#"{"code":"invalid_recurrence_pattern","message":"recurrence_pattern '0 0 31 2 *' never fires: there is no such date","field":"recurrence_pattern"}"#),
        "the mistake is named as the README says:\n{second}"
    );
}
