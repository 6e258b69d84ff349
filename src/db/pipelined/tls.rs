//! How the pipelined connection is secured: as libpq secures the pool's connections, checking the same certificates
//! the same way, or it is not opened at all.
//!
//! The pool's connections come from libpq. It reads `sslmode` and `sslrootcert` from the URL, else `PGSSLMODE` and
//! `PGSSLROOTCERT`, and looks for `~/.postgresql/root.crt`. tokio-postgres reads none of that: it knows `disable`,
//! `prefer` and `require`, and leaves certificates to the TLS connector it is given. So the URL's TLS settings are
//! taken out of it here and mapped to a rustls configuration (libpq's rules, as its documentation's "SSL Mode
//! Descriptions" table gives them):
//!
//! | libpq `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | – |
//! | `prefer` (the default), `require` | `prefer`: if the server offers it; `require`: yes | with a root certificate file: signed by it (as `verify-ca`); without one: not at all |
//! | `verify-ca` | yes | signed by the root certificates of the file |
//! | `verify-full` | yes | signed by them, and issued for the host name of the URL (`sslrootcert=system`: the system's roots) |
//!
//! A build without TLS to PostgreSQL (no `postgres-tls` feature) links a libpq without TLS, which connects in the
//! clear for `disable` and `prefer` and refuses the rest; the pipelined connection does the same.
//!
//! Whatever else would change how libpq connects or what it accepts (`sslmode=allow`, client certificates,
//! revocation lists, any other TLS option, in the URL or the environment) is not mapped: the reads then go through
//! the pool. The pipelined connection's check (`WHERE_AM_I` in the parent module) also compares whether each side's
//! connection is encrypted.

use std::path::PathBuf;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The variables by which libpq's TLS could differ from what is mapped here; `PGSSLMODE` and `PGSSLROOTCERT` are
/// read, the rest turn pipelining off.
const UNMAPPED_ENVIRONMENT: &[&str] = &[
    "PGSSLCERT",
    "PGSSLKEY",
    "PGSSLCERTMODE",
    "PGSSLCRL",
    "PGSSLCRLDIR",
    "PGSSLSNI",
    "PGSSLMINPROTOCOLVERSION",
    "PGSSLMAXPROTOCOLVERSION",
    "PGSSLCOMPRESSION",
    "PGSSLNEGOTIATION",
    "PGREQUIRESSL",
];

/// A connection's configuration for tokio-postgres, and how to secure it.
pub(super) struct Settings {
    pub config: tokio_postgres::Config,
    pub tls: Option<MakeRustlsConnect>,
}

