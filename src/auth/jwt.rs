//! Verifies bearer JWTs issued by an external identity provider against the provider's published key set (JWKS).
//!
//! The key set is fetched lazily, cached, and re-fetched when older than `refresh` or when a token names a key id
//! the cache does not know (key rotation). Fetches are serialised, and waiters reuse the result of a fetch that
//! finished while they waited, so a burst of requests costs the provider one request. Only asymmetric algorithms
//! are accepted: a key set is public, so letting it act as an HMAC secret would let anyone mint tokens.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::auth::scope::Scope;

/// Tokens naming an unknown `kid` trigger at most one re-fetch per this interval, so a flood of forged tokens with
/// random key ids cannot turn into a flood of requests to the identity provider.
pub const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Real key sets are a few KiB; the bound keeps a misbehaving server from filling our memory.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// Tolerated clock skew between us and the identity provider, in seconds.
const LEEWAY_SECS: u64 = 60;
/// An RSA key without `alg` may verify any RSA signature scheme.
const RSA_ALGORITHMS: [Algorithm; 6] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub jwks_url: url::Url,
    /// Required value of `iss`.
    pub issuer: String,
    /// Must be `aud` or one of its values.
    pub audience: String,
    /// Claim naming the user, e.g. "sub", "preferred_username" or "email".
    pub user_claim: String,
    /// Claim holding scopes or groups: a space-separated string or an array of strings.
    pub scope_claim: String,
    /// Claim value -> scope; the highest matching scope wins.
    pub scope_map: Vec<(String, Scope)>,
    /// How old the cached key set may get before it is fetched again.
    pub refresh: Duration,
}

/// Who a valid JWT names, and the scope its claims map to (None when no claim value maps to a scope: the
/// caller answers 403 then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtIdentity {
    pub user: String,
    pub scope: Option<Scope>,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The token is not valid (bad signature, expired, wrong issuer/audience, unknown key, malformed, no user
    /// claim, …). The message is for logs, never for the client.
    #[error("invalid JWT: {0}")]
    Invalid(String),
    /// The key set cannot be fetched (JWKS server down / bad answer) and no usable cached keys exist.
    #[error("JWKS unavailable: {0}")]
    Unavailable(String),
}

fn invalid(message: impl Into<String>) -> JwtError {
    JwtError::Invalid(message.into())
}

/// One verification key from the set, with the algorithms it may verify (never an HMAC one).
struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// The cached key set and the bookkeeping that decides when to fetch again.
#[derive(Clone, Default)]
struct Cache {
    /// None until a fetch has succeeded; a failed refresh keeps the previous keys.
    keys: Option<Arc<Vec<Key>>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    /// Counts fetch attempts: a task that waited for the fetch lock sees it changed and reuses that result.
    attempts: u64,
    unknown_kid_fetch_at: Option<Instant>,
    last_error: String,
}

impl Cache {
    fn usable(self) -> Result<Self, JwtError> {
        match self.keys {
            Some(_) => Ok(self),
            None => Err(JwtError::Unavailable(self.last_error)),
        }
    }

    fn find(&self, kid: Option<&str>) -> Option<&Key> {
        let keys = self.keys.as_deref()?;
        match kid {
            Some(kid) => keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            // Without a kid the choice would be a guess, unless there is nothing to choose from.
            None if keys.len() == 1 => keys.first(),
            None => None,
        }
    }
}

struct Inner {
    settings: JwtSettings,
    http: reqwest::Client,
    kid_refetch_interval: Duration,
    /// Only held to copy or replace the cache, never across an await.
    cache: RwLock<Cache>,
    /// Serialises fetches.
    fetching: tokio::sync::Mutex<()>,
}

/// Verifies JWTs; cheap to clone and shared by all requests.
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

