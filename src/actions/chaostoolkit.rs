//! `chaostoolkit.run`: runs a Chaos Toolkit experiment through the real `chaos` CLI and reads its verdict from the
//! journal, not from the exit code.
//!
//! Why the journal: `chaos run` exits 0 when the steady-state hypothesis fails *before* the method (the method is
//! then skipped, status `completed`, `deviated` false: chaostoolkit-lib's own `test_experiment_with_steady_state`),
//! and a method action that raises does not fail the run either (chaostoolkit-lib#95). So:
//! - `steady_states.before.steady_state_met == false`: the system was not healthy to begin with. The step fails
//!   as a gate ([`ActionError::GateFailed`]): the trial ends `Aborted`, as for a failed `pre_steps` probe.
//! - `deviated`, or a status other than `completed` (`failed`, `aborted`, `interrupted`): the step fails.
//! - A run without a readable journal (the CLI refused the experiment, or crashed) fails with the CLI's own words.
//!
//! Each run gets a directory of its own (the experiment, `journal.json`, `chaostoolkit.log`), removed afterwards;
//! what it held is kept in the step's result: the status, each activity of `run` and `rollbacks` with its status,
//! output and error, the hypotheses, and the whole journal (redacted with the rest of the record).
//!
//! Rollbacks: eris passes `--rollback-strategy always` unless the step says otherwise, so the rollbacks run also when
//! the run failed or was interrupted (the CLI's own default skips them then). A stop, or the step's timeout, sends
//! SIGINT to the CLI's process group (Chaos Toolkit's interruption, which ends with status `interrupted` and plays
//! the rollbacks), waits up to [`ROLLBACK_GRACE`] for it to finish, then kills it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value, json};
use tokio::process::Command;

use super::arguments::{Rendered, Stage, seconds};
use super::{ActionContext, ActionError};

/// The CLI looked up on `PATH` when `ERIS_CHAOS_CLI` is not set.
pub const DEFAULT_CLI: &str = "chaos";
/// A day: longer is more likely a unit mistake than an experiment.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;
/// Without a `timeout`: an hour, a long experiment's length.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3_600);
/// How long an interrupted run may take to play its rollbacks before it is killed.
pub const ROLLBACK_GRACE: Duration = Duration::from_secs(60);
/// How much of the CLI's output and log is kept when a run fails without a journal.
const MAX_TAIL_BYTES: usize = 8 * 1024;

/// The arguments of `chaostoolkit.run`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct ChaosArguments<S: Stage> {
    /// The Chaos Toolkit experiment, as its JSON document (`title`, `description`, `method`, …).
    experiment: S::Value<ChaosExperiment>,
    /// Passed as `--var name=value` (numbers typed as `:int` or `:float`), for `${name}` in the experiment.
    vars: Option<Map<String, Value>>,
    /// Seconds the run may take (default an hour); then it is interrupted like a stop.
    timeout: Option<S::Value<ChaosTimeout>>,
    /// `--rollback-strategy`: `always` (eris's default), `default`, `never` or `deviated`.
    rollback_strategy: Option<S::Value<RollbackStrategy>>,
}

impl<S: Stage> ChaosArguments<S> {
    /// What the types cannot say: each var a name and a string, number or boolean (or a template at write time).
    pub fn check(self) -> Result<Self, super::ArgumentError> {
        for (name, value) in self.vars.iter().flatten() {
            let field = format!("vars.{name}");
            let invalid =
                |reason: &str| super::ArgumentError::Invalid { field: field.clone(), reason: reason.to_owned() };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(invalid("a var's name is letters, digits, '_' and '-'"));
            }
            if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                return Err(invalid("a var is a string, a number or a boolean"));
            }
        }
        Ok(self)
    }
}

/// An object with the members Chaos Toolkit requires: a string `title` and `description`, a list `method`.
pub struct ChaosExperiment(Value);

impl<'de> Deserialize<'de> for ChaosExperiment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let Some(object) = value.as_object() else {
            return Err(de::Error::custom("must be a Chaos Toolkit experiment, a JSON object"));
        };
        for key in ["title", "description"] {
            if !object.get(key).is_some_and(Value::is_string) {
                return Err(de::Error::custom(format!("a Chaos Toolkit experiment needs a string '{key}'")));
            }
        }
        if !object.get("method").is_some_and(Value::is_array) {
            return Err(de::Error::custom("a Chaos Toolkit experiment needs a 'method' list (it may be empty)"));
        }
        Ok(Self(value))
    }
}

/// More than 0 and at most [`MAX_TIMEOUT_SECONDS`].
pub struct ChaosTimeout(Duration);

impl<'de> Deserialize<'de> for ChaosTimeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        seconds(deserializer, false, MAX_TIMEOUT_SECONDS).map(Self)
    }
}

