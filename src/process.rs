//! This process's identity, as the scheduler and the worker write it into the database (lease holders, claims), so
//! that an operator can tell which replica holds what.

use uuid::Uuid;

/// A worker or scheduler identity: unique per process, readable in the database.
pub fn id(role: &str) -> String {
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "eris".to_owned());
    format!("{role}:{host}:{}:{}", std::process::id(), &Uuid::new_v4().simple().to_string()[..8])
}
