//! What `chaostoolkit.run` adds to a bare `chaos run`, printed (not asserted): `cargo bench --bench chaostoolkit`.
//!
//! Needs the real CLI in `ERIS_TEST_CHAOS_CLI` (as `.ci/run` sets it). The same small experiment (a hypothesis
//! probe, one action, one rollback, all `process` providers) runs alternately as a bare `chaos run` (the command
//! eris would run, timed around the process) and through the action, [`RUNS`] times each; the bench prints the
//! median and the fastest of each and their difference: eris's own overhead (the working directory, the
//! experiment file, reading and summarising the journal).

use std::time::{Duration, Instant};

use eris::actions::{self, ActionContext};
use serde_json::{Value, json};

const RUNS: usize = 7;

fn main() {
    let Some(cli) = std::env::var_os("ERIS_TEST_CHAOS_CLI") else {
        println!("set ERIS_TEST_CHAOS_CLI to a chaos CLI (e.g. the venv-ctk/bin/chaos of real-components setup)");
        return;
    };
    let experiment = json!({
        "title": "bench", "description": "eris's overhead",
        "steady-state-hypothesis": {"title": "fine", "probes": [
            {"type": "probe", "name": "fine", "tolerance": 0, "provider": {"type": "process", "path": "true"}}]},
        "method": [{"type": "action", "name": "act", "provider": {"type": "process", "path": "true"}}],
        "rollbacks": [{"type": "action", "name": "heal", "provider": {"type": "process", "path": "true"}}]
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let ctx = ActionContext { chaos_cli: cli.clone().into(), ..ActionContext::new(Duration::from_secs(60)) };
    let Value::Object(arguments) = json!({"experiment": experiment}) else { unreachable!() };
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("experiment.json");
    std::fs::write(&file, experiment.to_string()).unwrap();
    let (mut bare, mut through) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = std::process::Command::new(&cli)
            .args(["--no-version-check", "--log-file"])
            .arg(directory.path().join("chaostoolkit.log"))
            .args(["run", "--journal-path"])
            .arg(directory.path().join("journal.json"))
            .args(["--rollback-strategy", "always"])
            .arg(&file)
            .current_dir(directory.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        bare.push(started.elapsed());
        let started = Instant::now();
        runtime.block_on(actions::run("chaostoolkit.run", &arguments, &ctx)).expect("the run succeeds");
        through.push(started.elapsed());
    }
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (bare_median, through_median) = (median(&mut bare), median(&mut through));
    println!("{RUNS} runs each, alternating");
    println!("bare `chaos run`:       median {:.1} ms, fastest {:.1} ms", ms(bare_median), ms(bare[0]));
    println!("chaostoolkit.run step:  median {:.1} ms, fastest {:.1} ms", ms(through_median), ms(through[0]));
    println!(
        "overhead: {:.1} ms at the median ({:+.1} %), {:.1} ms fastest to fastest",
        ms(through_median) - ms(bare_median),
        (ms(through_median) / ms(bare_median) - 1.0) * 100.0,
        ms(through[0]) - ms(bare[0])
    );
}
