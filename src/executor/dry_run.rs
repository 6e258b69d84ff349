//! Dry runs (docs/safety.md#dry-runs): a trial that checks everything and changes nothing. Its templates were
//! rendered and its actions' pre-flight passed before this runs; then the read-only health gates (`cm.http_probe`
//! with GET or HEAD, `prometheus.query`) among the pre-steps run, the guards' gates are checked, every Prometheus the
//! trial would ask must answer, and a MiSArch run does its pre-flight only (health checks and the configurator's
//! list of services). Every other step is recorded,
//! in its place and with its rendered parameters, as what would have run; the MiSArch failure timeline as what
//! would have been applied when. Nothing is injected, loaded or changed, and no clean-up is needed.

use std::collections::BTreeSet;
use std::future::Future;

use chrono::Utc;

use super::guards::Guards;
use super::misarch::MisarchTrial;
use super::record::{Phase, Recorder, StepOutcome, StepRecord, TrialRecord, log_line, step_name};
use super::{Executor, Rendered, Stop};
use crate::actions::ActionContext;
use crate::experiments::Collector;
use crate::experiments::guards::is_read_only;
use crate::redact;
use crate::trial_status::TrialStatus;

/// What a dry run looks at: the phases of a trial rendered, its guards, its MiSArch run, its `collect` series.
pub(super) struct Plan<'a> {
    pub pre_steps: &'a [Rendered],
    pub steps: &'a [Rendered],
    pub post_steps: &'a [Rendered],
    pub guards: &'a Guards<'a>,
    pub misarch: Option<&'a MisarchTrial>,
    pub collect: &'a [Collector],
}

impl Plan<'_> {
    /// Every Prometheus the trial would ask (a step's or a collector's own URL, or `None` for ERIS_PROMETHEUS_URL).
    fn prometheus_servers(&self) -> BTreeSet<Option<String>> {
        let steps = self.pre_steps.iter().chain(self.steps).chain(self.post_steps);
        let of_steps = steps
            .filter(|rendered| rendered.step.action == "prometheus.query")
            .map(|rendered| rendered.arguments.get("url").and_then(|url| url.as_str()).map(str::to_owned));
        let of_collect = self.collect.iter().map(|collector| collector.url.as_ref().map(|url| url.to_string()));
        of_steps.chain(of_collect).collect()
    }
}

impl Executor {
    /// Runs a dry run; returns how it ended.
    pub(super) async fn dry_run<S, F>(
        &self,
        plan: Plan<'_>,
        ctx: &ActionContext,
        stop: &Stop,
        recorder: &Recorder<S>,
        identity: &super::load::TrialIdentity<'_>,
    ) -> (TrialStatus, String)
    where
        S: Fn(TrialRecord) -> F,
        F: Future<Output = ()>,
    {
        let mut checks = 0;
        for (index, rendered) in plan.pre_steps.iter().enumerate() {
            if !is_read_only(&rendered.step.action, &rendered.arguments) {
                skip(recorder, Phase::PreSteps, rendered).await;
                continue;
            }
            checks += 1;
            let one = std::slice::from_ref(rendered);
            if let Some(failure) = self.run_phase(Phase::PreSteps, one, ctx, recorder, identity).await {
                return (TrialStatus::Aborted, format!("dry run: pre_steps[{index}] failed: {}", failure.message));
            }
        }
        if let Some(reason) = plan.guards.gate(ctx, recorder).await {
            return (TrialStatus::Aborted, format!("dry run: {reason}"));
        }
        // Every Prometheus the trial would ask answers a query that reads nothing.
        for server in plan.prometheus_servers() {
            let mut arguments = serde_json::Map::new();
            arguments.insert("query".to_owned(), "vector(1)".into());
            if let Some(url) = &server {
                arguments.insert("url".to_owned(), url.clone().into());
            }
            let at = server.as_deref().map_or("ERIS_PROMETHEUS_URL".to_owned(), |url| format!("Prometheus at {url}"));
            match crate::actions::run("prometheus.query", &arguments, ctx).await {
                Ok(_) => {
                    checks += 1;
                    recorder.update(|record| record.log_result("INFO", &format!("Dry run: {at} answers."))).await;
                }
                Err(error) => return (TrialStatus::Aborted, format!("dry run: {at} does not answer: {error}")),
            }
        }
        if let Some(misarch) = plan.misarch {
            let end = self.misarch.dry_run(misarch, &self.actions.http, stop, recorder).await;
            if let Some((status, reason)) = end.failure {
                return (status, format!("dry run: {reason}"));
            }
        }
        for rendered in plan.steps {
            skip(recorder, Phase::Steps, rendered).await;
        }
        for rendered in plan.post_steps {
            skip(recorder, Phase::PostSteps, rendered).await;
        }
        let would_run = plan.pre_steps.len() + plan.steps.len() + plan.post_steps.len() - checks;
        let misarch = if plan.misarch.is_some() { ", the MiSArch pre-flight passed" } else { "" };
        (
            TrialStatus::Succeeded,
            format!(
                "dry run: nothing was injected, loaded or changed; {checks} read-only check(s) passed{misarch}, \
                 {would_run} step(s) would run"
            ),
        )
    }
}

/// Records a step that a dry run does not run, in its place, with the parameters it would have had.
async fn skip<S, F>(recorder: &Recorder<S>, phase: Phase, rendered: &Rendered)
where
    S: Fn(TrialRecord) -> F,
    F: Future<Output = ()>,
{
    let now = Utc::now();
    let entry = StepRecord {
        step_name: step_name(&rendered.step.action),
        step: rendered.step.step.clone(),
        r#do: rendered.step.action.clone(),
        step_parameters: redact::redact(&serde_json::Value::Object(rendered.arguments.clone())),
        started_at: now,
        finished_at: Some(now),
        outcome: StepOutcome::Skipped,
        result: None,
        expectations: Vec::new(),
        error: None,
        logs: vec![log_line("INFO", "Dry run: not run; it would run here, with these parameters.")],
    };
    recorder.update(|record| record.phase_mut(phase).push(entry)).await;
}
