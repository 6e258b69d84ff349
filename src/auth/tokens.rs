//! API tokens: random, shown once, stored only as a SHA-256 hash, named, optionally expiring, revocable.
//!
//! A token is `eris_` followed by 43 characters (32 random bytes, base64url). It carries 256 bits of randomness, so
//! a plain SHA-256 is enough to store it: there is nothing to guess that a slow hash would protect.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::scope::Scope;
use crate::db::page::{Page, PageRequest};
use crate::db::{self, Db, TokenRow};
use crate::error::{DUPLICATE, Error, Result};
use crate::time;

/// What every token's text starts with, so that a leaked one is easy to recognise (and to grep for).
pub const PREFIX: &str = "eris_";

const MAX_NAME_CHARS: usize = 100;

/// The body of `POST /token`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ci-pipeline", "scope": "write", "expires_at": "2027-06-30T00:00:00Z"}))]
pub struct TokenInput {
    /// Who or what uses the token; it names the token's holder in `created_by`, `initiated_by` and the audit log.
    /// 1 to 100 characters: letters, digits, `.`, `_`, `-`, `@`. Unique, also after the token is revoked.
    pub name: String,
    pub scope: Scope,
    /// When the token stops working; none: it works until it is revoked.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as listed: everything but its text, which eris does not keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub scope: Scope,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A token just created: the only time its text is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The token's text, for `Authorization: Bearer …`. Shown this once; eris keeps only its hash.
    pub token: String,
}

/// A valid token's holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    pub name: String,
    pub scope: Scope,
}

/// A new random token text.
pub fn generate() -> Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::internal("the system random number generator failed"))?;
    Ok(format!("{PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// How a token's text is stored and looked up.
pub fn hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn validate(input: &TokenInput, now: DateTime<Utc>) -> Result<()> {
    let name = &input.name;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(allowed) {
        return Err(Error::invalid(
            "invalid_token_name",
            "name",
            format!("name must be 1 to {MAX_NAME_CHARS} letters, digits, '.', '_', '-' or '@', not {name:?}"),
        ));
    }
    if let Some(expires_at) = input.expires_at
        && expires_at <= now
    {
        return Err(Error::invalid(
            "invalid_expiry",
            "expires_at",
            format!("expires_at {expires_at} is not in the future"),
        ));
    }
    Ok(())
}

/// Creates a token; `actor` is who asks for it.
pub async fn create(db: &Db, input: TokenInput, actor: &str) -> Result<CreatedToken> {
    let now = time::now();
    validate(&input, now)?;
    let text = generate()?;
    let row = TokenRow {
        id: Uuid::new_v4().to_string(),
        name: input.name.clone(),
        scope: input.scope.to_string(),
        token_hash: hash(&text),
        created_by: actor.to_owned(),
        created_at: time::to_db(now),
        expires_at: input.expires_at.map(time::to_db),
        revoked_at: None,
        revoked_by: None,
    };
    let stored = row.clone();
    db.run(move |conn| db::tokens::insert(conn, &stored)).await.map_err(|error| match error.code {
        DUPLICATE => Error::conflict("token_name_taken", format!("a token named '{}' exists already", input.name)),
        _ => error,
    })?;
    Ok(CreatedToken { info: TokenInfo::try_from(row)?, token: text })
}

pub async fn list(db: &Db, page: PageRequest) -> Result<Page<TokenInfo>> {
    db.run(move |conn| db::tokens::list(conn, &page)).await?.map(TokenInfo::try_from)
}

/// Revokes a token, by id or by name (the CLI accepts both). Revoking a revoked token changes nothing.
pub async fn revoke(db: &Db, id_or_name: &str, actor: &str) -> Result<TokenInfo> {
    let (key, actor) = (id_or_name.to_owned(), actor.to_owned());
    let row = db
        .run(move |conn| {
            let found = match Uuid::parse_str(&key) {
                Ok(id) => db::tokens::find(conn, &id.to_string())?,
                Err(_) => db::tokens::find_by_name(conn, &key)?,
            };
            let row =
                found.ok_or_else(|| Error::not_found("token_not_found", format!("token {key} does not exist")))?;
            db::tokens::revoke(conn, &row.id, &actor, time::to_db(time::now()))?;
            Ok(db::tokens::find(conn, &row.id)?.unwrap_or(row))
        })
        .await?;
    TokenInfo::try_from(row)
}

/// The holder of a token text, if the token exists, is not revoked and has not expired. Which of those failed is
/// not told: the caller answers all of them alike.
pub async fn holder(db: &Db, text: &str) -> Result<Option<TokenHolder>> {
    if !text.starts_with(PREFIX) {
        return Ok(None);
    }
    let token_hash = hash(text);
    let Some(row) = db.run(move |conn| db::tokens::find_by_hash(conn, &token_hash)).await? else { return Ok(None) };
    let now = time::to_db(time::now());
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|expiry| expiry <= now) {
        return Ok(None);
    }
    let scope = row.scope.parse().map_err(|e: super::scope::UnknownScope| Error::internal(e.to_string()))?;
    Ok(Some(TokenHolder { name: row.name, scope }))
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = Error;

    fn try_from(row: TokenRow) -> Result<Self> {
        Ok(Self {
            id: crate::experiments::parse_id(&row.id)?,
            name: row.name,
            scope: row.scope.parse().map_err(|e: super::scope::UnknownScope| Error::internal(e.to_string()))?,
            created_by: row.created_by,
            created_at: time::from_db(row.created_at),
            expires_at: row.expires_at.map(time::from_db),
            revoked_at: row.revoked_at.map(time::from_db),
            revoked_by: row.revoked_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 43, "{a}");
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn names_and_expiries_are_checked() {
        let now = time::now();
        let input = |name: &str, expires_at| TokenInput { name: name.into(), scope: Scope::Read, expires_at };
        assert!(validate(&input("ci-bot@team.example", None), now).is_ok());
        for bad in ["", "has space", "slash/", &"x".repeat(101)] {
            assert_eq!(validate(&input(bad, None), now).unwrap_err().code, "invalid_token_name", "{bad:?}");
        }
        let past = now - chrono::Duration::seconds(1);
        assert_eq!(validate(&input("ok", Some(past)), now).unwrap_err().field.as_deref(), Some("expires_at"));
    }
}
