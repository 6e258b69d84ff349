//! Experiments: the catalogue of what can be run. Rules for writing, updating, archiving and purging them.

pub mod collect;
pub mod guards;
pub mod steps;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use steps::{JsonObject, Step};

use crate::webhooks::NotifyTarget;
pub use collect::Collector;
pub use guards::Guard;

use crate::db::experiments::{Archived, ExperimentFilter};
use crate::db::page::{Page, PageRequest};
use crate::db::{self, Db, ExperimentRow, write_transaction};
use crate::error::{Error, Result};
use crate::json::{apply_patch, from_optional_text, from_text, to_text};
use crate::misarch::definition::{DefinitionError, MisarchExperiment};
use crate::redact;
use crate::research::Analysis;
use crate::time;
use crate::transient;

const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// What an experiment does: everything a trial needs to run it. A trial keeps a copy of this, so an audit never
/// depends on the experiment's present state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Definition {
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    pub pre_steps: Vec<Step>,
    pub steps: Vec<Step>,
    pub post_steps: Vec<Step>,
    /// Read into its type when the experiment is written (and checked then); a run uses it as stored.
    pub misarch: Option<MisarchExperiment>,
    #[serde(default)]
    pub notify: Vec<NotifyTarget>,
    /// Prometheus series kept in each trial's record (a definition written before `collect` existed has none).
    #[serde(default)]
    pub collect: Vec<Collector>,
    /// How trials are scored and flagged as regressions (the defaults for a definition written before it existed).
    #[serde(default)]
    pub analysis: Analysis,
    /// Health checks evaluated while a trial runs; a tripped one stops it (none for a definition written before).
    #[serde(default)]
    pub guards: Vec<Guard>,
}

/// An experiment as the API returns it: values under secret-looking keys (in `parameters`, `metadata`, step
/// arguments, …) are shown as `*****`. Sending `*****` back under such a key in a PUT or PATCH keeps the stored
/// value at that place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Experiment {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// Free-form labels; trials inherit them underneath their own.
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    /// Default values of the `{{ parameter }}` templates in the steps. Schedules and trials override them.
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    /// Health gates: when one fails, the trial ends `Aborted`.
    pub pre_steps: Vec<Step>,
    pub steps: Vec<Step>,
    /// Clean-up: runs once anything has started, whatever happened.
    pub post_steps: Vec<Step>,
    /// A MiSArch experiment (Gatling workload, failures, goals), or null.
    pub misarch: Option<MisarchExperiment>,
    /// Webhooks told about this experiment's trials, besides those of `ERIS_WEBHOOK_URLS`.
    pub notify: Vec<NotifyTarget>,
    /// Prometheus series kept in each trial's record, read over the whole trial when it has ended.
    pub collect: Vec<Collector>,
    /// How the trials are scored and when one is flagged as a regression (docs/research.md).
    pub analysis: Analysis,
    /// Health checks evaluated while a trial runs: one that fails `trip_after` times in a row stops the trial
    /// (docs/safety.md#guards).
    pub guards: Vec<Guard>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Starts at 1 and increases on every change.
    pub revision: i64,
    /// When the experiment was archived (deleted through the API); null while it is active.
    pub archived_at: Option<DateTime<Utc>>,
    /// Where to see more of it.
    pub links: ExperimentLinks,
}

/// Where to see more of an experiment: the trend of its trials (`?metric=`, default `p95`), as JSON and as a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExperimentLinks {
    pub trend: String,
    pub trend_page: String,
}

impl ExperimentLinks {
    fn of(id: Uuid) -> Self {
        Self {
            trend: format!("/api/v1/experiment/{id}/trend"),
            trend_page: format!("/api/v1/experiment/{id}/trend/page"),
        }
    }
}

