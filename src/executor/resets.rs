//! The failure variables a trial's `misarch.set` steps set, reset after its post steps: a step that set one and no
//! later `misarch.reset` step that reset it leaves it to this clean-up, so no fault outlives its trial. What is
//! still set is read from the trial record (the steps' rendered arguments), so the recovery of a trial whose eris
//! died finds the same list.

use chrono::Utc;
use serde_json::Value;

use std::future::Future;

use super::record::{Recorder, StepOutcome, StepRecord, TrialRecord, VariableReset};
use crate::actions::misarch::{self as configurator_steps, Variable};
use crate::actions::{ActionContext, MISARCH_RESET, MISARCH_SET};
use crate::misarch::components;

/// Resets what the record's steps left set and records each reset; returns the resets that failed, as
/// `service variable: error`.
pub(super) async fn reset_what_is_left<S, F>(ctx: &ActionContext, recorder: &Recorder<S>) -> Vec<String>
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    let left_set = still_set(&recorder.snapshot().await);
    if left_set.is_empty() {
        return Vec::new();
    }
    let done = reset(ctx, left_set).await;
    let failures = done
        .iter()
        .filter_map(|reset| reset.error.as_ref().map(|error| format!("{} {}: {error}", reset.service, reset.variable)))
        .collect();
    recorder.update(|record| record.resets.extend(done)).await;
    failures
}

/// One variable of one service, or of one replica of it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    service: String,
    replica: Option<String>,
    variable: Variable,
}

/// What the record's steps left set, in the order they set it.
fn still_set(record: &TrialRecord) -> Vec<Target> {
    let mut set: Vec<Target> = Vec::new();
    for step in record.pre_steps.iter().chain(&record.steps).chain(&record.post_steps) {
        let (Some(service), replica) = (text(step, "service"), text(step, "replica")) else { continue };
        let variable = text(step, "variable").and_then(|name| Variable::named(&name));
        if step.r#do == MISARCH_SET && step.outcome != StepOutcome::Skipped {
            // Also a set that failed or was cut short: the configurator may have applied it.
            if let Some(variable) = variable {
                let target = Target { service, replica, variable };
                if !set.contains(&target) {
                    set.push(target);
                }
            }
        } else if step.r#do == MISARCH_RESET && step.outcome == StepOutcome::Succeeded {
            set.retain(|target| {
                !(target.service == service
                    && target.replica == replica
                    && variable.is_none_or(|variable| variable == target.variable))
            });
        }
    }
    set
}

fn text(step: &StepRecord, key: &str) -> Option<String> {
    step.step_parameters.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Resets each target to `null`, one after another; every reset is tried and recorded.
async fn reset(ctx: &ActionContext, targets: Vec<Target>) -> Vec<VariableReset> {
    let mut done = Vec::new();
    for target in targets {
        let request = components::set_variable(
            &target.service,
            target.replica.as_deref(),
            target.variable.configurator_name,
            &Value::Null,
        );
        let error = match &ctx.configurator {
            None => Some("no MiSArch configurator to ask: set ERIS_MISARCH_CONFIG_URL".to_owned()),
            Some(base) => configurator_steps::send(ctx, base, &request).await.err().map(|error| error.to_string()),
        };
        done.push(VariableReset {
            service: target.service,
            replica: target.replica,
            variable: target.variable.name.to_owned(),
            at: Utc::now(),
            error,
        });
    }
    done
}
