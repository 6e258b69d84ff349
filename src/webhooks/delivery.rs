//! Delivers webhook events: queued in the database by the worker (so a restart loses none), sent by every eris
//! process, each delivery claimed by one, retried with exponential backoff for a bounded time. Nothing here can
//! delay or change a trial: the worker only inserts rows.

use std::time::Duration as StdDuration;

use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Event, NotifyTarget, SIGNATURE_HEADER, TrialNotice, payload};
use crate::db::webhooks::{DELIVERED, FAILED, PENDING};
use crate::db::{self, Db, DbConnection, DeliveryRow};
use crate::error::Result;
use crate::time;
use crate::wakeups::Wakeups;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `ERIS_WEBHOOK_URLS`: told about every trial.
    pub targets: Vec<NotifyTarget>,
    /// `ERIS_WEBHOOK_SECRET`: signs every delivery when set.
    pub secret: Option<SecretString>,
    /// `ERIS_PUBLIC_URL`: the base of the trial links in payloads.
    pub public_url: String,
    /// Attempts per delivery, the first included.
    pub max_attempts: i64,
    /// The wait before the second attempt; it doubles after each failed attempt.
    pub first_retry_after: StdDuration,
    /// How long one attempt may take.
    pub timeout: StdDuration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            secret: None,
            public_url: "http://127.0.0.1:8080".to_owned(),
            // 2 + 4 + 8 + 16 + 32 s of waits: a receiver may be down for about a minute.
            max_attempts: 6,
            first_retry_after: StdDuration::from_secs(2),
            timeout: StdDuration::from_secs(10),
        }
    }
}

/// Queues the deliveries of `event` for `trial` (the global webhooks and the experiment's own). Called by the worker
/// in the transaction that records the event.
pub fn enqueue(conn: &mut DbConnection, config: &WebhookConfig, trial: &TrialNotice, event: Event) -> Result<usize> {
    let targets: Vec<&NotifyTarget> = config.targets.iter().chain(&trial.notify).collect();
    let now = time::to_db(time::now());
    let link = format!("{}/api/v1/trial/{}", config.public_url.trim_end_matches('/'), trial.id);
    for target in &targets {
        let body = payload(target.format, event, trial, &link);
        db::webhooks::insert(
            conn,
            &DeliveryRow {
                id: Uuid::new_v4().to_string(),
                trial_id: trial.id.to_string(),
                event: event.name().to_owned(),
                url: target.url.clone(),
                format: target.format.as_str().to_owned(),
                payload: body.to_string(),
                status: PENDING.to_owned(),
                attempts: 0,
                last_status_code: None,
                last_error: None,
                next_attempt_at: Some(now),
                created_at: now,
                updated_at: now,
            },
        )?;
    }
    Ok(targets.len())
}

pub struct Deliverer {
    db: Db,
    config: WebhookConfig,
    wakeups: Wakeups,
    http: reqwest::Client,
}

/// How long an idle deliverer sleeps at most (deliveries queued through another replica).
const POLL: StdDuration = StdDuration::from_secs(2);

impl Deliverer {
    pub fn new(db: Db, config: WebhookConfig, wakeups: Wakeups) -> Self {
        Self { db, config, wakeups, http: crate::http_client::build() }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let notify = self.wakeups.webhooks.clone();
        while !shutdown.is_cancelled() {
            let woken = notify.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.deliver_due(&shutdown).await {
                Ok(()) => {}
                Err(error) => tracing::error!("webhooks: {}", error.message),
            }
            let wait = match self.db.run(db::webhooks::next_due).await {
                Ok(Some(due)) => (time::from_db(due) - time::now()).to_std().unwrap_or_default().min(POLL),
                _ => POLL,
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = woken => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Sends every delivery that is due, one after another, until none is or eris shuts down.
    pub async fn deliver_due(&self, shutdown: &CancellationToken) -> Result<()> {
        // A claim outlives an attempt, so a delivery is sent again only if this process died while sending it.
        let claim = Duration::from_std(self.config.timeout * 3).unwrap_or(Duration::seconds(30));
        loop {
            let now = time::now();
            let (at, until) = (time::to_db(now), time::to_db(now + claim));
            if shutdown.is_cancelled() {
                return Ok(());
            }
            let Some(delivery) = self.db.run(move |conn| db::webhooks::claim_due(conn, at, until)).await? else {
                return Ok(());
            };
            self.attempt(delivery, shutdown).await?;
        }
    }

    async fn attempt(&self, delivery: DeliveryRow, shutdown: &CancellationToken) -> Result<()> {
        let mut request = self
            .http
            .post(&delivery.url)
            .timeout(self.config.timeout)
            .header("content-type", "application/json")
            .header("x-eris-event", &delivery.event)
            .header("x-eris-delivery", &delivery.id)
            .body(delivery.payload.clone());
        if let Some(secret) = &self.config.secret {
            request =
                request.header(SIGNATURE_HEADER, super::signature(secret.expose_secret(), delivery.payload.as_bytes()));
        }
        let sent = tokio::select! {
            sent = request.send() => sent,
            // Left claimed: when the claim runs out, this or another process sends it again.
            () = shutdown.cancelled() => return Ok(()),
        };
        let (code, error) = match sent {
            Ok(response) if response.status().is_success() => (Some(i64::from(response.status().as_u16())), None),
            Ok(response) => (
                Some(i64::from(response.status().as_u16())),
                Some(format!("the receiver answered {}", response.status())),
            ),
            Err(error) => (None, Some(format!("no answer: {error}"))),
        };
        let now = time::now();
        let (status, next) = match &error {
            None => (DELIVERED, None),
            Some(_) if delivery.attempts >= self.config.max_attempts => (FAILED, None),
            Some(_) => {
                let doublings = u32::try_from(delivery.attempts - 1).unwrap_or(0).min(16);
                let wait = self.config.first_retry_after * 2u32.pow(doublings);
                (PENDING, Some(time::to_db(now + Duration::from_std(wait).unwrap_or(Duration::hours(1)))))
            }
        };
        let shown = super::display_url(&delivery.url);
        match &error {
            None => {
                tracing::info!(trial = %delivery.trial_id, url = %shown, event = %delivery.event, "webhook delivered")
            }
            Some(error) => tracing::warn!(
                trial = %delivery.trial_id, url = %shown, attempt = delivery.attempts, final_attempt = status == FAILED,
                "webhook not delivered: {error}"
            ),
        }
        let id = delivery.id.clone();
        self.db
            .run(move |conn| {
                db::webhooks::record_attempt(conn, &id, status, code, error.as_deref(), next, time::to_db(now))
            })
            .await
    }
}
