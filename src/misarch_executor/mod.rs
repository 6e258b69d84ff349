//! The MiSArch Experiment Executor's own API, as its users see it (the MiSArch frontend, scripts): experiments with
//! versions, each version four parts saved one by one, generated, started, stopped and followed. No HTTP here; the
//! handlers are in `api::misarch_executor`.
//!
//! One model underneath: **every version is an eris experiment** (`misarch_versions.experiment_id`). Its four parts
//! are kept as they were saved, so they may be incomplete or inconsistent, as in the executor; whenever they form
//! a valid MiSArch experiment (after generating, a new version or a save), the eris experiment's `misarch` section
//! and name are brought up to date, so `GET /api/v1/experiment` lists it, schedules fire it and its trials are
//! audited like every other. A start checks the whole and queues a trial through the one sequential worker.

pub mod config;
pub mod generator;
pub mod outcomes;
pub mod templates;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::db::misarch_versions::{self as versions_db, Part};
use crate::db::{self, Db, DbConnection, MisarchVersionRow, write_transaction};
use crate::error::{Error, Result};
use crate::experiments::{self, Change, Definition, ExperimentInput, ExperimentPatch};
use crate::misarch::definition::{DefinitionError, EncodedFile, MisarchExperiment};
use crate::time;
use crate::trials::{self, NewTrial};
use crate::webhooks::delivery::WebhookConfig;
use config::ExecutionConfig;

/// What this API needs besides the database.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub templates: templates::Templates,
    pub platform: templates::Platform,
    /// `ERIS_PUBLIC_URL` when it is set: the base of the links the event stream sends.
    pub public_url: Option<url::Url>,
}

/// `initiated_from` of the trials this API starts.
pub const INITIATED_FROM: &str = "misarch-executor-api";

/// An experiment and one of its versions, as the paths name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionKey {
    pub test_uuid: Uuid,
    pub test_version: String,
}

impl VersionKey {
    fn uuid(&self) -> String {
        self.test_uuid.to_string()
    }
}

fn version_not_found(key: &VersionKey) -> Error {
    Error::not_found(
        "misarch_version_not_found",
        format!("experiment {} has no version '{}'", key.test_uuid, key.test_version),
    )
}

/// `POST /experiment/generate`: a new experiment with its version `v1`. Returns the experiment's UUID.
pub async fn generate(db: &Db, settings: &Settings, request: generator::Request, actor: &str) -> Result<Uuid> {
    let test_uuid = Uuid::new_v4();
    let made = generator::generate(&request, &test_uuid.to_string(), "v1", &settings.templates, settings.platform)
        .map_err(|error| {
            let field = match error {
                generator::GenerateError::NegativeDuration(_)
                | generator::GenerateError::LongerThanTheDay { .. }
                | generator::GenerateError::TooLong(_) => "testDuration",
            };
            Error::invalid("invalid_generate_request", field, error.to_string())
        })?;
    let parts = Parts {
        execution: made.execution,
        gatling: crate::json::to_text(&made.gatling),
        chaos_toolkit: made.chaos_toolkit.to_string(),
        misarch: made.misarch.to_string(),
    };
    let key = VersionKey { test_uuid, test_version: "v1".to_owned() };
    let actor = actor.to_owned();
    db.run(move |conn| write_transaction(conn, |conn| insert_version(conn, &key, 1, &parts, &actor))).await?;
    Ok(test_uuid)
}

/// The four parts of a version, as saved.
#[derive(Debug, Clone)]
struct Parts {
    execution: ExecutionConfig,
    gatling: String,
    chaos_toolkit: String,
    misarch: String,
}

impl Parts {
    fn of(row: &MisarchVersionRow) -> Result<Self> {
        Ok(Self {
            execution: crate::json::from_text(&row.execution_config)?,
            gatling: row.gatling_config.clone(),
            chaos_toolkit: row.chaos_toolkit_config.clone(),
            misarch: row.misarch_config.clone(),
        })
    }
}

/// Stores a new version and the eris experiment it is (with its MiSArch section when the parts are valid).
fn insert_version(conn: &mut DbConnection, key: &VersionKey, number: i64, parts: &Parts, actor: &str) -> Result<()> {
    let misarch = compile(parts, None).ok();
    let definition = Definition::try_from(experiment_input(key, &parts.execution.test_name, misarch.as_ref()))?;
    definition.validate()?;
    let experiment = experiments::insert(conn, &definition, actor)?;
    let now = time::to_db(time::now());
    versions_db::insert(
        conn,
        &MisarchVersionRow {
            test_uuid: key.uuid(),
            test_version: key.test_version.clone(),
            version_number: number,
            experiment_id: experiment.id,
            execution_config: crate::json::to_text(&parts.execution),
            gatling_config: parts.gatling.clone(),
            chaos_toolkit_config: parts.chaos_toolkit.clone(),
            misarch_config: parts.misarch.clone(),
            start_error: None,
            start_error_at: None,
            told_through: None,
            created_at: now,
            updated_at: now,
        },
    )
}

