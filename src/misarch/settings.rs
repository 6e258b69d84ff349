//! Where the MiSArch components, Grafana and InfluxDB are, and the run's time limits: settings of `eris serve`
//! (README, "MiSArch"). Every component is optional; a trial that needs one that is not set fails at pre-flight
//! with a message naming the variable, and an export without its service is skipped and recorded as such.

use std::fmt;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use url::Url;

use super::components::Component;

/// Parsed on its own (`Parser`) in tests; flattened into `eris serve`'s arguments otherwise.
#[derive(Debug, Clone, Parser)]
pub struct MisarchArgs {
    /// Base URL of the MiSArch Gatling executor (e.g. http://gatling-executor:8889).
    #[arg(long, env = "ERIS_GATLING_EXECUTOR_URL", value_name = "URL")]
    pub gatling_executor_url: Option<String>,

    /// Base URL of the MiSArch Chaos Toolkit executor (e.g. http://chaostoolkit-executor:8890).
    #[arg(long, env = "ERIS_CHAOSTOOLKIT_EXECUTOR_URL", value_name = "URL")]
    pub chaostoolkit_executor_url: Option<String>,

    /// Base URL of the MiSArch experiment configurator (e.g. http://experiment-config:8080).
    #[arg(long, env = "ERIS_MISARCH_CONFIG_URL", value_name = "URL")]
    pub misarch_config_url: Option<String>,

    /// Base URL of Grafana's HTTP API, where each trial's dashboard is created (e.g. http://grafana:3000).
    #[arg(long, env = "ERIS_GRAFANA_URL", value_name = "URL")]
    pub grafana_url: Option<String>,

    /// A Grafana service account token (Editor or better); or use ERIS_GRAFANA_USER and ERIS_GRAFANA_PASSWORD.
    #[arg(long, env = "ERIS_GRAFANA_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub grafana_token: Option<String>,

    #[arg(long, env = "ERIS_GRAFANA_USER", value_name = "USER")]
    pub grafana_user: Option<String>,

    #[arg(long, env = "ERIS_GRAFANA_PASSWORD", value_name = "PASSWORD", hide_env_values = true)]
    pub grafana_password: Option<String>,

    /// The Grafana URL people open, for `trial.grafana_url` (default: ERIS_GRAFANA_URL).
    #[arg(long, env = "ERIS_GRAFANA_PUBLIC_URL", value_name = "URL")]
    pub grafana_public_url: Option<String>,

    /// The uid of Grafana's InfluxDB (Flux) data source the dashboards query.
    #[arg(long, env = "ERIS_GRAFANA_DATASOURCE_UID", value_name = "UID", default_value = "influxdb_uid")]
    pub grafana_datasource_uid: String,

    /// InfluxDB 2 base URL (e.g. http://influxdb:8086), or the original executor's full write URL
    /// (…/api/v2/write?org=misarch&bucket=gatling&precision=ms).
    #[arg(long, env = "ERIS_INFLUXDB_URL", value_name = "URL")]
    pub influxdb_url: Option<String>,

    #[arg(long, env = "ERIS_INFLUXDB_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub influxdb_token: Option<String>,

    #[arg(long, env = "ERIS_INFLUXDB_ORG", value_name = "ORG", default_value = "misarch")]
    pub influxdb_org: String,

    #[arg(long, env = "ERIS_INFLUXDB_BUCKET", value_name = "BUCKET", default_value = "gatling")]
    pub influxdb_bucket: String,

    /// How long the components may take to register at the barrier, in seconds, on top of the experiment's
    /// warm-up and steady state (Gatling compiles the scenarios first).
    #[arg(long, env = "ERIS_BARRIER_TIMEOUT_SECS", value_name = "SECONDS", default_value = "600")]
    pub barrier_timeout_secs: String,

    /// How long after the planned end of the workload the metrics may take to arrive, in seconds.
    #[arg(long, env = "ERIS_METRICS_TIMEOUT_SECS", value_name = "SECONDS", default_value = "300")]
    pub metrics_timeout_secs: String,

    /// Largest metrics upload accepted from the Gatling executor, in bytes (a report of a long run is several MB).
    #[arg(long, env = "ERIS_CALLBACK_MAX_BODY_BYTES", value_name = "BYTES", default_value = "67108864")]
    pub callback_max_body_bytes: String,
}

