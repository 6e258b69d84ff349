//! Authentication settings of `eris serve` (README, "Security"). Secure by default: without `ERIS_AUTH`, eris runs
//! without authentication only while it listens on a loopback address (the quick start) and requires API tokens
//! on any other; `ERIS_AUTH=none` there must be asked for.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use ipnet::IpNet;
use url::Url;

use super::Authenticator;
use super::jwt::{self, JwtSettings, JwtVerifier};
use crate::setting_parsers::{http_url, one_of, seconds, text};

/// `ERIS_AUTH`: which credentials the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// eris API tokens.
    Token,
    /// JWTs from ERIS_JWT_JWKS_URL, and eris API tokens.
    Jwt,
    /// No authentication.
    None,
}

/// Parsed on its own (`Parser`) in tests; flattened into `eris serve`'s arguments otherwise.
#[derive(Debug, Clone, Parser)]
pub struct AuthArgs {
    /// Credentials the API accepts: `token` (eris API tokens), `jwt` (JWTs from ERIS_JWT_JWKS_URL, and API tokens)
    /// or `none`. Default: `none` on a loopback address, `token` on any other.
    #[arg(long, env = "ERIS_AUTH", value_name = "MODE", value_parser = one_of::<AuthMode>())]
    pub auth: Option<AuthMode>,

    /// With ERIS_AUTH=jwt: where the signing keys are (JSON Web Key Set).
    #[arg(long, env = "ERIS_JWT_JWKS_URL", value_name = "URL", value_parser = http_url())]
    pub jwt_jwks_url: Option<Url>,

    /// With ERIS_AUTH=jwt: the required `iss`.
    #[arg(long, env = "ERIS_JWT_ISSUER", value_name = "ISSUER", value_parser = text())]
    pub jwt_issuer: Option<String>,

    /// With ERIS_AUTH=jwt: the required `aud`.
    #[arg(long, env = "ERIS_JWT_AUDIENCE", value_name = "AUDIENCE", value_parser = text())]
    pub jwt_audience: Option<String>,

    /// With ERIS_AUTH=jwt: the claim that names the user.
    #[arg(long, env = "ERIS_JWT_USER_CLAIM", value_name = "CLAIM", default_value = "sub", value_parser = text())]
    pub jwt_user_claim: String,

    /// With ERIS_AUTH=jwt: the claim holding scopes or groups (a space-separated string or an array).
    #[arg(long, env = "ERIS_JWT_SCOPE_CLAIM", value_name = "CLAIM", default_value = "scope", value_parser = text())]
    pub jwt_scope_claim: String,

    /// With ERIS_AUTH=jwt: which claim value grants which scope, e.g. `chaos-admins=admin,sre=write,dev=read`.
    #[arg(
        long,
        env = "ERIS_JWT_SCOPE_MAP",
        value_name = "MAP",
        default_value = "eris:read=read,eris:write=write,eris:admin=admin"
    )]
    pub jwt_scope_map: String,

    /// With ERIS_AUTH=jwt: how old the cached keys may get before they are fetched again, in seconds (1 to
    /// 31536000).
    #[arg(long = "jwt-jwks-refresh-secs", env = "ERIS_JWT_JWKS_REFRESH_SECS", value_name = "SECONDS",
        default_value = "3600", value_parser = seconds::<1, 31_536_000>())]
    pub jwt_jwks_refresh: Duration,

    /// Addresses the MiSArch components call back from, as comma-separated CIDRs (e.g. `10.0.0.0/8,127.0.0.1/32`);
    /// callbacks from any other address get 403. Default: any address.
    #[arg(long, env = "ERIS_COMPONENT_ALLOW_CIDRS", value_name = "CIDRS", default_value = "")]
    pub component_allow_cidrs: String,
}

/// The checked authentication settings.
#[derive(Clone)]
pub struct AuthSettings {
    pub authenticator: Authenticator,
    /// Where MiSArch callbacks may come from; empty: anywhere.
    pub component_allow: Vec<IpNet>,
}

/// No authentication, callbacks from anywhere: what the quick start on a loopback address gets, and what tests that
/// are not about authentication use.
impl Default for AuthSettings {
    fn default() -> Self {
        Self { authenticator: Authenticator::None, component_allow: Vec::new() }
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("mode", &self.authenticator.mode())
            .field("component_allow", &self.component_allow)
            .finish()
    }
}

impl AuthArgs {
    /// Checks the settings for a server listening on `bind`.
    pub fn resolve(&self, bind: SocketAddr, http: reqwest::Client) -> anyhow::Result<AuthSettings> {
        let component_allow = parse_cidrs(&self.component_allow_cidrs)?;
        let jwt_set = self.jwt_jwks_url.is_some() || self.jwt_issuer.is_some() || self.jwt_audience.is_some();
        let authenticator = match self.auth {
            None if bind.ip().is_loopback() => Authenticator::None,
            None | Some(AuthMode::Token) => Authenticator::Token,
            Some(AuthMode::None) => Authenticator::None,
            Some(AuthMode::Jwt) => Authenticator::Jwt(JwtVerifier::new(self.jwt_settings()?, http)),
        };
        if jwt_set && !matches!(authenticator, Authenticator::Jwt(_)) {
            bail!("ERIS_JWT_* settings are given but ERIS_AUTH is not 'jwt': set ERIS_AUTH=jwt to use them");
        }
        Ok(AuthSettings { authenticator, component_allow })
    }

