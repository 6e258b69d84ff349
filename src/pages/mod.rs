//! Report pages: self-contained HTML with charts drawn on the server as SVG, for a trial, a sweep and a trend
//! (docs/research.md, "Report pages"). A page holds its styles, fetches nothing and runs no script, so it renders
//! offline, also when saved to a file, and cannot run anything a trial recorded. Nothing here reads the database
//! or knows HTTP: the API reads the trial, sweep or trend and hands it to `render`.
//!
//! - [`svg`]: the charts (lines with shaded windows, a timeline, bars against thresholds);
//! - [`html`]: the page frame, escaping, tables;
//! - [`trial`], [`sweep`], [`trend`]: the three pages.

pub mod html;
pub mod svg;
pub mod sweep;
pub mod trend;
pub mod trial;