/// A credential: shown as `*****` in logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrafanaAuth {
    /// `Authorization: Bearer <token>`.
    Token(Secret),
    /// HTTP basic authentication.
    Basic { user: String, password: Secret },
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
    pub token: Option<Secret>,
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
    pub fn component_url(&self, component: Component) -> Result<&Url, String> {
        let (url, variable) = match component {
            Component::Gatling => (&self.gatling, "ERIS_GATLING_EXECUTOR_URL"),
            Component::ChaosToolkit => (&self.chaos_toolkit, "ERIS_CHAOSTOOLKIT_EXECUTOR_URL"),
            Component::Configurator => (&self.configurator, "ERIS_MISARCH_CONFIG_URL"),
        };
        url.as_ref().ok_or_else(|| format!("the experiment needs the {}, but {variable} is not set", component.name()))
    }
}

impl MisarchArgs {
    pub fn resolve(&self) -> anyhow::Result<MisarchSettings> {
        let grafana = match non_empty(&self.grafana_url) {
            Some(url) => Some(self.grafana(url)?),
            None => None,
        };
        let influxdb = match non_empty(&self.influxdb_url) {
            Some(url) => Some(self.influxdb(url)?),
            None => None,
        };
        Ok(MisarchSettings {
            gatling: optional_url("ERIS_GATLING_EXECUTOR_URL", &self.gatling_executor_url)?,
            chaos_toolkit: optional_url("ERIS_CHAOSTOOLKIT_EXECUTOR_URL", &self.chaostoolkit_executor_url)?,
            configurator: optional_url("ERIS_MISARCH_CONFIG_URL", &self.misarch_config_url)?,
            grafana,
            influxdb,
            barrier_timeout: seconds("ERIS_BARRIER_TIMEOUT_SECS", &self.barrier_timeout_secs, 1, 86_400)?,
            metrics_timeout: seconds("ERIS_METRICS_TIMEOUT_SECS", &self.metrics_timeout_secs, 1, 86_400)?,
            request_timeout: Duration::from_secs(10),
            callback_max_body_bytes: bytes("ERIS_CALLBACK_MAX_BODY_BYTES", &self.callback_max_body_bytes)?,
        })
    }

    fn grafana(&self, url: &str) -> anyhow::Result<GrafanaSettings> {
        let parsed = parse_url("ERIS_GRAFANA_URL", url)?;
        let auth =
            match (non_empty(&self.grafana_token), non_empty(&self.grafana_user), non_empty(&self.grafana_password)) {
                (Some(_), Some(_), _) => {
                    bail!("ERIS_GRAFANA_TOKEN and ERIS_GRAFANA_USER are both set; set one of them")
                }
                (Some(token), None, _) => Some(GrafanaAuth::Token(Secret(token.to_owned()))),
                (None, Some(user), Some(password)) => {
                    Some(GrafanaAuth::Basic { user: user.to_owned(), password: Secret(password.to_owned()) })
                }
                (None, Some(_), None) => bail!("ERIS_GRAFANA_USER is set but ERIS_GRAFANA_PASSWORD is not"),
                (None, None, Some(_)) => bail!("ERIS_GRAFANA_PASSWORD is set but ERIS_GRAFANA_USER is not"),
                (None, None, None) => None,
            };
        let public_url = match non_empty(&self.grafana_public_url) {
            Some(public) => parse_url("ERIS_GRAFANA_PUBLIC_URL", public)?.as_str().trim_end_matches('/').to_owned(),
            None => parsed.as_str().trim_end_matches('/').to_owned(),
        };
        if self.grafana_datasource_uid.trim().is_empty() {
            bail!("ERIS_GRAFANA_DATASOURCE_UID is empty");
        }
        Ok(GrafanaSettings {
            url: parsed,
            public_url,
            auth,
            datasource_uid: self.grafana_datasource_uid.trim().to_owned(),
            bucket: self.influx_org_and_bucket()?.1,
        })
    }

    fn influxdb(&self, url: &str) -> anyhow::Result<InfluxSettings> {
        let mut parsed = parse_url("ERIS_INFLUXDB_URL", url)?;
        let (mut org, mut bucket) = self.influx_org_and_bucket()?;
        // The original executor's INFLUXDB_URL is the whole write URL: take its org and bucket, keep the base.
        if parsed.path().trim_end_matches('/').ends_with("/api/v2/write") {
            for (name, value) in parsed.query_pairs() {
                match &*name {
                    "org" => org = value.into_owned(),
                    "bucket" => bucket = value.into_owned(),
                    _ => {}
                }
            }
            let base = parsed.path().trim_end_matches('/').trim_end_matches("/api/v2/write").to_owned();
            parsed.set_path(&base);
            parsed.set_query(None);
        }
        let token = non_empty(&self.influxdb_token).map(|token| Secret(token.to_owned()));
        Ok(InfluxSettings { url: parsed, token, org, bucket })
    }

