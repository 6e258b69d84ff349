//! The one connection type for both backends, and how a connection is opened.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;

/// A connection to PostgreSQL or SQLite. Every query in eris is written once against this type.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which backend a `DATABASE_URL` selects. Chosen from the URL scheme, never by trial and error:
/// diesel's derived `establish` would fall through to SQLite and hide a PostgreSQL error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A SQLite file path (or a `file:` URI).
    Sqlite(String),
}

/// A database URL eris cannot use. A password in it is never repeated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("a sqlite:// URL needs a file path, e.g. sqlite://./eris-data/eris.db")]
    NoSqlitePath,
    /// The URL, its password hidden.
    #[error("'{0}' is not a supported database URL: use postgres://user@host/db or sqlite://path/to/eris.db")]
    Unsupported(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, DatabaseUrlError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DatabaseUrlError::NoSqlitePath);
            }
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if url.starts_with("file:") {
            return Ok(Self::Sqlite(url.to_owned()));
        }
        Err(DatabaseUrlError::Unsupported(redact_password(url)))
    }

    /// The URL with any password hidden, for logs and error messages.
    pub fn display(&self) -> String {
        match self {
            Self::Postgres(url) => redact_password(url),
            Self::Sqlite(path) => format!("sqlite://{path}"),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("*****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Per-connection settings for SQLite. WAL is set once by the migrator (it is persistent in the file).
const SQLITE_CONNECTION_PRAGMAS: &str =
    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;";

pub fn establish(url: &DatabaseUrl) -> ConnectionResult<DbConnection> {
    match url {
        DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url).map(DbConnection::Postgres),
        DatabaseUrl::Sqlite(path) => {
            let mut conn = diesel::SqliteConnection::establish(path)?;
            conn.batch_execute(SQLITE_CONNECTION_PRAGMAS).map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// On SQLite a plain (deferred) transaction that reads and then writes can fail with `SQLITE_BUSY` at once,
/// without waiting for the busy timeout, when another connection wrote in between; `BEGIN IMMEDIATE`
/// avoids that. PostgreSQL uses an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        DbConnection::Postgres(_) => Manager::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            Manager::rollback_transaction(conn)?;
            Err(error)
        }
    }
}
