//! Experiments as research: the pure rules behind sweeps, comparisons, trends and report pages. Nothing here reads
//! the database or knows HTTP: `trials::figures` reads what these rules need, and the API serves their results.
//!
//! - [`analysis`]: an experiment's score weights and regression rule;
//! - [`metrics`]: the key metrics of a trial (throughput, error %, response time percentiles, duration, score);
//! - [`score`]: the resilience score, 0 to 100;
//! - [`regression`]: is a trial worse than the ones before it;
//! - [`compare`]: trials side by side against a baseline, as JSON or CSV;
//! - [`trend`]: a metric over successive trials.

pub mod analysis;
pub mod compare;
pub mod metrics;
pub mod regression;
pub mod score;
pub mod trend;

pub use analysis::Analysis;
pub use compare::TrialFigures;
pub use metrics::KeyMetric;
