//! Webhooks on trial events: where they go, what they say, and how they are signed. Delivery (with retries) is
//! [`delivery`]'s job; it never delays or changes a trial.

pub mod delivery;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::trial_status::TrialStatus;

pub const MAX_TARGETS: usize = 20;
/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`, keyed with `ERIS_WEBHOOK_SECRET`.
pub const SIGNATURE_HEADER: &str = "x-eris-signature";

/// What a receiver gets: eris's JSON document, or a Slack-compatible message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Slack => "slack",
        }
    }
}

/// A webhook: `{"url": "https://…", "format": "json"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyTarget {
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// What webhooks tell about a trial, and the experiment's own webhooks to tell it to. Made from the API's view of the
/// trial (`trials::notice`), so secrets are masked as there.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialNotice {
    pub id: Uuid,
    pub experiment: Uuid,
    pub experiment_name: String,
    pub schedule_id: Option<Uuid>,
    pub status: TrialStatus,
    pub status_reason: Option<String>,
    pub scheduled_for: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub violations: Option<Value>,
    pub grafana_url: Option<String>,
    /// The resilience score, 0 to 100, once the trial ended measured.
    pub score: Option<f64>,
    /// The metrics in which the trial was worse than the ones before it (docs/research.md).
    pub regressions: Vec<crate::research::regression::Regression>,
    /// The experiment's webhooks, told besides the global ones (`ERIS_WEBHOOK_URLS`).
    pub notify: Vec<NotifyTarget>,
}

/// A trial event that is told to the webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Started,
    Ended(TrialStatus),
}

impl Event {
    /// `started`, `succeeded`, `failed`, `aborted`, `stopped`, `invalid`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Ended(TrialStatus::Succeeded) => "succeeded",
            Self::Ended(TrialStatus::Aborted) => "aborted",
            Self::Ended(TrialStatus::Stopped) => "stopped",
            Self::Ended(TrialStatus::Invalid) => "invalid",
            Self::Ended(_) => "failed",
        }
    }
}

pub fn validate_targets(field: &str, targets: &[NotifyTarget]) -> Result<()> {
    if targets.len() > MAX_TARGETS {
        return Err(Error::invalid("invalid_notify", field, format!("at most {MAX_TARGETS} webhooks per experiment")));
    }
    for (index, target) in targets.iter().enumerate() {
        check_url(&target.url)
            .map_err(|error| Error::invalid("invalid_notify", format!("{field}[{index}].url"), error.to_string()))?;
    }
    Ok(())
}

/// A webhook URL eris cannot send to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("'{url}' is not a valid URL: {reason}")]
    Malformed { url: String, reason: url::ParseError },
    #[error("'{0}' must be an http or https URL")]
    NotHttp(String),
}

fn check_url(url: &str) -> std::result::Result<(), WebhookUrlError> {
    let parsed = url::Url::parse(url).map_err(|reason| WebhookUrlError::Malformed { url: url.to_owned(), reason })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(WebhookUrlError::NotHttp(url.to_owned()));
    }
    Ok(())
}

/// Parses `ERIS_WEBHOOK_URLS`: comma-separated URLs, each optionally prefixed `slack:` for a Slack-compatible body.
pub fn parse_global_targets(text: &str) -> std::result::Result<Vec<NotifyTarget>, WebhookUrlError> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (format, url) = match entry.strip_prefix("slack:") {
                Some(url) => (WebhookFormat::Slack, url.trim()),
                None => (WebhookFormat::Json, entry),
            };
            check_url(url)?;
            Ok(NotifyTarget { url: url.to_owned(), format })
        })
        .collect()
}

/// The body sent for `event` of `trial`. `trial_url` links to the trial in the API.
pub fn payload(format: WebhookFormat, event: Event, trial: &TrialNotice, trial_url: &str) -> Value {
    match format {
        WebhookFormat::Json => json!({
            "event": event.name(),
            "trial": {
                "id": trial.id,
                "url": trial_url,
                "experiment": trial.experiment,
                "experiment_name": trial.experiment_name,
                "schedule_id": trial.schedule_id,
                "status": trial.status,
                "status_reason": trial.status_reason,
                "scheduled_for": trial.scheduled_for,
                "executed_at": trial.executed_at,
                "completed_at": trial.completed_at,
                "violations": trial.violations,
                "grafana_url": trial.grafana_url,
                "score": trial.score,
                "regressions": trial.regressions,
            }
        }),
        WebhookFormat::Slack => {
            let reason = trial.status_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            let regressions = if trial.regressions.is_empty() {
                String::new()
            } else {
                let metrics: Vec<&str> = trial.regressions.iter().map(|r| r.metric.as_str()).collect();
                format!(" (regression in {})", metrics.join(", "))
            };
            json!({"text": format!(
                "eris trial <{trial_url}|{}> of *{}* {}: *{}*{reason}{regressions}",
                trial.id, trial.experiment_name, event.name(), trial.status.as_str()
            )})
        }
    }
}

/// `sha256=<hex>` of the body, keyed with the secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// A URL with its path and query hidden (a Slack webhook's path is its secret), for responses and logs.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.path().len() > 1 || parsed.query().is_some() => {
            format!("{}://{}/…", parsed.scheme(), parsed.host_str().unwrap_or_default())
        }
        Ok(parsed) => format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or_default()),
        Err(_) => "(invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_a_standard_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn global_targets_parse_with_an_optional_slack_prefix() {
        let targets =
            parse_global_targets(" https://a.example/hook , slack:https://hooks.slack.com/services/T/B/x,").unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0], NotifyTarget { url: "https://a.example/hook".into(), format: WebhookFormat::Json });
        assert_eq!(targets[1].format, WebhookFormat::Slack);
        assert!(parse_global_targets("ftp://x").is_err());
        assert!(parse_global_targets("").unwrap().is_empty());
    }

    #[test]
    fn urls_are_shown_without_their_secret_part() {
        assert_eq!(display_url("https://hooks.slack.com/services/T/B/secret"), "https://hooks.slack.com/…");
        assert_eq!(display_url("http://127.0.0.1:9000"), "http://127.0.0.1");
    }

    #[test]
    fn events_are_named_after_the_final_status() {
        assert_eq!(Event::Ended(TrialStatus::Succeeded).name(), "succeeded");
        assert_eq!(Event::Ended(TrialStatus::Failed).name(), "failed");
        assert_eq!(Event::Started.name(), "started");
    }
}