impl JwtVerifier {
    pub fn new(settings: JwtSettings, http: reqwest::Client) -> Self {
        let (cache, fetching) = (RwLock::default(), tokio::sync::Mutex::new(()));
        let kid_refetch_interval = UNKNOWN_KID_REFETCH_INTERVAL;
        Self { inner: Arc::new(Inner { settings, http, kid_refetch_interval, cache, fetching }) }
    }

    /// Who a bearer token names, if its signature and claims are valid. Fetches the key set when needed.
    pub async fn verify(&self, token: &str) -> Result<JwtIdentity, JwtError> {
        // `alg: none` is not an `Algorithm`, so such tokens already fail here.
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("bad header: {e}")))?;
        if matches!(header.alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(invalid(format!("{:?} is not accepted", header.alg)));
        }
        let kid = header.kid.as_deref();
        let mut cache = self.fresh_cache().await?;
        let may_refetch = cache.unknown_kid_fetch_at.is_none_or(|at| at.elapsed() >= self.inner.kid_refetch_interval);
        if kid.is_some() && cache.find(kid).is_none() && may_refetch {
            cache = self.fetch(cache.attempts, true).await?;
        }
        let key = cache.find(kid).ok_or_else(|| invalid(format!("no key for kid {kid:?}")))?;
        if !key.algorithms.contains(&header.alg) {
            return Err(invalid(format!("key {kid:?} does not verify {:?}", header.alg)));
        }
        let settings = &self.inner.settings;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| invalid(e.to_string()))?
            .claims;
        identity(&claims, settings)
    }

    fn snapshot(&self) -> Cache {
        self.inner.cache.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The cached keys, fetched first when there are none or they are older than `refresh`. After a failed
    /// refresh the old keys serve until the next attempt, at most one per `refresh` or unknown-kid interval.
    async fn fresh_cache(&self) -> Result<Cache, JwtError> {
        let cache = self.snapshot();
        let retry = self.inner.settings.refresh.min(self.inner.kid_refetch_interval);
        match (cache.keys.is_some(), cache.fetched_at, cache.attempted_at) {
            (true, Some(fetched), Some(attempted))
                if fetched.elapsed() < self.inner.settings.refresh || attempted.elapsed() < retry =>
            {
                Ok(cache)
            }
            _ => self.fetch(cache.attempts, false).await,
        }
    }

    /// Fetches the key set, unless another task finished a fetch since this one read attempt number `seen`.
    async fn fetch(&self, seen: u64, unknown_kid: bool) -> Result<Cache, JwtError> {
        let _fetching = self.inner.fetching.lock().await;
        let current = self.snapshot();
        if current.attempts != seen {
            return current.usable();
        }
        let url = &self.inner.settings.jwks_url;
        let result = fetch_keys(&self.inner.http, url).await;
        let mut cache = self.inner.cache.write().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        cache.attempts += 1;
        cache.attempted_at = Some(now);
        if unknown_kid {
            cache.unknown_kid_fetch_at = Some(now);
        }
        match result {
            Ok(keys) => {
                tracing::debug!(%url, keys = keys.len(), "fetched the JWKS");
                (cache.keys, cache.fetched_at) = (Some(Arc::new(keys)), Some(now));
            }
            Err(error) => {
                if cache.keys.is_some() {
                    tracing::warn!(%url, %error, "cannot refresh the JWKS; keeping the cached keys");
                }
                cache.last_error = error;
            }
        }
        cache.clone().usable()
    }
}