    fn jwt_settings(&self) -> anyhow::Result<JwtSettings> {
        fn required<T: Clone>(value: &Option<T>, name: &str) -> anyhow::Result<T> {
            value.clone().with_context(|| format!("ERIS_AUTH=jwt needs {name}"))
        }
        Ok(JwtSettings {
            jwks_url: required(&self.jwt_jwks_url, "ERIS_JWT_JWKS_URL (the signing keys' URL)")?,
            issuer: required(&self.jwt_issuer, "ERIS_JWT_ISSUER (the required `iss`)")?,
            audience: required(&self.jwt_audience, "ERIS_JWT_AUDIENCE (the required `aud`)")?,
            user_claim: self.jwt_user_claim.clone(),
            scope_claim: self.jwt_scope_claim.clone(),
            scope_map: jwt::parse_scope_map(&self.jwt_scope_map)
                .map_err(|e| anyhow::anyhow!("ERIS_JWT_SCOPE_MAP: {e}"))?,
            refresh: self.jwt_jwks_refresh,
        })
    }
}

/// Parses `ERIS_COMPONENT_ALLOW_CIDRS`; a bare address is a network of that one address.
pub fn parse_cidrs(text: &str) -> anyhow::Result<Vec<IpNet>> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry.parse::<IpNet>().or_else(|_| entry.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                anyhow::anyhow!("ERIS_COMPONENT_ALLOW_CIDRS: '{entry}' is not an address or a CIDR like 10.0.0.0/8")
            })
        })
        .collect()
}

/// Whether a caller at `peer` may use the MiSArch callbacks. An IPv4 caller reaching an IPv6 socket is checked as
/// its IPv4 address.
pub fn component_allowed(allow: &[IpNet], peer: Option<IpAddr>) -> bool {
    if allow.is_empty() {
        return true;
    }
    let Some(peer) = peer else { return false };
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    allow.iter().any(|net| net.contains(&peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(args: &[&str], bind: &str) -> anyhow::Result<AuthSettings> {
        let args = AuthArgs::try_parse_from(std::iter::once("eris").chain(args.iter().copied()))?;
        args.resolve(bind.parse()?, crate::http_client::build())
    }

    #[test]
    fn without_a_mode_only_loopback_is_open() {
        assert_eq!(resolve(&[], "127.0.0.1:8080").unwrap().authenticator.mode(), "none");
        assert_eq!(resolve(&[], "[::1]:8080").unwrap().authenticator.mode(), "none");
        assert_eq!(resolve(&[], "0.0.0.0:8080").unwrap().authenticator.mode(), "token");
        assert_eq!(resolve(&["--auth", "none"], "0.0.0.0:8080").unwrap().authenticator.mode(), "none");
        assert_eq!(resolve(&["--auth", "token"], "127.0.0.1:8080").unwrap().authenticator.mode(), "token");
        let error = resolve(&["--auth", "open"], "127.0.0.1:8080").unwrap_err().to_string();
        assert!(error.contains("ERIS_AUTH") && error.contains("'open'"), "{error}");
    }

    #[test]
    fn jwt_needs_its_settings() {
        let error = resolve(&["--auth", "jwt"], "0.0.0.0:8080").unwrap_err().to_string();
        assert!(error.contains("ERIS_JWT_JWKS_URL"), "{error}");
        let args = ["--auth", "jwt", "--jwt-jwks-url", "http://idp/keys", "--jwt-issuer", "https://idp"];
        let error = resolve(&args, "0.0.0.0:8080").unwrap_err().to_string();
        assert!(error.contains("ERIS_JWT_AUDIENCE"), "{error}");
        let full = [&args[..], &["--jwt-audience", "eris"]].concat();
        assert_eq!(resolve(&full, "0.0.0.0:8080").unwrap().authenticator.mode(), "jwt");
        let error = resolve(&["--jwt-issuer", "https://idp"], "0.0.0.0:8080").unwrap_err().to_string();
        assert!(error.contains("ERIS_AUTH is not 'jwt'"), "{error}");
    }

    #[test]
    fn component_addresses_are_checked_against_the_allow_list() {
        let allow = parse_cidrs("10.0.0.0/8, 192.168.1.7").unwrap();
        assert!(component_allowed(&allow, Some("10.1.2.3".parse().unwrap())));
        assert!(component_allowed(&allow, Some("192.168.1.7".parse().unwrap())));
        assert!(component_allowed(&allow, Some("::ffff:10.9.9.9".parse().unwrap())));
        assert!(!component_allowed(&allow, Some("192.168.1.8".parse().unwrap())));
        assert!(!component_allowed(&allow, None));
        assert!(component_allowed(&[], None));
        let error = parse_cidrs("10.0.0.0/33").unwrap_err().to_string();
        assert!(error.contains("'10.0.0.0/33'"), "{error}");
    }
}