/// One of the CLI's rollback strategies.
pub struct RollbackStrategy(&'static str);

impl<'de> Deserialize<'de> for RollbackStrategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const STRATEGIES: [&str; 4] = ["always", "default", "never", "deviated"];
        let text = String::deserialize(deserializer)?;
        STRATEGIES
            .into_iter()
            .find(|strategy| *strategy == text)
            .map(Self)
            .ok_or_else(|| de::Error::custom(format!("'{text}' is not one of {}", STRATEGIES.join(", "))))
    }
}

/// Where the `chaos` CLI is, or why it is not there: checked before a trial that needs it starts anything.
pub fn locate(cli: &Path) -> Result<PathBuf, String> {
    let found = if cli.components().count() > 1 {
        cli.is_file().then(|| cli.to_path_buf())
    } else {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|directory| directory.join(cli))
            .find(|candidate| candidate.is_file())
    };
    found.ok_or_else(|| {
        format!(
            "the Chaos Toolkit CLI '{}' was not found (install chaostoolkit, e.g. `pip install chaostoolkit`, and set \
             ERIS_CHAOS_CLI to its path)",
            cli.display()
        )
    })
}

pub async fn run(arguments: ChaosArguments<Rendered>, ctx: &ActionContext) -> Result<Value, ActionError> {
    let cli = locate(&ctx.chaos_cli).map_err(|message| ActionError::Failed { message, result: None })?;
    let directory =
        tempfile::Builder::new().prefix("eris-chaostoolkit-").tempdir().map_err(|error| ActionError::Failed {
            message: format!("cannot make a directory for the Chaos Toolkit run: {error}"),
            result: None,
        })?;
    let experiment_path = directory.path().join("experiment.json");
    let journal_path = directory.path().join("journal.json");
    let log_path = directory.path().join("chaostoolkit.log");
    let written = serde_json::to_vec_pretty(&arguments.experiment.0).map_err(std::io::Error::other);
    written.and_then(|text| std::fs::write(&experiment_path, text)).map_err(|error| ActionError::Failed {
        message: format!("cannot write the Chaos Toolkit experiment: {error}"),
        result: None,
    })?;

    let mut command = Command::new(&cli);
    command
        .arg("--no-version-check")
        .arg("--log-file")
        .arg(&log_path)
        .arg("run")
        .arg("--journal-path")
        .arg(&journal_path)
        .arg("--rollback-strategy")
        .arg(arguments.rollback_strategy.map_or("always", |RollbackStrategy(strategy)| strategy));
    for (name, value) in arguments.vars.iter().flatten() {
        command.arg("--var").arg(var_argument(name, value));
    }
    command
        .arg(&experiment_path)
        .current_dir(directory.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|error| ActionError::Failed {
        message: format!("cannot start the Chaos Toolkit CLI {}: {error}", cli.display()),
        result: None,
    })?;
    let timeout = arguments.timeout.map_or(DEFAULT_TIMEOUT, |ChaosTimeout(timeout)| timeout);
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let output = async {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            if let Some(stream) = stdout.as_mut() {
                let _ = stream.read_to_end(&mut out).await;
            }
        };
        let read_err = async {
            if let Some(stream) = stderr.as_mut() {
                let _ = stream.read_to_end(&mut err).await;
            }
        };
        tokio::join!(read_out, read_err);
        (out, err)
    };
    tokio::pin!(output);
    let mut captured = None;
    let ending = tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => Ending::Stopped,
        () = tokio::time::sleep(timeout) => Ending::TimedOut(timeout),
        both = &mut output => {
            captured = Some(both);
            Ending::Exited
        }
    };
    if !matches!(ending, Ending::Exited) {
        interrupt(&child);
        if tokio::time::timeout(ROLLBACK_GRACE, child.wait()).await.is_err() {
            let _ = child.start_kill();
        }
    }
    let status = child.wait().await.ok();
    let (stdout, stderr) = match captured {
        Some(both) => both,
        None => tokio::time::timeout(Duration::from_secs(5), output).await.unwrap_or_default(),
    };
    let exit_code = status.and_then(|status| status.code());
    let journal = std::fs::read(&journal_path).ok().and_then(|text| serde_json::from_slice::<Value>(&text).ok());
    let log = std::fs::read(&log_path).unwrap_or_default();
    drop(directory);

    let Some(journal) = journal else {
        let message = format!(
            "the Chaos Toolkit CLI exited {} without a journal: {}",
            exit_code.map_or_else(|| "on a signal".to_owned(), |code| format!("with code {code}")),
            last_line(&stderr).or_else(|| last_line(&log)).unwrap_or_else(|| "it printed nothing".to_owned())
        );
        let result =
            json!({"exit_code": exit_code, "stdout": tail(&stdout), "stderr": tail(&stderr), "log": tail(&log)});
        return Err(ActionError::Failed { message, result: Some(result) });
    };
    let result = summary(&journal, exit_code);
    match ending {
        Ending::Stopped => {
            return Err(ActionError::Interrupted { result: Some(result) });
        }
        Ending::TimedOut(timeout) => {
            let message = format!("the Chaos Toolkit run was interrupted after its timeout of {timeout:?}");
            return Err(ActionError::Failed { message, result: Some(result) });
        }
        Ending::Exited => {}
    }
    verdict(&journal, result)
}

