//! `execution.json`: the executor's `ExperimentConfig`, as `GET`/`PUT …/config` carry it. Read the way the executor's
//! Jackson reads it (unknown members ignored, a number where a string is declared and a numeric string where an
//! integer is declared converted) and written the way it writes it (all seven members, nulls included), so what the
//! frontend saves comes back as it saved it. Its content (a goal's threshold, its metric) is checked at start,
//! with the other parts.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::misarch::definition::LoadType;

/// The executor's `ExperimentConfig` (`execution.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionConfig {
    #[serde(rename = "testUUID")]
    pub test_uuid: String,
    pub test_version: String,
    pub test_name: String,
    pub load_type: LoadType,
    pub goals: Vec<ExecutorGoal>,
    #[serde(default)]
    pub warm_up: Option<ExecutorWarmUp>,
    #[serde(default)]
    pub steady_state: Option<ExecutorSteadyState>,
}

/// A goal as the executor keeps it: every member a string (`"threshold": "2000"`; the frontend sends `""` for a
/// line without a value, which a start refuses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutorGoal {
    #[serde(deserialize_with = "scalar_text")]
    pub metric: String,
    #[serde(deserialize_with = "scalar_text")]
    pub threshold: String,
    #[serde(deserialize_with = "scalar_text")]
    pub color: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExecutorWarmUp {
    #[serde(deserialize_with = "integer")]
    pub duration: i64,
    #[serde(deserialize_with = "integer")]
    pub rate: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutorSteadyState {
    #[serde(deserialize_with = "integer")]
    pub duration: i64,
    #[serde(deserialize_with = "integer")]
    pub rate: i64,
    #[serde(deserialize_with = "float")]
    pub factor: f64,
}

/// A string, or a number or boolean turned into its text (Jackson's scalar coercion).
fn scalar_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Ok(text),
        serde_json::Value::Number(number) => Ok(number.to_string()),
        serde_json::Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(D::Error::custom(format!("expected a string, found {other}"))),
    }
}

/// An integer, given as a JSON integer or as a string that holds one.
fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(number) => {
            number.as_i64().ok_or_else(|| D::Error::custom(format!("expected an integer, found {number}")))
        }
        serde_json::Value::String(text) => {
            text.trim().parse().map_err(|_| D::Error::custom(format!("expected an integer, found \"{text}\"")))
        }
        other => Err(D::Error::custom(format!("expected an integer, found {other}"))),
    }
}

/// A finite number, given as a JSON number or as a string that holds one.
fn float<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    use serde::de::Error;
    let number = match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(number) => number.as_f64(),
        serde_json::Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    number.filter(|n| n.is_finite()).ok_or_else(|| D::Error::custom("expected a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_frontend_sends_and_writes_all_seven_members() {
        let sent = r##"{"testUUID":"3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10","testVersion":"v1","testName":"My Experiment",
            "loadType":"NormalLoadTest","goals":[{"metric":"max response time","color":"red","threshold":"1500"},
            {"metric":"min response time","color":"#000000","threshold":""},{"metric":"mean response time","color":"red","threshold":900}],
            "warmUp":{"rate":5,"duration":"30"},"unknown":1}"##;
        let config: ExecutionConfig = serde_json::from_str(sent).unwrap();
        assert_eq!(config.goals[1].threshold, "");
        assert_eq!(config.goals[2].threshold, "900");
        assert_eq!(config.warm_up, Some(ExecutorWarmUp { duration: 30, rate: 5 }));
        let written = serde_json::to_string(&config).unwrap();
        assert!(written.starts_with(r#"{"testUUID":"3f2b6c1e-8d4a-4c2e-9a71-0b5d2e6f4a10","testVersion":"v1","#));
        assert!(written.ends_with(r#""warmUp":{"duration":30,"rate":5},"steadyState":null}"#), "{written}");
    }

    #[test]
    fn refuses_what_the_executor_refuses() {
        let missing = r#"{"testVersion":"v1","testName":"x","loadType":"NormalLoadTest","goals":[]}"#;
        let error = serde_json::from_str::<ExecutionConfig>(missing).unwrap_err().to_string();
        assert!(error.contains("testUUID"), "{error}");
        let unknown_type = r#"{"testUUID":"u","testVersion":"v1","testName":"x","loadType":"Other","goals":[]}"#;
        assert!(serde_json::from_str::<ExecutionConfig>(unknown_type).is_err());
        let bad_rate = r#"{"testUUID":"u","testVersion":"v1","testName":"x","loadType":"NormalLoadTest","goals":[],
            "warmUp":{"duration":"soon","rate":1}}"#;
        let error = serde_json::from_str::<ExecutionConfig>(bad_rate).unwrap_err().to_string();
        assert!(error.contains("soon"), "{error}");
    }
}
