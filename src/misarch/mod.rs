//! MiSArch experiments: what `experiment.misarch` may hold (validated when an experiment is written), what eris
//! sends to the MiSArch components (the Gatling executor, the Chaos Toolkit executor, the configurator), and how
//! their results are read (the Gatling report) and judged (goals).
//!
//! Not built yet: the run itself (pre-flight, start, barrier, failure timeline, metrics upload, export, cleanup).

pub mod components;
pub mod definition;
pub mod gatling;
pub mod goals;