/// The body of `POST /experiment` and `PUT /experiment/{id}`. PUT replaces the whole definition: a field left
/// out takes its default.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Checkout survives a slow inventory",
    "description": "Probe the shop while inventory is slowed down",
    "metadata": {"team": "sre"},
    "parameters": {"health_url": "http://127.0.0.1:9000/health"},
    "pre_steps": [{"step": "Shop is healthy", "do": "cm.http_probe", "where": {"url": "{{ health_url }}"}}],
    "steps": [{"step": "Let it run", "do": "cm.wait", "where": {"time_in_seconds": 1}}],
    "post_steps": []
}))]
pub struct ExperimentInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JsonObject,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: JsonObject,
    #[serde(default)]
    pub pre_steps: Vec<Step>,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub post_steps: Vec<Step>,
    /// Kept as JSON until the definition is read, so that a mistake in it is reported as `invalid_misarch` with
    /// the field's path.
    #[serde(default)]
    #[schema(value_type = Option<MisarchExperiment>)]
    pub misarch: Option<JsonObject>,
    /// Webhooks told about this experiment's trials: `[{"url": "https://…", "format": "json" | "slack"}]`.
    #[serde(default)]
    pub notify: Vec<NotifyTarget>,
    /// Prometheus series kept in each trial's record: `[{"name", "query", "interval", "url"}]` (docs/trials.md).
    #[serde(default)]
    pub collect: Vec<Collector>,
    /// Score weights and the regression rule: `{"score": {…}, "regression": {…}}` (docs/research.md).
    #[serde(default)]
    pub analysis: Analysis,
    /// Health checks evaluated while a trial runs: `[{"name", "check": {step}, "interval_secs", "trip_after", "gate"}]`
    /// (docs/safety.md#guards).
    #[serde(default)]
    pub guards: Vec<Guard>,
}

/// The body of `PATCH /experiment/{id}`: each field given replaces that field; others stay.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Now with a longer wait", "parameters": {"health_url": "http://127.0.0.1:9000/ready"}}))]
pub struct ExperimentPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<JsonObject>,
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<JsonObject>,
    pub pre_steps: Option<Vec<Step>>,
    pub steps: Option<Vec<Step>>,
    pub post_steps: Option<Vec<Step>>,
    /// An object sets the MiSArch experiment, `null` removes it.
    #[serde(default, deserialize_with = "crate::json::double_option")]
    #[schema(value_type = Option<MisarchExperiment>)]
    pub misarch: Option<Option<JsonObject>>,
    pub notify: Option<Vec<NotifyTarget>>,
    pub collect: Option<Vec<Collector>>,
    pub analysis: Option<Analysis>,
    pub guards: Option<Vec<Guard>>,
}

impl TryFrom<ExperimentInput> for Definition {
    type Error = Error;

    fn try_from(input: ExperimentInput) -> Result<Self> {
        Ok(Self {
            name: input.name,
            description: input.description,
            metadata: input.metadata,
            parameters: input.parameters,
            pre_steps: input.pre_steps,
            steps: input.steps,
            post_steps: input.post_steps,
            misarch: input.misarch.as_ref().map(parse_misarch).transpose()?,
            notify: input.notify,
            collect: input.collect,
            analysis: input.analysis,
            guards: input.guards,
        })
    }
}

impl ExperimentPatch {
    fn apply(self, definition: &mut Definition) -> Result<()> {
        let ExperimentPatch {
            name,
            description,
            metadata,
            parameters,
            pre_steps,
            steps,
            post_steps,
            misarch,
            notify,
            collect,
            analysis,
            guards,
        } = self;
        let misarch = misarch.map(|misarch| misarch.as_ref().map(parse_misarch).transpose()).transpose()?;
        apply_patch!(Parsed {
            name, description, metadata, parameters, pre_steps, steps, post_steps, misarch, notify, collect, analysis,
            guards
        } => definition; Parsed {
            name, description, metadata, parameters, pre_steps, steps, post_steps, misarch, notify, collect, analysis,
            guards,
        });
        Ok(())
    }
}

