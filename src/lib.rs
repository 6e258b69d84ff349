//! eris: a daemon that keeps a catalogue of chaos experiments, runs them on cron schedules one trial at a time,
//! and keeps the record of every trial for audit.
//!
//! Where things are: [`api`] (HTTP, thin), [`experiments`], [`schedules`] and [`trials`] (the rules, no HTTP),
//! [`db`] (every query, for PostgreSQL and SQLite), [`cron`] (patterns and time zones), [`config`] (settings).

pub mod actions;
pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod cron;
pub mod db;
pub mod error;
pub mod executor;
pub mod expectation;
pub mod experiments;
pub mod http_client;
mod json;
pub mod misarch;
pub mod process;
pub mod redact;
pub mod scheduler;
pub mod schedules;
pub mod telemetry;
pub mod template;
pub mod time;
pub mod trial_status;
pub mod trials;
pub mod wakeups;
pub mod webhooks;
pub mod worker;
