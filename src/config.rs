//! Settings, from flags and environment variables. Each is checked at start-up; an unusable value stops eris
//! with a message that names the variable.
//!
//! | variable | flag | default |
//! |---|---|---|
//! | `ERIS_BIND` | `--bind` | `127.0.0.1:8080` |
//! | `DATABASE_URL` | `--database-url` | `sqlite://$ERIS_DATA_DIR/eris.db` |
//! | `ERIS_DATA_DIR` | `--data-dir` | `./eris-data` |
//! | `ERIS_LOG` | `--log` | `info` |
//! | `ERIS_MAX_BODY_BYTES` | `--max-body-bytes` | `1048576` |
//! | `ERIS_REQUEST_TIMEOUT_SECS` | `--request-timeout-secs` | `30` |
//! | `ERIS_MISFIRE_DEADLINE_SECS` | `--misfire-deadline-secs` | `3600` |
//! | `ERIS_WORKER_LEASE_SECS` | `--worker-lease-secs` | `15` |
//! | `ERIS_STEP_TIMEOUT_SECS` | `--step-timeout-secs` | `30` |
//! | `ERIS_WEBHOOK_URLS` | `--webhook-urls` | none |
//! | `ERIS_WEBHOOK_SECRET` | `--webhook-secret` | none |
//! | `ERIS_PUBLIC_URL` | `--public-url` | `http://$ERIS_BIND` |
//!
//! The MiSArch settings (`ERIS_GATLING_EXECUTOR_URL`, …) are in [`crate::misarch::settings`], the
//! authentication settings (`ERIS_AUTH`, `ERIS_JWT_*`, `ERIS_COMPONENT_ALLOW_CIDRS`) in [`crate::auth::settings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::db::DatabaseUrl;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./eris-data";
pub const DEFAULT_LOG: &str = "info";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: postgres://user:password@host:port/db for PostgreSQL, sqlite://path/to/file.db for SQLite.
    /// Default: an SQLite file eris.db inside the data directory.
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// Directory for eris's own files (the default SQLite database); created if missing.
    #[arg(long, env = "ERIS_DATA_DIR", value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// How `eris serve` serves.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Address and port to listen on. Use 0.0.0.0:8080 to listen on every interface.
    #[arg(long, env = "ERIS_BIND", value_name = "ADDR:PORT", default_value = DEFAULT_BIND)]
    pub bind: String,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "ERIS_MAX_BODY_BYTES", value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES.to_string())]
    pub max_body_bytes: String,

    /// Longest time a request may take until its response starts, in seconds; then it gets 503.
    #[arg(long, env = "ERIS_REQUEST_TIMEOUT_SECS", value_name = "SECONDS", default_value = "30")]
    pub request_timeout_secs: String,

    /// How late a missed fire may still be caught up (misfire_policy run_once), in seconds.
    #[arg(long, env = "ERIS_MISFIRE_DEADLINE_SECS", value_name = "SECONDS", default_value = "3600")]
    pub misfire_deadline_secs: String,

    /// How long the worker lease lasts without a heartbeat, in seconds: after a crash, the trial it ran is recovered
    /// (and another replica takes over) this long after the last heartbeat.
    #[arg(long, env = "ERIS_WORKER_LEASE_SECS", value_name = "SECONDS", default_value = "15")]
    pub worker_lease_secs: String,

    /// Timeout of an HTTP step that sets none, in seconds.
    #[arg(long, env = "ERIS_STEP_TIMEOUT_SECS", value_name = "SECONDS", default_value = "30")]
    pub step_timeout_secs: String,

    /// Webhooks told about every trial: comma-separated URLs, each optionally prefixed `slack:` for a
    /// Slack-compatible message.
    #[arg(long, env = "ERIS_WEBHOOK_URLS", value_name = "URLS", default_value = "")]
    pub webhook_urls: String,

    /// Key of the HMAC-SHA256 signature of every webhook delivery (header X-Eris-Signature).
    #[arg(long, env = "ERIS_WEBHOOK_SECRET", value_name = "SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// The URL eris is reached at, for links in webhooks (default: http:// and ERIS_BIND).
    #[arg(long, env = "ERIS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// The MiSArch components, Grafana and InfluxDB.
    #[command(flatten)]
    pub misarch: crate::misarch::settings::MisarchArgs,

    /// Who may use the API.
    #[command(flatten)]
    pub auth: crate::auth::settings::AuthArgs,
}