const MAX_NAME_CHARS: usize = 200;

/// The eris experiment of a version: named after the test and the version, labelled with both, no steps of its
/// own (pre- and post-steps may be added through `/api/v1`; saves here keep them).
fn experiment_input(key: &VersionKey, test_name: &str, misarch: Option<&MisarchExperiment>) -> ExperimentInput {
    ExperimentInput {
        name: experiment_name(key, test_name),
        description: format!(
            "Version {} of the MiSArch experiment {}, made through the MiSArch Experiment Executor API; its MiSArch \
             section follows what is saved there.",
            key.test_version, key.test_uuid
        ),
        metadata: misarch_metadata(key),
        parameters: Map::new(),
        pre_steps: Vec::new(),
        steps: Vec::new(),
        post_steps: Vec::new(),
        misarch: misarch.map(misarch_object),
        notify: Vec::new(),
        collect: Vec::new(),
        analysis: Default::default(),
        guards: Vec::new(),
    }
}

fn experiment_name(key: &VersionKey, test_name: &str) -> String {
    let suffix = format!(" ({}:{})", key.test_uuid, key.test_version);
    let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let name: String = test_name.trim().chars().take(room).collect();
    format!("{}{suffix}", if name.is_empty() { "MiSArch experiment" } else { &name })
}

fn misarch_metadata(key: &VersionKey) -> Map<String, Value> {
    let label = json!({"misarch_executor": {"testUUID": key.uuid(), "testVersion": key.test_version}});
    label.as_object().cloned().unwrap_or_default()
}

fn misarch_object(misarch: &MisarchExperiment) -> Map<String, Value> {
    match serde_json::to_value(misarch) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// The four parts read as one MiSArch experiment and checked completely, `execution` replaced by `config` when one
/// is given (a start with the configuration in its body). A problem names the part (`config.goals[1].threshold`,
/// `gatlingConfig[0].fileName`, `chaosToolkitConfig`, `misarchExperimentConfig[0].pauses.before`).
fn compile(parts: &Parts, config: Option<&ExecutionConfig>) -> Result<MisarchExperiment, DefinitionError> {
    let execution = config.unwrap_or(&parts.execution);
    let gatling: Vec<EncodedFile> = serde_json::from_str(&parts.gatling).map_err(|error| DefinitionError {
        field: "gatlingConfig".to_owned(),
        message: format!("not a list of scenarios: {error}"),
    })?;
    let json_part = |text: &str, field: &str| -> Result<Value, DefinitionError> {
        serde_json::from_str(text)
            .map_err(|error| DefinitionError { field: field.to_owned(), message: format!("not JSON: {error}") })
    };
    let chaos_toolkit = json_part(&parts.chaos_toolkit, "chaosToolkitConfig")?;
    let failures = json_part(&parts.misarch, "misarchExperimentConfig")?;
    let execution = serde_json::to_value(execution).unwrap_or_default();
    let mut misarch = Map::new();
    for member in ["testName", "loadType", "goals", "warmUp", "steadyState"] {
        misarch.insert(member.to_owned(), execution.get(member).cloned().unwrap_or(Value::Null));
    }
    misarch.insert("gatling".to_owned(), serde_json::to_value(gatling).unwrap_or_default());
    misarch.insert("chaosToolkit".to_owned(), chaos_toolkit);
    misarch.insert("misarchFailures".to_owned(), failures);
    crate::misarch::definition::validate(&misarch)
        .map_err(|error| DefinitionError { field: part_field(&error.field), message: error.message })
}

/// eris's field path of the `misarch` section, in the executor's parts.
fn part_field(field: &str) -> String {
    let inner = field.strip_prefix("misarch").unwrap_or(field).trim_start_matches('.');
    for (member, part) in [
        ("gatling", "gatlingConfig"),
        ("chaosToolkit", "chaosToolkitConfig"),
        ("misarchFailures", "misarchExperimentConfig"),
    ] {
        if let Some(rest) = inner.strip_prefix(member) {
            return format!("{part}{rest}");
        }
    }
    if inner.is_empty() { "config".to_owned() } else { format!("config.{inner}") }
}

/// `GET /experiment/list`: every experiment with a version, oldest first.
pub async fn list(db: &Db) -> Result<Vec<String>> {
    db.run(versions_db::experiments).await
}

/// `GET /experiment/{testUUID}/versions`: its versions by number; none for an unknown experiment.
pub async fn versions(db: &Db, test_uuid: Uuid) -> Result<Vec<String>> {
    let rows = db.run(move |conn| versions_db::versions(conn, &test_uuid.to_string())).await?;
    Ok(rows.into_iter().map(|row| row.test_version).collect())
}

/// `POST …/{testVersion}/newVersion`: a copy of that version (not necessarily the newest) as `v<highest + 1>`.
pub async fn new_version(db: &Db, key: VersionKey, actor: &str) -> Result<String> {
    let actor = actor.to_owned();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let source =
                versions_db::find(conn, &key.uuid(), &key.test_version)?.ok_or_else(|| version_not_found(&key))?;
            let highest = versions_db::versions(conn, &key.uuid())?.iter().map(|row| row.version_number).max();
            let number = highest.unwrap_or(0).max(1) + 1;
            let new_key = VersionKey { test_uuid: key.test_uuid, test_version: format!("v{number}") };
            let mut parts = Parts::of(&source)?;
            parts.execution.test_version = new_key.test_version.clone();
            insert_version(conn, &new_key, number, &parts, &actor)?;
            Ok(new_key.test_version)
        })
    })
    .await
}

