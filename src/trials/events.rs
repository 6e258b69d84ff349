//! A trial's progress as a sequence of events (`GET /trial/{id}/events`), found by comparing successive reads of
//! the trial. Reading the database rather than listening inside the worker means any replica can serve the stream,
//! and a late subscriber first gets everything that already happened, from the record.

use serde::Serialize;
use serde_json::{Value, json};

use super::Trial;
use crate::trial_status::TrialStatus;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialEvent {
    /// `status`, `step_started`, `step_finished` or `log`.
    pub name: &'static str,
    pub data: Value,
}

const PHASES: [&str; 3] = ["pre_steps", "steps", "post_steps"];

/// What a subscriber has been told so far.
#[derive(Debug, Default)]
pub struct Tracker {
    status: Option<TrialStatus>,
    /// Per phase: for each step started, how many of its log lines were sent and whether its end was.
    steps: [Vec<(usize, bool)>; 3],
    result_logs: usize,
}

impl Tracker {
    /// The events that bring a subscriber from what it was told to `trial`'s present state.
    pub fn advance(&mut self, trial: &Trial) -> Vec<TrialEvent> {
        let mut events = Vec::new();
        let status_changed = self.status != Some(trial.status);
        let status = TrialEvent {
            name: "status",
            data: json!({"status": trial.status, "status_reason": trial.status_reason,
                          "executed_at": trial.executed_at, "completed_at": trial.completed_at}),
        };
        // Statuses passed between two reads are told too, in order: every trial was Scheduled, and one that has an
        // `executed_at` was In Progress.
        let passed = |status: TrialStatus| TrialEvent {
            name: "status",
            data: json!({"status": status, "status_reason": null, "executed_at": trial.executed_at, "completed_at": null}),
        };
        if self.status.is_none() && trial.status != TrialStatus::Scheduled {
            events.push(passed(TrialStatus::Scheduled));
        }
        let was_waiting = matches!(self.status, None | Some(TrialStatus::Scheduled));
        if status_changed && was_waiting && trial.executed_at.is_some() && trial.status != TrialStatus::InProgress {
            events.push(passed(TrialStatus::InProgress));
        }
        // A final status comes after the steps that led to it; any other before them.
        if status_changed && !trial.status.is_final() {
            events.push(status.clone());
        }
        for (phase_index, phase) in PHASES.iter().enumerate() {
            let Some(entries) = trial.trial_record.get(*phase).and_then(Value::as_array) else { continue };
            for (index, entry) in entries.iter().enumerate() {
                let sent = &mut self.steps[phase_index];
                if index >= sent.len() {
                    sent.push((0, false));
                    events.push(TrialEvent {
                        name: "step_started",
                        data: json!({"phase": phase, "index": index, "step": entry.get("step"), "do": entry.get("do"),
                                      "started_at": entry.get("started_at")}),
                    });
                }
                let logs = entry.get("logs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                for line in logs.iter().skip(sent[index].0) {
                    events
                        .push(TrialEvent { name: "log", data: json!({"phase": phase, "index": index, "line": line}) });
                }
                sent[index].0 = sent[index].0.max(logs.len());
                let finished = entry.get("finished_at").is_some_and(|f| !f.is_null());
                if finished && !sent[index].1 {
                    sent[index].1 = true;
                    events.push(TrialEvent {
                        name: "step_finished",
                        data: json!({"phase": phase, "index": index, "outcome": entry.get("outcome"),
                                      "error": entry.get("error"), "finished_at": entry.get("finished_at")}),
                    });
                }
            }
        }
        let result_logs: Vec<&Value> = trial
            .trial_record
            .get("result")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.get("logs").and_then(Value::as_array))
            .flatten()
            .collect();
        for line in result_logs.iter().skip(self.result_logs) {
            events.push(TrialEvent { name: "log", data: json!({"phase": "result", "line": line}) });
        }
        self.result_logs = self.result_logs.max(result_logs.len());
        if status_changed && trial.status.is_final() {
            events.push(status);
        }
        self.status = Some(trial.status);
        events
    }
}