/// Settings of `eris serve`, checked.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub database_url: DatabaseUrl,
    pub bind: SocketAddr,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub misfire_deadline: Duration,
    pub worker_lease: Duration,
    pub step_timeout: Duration,
    pub webhooks: crate::webhooks::delivery::WebhookConfig,
    pub misarch: crate::misarch::settings::MisarchSettings,
    pub auth: crate::auth::settings::AuthSettings,
}

impl DatabaseArgs {
    /// The database to use. For the SQLite default, creates the data directory.
    pub fn resolve(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => {
                let url = DatabaseUrl::parse(url).map_err(|e| anyhow::anyhow!("DATABASE_URL (--database-url): {e}"))?;
                if let DatabaseUrl::Sqlite(path) = &url {
                    check_sqlite_parent(path)?;
                }
                Ok(url)
            }
            _ => {
                std::fs::create_dir_all(&self.data_dir).with_context(|| {
                    format!("ERIS_DATA_DIR (--data-dir): cannot create directory '{}'", self.data_dir.display())
                })?;
                let file = self.data_dir.join("eris.db");
                let path = file.to_str().with_context(|| {
                    format!("ERIS_DATA_DIR (--data-dir): '{}' is not valid UTF-8", self.data_dir.display())
                })?;
                Ok(DatabaseUrl::Sqlite(path.to_owned()))
            }
        }
    }
}

/// SQLite creates a missing file but not a missing directory; say which setting is wrong before it fails.
fn check_sqlite_parent(path: &str) -> anyhow::Result<()> {
    if path.starts_with("file:") || path == ":memory:" {
        return Ok(());
    }
    let parent = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent
        && !parent.is_dir()
    {
        bail!("DATABASE_URL (--database-url): directory '{}' of the SQLite file does not exist", parent.display());
    }
    Ok(())
}

impl ServeArgs {
    pub fn resolve(&self) -> anyhow::Result<ServeConfig> {
        let bind = self.bind.trim().parse().map_err(|_| {
            anyhow::anyhow!("ERIS_BIND (--bind): '{}' is not an address and port such as 127.0.0.1:8080", self.bind)
        })?;
        let max_body_bytes = parse_body_limit(&self.max_body_bytes)?;
        Ok(ServeConfig {
            database_url: self.database.resolve()?,
            bind,
            max_body_bytes,
            request_timeout: seconds(
                "ERIS_REQUEST_TIMEOUT_SECS (--request-timeout-secs)",
                &self.request_timeout_secs,
                1,
                3_600,
            )?,
            misfire_deadline: seconds(
                "ERIS_MISFIRE_DEADLINE_SECS (--misfire-deadline-secs)",
                &self.misfire_deadline_secs,
                0,
                7 * 86_400,
            )?,
            worker_lease: seconds("ERIS_WORKER_LEASE_SECS (--worker-lease-secs)", &self.worker_lease_secs, 2, 3_600)?,
            step_timeout: seconds("ERIS_STEP_TIMEOUT_SECS (--step-timeout-secs)", &self.step_timeout_secs, 1, 3_600)?,
            webhooks: self.webhooks(bind)?,
            misarch: self.misarch.resolve()?,
            auth: self.auth.resolve(bind, crate::http_client::build())?,
        })
    }

    fn webhooks(&self, bind: SocketAddr) -> anyhow::Result<crate::webhooks::delivery::WebhookConfig> {
        let targets = crate::webhooks::parse_global_targets(&self.webhook_urls)
            .map_err(|e| anyhow::anyhow!("ERIS_WEBHOOK_URLS (--webhook-urls): {e}"))?;
        let public_url = match self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let parsed = url::Url::parse(url)
                    .map_err(|e| anyhow::anyhow!("ERIS_PUBLIC_URL (--public-url): '{url}' is not a URL: {e}"))?;
                parsed.as_str().trim_end_matches('/').to_owned()
            }
            None => format!("http://{bind}"),
        };
        let secret = self.webhook_secret.clone().filter(|s| !s.is_empty());
        Ok(crate::webhooks::delivery::WebhookConfig {
            targets,
            secret,
            public_url,
            ..crate::webhooks::delivery::WebhookConfig::default()
        })
    }
}

