//! MiSArch experiments: what `experiment.misarch` may hold (validated when an experiment is written), what eris
//! sends to the MiSArch components (the Gatling executor, the Chaos Toolkit executor, the configurator), how their
//! results are read (the Gatling report), judged (goals) and exported (a Grafana dashboard, InfluxDB lines).
//!
//! Not built yet: the run itself (pre-flight, start, barrier, failure timeline, metrics upload, export, cleanup).

pub mod components;
pub mod definition;
pub mod export;
pub mod gatling;
pub mod goals;
