//! Settings, from flags and environment variables. Each is checked at start-up; an unusable value stops eris
//! with a message that names the variable.
//!
//! | variable | flag | default |
//! |---|---|---|
//! | `ERIS_BIND` | `--bind` | `127.0.0.1:8080` |
//! | `DATABASE_URL` | `--database-url` | `sqlite://$ERIS_DATA_DIR/eris.db` |
//! | `ERIS_DATA_DIR` | `--data-dir` | `./eris-data` |
//! | `ERIS_LOG` | `--log` | `info` |
//! | `ERIS_DB_POOL_SIZE` | `--db-pool-size` | `10` |
//! | `ERIS_DB_POOL_TIMEOUT_SECS` | `--db-pool-timeout-secs` | `10` |
//! | `ERIS_MAX_BODY_BYTES` | `--max-body-bytes` | `1048576` |
//! | `ERIS_REQUEST_TIMEOUT_SECS` | `--request-timeout-secs` | `30` |
//! | `ERIS_MISFIRE_DEADLINE_SECS` | `--misfire-deadline-secs` | `3600` |
//! | `ERIS_WORKER_LEASE_SECS` | `--worker-lease-secs` | `6` |
//! | `ERIS_STEP_TIMEOUT_SECS` | `--step-timeout-secs` | `30` |
//! | `ERIS_WEBHOOK_URLS` | `--webhook-urls` | none |
//! | `ERIS_WEBHOOK_SECRET` | `--webhook-secret` | none |
//! | `ERIS_PUBLIC_URL` | `--public-url` | `http://$ERIS_BIND` |
//! | `ERIS_CORS_ORIGINS` | `--cors-origins` | none |
//! | `ERIS_MISARCH_TEMPLATES_DIR` | `--misarch-templates-dir` | built-in templates |
//! | `ERIS_MISARCH_PLATFORM` | `--misarch-platform` | `docker` |
//! | `ERIS_RETENTION_MAX_AGE_DAYS` | `--retention-max-age-days` | none (keep) |
//! | `ERIS_RETENTION_KEEP_PER_SCHEDULE` | `--retention-keep-per-schedule` | none (keep) |
//! | `ERIS_RETENTION_INTERVAL_SECS` | `--retention-interval-secs` | `3600` |
//!
//! The MiSArch settings (`ERIS_GATLING_EXECUTOR_URL`, …) are in [`crate::misarch::settings`], the
//! authentication settings (`ERIS_AUTH`, `ERIS_JWT_*`, `ERIS_COMPONENT_ALLOW_CIDRS`) in [`crate::auth::settings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use secrecy::SecretString;

