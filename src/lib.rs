//! eris: a daemon that keeps a catalogue of chaos experiments, runs them on cron schedules one trial at a time,
//! and keeps the record of every trial for audit.
//!
//! Where things are, one line a module. Scheduling has three: [`cron`] is the recurrence rule, [`schedules`] the
//! resource the API changes, [`scheduler`] the loop that fires it; the [`worker`] then runs each trial through the
//! [`executor`].
//!
//! | module | what it is |
//! |---|---|
//! | [`actions`] | the action catalogue: each step action's typed arguments, checked when an experiment is written and run by the executor; `load/` is the built-in load generator |
//! | [`api`] | the HTTP API: thin handlers, the router, its OpenAPI document, the guard and the scope each route declares |
//! | [`audit`] | the append-only audit log of every change asked of the API |
//! | [`auth`] | who is asking and what they may do: API tokens, JWTs, scopes, `ERIS_AUTH` |
//! | [`blackouts`] | blackouts of the whole deployment: when no trial may start or run |
//! | [`config`] | the settings of `eris serve`, checked at start-up |
//! | [`cron`] | the recurrence rule: cron patterns and time zones, and the instants a schedule fires at |
//! | [`db`] | the database: every query, written once for PostgreSQL and SQLite |
//! | [`demo_target`] | `eris demo-target`: a small shop with a fault API, so a whole chaos trial runs on one machine |
//! | [`error`] | the one error type of the rules and the storage (no HTTP) |
//! | [`executor`] | runs one trial: its steps (rendered, run, their expectations evaluated), the MiSArch run, the trial record |
//! | [`expectation`] | an expectation's operator and path, for write-time checks and evaluation |
//! | [`experiments`] | the experiment resource: its rules and its steps, no HTTP |
//! | [`http_client`] | the one HTTP client configuration every outgoing request uses |
//! | `json` | JSON stored in text columns |
//! | [`misarch`] | the MiSArch formats and components: definitions, goals, the Gatling report, exports, callbacks |
//! | [`misarch_executor`] | the MiSArch Experiment Executor's own API: experiments and versions as MiSArch users make them, each version an eris experiment |
//! | [`pages`] | report pages: self-contained HTML with SVG charts of a trial, a sweep and a trend, no HTTP |
//! | [`process`] | this process's identity, as leases and claims record it |
//! | [`redact`] | secrets never shown: masking in responses, records and logs |
//! | [`research`] | experiments as research, the pure rules: key metrics, the resilience score, regressions, comparisons, trends |
//! | [`retention`] | the retention policy: which ended trials are removed, by a periodic job on one replica |
//! | [`safety`] | safety levers of the whole deployment: the emergency stop |
//! | [`scheduler`] | the loop that turns due schedules into queued trials |
//! | [`schedules`] | the schedule resource: when an experiment runs by itself, its write-time rules |
//! | [`setting_parsers`] | how a setting's text becomes a typed value, with errors that name the variable |
//! | [`sweeps`] | sweeps: one experiment over a grid of parameter sets, its trials queued back to back, its results table |
//! | [`telemetry`] | Prometheus metrics (`GET /metrics`) |
//! | [`template`] | `{{ parameter }}` templates and how they are rendered |
//! | [`time`] | timestamps as eris stores them (UTC, microseconds) |
//! | [`transient`] | transient database errors retried within milliseconds, with a bounded backoff |
//! | [`trial_status`] | the trial statuses, with Kallisti's names |
//! | [`trials`] | the trial resource: runs of an experiment, queued, stopped and kept for audit |
//! | [`wakeups`] | how the API, the scheduler and the worker wake each other |
//! | [`webhooks`] | webhooks on trial events: what they say, how they are signed and delivered |
//! | [`worker`] | the single sequential worker: the lease, claiming, heartbeats, recovery |

pub mod actions;
pub mod api;
pub mod audit;
pub mod auth;
pub mod blackouts;
pub mod config;
pub mod cron;
pub mod db;
pub mod demo_target;
pub mod error;
pub mod executor;
pub mod expectation;
pub mod experiments;
pub mod http_client;
mod json;
pub mod misarch;
pub mod misarch_executor;
pub mod pages;
pub mod process;
pub mod redact;
pub mod research;
pub mod retention;
pub mod safety;
pub mod scheduler;
pub mod schedules;
pub mod setting_parsers;
pub mod sweeps;
pub mod telemetry;
pub mod template;
pub mod time;
pub mod transient;
pub mod trial_status;
pub mod trials;
pub mod wakeups;
pub mod webhooks;
pub mod worker;
