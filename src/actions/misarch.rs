//! `misarch.set` and `misarch.reset`: one failure variable of one service (or of one of its replicas) set or reset
//! through the MiSArch configurator (`ERIS_MISARCH_CONFIG_URL`), outside a MiSArch run's failure timeline.
//!
//! - `misarch.set` takes `service`, `variable` (a failure entry's name for it: `pubSubDeterioration`,
//!   `serviceInvocationDeterioration`, `artificialMemoryUsage`, `artificialCPUUsage`), `value` (as a failure entry
//!   gives it, checked by the same rules as the failure timeline), and optionally `replica` (a replica id the
//!   configurator knows).
//! - `misarch.reset` takes `service`, optionally `variable` (all four when not given) and `replica`, and sets them
//!   back to `null`, their default.
//! - Whatever a trial's `misarch.set` steps set and no later `misarch.reset` step reset is reset by the executor
//!   after the post steps (also after a crash, by the recovery): see `executor::resets`.

use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::arguments::{Rendered, Stage};
use super::http::{error_chain, status_text};
use super::{ActionContext, ActionError, ArgumentError, JsonObject};
use crate::misarch::components::{self, ComponentRequest};
use crate::misarch::definition::{self, VARIABLE_NAMES};
use crate::template;

/// The arguments of `misarch.set`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct SetArguments<S: Stage> {
    service: S::Value<String>,
    variable: S::Value<Variable>,
    /// Checked with the other arguments, by [`check_set`].
    value: Value,
    replica: Option<S::Value<Replica>>,
}

/// The arguments of `misarch.reset`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct ResetArguments<S: Stage> {
    service: S::Value<String>,
    variable: Option<S::Value<Variable>>,
    replica: Option<S::Value<Replica>>,
}

/// A failure variable, by a failure entry's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// As a failure entry (and the step) names it, e.g. `pubSubDeterioration`.
    pub name: &'static str,
    /// As the configurator names it, e.g. `pubsubDeterioration`.
    pub configurator_name: &'static str,
}

impl Variable {
    pub fn named(name: &str) -> Option<Self> {
        VARIABLE_NAMES
            .into_iter()
            .find(|(entry, _)| *entry == name)
            .map(|(name, configurator_name)| Self { name, configurator_name })
    }

    /// All four, in the order the original executor sets them.
    pub fn all() -> impl Iterator<Item = Self> {
        VARIABLE_NAMES.into_iter().map(|(name, configurator_name)| Self { name, configurator_name })
    }
}

impl<'de> Deserialize<'de> for Variable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::named(&text).ok_or_else(|| {
            let names: Vec<&str> = VARIABLE_NAMES.iter().map(|(name, _)| *name).collect();
            de::Error::custom(format!("'{text}' is not a failure variable; use one of {}", names.join(", ")))
        })
    }
}

/// A replica id: not empty.
pub struct Replica(String);

impl<'de> Deserialize<'de> for Replica {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("a replica id must not be empty"));
        }
        Ok(Self(text))
    }
}

/// What the types cannot say about a `misarch.set`: the service's name and the value, by the failure timeline's
/// rules. Read from the step's `where` as given, so that it works as written (unless a template is involved, which
/// is checked when the trial has rendered it) and as rendered.
pub fn check_set(given: &JsonObject) -> Result<(), ArgumentError> {
    let (Some(Value::String(service)), Some(Value::String(variable)), Some(value)) =
        (given.get("service"), given.get("variable"), given.get("value"))
    else {
        return Ok(());
    };
    if template::is_template(service) || template::is_template(variable) || holds_template(value) {
        return Ok(());
    }
    definition::check_variable(service, variable, value)
        .map_err(|error| ArgumentError::Invalid { field: error.field, reason: error.message })
}