use crate::db::DatabaseUrl;
use crate::setting_parsers::{bytes, connections, seconds, secret, socket_address, whole};

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
    #[arg(long, env = "ERIS_BIND", value_name = "ADDR:PORT", default_value = DEFAULT_BIND,
        value_parser = socket_address())]
    pub bind: SocketAddr,

    /// Connections of this process's database pool (1 to 1000), shared by the API, the scheduler and the worker.
    #[arg(long = "db-pool-size", env = "ERIS_DB_POOL_SIZE", value_name = "CONNECTIONS", default_value = "10",
        value_parser = connections::<1, 1_000>())]
    pub db_pool_size: u32,

    /// How long a request waits for a free database connection, in seconds (1 to 600); then it gets 503.
    #[arg(long = "db-pool-timeout-secs", env = "ERIS_DB_POOL_TIMEOUT_SECS", value_name = "SECONDS",
        default_value = "10", value_parser = seconds::<1, 600>())]
    pub db_pool_timeout: Duration,

    /// Largest request body accepted, in bytes (1024 to 1073741824); larger ones get 413.
    #[arg(long, env = "ERIS_MAX_BODY_BYTES", value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES,
        value_parser = bytes::<1024, 1_073_741_824>())]
    pub max_body_bytes: usize,

    /// Longest time a request may take until its response starts, in seconds (1 to 3600); then it gets 503.
    #[arg(long = "request-timeout-secs", env = "ERIS_REQUEST_TIMEOUT_SECS", value_name = "SECONDS",
        default_value = "30", value_parser = seconds::<1, 3_600>())]
    pub request_timeout: Duration,

    /// How late a missed fire may still be caught up (misfire_policy run_once), in seconds (0 to 604800).
    #[arg(long = "misfire-deadline-secs", env = "ERIS_MISFIRE_DEADLINE_SECS", value_name = "SECONDS",
        default_value = "3600", value_parser = seconds::<0, 604_800>())]
    pub misfire_deadline: Duration,

    /// Retention: ended trials older than this many days (by their end) are removed (1 to 36500). Default: kept.
    #[arg(long = "retention-max-age-days", env = "ERIS_RETENTION_MAX_AGE_DAYS", value_name = "DAYS",
        value_parser = whole::<1, 36_500>())]
    pub retention_max_age_days: Option<u32>,

    /// Retention: of each schedule's ended trials, the latest this many are kept, older ones removed (1 to
    /// 1000000). Default: all kept.
    #[arg(long = "retention-keep-per-schedule", env = "ERIS_RETENTION_KEEP_PER_SCHEDULE", value_name = "TRIALS",
        value_parser = whole::<1, 1_000_000>())]
    pub retention_keep_per_schedule: Option<u32>,

    /// Retention: how often the job looks, in seconds (60 to 86400).
    #[arg(long = "retention-interval-secs", env = "ERIS_RETENTION_INTERVAL_SECS", value_name = "SECONDS",
        default_value = "3600", value_parser = seconds::<60, 86_400>())]
    pub retention_interval: Duration,

    /// How long the worker lease lasts without a heartbeat, in seconds (2 to 3600): after a crash, the trial it ran
    /// is recovered (and another replica takes over) this long after the last heartbeat.
    #[arg(long = "worker-lease-secs", env = "ERIS_WORKER_LEASE_SECS", value_name = "SECONDS", default_value = "6",
        value_parser = seconds::<2, 3_600>())]
    pub worker_lease: Duration,

    /// Timeout of an HTTP step that sets none, in seconds (1 to 3600).
    #[arg(long = "step-timeout-secs", env = "ERIS_STEP_TIMEOUT_SECS", value_name = "SECONDS", default_value = "30",
        value_parser = seconds::<1, 3_600>())]
    pub step_timeout: Duration,

    /// The Chaos Toolkit CLI that `chaostoolkit.run` steps run: a name looked up on PATH, or a path.
    #[arg(long, env = "ERIS_CHAOS_CLI", value_name = "PATH", default_value = crate::actions::chaostoolkit::DEFAULT_CLI)]
    pub chaos_cli: PathBuf,

    /// Prometheus's base URL, for `prometheus.query` steps that name none (e.g. http://prometheus:9090).
    #[arg(long, env = "ERIS_PROMETHEUS_URL", value_name = "URL", value_parser = crate::setting_parsers::http_url())]
    pub prometheus_url: Option<url::Url>,

    /// Webhooks told about every trial: comma-separated URLs, each optionally prefixed `slack:` for a
    /// Slack-compatible message.
    #[arg(long, env = "ERIS_WEBHOOK_URLS", value_name = "URLS", default_value = "")]
    pub webhook_urls: String,

    /// Key of the HMAC-SHA256 signature of every webhook delivery (header X-Eris-Signature).
    #[arg(long, env = "ERIS_WEBHOOK_SECRET", value_name = "SECRET", hide_env_values = true, value_parser = secret())]
    pub webhook_secret: Option<SecretString>,

    /// The URL eris is reached at, for links in webhooks (default: http:// and ERIS_BIND).
    #[arg(long, env = "ERIS_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Browser origins allowed to call eris, comma-separated (e.g. http://localhost:5173 for the MiSArch frontend).
    #[arg(long, env = "ERIS_CORS_ORIGINS", value_name = "ORIGINS", default_value = "")]
    pub cors_origins: String,

    /// The MiSArch Experiment Executor's templates directory (its src/main/resources/templates), for the
    /// generator; without it eris uses its built-in templates.
    #[arg(long, env = "ERIS_MISARCH_TEMPLATES_DIR", value_name = "DIR")]
    pub misarch_templates_dir: Option<PathBuf>,

    /// Where generated MiSArch experiments run: docker or kubernetes (the executor's IS_KUBERNETES).
    #[arg(long, env = "ERIS_MISARCH_PLATFORM", value_name = "PLATFORM", default_value = "docker",
        value_parser = crate::setting_parsers::one_of::<crate::misarch_executor::templates::Platform>())]
    pub misarch_platform: crate::misarch_executor::templates::Platform,

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
    pub pool: crate::db::PoolOptions,
    pub bind: SocketAddr,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub misfire_deadline: Duration,
    pub worker_lease: Duration,
    pub step_timeout: Duration,
    pub chaos_cli: PathBuf,
    pub prometheus_url: Option<url::Url>,
    pub webhooks: crate::webhooks::delivery::WebhookConfig,
    pub misarch: crate::misarch::settings::MisarchSettings,
    pub auth: crate::auth::settings::AuthSettings,
    pub cors_origins: crate::api::cors::CorsOrigins,
    pub misarch_executor: crate::misarch_executor::Settings,
    pub retention: crate::retention::Policy,
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
        let bind = self.bind;
        Ok(ServeConfig {
            database_url: self.database.resolve()?,
            pool: crate::db::PoolOptions {
                max_size: self.db_pool_size,
                connection_timeout: self.db_pool_timeout,
                ..Default::default()
            },
            bind,
            max_body_bytes: self.max_body_bytes,
            request_timeout: self.request_timeout,
            misfire_deadline: self.misfire_deadline,
            worker_lease: self.worker_lease,
            step_timeout: self.step_timeout,
            chaos_cli: self.chaos_cli.clone(),
            prometheus_url: self.prometheus_url.clone(),
            webhooks: self.webhooks(bind)?,
            misarch: self.misarch.resolve()?,
            auth: self.auth.resolve(bind, crate::http_client::build())?,
            cors_origins: crate::api::cors::CorsOrigins::parse(&self.cors_origins)
                .map_err(|e| anyhow::anyhow!("ERIS_CORS_ORIGINS (--cors-origins): {e}"))?,
            misarch_executor: self.misarch_executor()?,
            retention: crate::retention::Policy {
                max_age: self.retention_max_age_days.map(|days| chrono::Duration::days(i64::from(days))),
                keep_per_schedule: self.retention_keep_per_schedule.map(i64::from),
                every: self.retention_interval,
            },
        })
    }

    fn misarch_executor(&self) -> anyhow::Result<crate::misarch_executor::Settings> {
        use crate::misarch_executor::templates::Templates;
        let templates = match &self.misarch_templates_dir {
            Some(dir) => Templates::from_dir(dir).map_err(|e| anyhow::anyhow!("ERIS_MISARCH_TEMPLATES_DIR: {e}"))?,
            None => Templates::built_in(),
        };
        let public_url = match self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Some(
                url::Url::parse(url)
                    .map_err(|e| anyhow::anyhow!("ERIS_PUBLIC_URL (--public-url): '{url}' is not a URL: {e}"))?,
            ),
            None => None,
        };
        Ok(crate::misarch_executor::Settings { templates, platform: self.misarch_platform, public_url })
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
        Ok(crate::webhooks::delivery::WebhookConfig {
            targets,
            secret: self.webhook_secret.clone(),
            public_url,
            ..crate::webhooks::delivery::WebhookConfig::default()
        })
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
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    /// `eris serve` with these flags (and the data directory in the temporary directory).
    fn serve_args(flags: &[&str]) -> Result<ServeArgs, clap::Error> {
        let data_dir = std::env::temp_dir();
        let fixed = ["eris", "--data-dir", data_dir.to_str().unwrap()];
        Serve::try_parse_from(fixed.iter().chain(flags)).map(|serve| serve.args)
    }

    fn error(flags: &[&str]) -> String {
        match serve_args(flags) {
            Ok(args) => args.resolve().unwrap_err().to_string(),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn defaults_resolve() {
        let config = serve_args(&[]).unwrap().resolve().unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.worker_lease, Duration::from_secs(6));
        assert_eq!((config.pool.max_size, config.pool.connection_timeout), (10, Duration::from_secs(10)));
        let sized = serve_args(&["--db-pool-size", "32", "--db-pool-timeout-secs", "3"]).unwrap().resolve().unwrap();
        assert_eq!((sized.pool.max_size, sized.pool.connection_timeout), (32, Duration::from_secs(3)));
        assert!(matches!(config.database_url, DatabaseUrl::Sqlite(path) if path.ends_with("eris.db")));
    }

    #[test]
    fn unusable_values_name_their_variable() {
        assert!(error(&["--bind", "localhost"]).contains("ERIS_BIND"));
        assert!(error(&["--max-body-bytes", "lots"]).contains("ERIS_MAX_BODY_BYTES"));
        assert!(error(&["--max-body-bytes", "10"]).contains("ERIS_MAX_BODY_BYTES"));
        let pool = error(&["--db-pool-size", "0"]);
        assert!(
            pool.contains(
                "ERIS_DB_POOL_SIZE (--db-pool-size): '0' is not a whole number of connections from 1 to 1000"
            ),
            "{pool}"
        );
        assert!(error(&["--db-pool-timeout-secs", "0"]).contains("ERIS_DB_POOL_TIMEOUT_SECS"));
        assert!(error(&["--database-url", "mysql://x"]).starts_with("DATABASE_URL"));
        assert!(error(&["--database-url", "sqlite:///no/such/dir/e.db"]).starts_with("DATABASE_URL"));
        assert!(log_filter("info,eris=loud").unwrap_err().to_string().starts_with("ERIS_LOG"));
        let lease = error(&["--worker-lease-secs", "1"]);
        assert!(lease.contains("ERIS_WORKER_LEASE_SECS (--worker-lease-secs): '1' is not a whole number"), "{lease}");
    }

    #[test]
    fn passwords_are_not_shown() {
        let url = DatabaseUrl::parse("postgres://eris:hunter2@db:5432/eris").unwrap();
        assert!(!url.display().contains("hunter2"));
        let args = serve_args(&["--webhook-secret", "hunter2"]).unwrap();
        assert!(!format!("{:?}", args.resolve().unwrap().webhooks).contains("hunter2"));
    }
}