/// An [`ExperimentPatch`] with its `misarch` read.
struct Parsed {
    name: Option<String>,
    description: Option<String>,
    metadata: Option<JsonObject>,
    parameters: Option<JsonObject>,
    pre_steps: Option<Vec<Step>>,
    steps: Option<Vec<Step>>,
    post_steps: Option<Vec<Step>>,
    misarch: Option<Option<MisarchExperiment>>,
    notify: Option<Vec<NotifyTarget>>,
    collect: Option<Vec<Collector>>,
    analysis: Option<Analysis>,
    guards: Option<Vec<Guard>>,
}

/// Reads the `misarch` member of a request; its rules are checked with the rest of the definition.
fn parse_misarch(misarch: &JsonObject) -> Result<MisarchExperiment> {
    crate::misarch::definition::parse(misarch).map_err(invalid_misarch)
}

fn invalid_misarch(error: DefinitionError) -> Error {
    Error::invalid("invalid_misarch", error.field.clone(), error.to_string())
}

impl Definition {
    /// Checks everything that can be checked before a trial runs.
    pub fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Error::invalid("invalid_name", "name", "name must not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid(
                "invalid_name",
                "name",
                format!("name is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::invalid(
                "invalid_description",
                "description",
                format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        steps::validate_phase("pre_steps", &self.pre_steps)?;
        steps::validate_phase("steps", &self.steps)?;
        steps::validate_phase("post_steps", &self.post_steps)?;
        steps::validate_load(self)?;
        crate::webhooks::validate_targets("notify", &self.notify)?;
        collect::validate(&self.collect)?;
        self.analysis.validate()?;
        guards::validate(&self.guards)?;
        if let Some(misarch) = &self.misarch {
            crate::misarch::definition::check(misarch).map_err(invalid_misarch)?;
        }
        Ok(())
    }

    fn write_into(&self, row: &mut ExperimentRow) {
        row.name = self.name.trim().to_owned();
        row.description = self.description.clone();
        row.metadata = to_text(&self.metadata);
        row.parameters = to_text(&self.parameters);
        row.pre_steps = to_text(&self.pre_steps);
        row.steps = to_text(&self.steps);
        row.post_steps = to_text(&self.post_steps);
        row.misarch = self.misarch.as_ref().map(to_text);
        row.notify = to_text(&self.notify);
        row.collect = to_text(&self.collect);
        row.analysis = to_text(&self.analysis);
        row.guards = to_text(&self.guards);
    }
}

impl ExperimentRow {
    pub fn definition(&self) -> Result<Definition> {
        Ok(Definition {
            name: self.name.clone(),
            description: self.description.clone(),
            metadata: from_text(&self.metadata)?,
            parameters: from_text(&self.parameters)?,
            pre_steps: from_text(&self.pre_steps)?,
            steps: from_text(&self.steps)?,
            post_steps: from_text(&self.post_steps)?,
            misarch: from_optional_text(self.misarch.as_deref())?,
            notify: from_text(&self.notify)?,
            collect: from_text(&self.collect)?,
            analysis: from_text(&self.analysis)?,
            guards: from_text(&self.guards)?,
        })
    }

    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// The API's view of a stored experiment: every value under a secret-looking key is masked. The worker never reads
/// this view: a trial runs its snapshot of the stored definition.
impl TryFrom<ExperimentRow> for Experiment {
    type Error = Error;