/// Why the pipelined connection cannot be made as libpq makes the pool's.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unmapped {
    #[error("tokio-postgres does not read the URL: {0}")]
    Url(#[from] tokio_postgres::Error),
    #[error("sslmode={0} is not one libpq would connect with here")]
    Mode(String),
    #[error("{0} is set, and changes how libpq connects")]
    Environment(&'static str),
    #[error("sslrootcert=system needs sslmode=verify-full, as libpq says")]
    SystemRootsNeedVerifyFull,
    #[error("sslmode={0} needs a root certificate file (sslrootcert, or ~/.postgresql/root.crt)")]
    NoRootCertificates(String),
    #[error("there is no home directory to look for ~/.postgresql/root.crt in (HOME is not set)")]
    NoHome,
    #[error("{path} is there, and libpq would check certificates against it")]
    RevocationList { path: PathBuf },
    #[error("cannot read the root certificates of {path}: {error}")]
    RootCertificates { path: PathBuf, error: String },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// The pipelined connection's settings for `url` (a `postgres://` URL), in a build whose libpq has TLS or not.
pub(super) fn settings(url: &str, libpq_has_tls: bool) -> Result<Settings, Unmapped> {
    let (url, from_url) = take_tls_options(url);
    let mut config: tokio_postgres::Config = url.parse()?;
    let mode = from_url.mode.or_else(|| environment("PGSSLMODE")).unwrap_or_else(|| "prefer".to_owned());
    if !libpq_has_tls {
        return match mode.as_str() {
            "disable" | "allow" | "prefer" => {
                config.ssl_mode(SslMode::Disable);
                Ok(Settings { config, tls: None })
            }
            // libpq refuses these without TLS: the pool cannot connect either.
            _ => Err(Unmapped::Mode(mode)),
        };
    }
    if let Some(variable) = UNMAPPED_ENVIRONMENT.iter().find(|variable| std::env::var_os(variable).is_some()) {
        return Err(Unmapped::Environment(variable));
    }
    let root = from_url.root_certificates.or_else(|| environment("PGSSLROOTCERT"));
    let check = match mode.as_str() {
        "disable" => {
            config.ssl_mode(SslMode::Disable);
            return Ok(Settings { config, tls: None });
        }
        "prefer" | "require" => {
            config.ssl_mode(if mode == "prefer" { SslMode::Prefer } else { SslMode::Require });
            match root {
                Some(root) if root == "system" => return Err(Unmapped::SystemRootsNeedVerifyFull),
                Some(root) => Check::SignedBy(root_certificates(&PathBuf::from(root))?),
                None => match default_root_file()? {
                    Some(path) => Check::SignedBy(root_certificates(&path)?),
                    None => Check::Nothing,
                },
            }
        }
        "verify-ca" | "verify-full" => {
            config.ssl_mode(SslMode::Require);
            let named = mode == "verify-full";
            let roots = match root.as_deref() {
                Some("system") if named => None,
                Some("system") => return Err(Unmapped::SystemRootsNeedVerifyFull),
                Some(path) => Some(root_certificates(&PathBuf::from(path))?),
                None => {
                    let path = default_root_file()?.ok_or_else(|| Unmapped::NoRootCertificates(mode.clone()))?;
                    Some(root_certificates(&path)?)
                }
            };
            match roots {
                None => Check::SystemRoots,
                Some(roots) if named => Check::SignedByAndNamed(roots),
                Some(roots) => Check::SignedBy(roots),
            }
        }
        _ => return Err(Unmapped::Mode(mode)),
    };
    // libpq checks certificates against a revocation list of this name when it is there; rustls is not given one.
    if !matches!(check, Check::Nothing)
        && let Some(crl) = home()?.map(|home| home.join(".postgresql/root.crl")).filter(|path| path.exists())
    {
        return Err(Unmapped::RevocationList { path: crl });
    }
    Ok(Settings { config, tls: Some(MakeRustlsConnect::new(client_config(check)?)) })
}

/// What libpq checks of the server's certificate.
enum Check {
    Nothing,
    SignedBy(RootCertStore),
    SignedByAndNamed(RootCertStore),
    SystemRoots,
}

fn client_config(check: Check) -> Result<rustls::ClientConfig, Unmapped> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| Unmapped::Tls(error.to_string()))?;
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::SignedByAndNamed(roots) => return Ok(builder.with_root_certificates(roots).with_no_client_auth()),
        Check::SystemRoots => Arc::new(
            rustls_platform_verifier::Verifier::new(provider).map_err(|error| Unmapped::Tls(error.to_string()))?,
        ),
        Check::SignedBy(roots) => Arc::new(SignedBy { roots: Some(roots), algorithms }),
        Check::Nothing => Arc::new(SignedBy { roots: None, algorithms }),
    };
    // `dangerous()` is rustls's only door to a verifier of one's own; these check what libpq checks.
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

