//! Where the MiSArch components, Grafana and InfluxDB are, and the run's time limits: settings of `eris serve`
//! (README, "MiSArch"). Every component is optional; a trial that needs one that is not set fails at pre-flight
//! with a message naming the variable, and an export without its service is skipped and recorded as such.

use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use secrecy::SecretString;
use url::Url;

use super::components::Component;
use crate::setting_parsers::{bytes, http_url, seconds, secret, text};

/// Parsed on its own (`Parser`) in tests; flattened into `eris serve`'s arguments otherwise.
#[derive(Debug, Clone, Parser)]
pub struct MisarchArgs {
    /// Base URL of the MiSArch Gatling executor (e.g. http://gatling-executor:8889).
    #[arg(long, env = "ERIS_GATLING_EXECUTOR_URL", value_name = "URL", value_parser = http_url())]
    pub gatling_executor_url: Option<Url>,

    /// Base URL of the MiSArch Chaos Toolkit executor (e.g. http://chaostoolkit-executor:8890).
    #[arg(long, env = "ERIS_CHAOSTOOLKIT_EXECUTOR_URL", value_name = "URL", value_parser = http_url())]
    pub chaostoolkit_executor_url: Option<Url>,

    /// Base URL of the MiSArch experiment configurator (e.g. http://experiment-config:8080).
    #[arg(long, env = "ERIS_MISARCH_CONFIG_URL", value_name = "URL", value_parser = http_url())]
    pub misarch_config_url: Option<Url>,

    /// Base URL of Grafana's HTTP API, where each trial's dashboard is created (e.g. http://grafana:3000).
    #[arg(long, env = "ERIS_GRAFANA_URL", value_name = "URL", value_parser = http_url())]
    pub grafana_url: Option<Url>,

    /// A Grafana service account token (Editor or better); or use ERIS_GRAFANA_USER and ERIS_GRAFANA_PASSWORD.
    #[arg(long, env = "ERIS_GRAFANA_TOKEN", value_name = "TOKEN", hide_env_values = true, value_parser = secret())]
    pub grafana_token: Option<SecretString>,

    #[arg(long, env = "ERIS_GRAFANA_USER", value_name = "USER", value_parser = text())]
    pub grafana_user: Option<String>,

    #[arg(long, env = "ERIS_GRAFANA_PASSWORD", value_name = "PASSWORD", hide_env_values = true,
        value_parser = secret())]
    pub grafana_password: Option<SecretString>,

    /// The Grafana URL people open, for `trial.grafana_url` (default: ERIS_GRAFANA_URL).
    #[arg(long, env = "ERIS_GRAFANA_PUBLIC_URL", value_name = "URL", value_parser = http_url())]
    pub grafana_public_url: Option<Url>,

    /// The uid of Grafana's InfluxDB (Flux) data source the dashboards query.
    #[arg(long, env = "ERIS_GRAFANA_DATASOURCE_UID", value_name = "UID", default_value = "influxdb_uid",
        value_parser = text())]
    pub grafana_datasource_uid: String,

    /// InfluxDB 2 base URL (e.g. http://influxdb:8086), or the original executor's full write URL
    /// (…/api/v2/write?org=misarch&bucket=gatling&precision=ms).
    #[arg(long, env = "ERIS_INFLUXDB_URL", value_name = "URL", value_parser = http_url())]
    pub influxdb_url: Option<Url>,

    #[arg(long, env = "ERIS_INFLUXDB_TOKEN", value_name = "TOKEN", hide_env_values = true, value_parser = secret())]
    pub influxdb_token: Option<SecretString>,

    #[arg(long, env = "ERIS_INFLUXDB_ORG", value_name = "ORG", default_value = "misarch", value_parser = text())]
    pub influxdb_org: String,

    #[arg(long, env = "ERIS_INFLUXDB_BUCKET", value_name = "BUCKET", default_value = "gatling", value_parser = text())]
    pub influxdb_bucket: String,

    /// How long the components may take to register at the barrier, in seconds (1 to 86400), on top of the
    /// experiment's warm-up and steady state (Gatling compiles the scenarios first).
    #[arg(long = "barrier-timeout-secs", env = "ERIS_BARRIER_TIMEOUT_SECS", value_name = "SECONDS",
        default_value = "600", value_parser = seconds::<1, 86_400>())]
    pub barrier_timeout: Duration,

    /// How long after the planned end of the workload the metrics may take to arrive, in seconds (1 to 86400).
    #[arg(long = "metrics-timeout-secs", env = "ERIS_METRICS_TIMEOUT_SECS", value_name = "SECONDS",
        default_value = "300", value_parser = seconds::<1, 86_400>())]
    pub metrics_timeout: Duration,

    /// Largest metrics upload accepted from the Gatling executor, in bytes (1 MiB to 1 GiB; a report of a long run
    /// is several MB).
    #[arg(long, env = "ERIS_CALLBACK_MAX_BODY_BYTES", value_name = "BYTES", default_value = "67108864",
        value_parser = bytes::<1_048_576, 1_073_741_824>())]
    pub callback_max_body_bytes: usize,
}

