//! The audit log: one entry per change asked of the API (and per token change made with `eris token`), whatever
//! its outcome. Entries are only ever appended; nothing in eris updates or deletes them.
//!
//! An entry keeps a digest of the request body, not the body: a body may hold secrets. Values under secret-looking
//! keys are masked before hashing (see [`crate::redact`]), so the digest of a body is the digest of what
//! GET shows, and a secret cannot be confirmed by guessing it and comparing digests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::tokens::hex;
use crate::db::audit::AuditFilter;
use crate::db::page::{Page, PageRequest};
use crate::db::{self, AuditRow, Db};
use crate::error::Result;
use crate::time;

/// How a change ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The change was made (2xx).
    Succeeded,
    /// The change was refused or failed (4xx other than 403, 5xx).
    Failed,
    /// The caller lacked the scope (403): nothing was attempted.
    Denied,
}

impl Outcome {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Outcome::Succeeded,
            403 => Outcome::Denied,
            _ => Outcome::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0b9c3c39-3f5e-4d0e-9a53-6f0f3b0f6e1a", "at": "2026-11-23T10:15:00Z",
    "actor": "token:ci-pipeline", "action": "experiment.create", "method": "POST", "path": "/api/v1/experiment",
    "target_id": "7b0c6d1e-8f5a-4c39-9d2e-1a2b3c4d5e6f",
    "body_sha256": "5d41402abc4b2a76b9719d911017c592a1f5a3c0b2e4d6f8a0c2e4f6a8b0c2d4", "status": 201,
    "outcome": "succeeded", "request_id": "2f1e…"}))]
pub struct AuditEntry {
    pub id: Uuid,
    /// When eris answered.
    #[serde(serialize_with = "time::rfc3339")]
    pub at: DateTime<Utc>,
    /// Who asked: `token:<name>`, `jwt:<user>`, `anonymous` (no authentication), or `cli:<user>` (`eris token`).
    pub actor: String,
    /// What was asked, `<resource>.<verb>`: e.g. `experiment.create`, `experiment.purge`, `trial.stop`,
    /// `token.delete`.
    pub action: String,
    pub method: String,
    /// The request's path.
    pub path: String,
    /// The resource changed or created, when there is one.
    pub target_id: Option<String>,
    /// Hex SHA-256 of the request body with secret values masked (JSON bodies are hashed in compact form); none
    /// without a body.
    pub body_sha256: Option<String>,
    /// The HTTP status eris answered with.
    pub status: u16,
    pub outcome: Outcome,
    /// The request's `X-Request-Id`, to find its log lines.
    pub request_id: Option<String>,
}

/// Route segments that are verbs, not resources: `…/{experiment_id}/purge` is `experiment.purge`,
/// `/emergency-stop/engage` is `emergency-stop.engage`, `/trial/{trial_id}/hold` is `trial.hold` (`generate`, `newVersion` and `start` are the MiSArch executor
/// API's).
const VERB_SEGMENTS: [&str; 8] = ["purge", "stop", "hold", "engage", "release", "generate", "newVersion", "start"];

/// What a change is called in the log, from its method and route: `<resource>.<verb>`. The resource is the route's
/// last fixed segment (`/api/v1/experiment/{experiment_id}/schedule` → `schedule`) and the verb follows the method
/// (POST create, PUT replace, PATCH update, DELETE delete), unless the route ends in a verb of its own. The MiSArch
/// executor API's routes (at the server root) are prefixed `misarch_executor.`.
pub fn action(method: &str, route: &str) -> String {
    let (prefix, path) = match route.strip_prefix("/api/v1/") {
        Some(path) => ("", path),
        None => ("misarch_executor.", route),
    };
    let fixed: Vec<&str> = path.split('/').filter(|s| !s.is_empty() && !s.starts_with('{')).collect();
    match fixed.as_slice() {
        [.., resource, verb] if VERB_SEGMENTS.contains(verb) => format!("{prefix}{resource}.{verb}"),
        [.., resource] => format!("{prefix}{resource}.{}", verb_of(method)),
        [] => format!("{route}.{}", verb_of(method)),
    }
}