/// Archives a version's eris experiment: its queued trials are stopped, its schedules deleted, its trials kept, and
/// the version is forgotten with it (as when the experiment is archived through `/api/v1`).
fn remove_version(conn: &mut DbConnection, row: &MisarchVersionRow) -> Result<()> {
    db::experiments::archive(conn, &row.experiment_id, time::to_db(time::now())).map(|_| ())
}

/// `DELETE /experiment/{testUUID}`: every version. Nothing to delete is no error, as in the executor.
pub async fn delete_experiment(db: &Db, test_uuid: Uuid) -> Result<usize> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let rows = versions_db::versions(conn, &test_uuid.to_string())?;
            rows.iter().try_for_each(|row| remove_version(conn, row))?;
            Ok(rows.len())
        })
    })
    .await
}

/// `DELETE /experiment/{testUUID}/{testVersion}`: that version; the whole experiment when it has at most one
/// version, whichever the path names (the executor's rule).
pub async fn delete_version(db: &Db, key: VersionKey) -> Result<usize> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let rows = versions_db::versions(conn, &key.uuid())?;
            let doomed: Vec<&MisarchVersionRow> = if rows.len() <= 1 {
                rows.iter().collect()
            } else {
                rows.iter().filter(|row| row.test_version == key.test_version).collect()
            };
            doomed.iter().try_for_each(|row| remove_version(conn, row))?;
            Ok(doomed.len())
        })
    })
    .await
}

async fn find(db: &Db, key: &VersionKey) -> Result<MisarchVersionRow> {
    let key = key.clone();
    db.run(move |conn| versions_db::find(conn, &key.uuid(), &key.test_version)?.ok_or_else(|| version_not_found(&key)))
        .await
}

/// A part as it was saved: its text (`config` is the JSON of [`ExecutionConfig`]).
pub async fn part(db: &Db, key: &VersionKey, part: Part) -> Result<String> {
    let row = find(db, key).await?;
    Ok(match part {
        Part::Execution => row.execution_config,
        Part::Gatling => row.gatling_config,
        Part::ChaosToolkit => row.chaos_toolkit_config,
        Part::Misarch => row.misarch_config,
    })
}

/// Saves one part as it is, then brings the version's eris experiment up to date if the four parts are now a
/// valid MiSArch experiment (a save is never refused for what only a start checks).
pub async fn save(db: &Db, key: &VersionKey, part: Part, text: String) -> Result<()> {
    let (saved_key, now) = (key.clone(), time::to_db(time::now()));
    let saved = db
        .run(move |conn| versions_db::save_part(conn, &saved_key.uuid(), &saved_key.test_version, part, &text, now))
        .await?;
    if !saved {
        return Err(version_not_found(key));
    }
    let row = find(db, key).await?;
    if let Ok(misarch) = compile(&Parts::of(&row)?, None) {
        sync_experiment(db, key, &row, &misarch).await?;
    }
    Ok(())
}

/// Updates the eris experiment's name and MiSArch section when they differ from `misarch` (one new revision).
async fn sync_experiment(
    db: &Db,
    key: &VersionKey,
    row: &MisarchVersionRow,
    misarch: &MisarchExperiment,
) -> Result<()> {
    let id = experiments::parse_id(&row.experiment_id)?;
    let current = experiments::find(db, id).await?;
    let name = experiment_name(key, &misarch.test_name);
    if current.misarch.as_ref() == Some(misarch) && current.name == name {
        return Ok(());
    }
    let patch =
        ExperimentPatch { name: Some(name), misarch: Some(Some(misarch_object(misarch))), ..Default::default() };
    experiments::update(db, id, Change::Merge(patch)).await.map(|_| ())
}

