//! Storage: the connection pool, migrations, and every query eris makes, written once for PostgreSQL and SQLite.
//!
//! Diesel is synchronous, so [`Db::run`] moves each unit of database work onto tokio's blocking pool; the async
//! runtime's threads never wait on the database. Two exceptions, both for `GET /trial/{id}` ([`Db::trial_api_view`]):
//! on PostgreSQL it is an async query over a pipelined connection ([`pipelined`]); on SQLite a point read of
//! microseconds runs on the calling thread ([`Pool::run_here`]). How connections are handed out and tested: [`pool`].

pub mod audit;
pub mod blackouts;
mod connection;
pub mod experiments;
pub mod lease;
pub mod misarch_runs;
pub mod misarch_versions;
mod models;
pub mod page;
mod pipelined;
mod pool;
pub mod safety;
pub mod schedules;
mod schema;
mod stored_time;
pub mod sweeps;
pub mod tokens;
pub mod trials;
pub mod webhooks;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use connection::{DatabaseUrl, DbConnection, establish, write_transaction};
pub use models::*;
use pool::Pool;
pub use pool::{PoolOptions, PoolState};

use crate::error::Result;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The database: its connection pool and its URL. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// `GET /trial/{id}` on PostgreSQL, when its connections can be pipelined.
    pipelined: Option<std::sync::Arc<pipelined::PipelinedReads>>,
    /// Shared: a `Db` is cloned for every request.
    url: std::sync::Arc<DatabaseUrl>,
}

/// How long a probe or a scrape waits for a connection.
pub const QUICK_WAIT: Duration = Duration::from_secs(2);

impl Db {
    /// Opens the pool. Fails when no connection can be made, with the backend's own reason.
    pub fn connect(url: DatabaseUrl, options: PoolOptions) -> anyhow::Result<Self> {
        // Fail fast with the real error: r2d2 would only report a timeout.
        establish(&url).map_err(|e| anyhow::anyhow!("DATABASE_URL: cannot connect to {}: {e}", url.display()))?;
        Ok(Self::lazy(url, options))
    }

    /// Builds the pool without connecting; connections are opened when first needed.
    pub fn lazy(url: DatabaseUrl, options: PoolOptions) -> Self {
        let pipelined = pipelined::PipelinedReads::for_url(&url, options.connection_timeout).map(std::sync::Arc::new);
        Self { pool: Pool::new(url.clone(), options), pipelined, url: std::sync::Arc::new(url) }
    }

    pub fn backend(&self) -> &'static str {
        self.url.backend()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, waiting for one at most the pool's
    /// `connection_timeout`.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.pool.run(None, f).await
    }

    /// Like [`Db::run`], but gives up after [`QUICK_WAIT`] without a connection: for probes and scrapes, which
    /// must answer fast when the database is gone.
    pub async fn run_quick<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.pool.run(Some(QUICK_WAIT), f).await
    }

    /// A trial's kept API view ([`trials::api_view`]), the read of `GET /trial/{id}`: pipelined on PostgreSQL
    /// when it can be ([`pipelined`]), otherwise, and whenever that fails, through the pool; on SQLite on the
    /// calling thread ([`Pool::run_here`]).
    pub async fn trial_api_view(&self, id: &str) -> Result<Option<Option<String>>> {
        if let Some(reads) = &self.pipelined
            && let Some(view) = reads.trial_api_view(&self.pool, id).await
        {
            return Ok(view);
        }
        match *self.url {
            DatabaseUrl::Sqlite(_) => self.pool.run_here(|conn| trials::api_view(conn, id)).await,
            DatabaseUrl::Postgres(_) => {
                let id = id.to_owned();
                self.run(move |conn| trials::api_view(conn, &id)).await
            }
        }
    }

    /// How many connections the pool holds, and how many are in use.
    pub fn pool_state(&self) -> PoolState {
        self.pool.state()
    }

    /// Checks that the database answers (`GET /ready`).
    pub async fn ping(&self) -> Result<()> {
        self.run_quick(|conn| {
            conn.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await
    }
}

/// Applies the pending migrations of the connection's backend and returns their names.
pub fn migrate(url: &DatabaseUrl) -> anyhow::Result<Vec<String>> {
    let mut conn =
        establish(url).map_err(|e| anyhow::anyhow!("DATABASE_URL: cannot connect to {}: {e}", url.display()))?;
    let migrations = match &mut conn {
        DbConnection::Postgres(postgres) => {
            // Replicas that start together migrate one after another; the lock ends with the connection.
            postgres.batch_execute("SELECT pg_advisory_lock(7262974)")?;
            POSTGRES_MIGRATIONS
        }
        DbConnection::Sqlite(sqlite) => {
            // WAL lets readers work while a writer writes; the setting is stored in the database file.
            sqlite.batch_execute("PRAGMA journal_mode = WAL;")?;
            SQLITE_MIGRATIONS
        }
    };
    let applied = conn
        .run_pending_migrations(migrations)
        .map_err(|e| anyhow::anyhow!("migrating {} failed: {e}", url.display()))?;
    Ok(applied.iter().map(|m| m.to_string()).collect())
}