    fn try_from(row: ExperimentRow) -> Result<Self> {
        let definition = redact::masked(&row.definition()?)?;
        let id = parse_id(&row.id)?;
        Ok(Self {
            id,
            name: definition.name,
            description: definition.description,
            metadata: definition.metadata,
            parameters: definition.parameters,
            pre_steps: definition.pre_steps,
            steps: definition.steps,
            post_steps: definition.post_steps,
            misarch: definition.misarch,
            notify: definition.notify,
            collect: definition.collect,
            analysis: definition.analysis,
            guards: definition.guards,
            created_by: row.created_by,
            created_at: time::from_db(row.created_at),
            updated_at: time::from_db(row.updated_at),
            revision: row.revision,
            archived_at: row.archived_at.map(time::from_db),
            links: ExperimentLinks::of(id),
        })
    }
}

pub(crate) fn parse_id(stored: &str) -> Result<Uuid> {
    Uuid::parse_str(stored).map_err(|e| Error::internal(format!("stored id '{stored}' is not a UUID: {e}")))
}

/// Loads an experiment that must exist.
pub(crate) fn load(conn: &mut db::DbConnection, id: Uuid) -> Result<ExperimentRow> {
    db::experiments::find(conn, &id.to_string())?.ok_or_else(|| Error::experiment_not_found(id))
}

/// Loads an experiment that must exist and not be archived (it is about to be changed or run).
pub(crate) fn load_active(conn: &mut db::DbConnection, id: Uuid) -> Result<ExperimentRow> {
    let row = load(conn, id)?;
    if row.is_archived() {
        return Err(Error::conflict(
            "experiment_archived",
            format!("experiment {id} is archived; it can be read and purged, not changed or run"),
        ));
    }
    Ok(row)
}

/// Creates an experiment. A `*****` under a secret-looking key is refused: nothing is stored yet to keep.
pub async fn create(db: &Db, input: ExperimentInput, actor: &str) -> Result<Experiment> {
    let definition = redact::restored(Definition::try_from(input)?, None)?;
    definition.validate()?;
    let actor = actor.to_owned();
    db.run(move |conn| Experiment::try_from(insert(conn, &definition, &actor)?)).await
}

/// Stores a new experiment of a definition that was checked ([`Definition::validate`]), within the caller's
/// transaction.
pub(crate) fn insert(conn: &mut db::DbConnection, definition: &Definition, actor: &str) -> Result<ExperimentRow> {
    let now = time::to_db(time::now());
    let mut row = ExperimentRow {
        id: Uuid::new_v4().to_string(),
        name: String::new(),
        description: String::new(),
        metadata: String::new(),
        parameters: String::new(),
        pre_steps: String::new(),
        steps: String::new(),
        post_steps: String::new(),
        misarch: None,
        created_by: actor.to_owned(),
        created_at: now,
        updated_at: now,
        revision: 1,
        archived_at: None,
        notify: String::new(),
        collect: String::new(),
        analysis: String::new(),
        guards: String::new(),
        api_view: None,
    };
    definition.write_into(&mut row);
    row.api_view = Some(crate::json::seal_view(&view_of(&row)?));
    db::experiments::insert(conn, &row)?;
    Ok(row)
}

/// The API's JSON of a stored experiment, secrets masked: what `GET /experiment/{id}` sends.
fn view_of(row: &ExperimentRow) -> Result<String> {
    Ok(serde_json::to_string(&Experiment::try_from(row.clone())?)?)
}

/// The JSON an experiment's row answers with: its kept view; for a row without one of the present format, the view
/// built now (and kept, unless the experiment is archived or changed meanwhile).
fn json_of(conn: &mut db::DbConnection, row: ExperimentRow) -> Result<Box<serde_json::value::RawValue>> {
    if let Some(view) = row.api_view.as_deref().and_then(crate::json::open_view) {
        return Ok(serde_json::value::RawValue::from_string(view.to_owned())?);
    }
    let view = view_of(&row)?;
    if !row.is_archived() {
        db::experiments::store_api_view(conn, &row.id, row.revision, &crate::json::seal_view(&view))?;
    }
    Ok(serde_json::value::RawValue::from_string(view)?)
}

/// `GET /experiment/{id}` as JSON text, from the view kept when the experiment was written.
pub async fn find_json(db: &Db, id: Uuid) -> Result<Box<serde_json::value::RawValue>> {
    db.run(move |conn| {
        let row = load(conn, id)?;
        json_of(conn, row)
    })
    .await
}

/// A page of `GET /experiment` as JSON texts, from the kept views. A page with a row whose view is not current (an
/// experiment written before its format, or by an older eris) is read again whole, and the missing views built and
/// kept.
pub async fn list_json(
    db: &Db,
    filter: ExperimentFilter,
    page: PageRequest,
) -> Result<Page<Box<serde_json::value::RawValue>>> {
    db.run(move |conn| {
        let views = db::experiments::list_views(conn, &filter, &page)?;
        let kept: Option<Vec<&str>> =
            views.items.iter().map(|row| row.api_view.as_deref().and_then(crate::json::open_view)).collect();
        match kept {
            Some(kept) => Ok(Page {
                items: kept
                    .into_iter()
                    .map(|view| serde_json::value::RawValue::from_string(view.to_owned()))
                    .collect::<serde_json::Result<_>>()?,
                next: views.next.clone(),
            }),
            None => db::experiments::list(conn, &filter, &page)?.map(|row| json_of(conn, row)),
        }
    })
    .await
}

pub async fn find(db: &Db, id: Uuid) -> Result<Experiment> {
    db.run(move |conn| load(conn, id)?.try_into()).await
}

pub async fn list(db: &Db, filter: ExperimentFilter, page: PageRequest) -> Result<Page<Experiment>> {
    db.run(move |conn| db::experiments::list(conn, &filter, &page)?.map(Experiment::try_from)).await
}

/// How an update changes the definition.
#[derive(Clone)]
pub enum Change {
    Replace(ExperimentInput),
    Merge(ExperimentPatch),
}

/// Applies a PUT or PATCH: validates the result and bumps the revision. A `*****` under a secret-looking key (as
/// GET shows secrets) keeps the value stored at the same path of the definition.
///
/// The definition is checked between a read and a write, not inside a transaction: no connection, and on SQLite no
/// write lock, is held while a large MiSArch definition is checked. The write happens only if the revision is still
/// the one read; otherwise the update starts over from a new read.
pub async fn update(db: &Db, id: Uuid, change: Change) -> Result<Experiment> {
    transient::retry_concurrent_update(|| update_once(db, id, change.clone())).await
}

async fn update_once(db: &Db, id: Uuid, change: Change) -> Result<Experiment> {
    let mut row = db.run(move |conn| load_active(conn, id)).await?;
    let stored = row.definition()?;
    let mut definition = stored.clone();
    match change {
        Change::Replace(input) => definition = input.try_into()?,
        Change::Merge(patch) => patch.apply(&mut definition)?,
    }
    let definition = redact::restored(definition, Some(&stored))?;
    definition.validate()?;
    definition.write_into(&mut row);
    let read_revision = row.revision;
    row.revision += 1;
    row.updated_at = time::to_db(time::now());
    row.api_view = Some(crate::json::seal_view(&view_of(&row)?));
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            if !db::experiments::update(conn, &row, read_revision)? {
                return Err(Error::conflict(
                    crate::error::CONCURRENT_UPDATE,
                    format!("experiment {id} was changed meanwhile; retry"),
                ));
            }
            Experiment::try_from(row)
        })
    })
    .await
}

/// `DELETE /experiment/{id}`: archives the experiment. Archiving an archived experiment changes nothing.
pub async fn archive(db: &Db, id: Uuid) -> Result<Archived> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let row = load(conn, id)?;
            if row.is_archived() {
                return Ok(Archived { schedules_deleted: 0, trials_stopped: 0 });
            }
            db::experiments::archive(conn, &row.id, time::to_db(time::now()))
        })
    })
    .await
}

/// Deletes an experiment, its schedules and its trials for good. Refused while one of its trials runs.
pub async fn purge(db: &Db, id: Uuid) -> Result<()> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let row = load(conn, id)?;
            if db::trials::experiment_has_running_trial(conn, &row.id)? {
                return Err(Error::conflict(
                    "trial_in_progress",
                    format!("experiment {id} has a trial in progress; stop it or wait for it to end, then purge"),
                ));
            }
            db::experiments::purge(conn, &row.id)?;
            Ok(())
        })
    })
    .await
}