fn verb_of(method: &str) -> &'static str {
    match method {
        "PUT" => "replace",
        "PATCH" => "update",
        "DELETE" => "delete",
        "POST" => "create",
        _ => "call",
    }
}

/// The digest of a request body as the audit log keeps it; none for an empty body.
pub fn body_digest(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let hashed = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => serde_json::to_vec(&crate::redact::redact(&json)).unwrap_or_default(),
        Err(_) => body.to_vec(),
    };
    Some(hex(&Sha256::digest(&hashed)))
}

/// Appends an entry.
pub async fn append(db: &Db, entry: AuditEntry) -> Result<()> {
    let row = AuditRow {
        id: entry.id.to_string(),
        created_at: time::to_db(entry.at),
        actor: entry.actor,
        action: entry.action,
        method: entry.method,
        path: entry.path,
        target_id: entry.target_id,
        body_sha256: entry.body_sha256,
        status: i64::from(entry.status),
        outcome: entry.outcome.as_str().to_owned(),
        request_id: entry.request_id,
    };
    db.run(move |conn| db::audit::insert(conn, &row)).await
}

pub async fn list(db: &Db, filter: AuditFilter, page: PageRequest) -> Result<Page<AuditEntry>> {
    db.run(move |conn| db::audit::list(conn, &filter, &page)).await?.map(|row| {
        Ok(AuditEntry {
            id: crate::experiments::parse_id(&row.id)?,
            at: time::from_db(row.created_at),
            actor: row.actor,
            action: row.action,
            method: row.method,
            path: row.path,
            target_id: row.target_id,
            body_sha256: row.body_sha256,
            status: u16::try_from(row.status).unwrap_or(0),
            outcome: Outcome::of_status(u16::try_from(row.status).unwrap_or(0)),
            request_id: row.request_id,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_after_the_route() {
        let cases = [
            ("POST", "/api/v1/experiment", "experiment.create"),
            ("PUT", "/api/v1/experiment/{experiment_id}", "experiment.replace"),
            ("PATCH", "/api/v1/experiment/{experiment_id}", "experiment.update"),
            ("DELETE", "/api/v1/experiment/{experiment_id}", "experiment.delete"),
            ("POST", "/api/v1/experiment/{experiment_id}/purge", "experiment.purge"),
            ("POST", "/api/v1/experiment/{experiment_id}/schedule", "schedule.create"),
            ("DELETE", "/api/v1/experiment/{experiment_id}/schedule/{schedule_id}", "schedule.delete"),
            ("POST", "/api/v1/trial", "trial.create"),
            ("PUT", "/api/v1/trial/{trial_id}/stop", "trial.stop"),
            ("PUT", "/api/v1/trial/{trial_id}/hold", "trial.hold"),
            ("POST", "/api/v1/token", "token.create"),
            ("DELETE", "/api/v1/token/{token_id}", "token.delete"),
            ("POST", "/api/v1/emergency-stop/engage", "emergency-stop.engage"),
            ("POST", "/api/v1/emergency-stop/release", "emergency-stop.release"),
            ("POST", "/experiment/generate", "misarch_executor.experiment.generate"),
            ("POST", "/experiment/{testUUID}/{testVersion}/start", "misarch_executor.experiment.start"),
            ("POST", "/experiment/start", "misarch_executor.experiment.start"),
            ("PUT", "/experiment/{testUUID}/{testVersion}/config", "misarch_executor.config.replace"),
            ("DELETE", "/experiment/{testUUID}/{testVersion}", "misarch_executor.experiment.delete"),
        ];
        for (method, route, expected) in cases {
            assert_eq!(action(method, route), expected, "{method} {route}");
        }
    }

    #[test]
    fn digests_mask_secrets_first() {
        assert_eq!(body_digest(b""), None);
        let with_secret = body_digest(br#"{"parameters": {"api_token": "s3cr3t"}}"#).unwrap();
        let masked = body_digest(br#"{"parameters": {"api_token": "*****"}}"#).unwrap();
        assert_eq!(with_secret, masked);
        assert_ne!(body_digest(br#"{"name": "a"}"#), body_digest(br#"{"name": "b"}"#));
        assert_eq!(body_digest(b"not json").unwrap().len(), 64);
    }
}
