//! Who is asking, and what they may do. No HTTP here: `api::auth` reads the `Authorization` header, asks
//! [`Authenticator::authenticate`] for the principal and checks it against the scope the route declares
//! (`api::scopes`).
//!
//! `ERIS_AUTH` picks the credentials eris accepts (see [`settings`]):
//! - `token`: eris API tokens ([`tokens`]), managed with `eris token` and `/api/v1/token`;
//! - `jwt`: bearer JWTs verified against a JWKS URL ([`jwt`]), and eris API tokens for automation;
//! - `none`: no authentication; everyone is `anonymous` with every scope.

pub mod jwt;
pub mod scope;
pub mod settings;
pub mod tokens;

use crate::db::Db;
pub use scope::Scope;

/// Who `created_by`, `initiated_by` and the audit log name when eris runs without authentication.
pub const ANONYMOUS: &str = "anonymous";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `token:<name>`, `jwt:<user>` or `anonymous`: what audit fields record.
    pub name: String,
    /// What the caller may do; none when a JWT's claims map to no scope.
    pub scope: Option<Scope>,
}

impl Principal {
    pub fn anonymous() -> Self {
        Self { name: ANONYMOUS.to_owned(), scope: Some(Scope::Admin) }
    }

    pub fn may(&self, needed: Scope) -> bool {
        self.scope.is_some_and(|scope| scope.allows(needed))
    }
}

/// Why a request has no principal. Clients get the same answer for every invalid credential: whether a token exists,
/// expired or was revoked is not told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A credential that is not valid; the text is for the log only.
    Invalid(String),
    /// The credential cannot be checked now (database or JWKS unreachable).
    Unavailable(String),
}

/// How credentials are checked (`ERIS_AUTH`).
#[derive(Clone)]
pub enum Authenticator {
    None,
    Token,
    Jwt(jwt::JwtVerifier),
}

impl Authenticator {
    pub fn mode(&self) -> &'static str {
        match self {
            Authenticator::None => "none",
            Authenticator::Token => "token",
            Authenticator::Jwt(_) => "jwt",
        }
    }

    /// The principal of a request, from its `Authorization` header value.
    pub async fn authenticate(&self, db: &Db, authorization: Option<&str>) -> Result<Principal, Rejection> {
        if let Authenticator::None = self {
            return Ok(Principal::anonymous());
        }
        let credential = bearer(authorization.ok_or(Rejection::Missing)?)?;
        match self {
            // With JWTs, a credential that looks like an eris token is one (automation keeps its tokens).
            Authenticator::Jwt(verifier) if !credential.starts_with(tokens::PREFIX) => {
                match verifier.verify(credential).await {
                    Ok(identity) => Ok(Principal { name: format!("jwt:{}", identity.user), scope: identity.scope }),
                    Err(jwt::JwtError::Invalid(reason)) => Err(Rejection::Invalid(reason)),
                    Err(jwt::JwtError::Unavailable(reason)) => Err(Rejection::Unavailable(reason)),
                }
            }
            _ => match tokens::holder(db, credential).await {
                Ok(Some(holder)) => Ok(Principal { name: format!("token:{}", holder.name), scope: Some(holder.scope) }),
                Ok(None) => Err(Rejection::Invalid("unknown, expired or revoked API token".into())),
                Err(error) => Err(Rejection::Unavailable(error.message)),
            },
        }
    }
}

/// The credential of an `Authorization: Bearer <credential>` header value.
fn bearer(header: &str) -> Result<&str, Rejection> {
    let (scheme, credential) = header.trim().split_once(' ').unwrap_or((header, ""));
    let credential = credential.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || credential.is_empty() {
        return Err(Rejection::Invalid("the Authorization header is not 'Bearer <credential>'".into()));
    }
    Ok(credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_credentials_are_read() {
        assert_eq!(bearer("Bearer abc"), Ok("abc"));
        assert_eq!(bearer("bearer  abc "), Ok("abc"));
        for bad in ["Basic abc", "Bearer", "Bearer ", "abc"] {
            assert!(matches!(bearer(bad), Err(Rejection::Invalid(_))), "{bad:?}");
        }
    }
}