/// libpq's `verify-ca` (with `roots`), or its `require` without a root certificate file (without): the certificate
/// is checked to be signed by one of `roots`, not to name the host; the handshake's signatures are always checked,
/// so the server holds the certificate's key (which channel binding relies on).
#[derive(Debug)]
struct SignedBy {
    roots: Option<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for SignedBy {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let certificate = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &certificate,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn root_certificates(path: &std::path::Path) -> Result<RootCertStore, Unmapped> {
    let unreadable = |error: String| Unmapped::RootCertificates { path: path.to_owned(), error };
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path).map_err(|error| unreadable(error.to_string()))? {
        roots
            .add(certificate.map_err(|error| unreadable(error.to_string()))?)
            .map_err(|e| unreadable(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(unreadable("no certificate in it".to_owned()));
    }
    Ok(roots)
}

/// `~/.postgresql/root.crt`, if it is there.
fn default_root_file() -> Result<Option<PathBuf>, Unmapped> {
    Ok(home()?.map(|home| home.join(".postgresql/root.crt")).filter(|path| path.exists()))
}

/// The home directory libpq looks in. Without `HOME` libpq asks the system's user database, which safe Rust here
/// cannot; an error, rather than a guess that there is no file.
fn home() -> Result<Option<PathBuf>, Unmapped> {
    std::env::var_os("HOME").map(|home| Some(PathBuf::from(home))).ok_or(Unmapped::NoHome)
}

fn environment(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// libpq's TLS options of a URL, percent-decoded.
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsOptions {
    mode: Option<String>,
    root_certificates: Option<String>,
}

/// The URL without `sslmode` and `sslrootcert` (which tokio-postgres would refuse or misread), and their values.
/// The other parameters are kept as they were written: decoded and encoded again, a `%20` would become a `+`.
fn take_tls_options(url: &str) -> (String, TlsOptions) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), TlsOptions::default()) };
    let mut options = TlsOptions::default();
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || percent_decode_str(value).decode_utf8_lossy().into_owned();
        match percent_decode_str(key).decode_utf8_lossy().as_ref() {
            "sslmode" => options.mode = Some(decoded()),
            "sslrootcert" => options.root_certificates = Some(decoded()),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (url, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_and_the_rest_kept_as_written() {
        let (url, options) = take_tls_options(
            "postgres://eris@db:5432/eris?sslmode=verify-full&options=-c%20search_path%3Deris&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(url, "postgres://eris@db:5432/eris?options=-c%20search_path%3Deris");
        assert_eq!(
            options,
            TlsOptions { mode: Some("verify-full".into()), root_certificates: Some("/etc/ca.pem".into()) }
        );
        assert_eq!(take_tls_options("postgres://eris@db/eris?sslmode=disable").0, "postgres://eris@db/eris");
        assert_eq!(take_tls_options("postgres://eris@db/eris").1, TlsOptions::default());
    }

    #[test]
    fn without_tls_in_libpq_only_the_modes_libpq_accepts_connect_in_the_clear() {
        for mode in ["disable", "allow", "prefer"] {
            let settings = settings(&format!("postgres://eris@db/eris?sslmode={mode}"), false).unwrap();
            assert!(settings.tls.is_none());
            assert_eq!(settings.config.get_ssl_mode(), SslMode::Disable);
        }
        for mode in ["require", "verify-ca", "verify-full", "bogus"] {
            let error = settings(&format!("postgres://eris@db/eris?sslmode={mode}"), false).err().unwrap();
            assert!(matches!(error, Unmapped::Mode(ref m) if m == mode), "{error}");
        }
    }

    #[test]
    fn what_libpq_would_do_differently_is_refused() {
        let refused = |url: &str| settings(url, true).err().map(|error| error.to_string());
        assert_eq!(
            refused("postgres://eris@db/eris?sslmode=allow").as_deref(),
            Some("sslmode=allow is not one libpq would connect with here")
        );
        assert_eq!(
            refused("postgres://eris@db/eris?sslmode=require&sslrootcert=system").as_deref(),
            Some("sslrootcert=system needs sslmode=verify-full, as libpq says")
        );
        assert!(
            refused("postgres://eris@db/eris?sslmode=require&sslcert=/client.pem")
                .is_some_and(|error| error.starts_with("tokio-postgres does not read the URL")),
        );
        assert_eq!(
            refused("postgres://eris@db/eris?sslmode=verify-ca&sslrootcert=/nonexistent/root.pem").as_deref(),
            Some(
                "cannot read the root certificates of /nonexistent/root.pem: I/O error: No such file or directory (os error 2)"
            )
        );
    }

    /// Real TLS handshakes with the PostgreSQL of `ERIS_TEST_DATABASE_URL`, which must offer TLS (`ssl = on`, as
    /// Debian's packages set it up, with a self-signed certificate for `localhost`). Without the variable these are
    /// skipped, except under CI, as the integration tests are.
    mod handshakes {
        use super::*;

        fn postgres() -> Option<url::Url> {
            match std::env::var("ERIS_TEST_DATABASE_URL") {
                Ok(url) if !url.trim().is_empty() => Some(url.trim().parse().expect("a URL")),
                _ if std::env::var_os("CI").is_some() => panic!("CI must run the PostgreSQL tests"),
                _ => None,
            }
        }

        /// The server's own certificate, as a root: its `ssl_cert_file`, on this machine.
        async fn server_certificate(url: &url::Url) -> String {
            let (client, connection) =
                url.as_str().parse::<tokio_postgres::Config>().unwrap().connect(tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let row =
                client.query_one("SELECT current_setting('ssl'), current_setting('ssl_cert_file')", &[]).await.unwrap();
            let (ssl, file): (String, String) = (row.get(0), row.get(1));
            assert_eq!(ssl, "on", "the PostgreSQL of ERIS_TEST_DATABASE_URL must offer TLS for these tests");
            let data_directory = client.query_one("SELECT current_setting('data_directory')", &[]).await.unwrap();
            let path = std::path::Path::new(&data_directory.get::<_, String>(0)).join(&file);
            path.to_str().unwrap().to_owned()
        }

        /// Connects as the pipelined connection would, with `parameters` added to `url` at `host`; answers whether
        /// the server sees the connection encrypted.
        async fn connect(url: &url::Url, host: &str, parameters: &str) -> Result<bool, String> {
            let mut url = url.clone();
            url.set_host(Some(host)).unwrap();
            let url = format!("{url}{}{parameters}", if url.query().is_some() { '&' } else { '?' });
            let Settings { config, tls } = settings(&url, true).map_err(|error| error.to_string())?;
            let client = match tls {
                None => {
                    let (client, connection) =
                        config.connect(tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
                    tokio::spawn(connection);
                    client
                }
                Some(tls) => {
                    let (client, connection) = config.connect(tls).await.map_err(|e| format!("{e:?}"))?;
                    tokio::spawn(connection);
                    client
                }
            };
            let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
            Ok(row.get(0))
        }

        #[tokio::test]
        async fn each_mode_encrypts_and_checks_as_libpq_does() {
            let Some(url) = postgres() else { return };
            let root = server_certificate(&url).await;
            let encoded = |path: &str| {
                percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC).to_string()
            };
            assert_eq!(connect(&url, "127.0.0.1", "sslmode=disable").await, Ok(false));
            assert_eq!(connect(&url, "127.0.0.1", "sslmode=prefer").await, Ok(true), "encrypted when offered");
            assert_eq!(connect(&url, "127.0.0.1", "sslmode=require").await, Ok(true), "no root file: not checked");
            let signed_by_it = format!("sslrootcert={}", encoded(&root));
            assert_eq!(connect(&url, "127.0.0.1", &format!("sslmode=verify-ca&{signed_by_it}")).await, Ok(true));
            assert_eq!(connect(&url, "localhost", &format!("sslmode=verify-full&{signed_by_it}")).await, Ok(true));
            let wrong_name = connect(&url, "127.0.0.1", &format!("sslmode=verify-full&{signed_by_it}")).await;
            assert!(wrong_name.as_ref().is_err_and(|error| error.contains("NotValidForName")), "{wrong_name:?}");
            // Signed by none of the public roots.
            let others = format!("sslrootcert={}", encoded("/etc/ssl/certs/ca-certificates.crt"));
            for mode in ["require", "verify-ca"] {
                let unknown = connect(&url, "127.0.0.1", &format!("sslmode={mode}&{others}")).await;
                assert!(unknown.as_ref().is_err_and(|error| error.contains("UnknownIssuer")), "{mode}: {unknown:?}");
            }
        }
    }
}