/// A component the experiment needs has no URL set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the experiment needs the {}, but {} is not set", .0.name(), variable(*.0))]
pub struct ComponentNotSet(pub Component);

/// The setting that holds a component's URL.
fn variable(component: Component) -> &'static str {
    match component {
        Component::Gatling => "ERIS_GATLING_EXECUTOR_URL",
        Component::ChaosToolkit => "ERIS_CHAOSTOOLKIT_EXECUTOR_URL",
        Component::Configurator => "ERIS_MISARCH_CONFIG_URL",
    }
}

/// How eris signs in to Grafana. The secrets are never shown (`Debug` prints them redacted).
#[derive(Debug, Clone)]
pub enum GrafanaAuth {
    /// `Authorization: Bearer <token>`.
    Token(SecretString),
    /// HTTP basic authentication.
    Basic { user: String, password: SecretString },
}

#[derive(Debug, Clone)]
pub struct GrafanaSettings {
    pub url: Url,
    /// Base of the links in `trial.grafana_url`.
    pub public_url: String,
    pub auth: Option<GrafanaAuth>,
    pub datasource_uid: String,
    /// The InfluxDB bucket the dashboard queries.
    pub bucket: String,
}

#[derive(Debug, Clone)]
pub struct InfluxSettings {
    pub url: Url,
    pub token: Option<SecretString>,
    pub org: String,
    pub bucket: String,
}

/// The checked settings.
#[derive(Debug, Clone)]
pub struct MisarchSettings {
    pub gatling: Option<Url>,
    pub chaos_toolkit: Option<Url>,
    pub configurator: Option<Url>,
    pub grafana: Option<GrafanaSettings>,
    pub influxdb: Option<InfluxSettings>,
    /// Added to the experiment's warm-up and steady state to give the barrier's deadline.
    pub barrier_timeout: Duration,
    /// Added to the workload's planned length (from T0) to give the metrics' deadline.
    pub metrics_timeout: Duration,
    /// Timeout of each request to a component, Grafana or InfluxDB.
    pub request_timeout: Duration,
    pub callback_max_body_bytes: usize,
}