    fn influx_org_and_bucket(&self) -> anyhow::Result<(String, String)> {
        let (org, bucket) = (self.influxdb_org.trim(), self.influxdb_bucket.trim());
        if org.is_empty() || bucket.is_empty() {
            bail!("ERIS_INFLUXDB_ORG and ERIS_INFLUXDB_BUCKET must not be empty");
        }
        Ok((org.to_owned(), bucket.to_owned()))
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|value| !value.is_empty())
}

fn optional_url(variable: &str, value: &Option<String>) -> anyhow::Result<Option<Url>> {
    non_empty(value).map(|url| parse_url(variable, url)).transpose()
}

fn parse_url(variable: &str, text: &str) -> anyhow::Result<Url> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        Ok(_) => bail!("{variable}: '{text}' is not an http:// or https:// URL"),
        Err(error) => bail!("{variable}: '{text}' is not a URL: {error}"),
    }
}

fn seconds(variable: &str, text: &str, min: u64, max: u64) -> anyhow::Result<Duration> {
    match text.trim().parse::<u64>() {
        Ok(secs) if (min..=max).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => bail!("{variable}: '{text}' is not a whole number of seconds from {min} to {max}"),
    }
}

fn bytes(variable: &str, text: &str) -> anyhow::Result<usize> {
    const MIN: usize = 1024 * 1024;
    const MAX: usize = 1024 * 1024 * 1024;
    match text.trim().parse::<usize>() {
        Ok(bytes) if (MIN..=MAX).contains(&bytes) => Ok(bytes),
        _ => bail!("{variable}: '{text}' is not a number of bytes from {MIN} to {MAX}"),
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
        let missing = settings.component_url(Component::ChaosToolkit).unwrap_err();
        assert!(missing.contains("ERIS_CHAOSTOOLKIT_EXECUTOR_URL"), "{missing}");
    }

    #[test]
    fn the_original_influx_write_url_is_understood() {
        let mut args = args();
        args.influxdb_url = Some("http://influxdb:8086/api/v2/write?org=acme&bucket=runs&precision=ms".into());
        let influx = args.resolve().unwrap().influxdb.unwrap();
        assert_eq!(
            (influx.url.as_str(), influx.org.as_str(), influx.bucket.as_str()),
            ("http://influxdb:8086/", "acme", "runs")
        );
    }

    #[test]
    fn grafana_links_default_to_its_url_and_credentials_stay_hidden() {
        let mut args = args();
        args.grafana_url = Some("http://grafana:3000/".into());
        args.grafana_user = Some("admin".into());
        args.grafana_password = Some("hunter2".into());
        let grafana = args.resolve().unwrap().grafana.unwrap();
        assert_eq!(grafana.public_url, "http://grafana:3000");
        assert!(!format!("{grafana:?}").contains("hunter2"));
    }

    #[test]
    fn unusable_values_name_their_variable() {
        type Change = fn(&mut MisarchArgs);
        let cases: [(Change, &str); 5] = [
            (|a| a.gatling_executor_url = Some("gatling:8889".into()), "ERIS_GATLING_EXECUTOR_URL"),
            (|a| a.barrier_timeout_secs = "soon".into(), "ERIS_BARRIER_TIMEOUT_SECS"),
            (|a| a.metrics_timeout_secs = "0".into(), "ERIS_METRICS_TIMEOUT_SECS"),
            (
                |a| {
                    a.grafana_url = Some("http://grafana".into());
                    a.grafana_user = Some("admin".into());
                },
                "ERIS_GRAFANA_PASSWORD",
            ),
            (|a| a.callback_max_body_bytes = "12".into(), "ERIS_CALLBACK_MAX_BODY_BYTES"),
        ];
        for (change, variable) in cases {
            let mut args = args();
            change(&mut args);
            let error = args.resolve().unwrap_err().to_string();
            assert!(error.contains(variable), "{error}");
        }
    }
}