fn seconds(setting: &str, text: &str, min: u64, max: u64) -> anyhow::Result<Duration> {
    match text.trim().parse::<u64>() {
        Ok(secs) if (min..=max).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => bail!("{setting}: '{text}' is not a whole number of seconds from {min} to {max}"),
    }
}

fn parse_body_limit(text: &str) -> anyhow::Result<usize> {
    const MIN: usize = 1024;
    const MAX: usize = 1024 * 1024 * 1024;
    match text.trim().parse::<usize>() {
        Ok(bytes) if (MIN..=MAX).contains(&bytes) => Ok(bytes),
        _ => bail!("ERIS_MAX_BODY_BYTES (--max-body-bytes): '{text}' is not a number of bytes from {MIN} to {MAX}"),
    }
}

/// Checks the `ERIS_LOG` filter (tracing's `EnvFilter` syntax, e.g. `info,eris=debug`).
pub fn log_filter(text: &str) -> anyhow::Result<tracing_subscriber::EnvFilter> {
    tracing_subscriber::EnvFilter::try_new(text).map_err(|e| {
        anyhow::anyhow!("ERIS_LOG (--log): '{text}' is not a log filter such as 'info' or 'info,eris=debug': {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(bind: &str, body: &str, url: Option<&str>) -> ServeArgs {
        ServeArgs {
            database: DatabaseArgs { database_url: url.map(str::to_owned), data_dir: std::env::temp_dir() },
            bind: bind.to_owned(),
            max_body_bytes: body.to_owned(),
            request_timeout_secs: "30".to_owned(),
            misfire_deadline_secs: "3600".to_owned(),
            worker_lease_secs: "15".to_owned(),
            step_timeout_secs: "30".to_owned(),
            webhook_urls: String::new(),
            webhook_secret: None,
            public_url: None,
            misarch: <crate::misarch::settings::MisarchArgs as clap::Parser>::parse_from(["eris"]),
            auth: <crate::auth::settings::AuthArgs as clap::Parser>::parse_from(["eris"]),
        }
    }

    fn error(args: ServeArgs) -> String {
        args.resolve().unwrap_err().to_string()
    }

    #[test]
    fn defaults_resolve() {
        let config = serve_args(DEFAULT_BIND, "1048576", None).resolve().unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert!(matches!(config.database_url, DatabaseUrl::Sqlite(path) if path.ends_with("eris.db")));
    }

    #[test]
    fn unusable_values_name_their_variable() {
        assert!(error(serve_args("localhost", "1048576", None)).starts_with("ERIS_BIND"));
        assert!(error(serve_args(DEFAULT_BIND, "lots", None)).starts_with("ERIS_MAX_BODY_BYTES"));
        assert!(error(serve_args(DEFAULT_BIND, "10", None)).starts_with("ERIS_MAX_BODY_BYTES"));
        assert!(error(serve_args(DEFAULT_BIND, "1048576", Some("mysql://x"))).starts_with("DATABASE_URL"));
        assert!(
            error(serve_args(DEFAULT_BIND, "1048576", Some("sqlite:///no/such/dir/e.db"))).starts_with("DATABASE_URL")
        );
        assert!(log_filter("info,eris=loud").unwrap_err().to_string().starts_with("ERIS_LOG"));
        let mut args = serve_args(DEFAULT_BIND, "1048576", None);
        args.worker_lease_secs = "1".to_owned();
        assert!(error(args).starts_with("ERIS_WORKER_LEASE_SECS"));
    }

    #[test]
    fn passwords_are_not_shown() {
        let url = DatabaseUrl::parse("postgres://eris:hunter2@db:5432/eris").unwrap();
        assert!(!url.display().contains("hunter2"));
    }
}