/// Downloads and parses the key set. A set without a single usable key counts as a bad answer, so that a
/// misconfigured provider does not wipe out keys that work.
async fn fetch_keys(http: &reqwest::Client, url: &url::Url) -> Result<Vec<Key>, String> {
    let fail = |e: reqwest::Error| format!("GET {url}: {e}");
    let mut response = http.get(url.clone()).timeout(FETCH_TIMEOUT).send().await.map_err(fail)?;
    if !response.status().is_success() {
        return Err(format!("GET {url}: status {}", response.status()));
    }
    let too_big = || format!("GET {url}: key set larger than {MAX_JWKS_BYTES} bytes");
    if response.content_length().is_some_and(|length| length > MAX_JWKS_BYTES as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fail)? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    #[derive(serde::Deserialize)]
    struct KeySet {
        keys: Vec<Value>,
    }
    let set: KeySet = serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not a JWK set: {e}"))?;
    let total = set.keys.len();
    let keys: Vec<Key> = set.keys.into_iter().filter_map(usable_key).collect();
    if keys.is_empty() {
        return Err(format!("GET {url}: none of the {total} keys can verify signatures"));
    }
    Ok(keys)
}

/// One JWK as a verification key, or None for keys we must not or cannot use: encryption keys, symmetric (`oct`)
/// keys, unsupported key types, curves and algorithms. Skipping them keeps the rest of the set usable.
fn usable_key(jwk: Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(jwk).ok()?;
    let common = &jwk.common;
    if common.public_key_use.as_ref().is_some_and(|usage| *usage != PublicKeyUse::Signature)
        || common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &RSA_ALGORITHMS,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => &[Algorithm::ES256],
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => &[Algorithm::ES384],
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
        _ => return None,
    };
    let algorithms = match common.key_algorithm {
        None => family.to_vec(),
        // KeyAlgorithm displays as its variant name, which is what `Algorithm` parses.
        Some(alg) => vec![alg.to_string().parse().ok().filter(|alg| family.contains(alg))?],
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key { kid: jwk.common.key_id, algorithms, key })
}

/// The user and scope that verified claims name.
fn identity(claims: &Map<String, Value>, settings: &JwtSettings) -> Result<JwtIdentity, JwtError> {
    let user = match claims.get(&settings.user_claim) {
        Some(Value::String(user)) if !user.trim().is_empty() => user.clone(),
        Some(Value::Number(user)) => user.to_string(),
        _ => return Err(invalid(format!("no usable '{}' claim", settings.user_claim))),
    };
    let values: Vec<&str> = match claims.get(&settings.scope_claim) {
        Some(Value::String(text)) => text.split_whitespace().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let scope = settings.scope_map.iter().filter(|(value, _)| values.contains(&value.as_str())).map(|&(_, s)| s).max();
    Ok(JwtIdentity { user, scope })
}

/// Parses the ERIS_JWT_SCOPE_MAP syntax: comma-separated `claim-value=scope` pairs, e.g.
/// "eris-admins=admin,eris-writers=write,eris-readers=read". Empty entries are ignored; an entry without '=' or with
/// an unknown scope is an error that names the entry. The scope follows the last '=', so values may contain '='.
pub fn parse_scope_map(text: &str) -> Result<Vec<(String, Scope)>, ScopeMapError> {
    let entries = text.split(',').map(str::trim).filter(|entry| !entry.is_empty());
    entries
        .map(|entry| {
            let (value, scope) = entry
                .rsplit_once('=')
                .filter(|(value, _)| !value.trim().is_empty())
                .ok_or_else(|| ScopeMapError::NotAPair(entry.to_owned()))?;
            let scope = scope.parse().map_err(|error| ScopeMapError::UnknownScope(entry.to_owned(), error))?;
            Ok((value.trim().to_owned(), scope))
        })
        .collect()
}

/// An entry of ERIS_JWT_SCOPE_MAP that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeMapError {
    #[error("'{0}' in the JWT scope map is not claim-value=scope")]
    NotAPair(String),
    #[error("'{0}' in the JWT scope map: {1}")]
    UnknownScope(String, super::scope::UnknownScope),
}

