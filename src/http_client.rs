//! The one HTTP client configuration of eris: what every outgoing request (step actions, the MiSArch components,
//! webhooks, the JWKS of `ERIS_AUTH=jwt`) is sent with.

use std::sync::Arc;
use std::time::Duration;

/// How many redirects a request follows before it fails.
pub const MAX_REDIRECTS: usize = 5;
/// How long connecting (TCP and TLS) may take before the request fails.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client eris shares (actions, MiSArch components, webhooks, JWKS): user agent `eris/<version>`, redirects followed up to [`MAX_REDIRECTS`],
/// [`CONNECT_TIMEOUT`], no connection pooling, rustls with the ring provider and the system's CA certificates.
///
/// The TLS configuration is built here rather than taken from a process-wide default provider, so nothing
/// global is installed. Without any CA certificate on the system (no `ca-certificates` package), plain HTTP
/// still works and every HTTPS request fails with an unknown-issuer error. Building reads the CA certificates:
/// build one client at start-up and share it (cloning a `reqwest::Client` is cheap).
pub fn build() -> reqwest::Client {
    builder().pool_max_idle_per_host(0).build().expect("the HTTP client configuration is valid")
}

/// [`build`], but keeping idle connections for reuse: for the load generator, where opening a connection per
/// request would measure the handshake and limit the rate.
pub fn build_pooled() -> reqwest::Client {
    builder().pool_max_idle_per_host(usize::MAX).build().expect("the HTTP client configuration is valid")
}

fn builder() -> reqwest::ClientBuilder {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3");
    let mut tls = match rustls_platform_verifier::Verifier::new(provider) {
        // `dangerous()` is only rustls's door to a custom verifier; this one checks certificates fully.
        Ok(verifier) => tls.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth(),
        Err(_) => tls.with_root_certificates(rustls::RootCertStore::empty()).with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .user_agent(concat!("eris/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .connect_timeout(CONNECT_TIMEOUT)
        .tls_backend_preconfigured(tls)
}
