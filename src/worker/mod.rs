//! The worker: runs queued trials one after another, in `scheduled_for` order.
//!
//! At most one trial is `In Progress` in the whole deployment, also with several eris processes on one database:
//! only the holder of the `trial-worker` lease (a row in the database with an expiry, renewed by heartbeats) claims
//! trials. The holder also recovers trials whose heartbeat went stale (their process died): their clean-up runs
//! (the MiSArch components' teardown, then post_steps) and they end `Failed` ("interrupted"), or `Stopped` if a stop
//! had been requested.

use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use std::sync::Arc;

use crate::db::{self, Db, TrialRow, write_transaction};
use crate::error::Result;
use crate::executor::{Ending, Executor, Stop, StopReason, TrialRun, record::TrialRecord};
use crate::experiments::Definition;
use crate::json::{from_text, to_text};
use crate::time;
use crate::transient::{self, Retrier};
use crate::trial_status::TrialStatus;
use crate::wakeups::Wakeups;
use crate::webhooks::Event;
use crate::webhooks::delivery::{self, WebhookConfig};

pub const LEASE: &str = "trial-worker";

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long the lease lasts without renewal; a new holder waits this long after its holder died.
    pub lease_ttl: StdDuration,
    /// How often a running trial's heartbeat (and the lease) is renewed, and a stop request looked for.
    pub heartbeat_every: StdDuration,
    /// How often an idle worker looks for queued trials besides being woken (trials queued through another replica).
    pub poll_interval: StdDuration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            lease_ttl: StdDuration::from_secs(6),
            heartbeat_every: StdDuration::from_millis(500),
            poll_interval: StdDuration::from_secs(1),
        }
    }
}

pub struct Worker {
    db: Db,
    wakeups: Wakeups,
    config: WorkerConfig,
    executor: Executor,
    webhooks: Arc<WebhookConfig>,
    id: String,
}

impl Worker {
    pub fn new(db: Db, wakeups: Wakeups, config: WorkerConfig, executor: Executor) -> Self {
        let webhooks = Arc::new(WebhookConfig::default());
        Self { db, wakeups, config, executor, webhooks, id: crate::process::id("worker") }
    }