impl Default for MisarchSettings {
    fn default() -> Self {
        Self {
            gatling: None,
            chaos_toolkit: None,
            configurator: None,
            grafana: None,
            influxdb: None,
            barrier_timeout: Duration::from_secs(600),
            metrics_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(10),
            callback_max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

impl MisarchSettings {
    /// The base URL of a component, or why there is none (naming the variable to set).
    pub fn component_url(&self, component: Component) -> Result<&Url, ComponentNotSet> {
        let url = match component {
            Component::Gatling => &self.gatling,
            Component::ChaosToolkit => &self.chaos_toolkit,
            Component::Configurator => &self.configurator,
        };
        url.as_ref().ok_or(ComponentNotSet(component))
    }
}

impl MisarchArgs {
    pub fn resolve(&self) -> anyhow::Result<MisarchSettings> {
        let grafana = self.grafana_url.as_ref().map(|url| self.grafana(url)).transpose()?;
        let influxdb = self.influxdb_url.as_ref().map(|url| self.influxdb(url));
        Ok(MisarchSettings {
            gatling: self.gatling_executor_url.clone(),
            chaos_toolkit: self.chaostoolkit_executor_url.clone(),
            configurator: self.misarch_config_url.clone(),
            grafana,
            influxdb,
            barrier_timeout: self.barrier_timeout,
            metrics_timeout: self.metrics_timeout,
            request_timeout: Duration::from_secs(10),
            callback_max_body_bytes: self.callback_max_body_bytes,
        })
    }

    fn grafana(&self, url: &Url) -> anyhow::Result<GrafanaSettings> {
        let auth = match (&self.grafana_token, &self.grafana_user, &self.grafana_password) {
            (Some(_), Some(_), _) => bail!("ERIS_GRAFANA_TOKEN and ERIS_GRAFANA_USER are both set; set one of them"),
            (Some(token), None, _) => Some(GrafanaAuth::Token(token.clone())),
            (None, Some(user), Some(password)) => {
                Some(GrafanaAuth::Basic { user: user.clone(), password: password.clone() })
            }
            (None, Some(_), None) => bail!("ERIS_GRAFANA_USER is set but ERIS_GRAFANA_PASSWORD is not"),
            (None, None, Some(_)) => bail!("ERIS_GRAFANA_PASSWORD is set but ERIS_GRAFANA_USER is not"),
            (None, None, None) => None,
        };
        let public_url = self.grafana_public_url.as_ref().unwrap_or(url);
        Ok(GrafanaSettings {
            url: url.clone(),
            public_url: public_url.as_str().trim_end_matches('/').to_owned(),
            auth,
            datasource_uid: self.grafana_datasource_uid.clone(),
            bucket: self.influxdb_bucket.clone(),
        })
    }

    fn influxdb(&self, url: &Url) -> InfluxSettings {
        let mut url = url.clone();
        let (mut org, mut bucket) = (self.influxdb_org.clone(), self.influxdb_bucket.clone());
        // The original executor's INFLUXDB_URL is the whole write URL: take its org and bucket, keep the base.
        if url.path().trim_end_matches('/').ends_with("/api/v2/write") {
            for (name, value) in url.query_pairs() {
                match &*name {
                    "org" => org = value.into_owned(),
                    "bucket" => bucket = value.into_owned(),
                    _ => {}
                }
            }
            let base = url.path().trim_end_matches('/').trim_end_matches("/api/v2/write").to_owned();
            url.set_path(&base);
            url.set_query(None);
        }
        InfluxSettings { url, token: self.influxdb_token.clone(), org, bucket }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> MisarchArgs {
        MisarchArgs::parse_from(["eris"])
    }

    #[test]
    fn nothing_is_required() {
        let settings = args().resolve().unwrap();
        assert!(settings.gatling.is_none() && settings.grafana.is_none() && settings.influxdb.is_none());
        let missing = settings.component_url(Component::ChaosToolkit).unwrap_err().to_string();
        assert!(missing.contains("ERIS_CHAOSTOOLKIT_EXECUTOR_URL"), "{missing}");
    }

    fn with(flags: &[&str]) -> Result<MisarchArgs, clap::Error> {
        MisarchArgs::try_parse_from(std::iter::once("eris").chain(flags.iter().copied()))
    }

    #[test]
    fn the_original_influx_write_url_is_understood() {
        let args = with(&["--influxdb-url", "http://influxdb:8086/api/v2/write?org=acme&bucket=runs&precision=ms"]);
        let influx = args.unwrap().resolve().unwrap().influxdb.unwrap();
        assert_eq!(
            (influx.url.as_str(), influx.org.as_str(), influx.bucket.as_str()),
            ("http://influxdb:8086/", "acme", "runs")
        );
    }

    #[test]
    fn grafana_links_default_to_its_url_and_credentials_stay_hidden() {
        let flags =
            ["--grafana-url", "http://grafana:3000/", "--grafana-user", "admin", "--grafana-password", "hunter2"];
        let grafana = with(&flags).unwrap().resolve().unwrap().grafana.unwrap();
        assert_eq!(grafana.public_url, "http://grafana:3000");
        assert!(!format!("{grafana:?}").contains("hunter2"));
    }

    #[test]
    fn unusable_values_name_their_variable() {
        let cases: [(&[&str], &str); 6] = [
            (&["--gatling-executor-url", "gatling:8889"], "ERIS_GATLING_EXECUTOR_URL"),
            (&["--barrier-timeout-secs", "soon"], "ERIS_BARRIER_TIMEOUT_SECS"),
            (&["--metrics-timeout-secs", "0"], "ERIS_METRICS_TIMEOUT_SECS"),
            (&["--grafana-url", "http://grafana", "--grafana-user", "admin"], "ERIS_GRAFANA_PASSWORD"),
            (&["--callback-max-body-bytes", "12"], "ERIS_CALLBACK_MAX_BODY_BYTES"),
            (&["--influxdb-org", " "], "ERIS_INFLUXDB_ORG"),
        ];
        for (flags, variable) in cases {
            let error = match with(flags) {
                Ok(args) => args.resolve().unwrap_err().to_string(),
                Err(error) => error.to_string(),
            };
            assert!(error.contains(variable), "{error}");
        }
    }
}
