//! MiSArch experiments: what `experiment.misarch` may hold (validated when an experiment is written), what eris
//! sends to the MiSArch components (the Gatling executor, the Chaos Toolkit executor, the configurator), how their
//! results are read (the Gatling report), judged (goals) and exported (a Grafana dashboard, InfluxDB lines).
//!
//! The run itself, which drives the components over HTTP, is in `executor::misarch`; the callbacks the components
//! make to eris are in [`callbacks`].

pub mod callbacks;
pub mod components;
pub mod definition;
pub mod export;
pub mod gatling;
pub mod goal_metric;
pub mod goals;
pub mod report;
pub mod settings;
#[cfg(test)]
pub(crate) mod test_fixtures;