/// The default map: `eris:read=read,eris:write=write,eris:admin=admin`.
pub fn default_scope_map() -> Vec<(String, Scope)> {
    Scope::ALL.iter().map(|&scope| (format!("eris:{scope}"), scope)).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::extract::State;
    use axum::http::StatusCode;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    /// A JWKS endpoint whose answer the test can change, counting the requests it gets.
    #[derive(Default)]
    struct Server {
        answer: Mutex<(u16, String)>,
        hits: AtomicUsize,
    }

    impl Server {
        fn answer(&self, status: u16, body: Value) {
            *self.answer.lock().unwrap() = (status, body.to_string());
        }
        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    /// Answers in chunks without Content-Length, as a streaming server would, so the size bound is exercised.
    async fn jwks(State(server): State<Arc<Server>>) -> (StatusCode, Body) {
        server.hits.fetch_add(1, Ordering::SeqCst);
        let (status, body) = server.answer.lock().unwrap().clone();
        let chunks: Vec<Result<_, std::io::Error>> = body.as_bytes().chunks(1 << 16).map(|c| Ok(c.to_vec())).collect();
        (StatusCode::from_u16(status).unwrap(), Body::from_stream(futures_util::stream::iter(chunks)))
    }

    /// An ES256 key pair as the identity provider holds it.
    struct Signer {
        kid: String,
        key: EncodingKey,
        jwk: Value,
    }

    impl Signer {
        fn new(kid: &str) -> Self {
            let (alg, rng) = (&ECDSA_P256_SHA256_FIXED_SIGNING, SystemRandom::new());
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
            let point = pair.public_key().as_ref(); // 0x04 || x || y
            let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..]));
            let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig"});
            Self { kid: kid.to_owned(), key: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
        }

        /// Signs the standard valid claims, changed by `changes` (a null value removes the claim).
        fn sign(&self, changes: Value) -> String {
            self.sign_as(Some(&self.kid), changes)
        }

        fn sign_as(&self, kid: Option<&str>, changes: Value) -> String {
            let exp = jsonwebtoken::get_current_timestamp() + 300;
            let mut claims = json!({"iss": "https://idp.test", "aud": "eris", "sub": "alice", "exp": exp});
            for (name, value) in changes.as_object().unwrap() {
                claims[name] = value.clone();
            }
            claims.as_object_mut().unwrap().retain(|_, value| !value.is_null());
            let header = Header { kid: kid.map(str::to_owned), ..Header::new(Algorithm::ES256) };
            jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
        }
    }

    /// A key set with the signers' keys after keys that must be skipped: an HMAC secret, an unknown key type and
    /// an encryption key under the first signer's kid (picked instead of the right key if it were not skipped).
    fn key_set(signers: &[&Signer]) -> Value {
        let mut encryption = Signer::new(signers.first().map_or("enc", |signer| &signer.kid)).jwk;
        encryption["use"] = json!("enc");
        let secret = URL_SAFE_NO_PAD.encode("secret");
        let mut keys = vec![json!({"kty": "oct", "k": secret, "kid": "hmac"}), json!({"kty": "XYZ"}), encryption];
        keys.extend(signers.iter().map(|signer| signer.jwk.clone()));
        json!({ "keys": keys })
    }

    async fn start(refresh: Duration, status: u16, body: Value) -> (Arc<Server>, JwtVerifier) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let server = Arc::new(Server::default());
        server.answer(status, body);
        let app = axum::Router::new().route("/jwks", axum::routing::get(jwks)).with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jwks_url = format!("http://{}/jwks", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let settings = JwtSettings {
            jwks_url,
            issuer: "https://idp.test".into(),
            audience: "eris".into(),
            user_claim: "sub".into(),
            scope_claim: "scope".into(),
            scope_map: default_scope_map(),
            refresh,
        };
        (server, JwtVerifier::new(settings, reqwest::Client::new()))
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn assert_invalid(result: Result<JwtIdentity, JwtError>, what: &str) {
        assert!(matches!(result, Err(JwtError::Invalid(_))), "{what}: {result:?}");
    }

    #[tokio::test]
    async fn valid_tokens_name_the_user_and_the_highest_mapped_scope() {
        let signer = Signer::new("a");
        let (server, verifier) = start(HOUR, 200, key_set(&[&signer])).await;
        let cases = [
            (json!({"scope": "openid eris:read eris:write"}), Some(Scope::Write)),
            (json!({"scope": ["eris:admin", "eris:read"]}), Some(Scope::Admin)),
            (json!({"scope": "openid profile"}), None),
            (json!({"scope": null}), None),
            (json!({"aud": ["other", "eris"], "sub": 42, "scope": "eris:read"}), Some(Scope::Read)),
        ];
        for (changes, scope) in cases {
            let user = if changes.get("sub").is_some() { "42" } else { "alice" };
            let identity = verifier.verify(&signer.sign(changes.clone())).await.unwrap();
            assert_eq!(identity, JwtIdentity { user: user.into(), scope }, "{changes}");
        }
        assert_eq!(server.hits(), 1, "the key set is cached");
    }

    #[tokio::test]
    async fn invalid_tokens_are_rejected() {
        let (signer, impostor) = (Signer::new("a"), Signer::new("a"));
        let (_server, verifier) = start(HOUR, 200, key_set(&[&signer])).await;
        let now = jsonwebtoken::get_current_timestamp();
        let b64 = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let claims = b64(json!({"iss": "https://idp.test", "aud": "eris", "sub": "alice", "exp": now + 300}));
        let valid = signer.sign(json!({}));
        let signature = valid.rsplit('.').next().unwrap();
        let hmac = |kid: &str| {
            let header = Header { kid: Some(kid.into()), ..Header::new(Algorithm::HS256) };
            jsonwebtoken::encode(
                &header,
                &json!({"sub": "alice", "exp": now + 300}),
                &EncodingKey::from_secret(b"secret"),
            )
        };
        let cases = [
            ("expired", signer.sign(json!({"exp": now - 120}))),
            ("not yet valid", signer.sign(json!({"nbf": now + 600}))),
            ("no exp", signer.sign(json!({"exp": null}))),
            ("wrong issuer", signer.sign(json!({"iss": "https://evil.test"}))),
            ("no issuer", signer.sign(json!({"iss": null}))),
            ("wrong audience", signer.sign(json!({"aud": ["other", "more"]}))),
            ("no audience", signer.sign(json!({"aud": null}))),
            ("no user", signer.sign(json!({"sub": null}))),
            ("empty user", signer.sign(json!({"sub": ""}))),
            ("bad signature", impostor.sign(json!({}))),
            ("alg none", format!("{}.{claims}.", b64(json!({"alg": "none", "kid": "a"})))),
            ("alg not the key's", format!("{}.{claims}.{signature}", b64(json!({"alg": "ES384", "kid": "a"})))),
            ("HS256 with the JWK as secret", hmac("a").unwrap()),
            ("HS256 with an oct key of the set", hmac("hmac").unwrap()),
            ("garbage", "not.a.jwt".to_owned()),
        ];
        for (what, token) in cases {
            assert_invalid(verifier.verify(&token).await, what);
        }
        assert!(verifier.verify(&valid).await.is_ok());
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_once_to_follow_key_rotation() {
        let (old, new) = (Signer::new("old"), Signer::new("new"));
        let (server, verifier) = start(HOUR, 200, key_set(&[&old])).await;
        assert!(verifier.verify(&old.sign(json!({}))).await.is_ok());
        server.answer(200, key_set(&[&new]));
        assert_eq!(verifier.verify(&new.sign(json!({}))).await.unwrap().user, "alice");
        assert_eq!(server.hits(), 2);
        assert_invalid(verifier.verify(&old.sign(json!({}))).await, "retired key");
        assert_eq!(server.hits(), 2, "the retired kid is not worth another fetch within the interval");
    }

    #[tokio::test]
    async fn concurrent_first_use_and_unknown_kid_floods_fetch_once() {
        let signer = Signer::new("a");
        let (server, verifier) = start(HOUR, 200, key_set(&[&signer])).await;
        let spawn_all = |tokens: Vec<String>| {
            let verifier = verifier.clone();
            tokens.into_iter().map(move |token| {
                let verifier = verifier.clone();
                tokio::spawn(async move { verifier.verify(&token).await })
            })
        };
        for task in spawn_all((0..10).map(|_| signer.sign(json!({}))).collect()).collect::<Vec<_>>() {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(server.hits(), 1, "concurrent first verifies share one fetch");
        let forged = (0..20).map(|n| signer.sign_as(Some(&format!("forged-{n}")), json!({}))).collect();
        for task in spawn_all(forged).collect::<Vec<_>>() {
            assert_invalid(task.await.unwrap(), "unknown kid");
        }
        assert_eq!(server.hits(), 2, "the flood of unknown kids costs one fetch");
    }

    #[tokio::test]
    async fn an_unavailable_key_set_fails_until_it_recovers() {
        let signer = Signer::new("a");
        let token = signer.sign(json!({}));
        let (server, verifier) = start(HOUR, 500, json!("oops")).await;
        let mut too_big = key_set(&[&signer]);
        too_big["pad"] = json!("x".repeat(MAX_JWKS_BYTES));
        for (status, body) in [(500, json!("oops")), (200, json!({})), (200, key_set(&[])), (200, too_big)] {
            server.answer(status, body);
            let result = verifier.verify(&token).await;
            assert!(matches!(result, Err(JwtError::Unavailable(_))), "{result:?}");
        }
        server.answer(200, key_set(&[&signer]));
        assert!(verifier.verify(&token).await.is_ok());
    }

    #[tokio::test]
    async fn stale_keys_are_refreshed_and_kept_when_the_refresh_fails() {
        let (old, new) = (Signer::new("old"), Signer::new("new"));
        let (server, verifier) = start(Duration::ZERO, 200, key_set(&[&old])).await;
        assert!(verifier.verify(&old.sign(json!({}))).await.is_ok());
        server.answer(503, json!(""));
        assert!(verifier.verify(&old.sign(json!({}))).await.is_ok(), "the cached keys still serve");
        assert_eq!(server.hits(), 2);
        server.answer(200, key_set(&[&new]));
        assert!(verifier.verify(&new.sign(json!({}))).await.is_ok());
        assert_invalid(verifier.verify(&old.sign(json!({}))).await, "replaced key");
    }

    #[tokio::test]
    async fn a_token_without_kid_needs_a_single_key() {
        let (a, b) = (Signer::new("a"), Signer::new("b"));
        let (server, verifier) = start(Duration::ZERO, 200, key_set(&[&a])).await;
        assert!(verifier.verify(&a.sign_as(None, json!({}))).await.is_ok());
        server.answer(200, key_set(&[&a, &b]));
        assert_invalid(verifier.verify(&a.sign_as(None, json!({}))).await, "two keys");
    }

    #[test]
    fn scope_maps_parse() {
        let map = parse_scope_map(" eris-admins=admin, ,eris-readers=Read,cn=ops=write,").unwrap();
        let expected = [("eris-admins", Scope::Admin), ("eris-readers", Scope::Read), ("cn=ops", Scope::Write)];
        assert_eq!(map, expected.map(|(value, scope)| (value.to_owned(), scope)));
        assert_eq!(parse_scope_map("").unwrap(), []);
        assert!(parse_scope_map("a=read,oops").unwrap_err().to_string().contains("'oops'"));
        assert!(parse_scope_map("a=root").unwrap_err().to_string().contains("'a=root'"));
        assert!(parse_scope_map("=read").unwrap_err().to_string().contains("'=read'"));
        assert_eq!(default_scope_map(), parse_scope_map("eris:read=read,eris:write=write,eris:admin=admin").unwrap());
    }
}
