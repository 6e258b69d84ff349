//! `GET /trial/{id}` on PostgreSQL: the one read that auditors and dashboards repeat, sent over one connection
//! that every request shares, each query sent without waiting for the answers to the ones before it.
//!
//! Why: a PostgreSQL backend that gets one query at a time, as each pooled connection does, spends most of its time
//! going to sleep and waking up. On the 2-core machine of the figures in docs/operations.md, `pgbench -S` answered
//! ~28,000 primary-key lookups a second over 10 connections, and ~200,000 over 2 connections that pipeline 16
//! each. tokio-postgres pipelines the queries of concurrent callers on one connection by itself. One connection
//! rather than two: at 32 concurrent reads it gave 52–70 % of `/health`'s throughput, two gave 36–51 % (each
//! backend got shorter runs of queries, and slept between them). The price: a read that PostgreSQL must fetch from
//! disk delays the reads sent after it; everything else goes through the pool.
//!
//! It is only ever a shortcut. The read goes through the pool, which gives the real error, whenever the pipelined
//! connection is not there (not yet opened, lost, or refused) or its query fails. A connection is used only after
//! it was checked to reach the database, user and `search_path` that the pool's connections reach, encrypted where
//! they are (libpq reads `PG*` variables and `.pgpass`, which tokio-postgres does not). Its TLS is libpq's, mapped
//! to rustls by [`tls`], certificate checks included, or it is not opened.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl as _;
use diesel::sql_types::Text;

use super::connection::{DatabaseUrl, DbConnection};
use super::pool::Pool;

mod tls;

/// How long after a failed attempt to open a connection the next is made; reads use the pool meanwhile.
const RETRY_AFTER: Duration = Duration::from_secs(5);
const APPLICATION_NAME: &str = "eris pipelined reads";

pub(super) struct PipelinedReads {
    config: tokio_postgres::Config,
    /// TLS as libpq would use it for the pool's connections; `None`: in the clear, as they are.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// How long a query may take before the read goes through the pool instead.
    timeout: Duration,
    slot: Arc<Mutex<Slot>>,
}

#[derive(Default)]
struct Slot {
    reader: Option<Arc<Reader>>,
    opening: bool,
    retry_at: Option<Instant>,
}

/// An open connection and its prepared statement.
struct Reader {
    client: tokio_postgres::Client,
    trial_view: tokio_postgres::Statement,
}

/// Why a connection was not used.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("it reaches {found}, the pool's connections reach {expected}")]
    Elsewhere { found: String, expected: String },
    #[error("{0}")]
    Pool(#[from] crate::error::Error),
}

impl PipelinedReads {
    /// `None` when the URL's connections cannot be pipelined as the pool's are made: not PostgreSQL, or settings
    /// that [`tls::settings`] cannot map (logged).
    pub(super) fn for_url(url: &DatabaseUrl, timeout: Duration) -> Option<Self> {
        let DatabaseUrl::Postgres(url) = url else { return None };
        let tls::Settings { mut config, tls } = match tls::settings(url, cfg!(feature = "postgres-tls")) {
            Ok(settings) => settings,
            Err(reason) => {
                tracing::info!(%reason, "trial reads are not pipelined; they go through the pool");
                return None;
            }
        };
        config.application_name(APPLICATION_NAME).connect_timeout(timeout);
        Some(Self { config, tls, timeout, slot: Default::default() })
    }

    /// The trial's kept view, as [`super::trials::api_view`] reads it; `None` when the read must go through the
    /// pool. Never waits for a connection to open.
    pub(super) async fn trial_api_view(&self, pool: &Pool, id: &str) -> Option<Option<Option<String>>> {
        let reader = self.reader(pool)?;
        let answer = tokio::time::timeout(self.timeout, reader.client.query_opt(&reader.trial_view, &[&id])).await;
        match answer {
            Ok(Ok(row)) => match row.map(|row| row.try_get::<_, Option<String>>(0)).transpose() {
                Ok(view) => Some(view),
                Err(error) => self.lost(&reader, &error.to_string()),
            },
            Ok(Err(error)) => self.lost(&reader, &error.to_string()),
            Err(_) => self.lost(&reader, &format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    /// The open connection; when there is none, starts opening one (at most one attempt at a time, and one
    /// every [`RETRY_AFTER`] after a failure) and answers `None`.
    fn reader(&self, pool: &Pool) -> Option<Arc<Reader>> {
        let mut state = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &state.reader {
            Some(reader) if !reader.client.is_closed() => return Some(reader.clone()),
            _ => state.reader = None,
        }
        let waiting = state.retry_at.is_some_and(|at| Instant::now() < at);
        if state.opening || waiting {
            return None;
        }
        state.opening = true;
        let (config, tls, pool) = (self.config.clone(), self.tls.clone(), pool.clone());
        let slot = self.slot.clone();
        tokio::spawn(async move {
            let opened = open(&config, tls, &pool).await;
            let mut state = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            state.opening = false;
            match opened {
                Ok(reader) => {
                    tracing::info!("trial reads pipelined over a PostgreSQL connection of their own");
                    state.reader = Some(Arc::new(reader));
                    state.retry_at = None;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot pipeline trial reads; they go through the pool");
                    state.retry_at = Some(Instant::now() + RETRY_AFTER);
                }
            }
        });
        None
    }

    /// Forgets the connection after a failure (the next read opens another) and sends the read to the pool.
    fn lost<T>(&self, reader: &Arc<Reader>, why: &str) -> Option<T> {
        let mut state = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.reader.as_ref().is_some_and(|current| Arc::ptr_eq(current, reader)) {
            tracing::warn!(
                why,
                "a pipelined trial read failed; it goes through the pool, and the connection is reopened"
            );
            state.reader = None;
        }
        None
    }
}

/// Opens a connection, checks that it reaches what the pool reaches, and prepares the statement.
async fn open(
    config: &tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pool: &Pool,
) -> Result<Reader, OpenError> {
    let client = match tls {
        None => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(run(connection));
            client
        }
        Some(tls) => {
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(run(connection));
            client
        }
    };
    let found = client.query_one(WHERE_AM_I, &[]).await?.try_get::<_, String>(0)?;
    let expected = pool.run(None, |conn| where_am_i(conn).map_err(Into::into)).await?;
    if found != expected {
        return Err(OpenError::Elsewhere { found, expected });
    }
    let trial_view = client.prepare(&super::trials::api_view_sql()).await?;
    Ok(Reader { client, trial_view })
}

/// Drives a connection's traffic until it ends.
async fn run<T>(connection: tokio_postgres::Connection<tokio_postgres::Socket, T>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(error) = connection.await {
        tracing::debug!(%error, "a pipelined read connection ended");
    }
}

/// What identifies where a connection reads and how: the server, the database, the user, the schemas it searches,
/// and whether it is encrypted.
const WHERE_AM_I: &str = "SELECT concat_ws(' ', 'server', inet_server_addr(), inet_server_port(), 'database', \
                          current_database(), 'user', current_user, 'search_path', current_setting('search_path'), \
                          'tls', (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()))";

fn where_am_i(conn: &mut DbConnection) -> diesel::QueryResult<String> {
    #[derive(diesel::QueryableByName)]
    struct Place {
        #[diesel(sql_type = Text)]
        place: String,
    }
    let query = format!("SELECT ({WHERE_AM_I}) AS place");
    Ok(diesel::sql_query(query).get_result::<Place>(conn)?.place)
}