/// Also checks a `misarch.reset`'s service name.
pub fn check_reset(given: &JsonObject) -> Result<(), ArgumentError> {
    match given.get("service") {
        Some(Value::String(service)) if !template::is_template(service) => definition::check_service(service)
            .map_err(|error| ArgumentError::Invalid { field: error.field, reason: error.message }),
        _ => Ok(()),
    }
}

fn holds_template(value: &Value) -> bool {
    match value {
        Value::String(text) => template::is_template(text) || text.contains("{{"),
        Value::Array(items) => items.iter().any(holds_template),
        Value::Object(members) => members.values().any(holds_template),
        _ => false,
    }
}

/// One variable set on the configurator, as a step's result lists it.
#[derive(Debug, Clone, Serialize)]
struct Applied {
    service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<String>,
    variable: &'static str,
    value: Value,
    status_code: u16,
}

pub async fn run_set(arguments: SetArguments<Rendered>, ctx: &ActionContext) -> Result<Value, ActionError> {
    let replica = arguments.replica.map(|Replica(replica)| replica);
    let applied = put(ctx, &arguments.service, replica.as_deref(), arguments.variable, arguments.value).await?;
    Ok(json!(applied))
}

pub async fn run_reset(arguments: ResetArguments<Rendered>, ctx: &ActionContext) -> Result<Value, ActionError> {
    let replica = arguments.replica.map(|Replica(replica)| replica);
    let variables: Vec<Variable> = match arguments.variable {
        Some(variable) => vec![variable],
        None => Variable::all().collect(),
    };
    let mut reset = Vec::new();
    for variable in variables {
        // One after another: the configurator publishes a service's whole map with each change.
        reset.push(put(ctx, &arguments.service, replica.as_deref(), variable, Value::Null).await?);
    }
    Ok(json!({"reset": reset}))
}

/// Sets one variable; the configurator's refusal (an unknown service, a value its schema refuses) fails it.
async fn put(
    ctx: &ActionContext,
    service: &str,
    replica: Option<&str>,
    variable: Variable,
    value: Value,
) -> Result<Applied, ActionError> {
    let Some(base) = &ctx.configurator else {
        return Err(ActionError::Failed {
            message: "no MiSArch configurator to ask: set ERIS_MISARCH_CONFIG_URL".to_owned(),
            result: None,
        });
    };
    let request = components::set_variable(service, replica, variable.configurator_name, &value);
    let status = send(ctx, base, &request).await?;
    Ok(Applied {
        service: service.to_owned(),
        replica: replica.map(str::to_owned),
        variable: variable.name,
        value,
        status_code: status,
    })
}

/// Sends a configurator request within the step timeout; a status that is not 2xx is a failure quoting the body.
pub async fn send(ctx: &ActionContext, base: &Url, request: &ComponentRequest) -> Result<u16, ActionError> {
    const QUOTED: usize = 500;
    let url = format!("{}{}", base.as_str().trim_end_matches('/'), request.path_and_query);
    let mut builder = ctx.http.request(request.method.clone(), &url);
    if let (Some(content_type), Some(body)) = (request.content_type, &request.body) {
        builder = builder.header(CONTENT_TYPE, content_type).body(body.clone());
    }
    let exchange = async {
        let response = builder.send().await.map_err(|error| ActionError::Failed {
            message: format!("{} {url} failed: {}", request.method, error_chain(error)),
            result: None,
        })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let quoted: String = body.chars().take(QUOTED).collect();
            return Err(ActionError::Failed {
                message: format!("{} {url} answered {}: {quoted}", request.method, status_text(status)),
                result: Some(json!({"status_code": status.as_u16(), "body": quoted})),
            });
        }
        Ok(status.as_u16())
    };
    let timeout = ctx.default_timeout;
    tokio::select! {
        biased;
        () = ctx.cancel.cancelled() => Err(ActionError::Cancelled),
        outcome = tokio::time::timeout(timeout, exchange) => outcome.map_err(|_| ActionError::TimedOut(timeout))?,
    }
}
