//! The one error type of eris's rules and storage. It knows nothing of HTTP: `api::errors` maps each kind to a
//! status code. Every variant carries a stable machine-readable `code` and a message a person understands.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule (HTTP 400).
    Invalid,
    /// The named resource does not exist (HTTP 404).
    NotFound,
    /// The request conflicts with the resource's present state (HTTP 409).
    Conflict,
    /// The database cannot be reached or is busy; retrying later may work (HTTP 503).
    Unavailable,
    /// A defect in eris (HTTP 500). Never caused by input.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    /// The request field the error is about, as a path (`steps[1].where.url`).
    pub field: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The code of an insert that broke a uniqueness constraint.
pub const DUPLICATE: &str = "duplicate";
/// The code of a write refused because the row changed since it was read.
pub const CONCURRENT_UPDATE: &str = "concurrent_update";

impl Error {
    pub fn invalid(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Invalid, code, message: message.into(), field: Some(field.into()) }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::NotFound, code, message: message.into(), field: None }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Conflict, code, message: message.into(), field: None }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Unavailable, code: "database_unavailable", message: message.into(), field: None }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Internal, code: "internal_error", message: message.into(), field: None }
    }

    pub fn experiment_not_found(id: impl fmt::Display) -> Self {
        Self::not_found("experiment_not_found", format!("experiment {id} does not exist"))
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for Error {}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match &error {
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => Self::unavailable(error.to_string()),
            // The scheduler relies on this to tell a fire another replica already made.
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::conflict(DUPLICATE, format!("already exists: {}", info.message()))
            }
            // SQLite reports lock contention that outlasted the busy timeout this way.
            D::DatabaseError(_, info) if info.message().contains("database is locked") => {
                Self::unavailable("the database is busy; try again")
            }
            _ => Self::internal(format!("database error: {error}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::unavailable(format!("no database connection available: {error}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::internal(format!("stored JSON could not be read: {error}"))
    }
}