enum Ending {
    Exited,
    Stopped,
    TimedOut(Duration),
}

/// SIGINT to the CLI's process group: Chaos Toolkit's own interruption, which plays the rollbacks.
fn interrupt(child: &tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGINT);
    }
}

/// `name=value`, or `name:int=5` / `name:float=0.5` so that the experiment receives a number.
fn var_argument(name: &str, value: &Value) -> String {
    match value {
        Value::String(text) => format!("{name}={text}"),
        Value::Number(number) if number.is_f64() => format!("{name}:float={number}"),
        Value::Number(number) => format!("{name}:int={number}"),
        other => format!("{name}={other}"),
    }
}

/// What the step's record keeps of a journal.
fn summary(journal: &Value, exit_code: Option<i32>) -> Value {
    let activities = |key: &str| -> Vec<Value> {
        journal[key].as_array().map(|runs| runs.iter().map(activity).collect()).unwrap_or_default()
    };
    let hypothesis = |when: &str| -> Value {
        let state = &journal["steady_states"][when];
        if state.is_null() {
            return Value::Null;
        }
        json!({
            "steady_state_met": state["steady_state_met"],
            "probes": state["probes"].as_array().map(|probes| probes.iter().map(activity).collect::<Vec<_>>()).unwrap_or_default(),
        })
    };
    json!({
        "exit_code": exit_code,
        "status": journal["status"],
        "deviated": journal["deviated"],
        "duration": journal["duration"],
        "steady_state_before": hypothesis("before"),
        "steady_state_after": hypothesis("after"),
        "run": activities("run"),
        "rollbacks": activities("rollbacks"),
        "journal": journal,
    })
}

/// One activity's run: its name, type, status, output, and the last line of its exception.
fn activity(run: &Value) -> Value {
    let mut entry = json!({
        "name": run["activity"]["name"],
        "type": run["activity"]["type"],
        "status": run["status"],
        "output": run["output"],
    });
    if let Some(met) = run.get("tolerance_met") {
        entry["tolerance_met"] = met.clone();
    }
    if let Some(error) = run["exception"].as_array().and_then(|lines| lines.last()).and_then(Value::as_str) {
        entry["error"] = Value::String(error.trim().to_owned());
    }
    entry
}

/// The run's verdict, from its journal.
fn verdict(journal: &Value, result: Value) -> Result<Value, ActionError> {
    let failed_probes = |when: &str| -> String {
        let names: Vec<String> = journal["steady_states"][when]["probes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|probe| probe["tolerance_met"] == Value::Bool(false) || probe["status"] == "failed")
            .filter_map(|probe| probe["activity"]["name"].as_str().map(|name| format!("'{name}'")))
            .collect();
        if names.is_empty() { String::new() } else { format!(" (probe {})", names.join(", ")) }
    };
    let title = journal["experiment"]["steady-state-hypothesis"]["title"].as_str().unwrap_or("steady state");
    if journal["steady_states"]["before"]["steady_state_met"] == Value::Bool(false) {
        let message = format!(
            "the steady-state hypothesis '{title}' was not met before the method{}; nothing was injected",
            failed_probes("before")
        );
        return Err(ActionError::GateFailed { message, result: Some(result) });
    }
    if journal["deviated"] == Value::Bool(true) {
        let message = format!(
            "the system deviated: the steady-state hypothesis '{title}' was not met after the method{}",
            failed_probes("after")
        );
        return Err(ActionError::Failed { message, result: Some(result) });
    }
    match journal["status"].as_str() {
        Some("completed") => Ok(result),
        status => {
            let failed: Vec<String> = journal["run"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|run| run["status"] == "failed")
                .filter_map(|run| run["activity"]["name"].as_str().map(|name| format!("'{name}'")))
                .collect();
            let detail = if failed.is_empty() { String::new() } else { format!("; failed: {}", failed.join(", ")) };
            let message = format!("the Chaos Toolkit run ended {}{detail}", status.unwrap_or("without a status"));
            Err(ActionError::Failed { message, result: Some(result) })
        }
    }
}

fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(MAX_TAIL_BYTES);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes).lines().rev().map(str::trim).find(|line| !line.is_empty()).map(str::to_owned)
}