    /// Where trial events go besides each experiment's own `notify` list.
    pub fn with_webhooks(mut self, webhooks: WebhookConfig) -> Self {
        self.webhooks = Arc::new(webhooks);
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` is cancelled; a trial running then is stopped at a safe point and recorded as
    /// interrupted.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(worker = %self.id, "worker started");
        let notify = self.wakeups.worker.clone();
        while !shutdown.is_cancelled() {
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.work_once(&shutdown).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => tracing::error!(worker = %self.id, "worker: {}", error.message),
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll_interval) => {}
                () = woken => {}
                () = shutdown.cancelled() => {}
            }
        }
        let (db, id) = (self.db.clone(), self.id.clone());
        if let Err(error) = db.run(move |conn| db::lease::release(conn, LEASE, &id)).await {
            tracing::warn!("cannot release the worker lease: {}", error.message);
        }
        crate::telemetry::lease_held(false);
        tracing::info!(worker = %self.id, "worker stopped");
    }

    /// Takes the lease if it can, recovers stale trials, and runs the next queued trial. Returns whether it ran
    /// one (then it looks for the next at once).
    pub async fn work_once(&self, shutdown: &CancellationToken) -> Result<bool> {
        // A database error means the lease may lapse: say so, rather than show a lease this process may not hold.
        let held = transient::retry(Retrier::Worker, || self.renew_lease())
            .await
            .inspect_err(|_| crate::telemetry::lease_held(false))?;
        crate::telemetry::lease_held(held);
        if !held {
            return Ok(false);
        }
        self.recover_stale().await?;
        // While the emergency stop holds or a blackout is in force, nothing starts; a trial still queued is stopped.
        let webhooks = self.webhooks.clone();
        if let Some(stopped) = self.db.run(move |conn| crate::safety::holds(conn, &webhooks)).await? {
            for _ in 0..stopped {
                crate::telemetry::trial_finished(TrialStatus::Stopped, None);
            }
            if stopped > 0 {
                self.wakeups.webhooks_queued();
            }
            return Ok(false);
        }
        let id = self.id.clone();
        // `now` is read on the database thread, just before the claim, so `executed_at` never precedes the
        // trial's `created_at`.
        let claimed = transient::retry(Retrier::Worker, || {
            let id = id.clone();
            self.db.run(move |conn| db::trials::claim_next(conn, &id, time::to_db(time::now())))
        })
        .await?;
        let Some(trial) = claimed else {
            return Ok(false);
        };
        self.run_claimed(trial, shutdown, false).await;
        Ok(true)
    }

    async fn renew_lease(&self) -> Result<bool> {
        let (id, ttl) = (self.id.clone(), Duration::from_std(self.config.lease_ttl).unwrap_or(Duration::seconds(6)));
        let now = time::now();
        self.db.run(move |conn| db::lease::acquire(conn, LEASE, &id, time::to_db(now), time::to_db(now + ttl))).await
    }

    /// Trials whose worker stopped heartbeating for longer than a lease: that worker is gone.
    async fn recover_stale(&self) -> Result<()> {
        let stale_before = time::to_db(time::now() - Duration::from_std(self.config.lease_ttl).unwrap_or_default());
        let stale = self.db.run(move |conn| db::trials::stale(conn, stale_before)).await?;
        for trial in stale {
            let (id, key, now) = (self.id.clone(), trial.id.clone(), time::to_db(time::now()));
            if self.db.run(move |conn| db::trials::adopt(conn, &key, &id, stale_before, now)).await? {
                tracing::warn!(trial = %trial.id, "recovering a trial whose worker died");
                self.run_claimed(trial, &CancellationToken::new(), true).await;
            }
        }
        Ok(())
    }

    /// Runs a claimed trial with a heartbeat beside it, and stores how it ended. `recovering`: the trial's worker
    /// died; only its clean-up (MiSArch teardown, post_steps) runs.
    async fn run_claimed(&self, trial: TrialRow, shutdown: &CancellationToken, recovering: bool) {
        let span = tracing::info_span!(
            "trial",
            trial = %trial.id,
            experiment = %trial.experiment_id,
            schedule = trial.schedule_id.as_deref().unwrap_or("-")
        );
        self.run_claimed_in_span(trial, shutdown, recovering).instrument(span).await;
    }

    async fn run_claimed_in_span(&self, trial: TrialRow, shutdown: &CancellationToken, recovering: bool) {
        if !recovering {
            let (db, webhooks, row) = (self.db.clone(), self.webhooks.clone(), trial.clone());
            match db
                .run(move |conn| delivery::enqueue(conn, &webhooks, &crate::trials::notice(&row)?, Event::Started))
                .await
            {
                Ok(0) => {}
                Ok(_) => self.wakeups.webhooks_queued(),
                Err(error) => tracing::error!("cannot queue the 'started' webhooks: {}", error.message),
            }
        }
        let stop = Stop::default();
        if trial.status == TrialStatus::StopInitiated.as_str() {
            stop.stop(StopReason::Requested);
        }
        // Aborted when dropped: if this worker is dropped mid-trial, the trial must look dead, not alive.
        let heartbeat = AbortOnDrop(tokio::spawn(
            heartbeat(
                self.db.clone(),
                self.config.clone(),
                self.id.clone(),
                trial.id.clone(),
                stop.clone(),
                shutdown.clone(),
            )
            .in_current_span(),
        ));
        let ending = match self.execute(&trial, &stop, recovering).await {
            Ok(ending) => ending,
            Err(error) => Ending {
                status: TrialStatus::Failed,
                reason: format!("eris could not run the trial: {}", error.message),
                record: TrialRecord::default(),
            },
        };
        drop(heartbeat);
        // A templated URL can carry a secret into the reason; the log shows it masked, as the API does.
        let shown_reason = match crate::trials::secret_texts_of(&trial) {
            Ok(secrets) => secrets.redact(&ending.reason),
            Err(_) => "(not shown: the trial's stored parameters cannot be read)".to_owned(),
        };
        tracing::info!(status = ending.status.as_str(), reason = %shown_reason, "trial ended");
        let (db, id, key, webhooks) = (self.db.clone(), self.id.clone(), trial.id.clone(), self.webhooks.clone());
        let record = to_text(&ending.record);
        let status = ending.status;
        let now = time::to_db(time::now());
        // The end and its webhooks are stored together: a crash cannot lose the notification of a recorded end.
        let finished = db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // A stop asked for with a reason of its own (its sweep's, the emergency stop's) keeps it.
                    let asked = db::trials::find(conn, &key)?.and_then(|row| row.status_reason);
                    let reason = if status == TrialStatus::Stopped {
                        crate::trials::final_stop_reason(asked.as_deref(), &ending.reason)
                    } else {
                        ending.reason.clone()
                    };
                    if !db::trials::finish(conn, &key, &id, status, &reason, &record, now)? {
                        return Ok(None);
                    }
                    let Some(row) = db::trials::find(conn, &key)? else { return Ok(None) };
                    // Judged with the end, so that the webhook and every later read tell the same verdict.
                    let regressions = crate::trials::figures::judge_regressions(conn, &row)?;
                    let Some(row) = db::trials::find(conn, &key)? else { return Ok(None) };
                    let queued =
                        delivery::enqueue(conn, &webhooks, &crate::trials::notice(&row)?, Event::Ended(status))?;
                    Ok(Some((queued, regressions)))
                })
            })
            .await;
        match finished {
            Ok(Some((queued, regressions))) => {
                let started = trial.executed_at.map(time::from_db);
                let duration = started.map(|started| (time::now() - started).num_milliseconds() as f64 / 1000.0);
                crate::telemetry::trial_finished(status, duration);
                for regression in &regressions {
                    tracing::warn!(metric = %regression.metric, value = regression.value, median = regression.median,
                        "the trial is a regression");
                    crate::telemetry::regression(regression.metric);
                }
                if queued > 0 {
                    self.wakeups.webhooks_queued();
                }
            }
            Ok(None) => tracing::error!("the trial's end was not stored: it is no longer this worker's"),
            Err(error) => tracing::error!("the trial's end was not stored: {}", error.message),
        }
    }

    async fn execute(&self, trial: &TrialRow, stop: &Stop, recovering: bool) -> Result<Ending> {
        let definition: Definition = from_text(&trial.experiment_snapshot)?;
        let parameters = from_text(&trial.parameters)?;
        let save = |record: TrialRecord| {
            let (db, id, key) = (self.db.clone(), self.id.clone(), trial.id.clone());
            async move {
                let text = to_text(&record);
                if let Err(error) = db.run(move |conn| db::trials::save_record(conn, &key, &id, &text)).await {
                    tracing::warn!("the trial record was not saved: {}", error.message);
                }
            }
        };
        // A recovered trial keeps what its first worker recorded; the clean-up is added to it.
        let record = if recovering {
            let mut record: TrialRecord = from_text(&trial.trial_record).unwrap_or_default();
            record.interrupt_unfinished(time::now());
            record
        } else {
            TrialRecord::default()
        };
        let run = TrialRun {
            id: crate::experiments::parse_id(&trial.id)?,
            experiment: crate::experiments::parse_id(&trial.experiment_id)?,
            revision: trial.experiment_revision,
            definition: &definition,
            parameters: &parameters,
            record,
            recovering,
            dry_run: trial.dry_run,
        };
        let mut ending = self.executor.run(run, stop, save).await;
        if recovering {
            let stopped = trial.status == TrialStatus::StopInitiated.as_str();
            ending.status = if stopped { TrialStatus::Stopped } else { TrialStatus::Failed };
            ending.reason = if stopped {
                "stopped: the eris process running it died while stopping it; its clean-up ran again".to_owned()
            } else {
                "interrupted: the eris process running it stopped heartbeating; its clean-up ran".to_owned()
            };
            // The executor's own closing line is replaced by the recovery's verdict.
            if let Some(result) = ending.record.result.first_mut() {
                result.logs.pop();
            }
            ending.record.log_result("ERROR", &format!("Trial {}. {}", ending.status.as_str(), ending.reason));
        }
        Ok(ending)
    }
}

/// A task that ends with its handle.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the trial's heartbeat and the lease while the trial runs; stops the trial when a stop is requested, when
/// eris shuts down, or when the lease is lost.
async fn heartbeat(
    db: Db,
    config: WorkerConfig,
    worker: String,
    trial: String,
    stop: Stop,
    shutdown: CancellationToken,
) {
    let ttl = Duration::from_std(config.lease_ttl).unwrap_or(Duration::seconds(6));
    loop {
        tokio::select! {
            () = tokio::time::sleep(config.heartbeat_every) => {}
            () = shutdown.cancelled() => {
                stop.stop(StopReason::Shutdown);
                return;
            }
        }
        let (w, t) = (worker.clone(), trial.clone());
        let beat = transient::retry(Retrier::Worker, || {
            let (w, t) = (w.clone(), t.clone());
            db.run(move |conn| {
                let now = time::now();
                let holds = db::lease::acquire(conn, LEASE, &w, time::to_db(now), time::to_db(now + ttl))?;
                let status = db::trials::heartbeat(conn, &t, &w, time::to_db(now))?;
                let blackout = crate::blackouts::active_at(conn, now)?.map(|row| crate::blackouts::describe(&row));
                Ok((holds, status, blackout))
            })
        })
        .await;
        match beat {
            Ok((true, Some(TrialStatus::StopInitiated), _)) => stop.stop(StopReason::Requested),
            // A blackout that begins while the trial runs stops it, with its clean-up.
            Ok((true, Some(_), Some(blackout))) => {
                stop.stop(StopReason::Blackout(format!("stopped: {blackout} began")))
            }
            Ok((true, Some(_), None)) => {}
            Ok((false, _, _)) | Ok((_, None, _)) => {
                tracing::error!("lost the worker lease or the trial; stopping it");
                stop.stop(StopReason::LostLease);
            }
            // The database may be back at the next beat; the lease lasts longer than a few missed beats.
            Err(error) => tracing::warn!("heartbeat failed: {}", error.message),
        }
    }
}