/// What a start did: the trial it queued, and how many trials the worker takes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub trial_id: Uuid,
    pub ahead: i64,
}

impl Started {
    /// The answer's text, in the executor's terms (it answers an empty 200; eris says where the run is).
    pub fn text(&self) -> String {
        match self.ahead {
            0 => format!("Experiment run queued as trial {}; it starts now.", self.trial_id),
            1 => format!("Experiment run queued as trial {}; it starts after the 1 trial ahead of it.", self.trial_id),
            n => {
                format!("Experiment run queued as trial {}; it starts after the {n} trials ahead of it.", self.trial_id)
            }
        }
    }
}

/// `POST …/start` (with `config` None) and `POST /experiment/start` (with the body's configuration, used for
/// this trial only, as the executor does). Checks the four parts as one; a problem is refused with 400 and kept
/// for the event stream, which tells it in the executor's error form.
pub async fn start(db: &Db, key: &VersionKey, config: Option<ExecutionConfig>, actor: &str) -> Result<Started> {
    let row = find(db, key).await?;
    let misarch = match compile(&Parts::of(&row)?, config.as_ref()) {
        Ok(misarch) => misarch,
        Err(problem) => {
            let (refused_key, message, at) = (key.clone(), outcomes::error_message(&problem.to_string()), time::now());
            db.run(move |conn| {
                versions_db::record_start_error(
                    conn,
                    &refused_key.uuid(),
                    &refused_key.test_version,
                    &message,
                    time::to_db(at),
                )
            })
            .await?;
            return Err(Error::invalid("invalid_misarch", problem.field, problem.message));
        }
    };
    if config.is_none() {
        sync_experiment(db, key, &row, &misarch).await?;
    }
    let experiment_id = experiments::parse_id(&row.experiment_id)?;
    let new = NewTrial {
        experiment_id,
        schedule_id: None,
        parameters: Map::new(),
        metadata: Map::new(),
        ticket: Map::new(),
        scheduled_for: None,
        initiated_by: actor.to_owned(),
        initiated_from: INITIATED_FROM.to_owned(),
        sweep: None,
        queued_at: None,
        dry_run: false,
    };
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let definition = match config {
                Some(_) => {
                    let mut definition = experiments::load_active(conn, experiment_id)?.definition()?;
                    definition.misarch = Some(misarch);
                    Some(definition)
                }
                None => None,
            };
            let trial = trials::queue_definition(conn, new, definition)?;
            let ahead = versions_db::ahead_of(conn, trial.scheduled_for, trial.created_at)?;
            Ok(Started { trial_id: experiments::parse_id(&trial.id)?, ahead })
        })
    })
    .await
}

/// `POST …/stop`: stops the version's queued and running trials (their cleanup runs); how many.
pub async fn stop(db: &Db, key: &VersionKey, webhooks: std::sync::Arc<WebhookConfig>) -> Result<usize> {
    let row = find(db, key).await?;
    let experiment_id = row.experiment_id.clone();
    let active = db.run(move |conn| versions_db::active_trials(conn, &experiment_id)).await?;
    let mut stopped = 0;
    for id in active {
        match trials::stop(db, experiments::parse_id(&id)?, webhooks.clone()).await {
            Ok(_) => stopped += 1,
            // It ended meanwhile: nothing left to stop.
            Err(error) if error.code == "trial_already_finished" => {}
            Err(error) => return Err(error),
        }
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_part() {
        assert_eq!(part_field("misarch.gatling[0].fileName"), "gatlingConfig[0].fileName");
        assert_eq!(part_field("misarch.misarchFailures[1].pauses"), "misarchExperimentConfig[1].pauses");
        assert_eq!(part_field("misarch.chaosToolkit.method"), "chaosToolkitConfig.method");
        assert_eq!(part_field("misarch.goals[1].threshold"), "config.goals[1].threshold");
        assert_eq!(part_field("misarch"), "config");
    }

    #[test]
    fn the_experiment_name_fits() {
        let key = VersionKey { test_uuid: Uuid::nil(), test_version: "v1".to_owned() };
        let name = experiment_name(&key, &"x".repeat(500));
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with("(00000000-0000-0000-0000-000000000000:v1)"));
        assert_eq!(experiment_name(&key, " "), "MiSArch experiment (00000000-0000-0000-0000-000000000000:v1)");
    }
}
