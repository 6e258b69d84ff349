//! The connection pool: r2d2 keeps the connections; a fair semaphore hands them out; a connection is tested only
//! when it may have gone bad.
//!
//! Why not r2d2 alone:
//! - **Order.** r2d2 wakes one waiting thread when a connection comes back, but a thread that arrives at that moment
//!   may take it first, so under load a few requests wait many times over (at 32 concurrent reads on 10 PostgreSQL
//!   connections, p99 was 60 × p50). A tokio semaphore with one permit per connection serves waiting requests in
//!   their order of arrival, and a request that holds a permit always finds a connection at once. Nothing else takes
//!   connections from the pool.
//! - **Tests.** r2d2 tests a connection at every checkout (one more round trip for every unit of work) or never
//!   (a connection the server dropped, as a PostgreSQL restart does, would fail every request that gets it: libpq
//!   does not reconnect and diesel does not notice). Like HikariCP's `aliveBypassWindowMs`, eris tests a connection
//!   only when it has been idle for longer than [`PoolOptions::check_after_idle`] or when the last unit of work on
//!   it failed with a database error; a failed test drops it and the next one is taken.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use tokio::sync::Semaphore;

use super::connection::{DatabaseUrl, DbConnection, establish};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a unit of work waits for a connection before it fails with 503 `database_unavailable`.
    pub connection_timeout: Duration,
    /// A connection idle for longer than this is tested before it is used.
    pub check_after_idle: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 10, connection_timeout: Duration::from_secs(10), check_after_idle: Duration::from_millis(500) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
    /// Units of work waiting for a connection: above zero for long, the pool is too small for the load.
    pub waiting: u32,
}

/// Cheap to clone: clones share the connections and the permits.
#[derive(Clone)]
pub struct Pool {
    connections: r2d2::Pool<Manager>,
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicU32>,
    options: PoolOptions,
}

impl Pool {
    /// Builds the pool without connecting; connections are opened when first needed.
    pub fn new(url: DatabaseUrl, options: PoolOptions) -> Self {
        let connections = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(options.connection_timeout)
            .build_unchecked(Manager { url });
        let permits = Arc::new(Semaphore::new(options.max_size as usize));
        Self { connections, permits, waiting: Default::default(), options }
    }

    /// Runs `f` with a connection on tokio's blocking pool, after waiting at most `wait` (or the pool's
    /// `connection_timeout`) for one.
    pub async fn run<T, F>(&self, wait: Option<Duration>, f: F) -> Result<T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let wait = wait.unwrap_or(self.options.connection_timeout);
        let deadline = Instant::now() + wait;
        let permit = self.permit(wait).await?;
        let (connections, check_after_idle) = (self.connections.clone(), self.options.check_after_idle);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _permit = permit;
            work(&connections, deadline, check_after_idle, f)
        })
        .await
        .map_err(|e| Error::internal(format!("database task failed: {e}")))?
    }

    /// Like [`Pool::run`], but runs `f` on the calling thread, for work that takes microseconds and never waits
    /// (a point read on SQLite, whose readers do not wait for its writer): handing it to the blocking pool and back
    /// would cost more than the work.
    pub async fn run_here<T>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T>) -> Result<T> {
        let wait = self.options.connection_timeout;
        let deadline = Instant::now() + wait;
        let _permit = self.permit(wait).await?;
        work(&self.connections, deadline, self.options.check_after_idle, f)
    }

    /// A permit for one connection, in arrival order: with it, a connection is free at once (or can be opened).
    async fn permit(&self, wait: Duration) -> Result<tokio::sync::OwnedSemaphorePermit> {
        // A free permit is taken at once (permits go to the queued first, so this does not jump the queue); only
        // work that has to queue is counted as waiting.
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let _waiting = Waiting::count(&self.waiting);
        tokio::time::timeout(wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| self.timed_out(wait))?
            .map_err(|_| Error::internal("the database pool was closed"))
    }

    fn timed_out(&self, wait: Duration) -> Error {
        Error::unavailable(format!(
            "no database connection available: all {} were busy for {} ms",
            self.options.max_size,
            wait.as_millis()
        ))
    }

    pub fn state(&self) -> PoolState {
        let state = self.connections.state();
        PoolState {
            idle: state.idle_connections,
            in_use: state.connections - state.idle_connections,
            max: self.options.max_size,
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

/// Counts one unit of work as waiting for as long as it lives, however the wait ends (a permit, a time-out, or
/// the request dropped).
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicU32) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs `f` with a connection, and records how its work went.
fn work<T>(
    connections: &r2d2::Pool<Manager>,
    deadline: Instant,
    check_after_idle: Duration,
    f: impl FnOnce(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    let mut pooled = checkout(connections, deadline, check_after_idle)?;
    let result = f(&mut pooled.conn);
    pooled.returned(result.as_ref().err());
    result
}

/// A connection from r2d2, tested first when it may have gone bad.
fn checkout(
    connections: &r2d2::Pool<Manager>,
    deadline: Instant,
    check_after_idle: Duration,
) -> Result<r2d2::PooledConnection<Manager>> {
    loop {
        // r2d2 needs a wait above zero; when the deadline has passed, one last short try.
        let wait = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let mut pooled = connections.get_timeout(wait)?;
        if !(pooled.suspect || pooled.returned_at.elapsed() > check_after_idle) {
            return Ok(pooled);
        }
        match ping(&mut pooled.conn) {
            Ok(()) => {
                pooled.suspect = false;
                return Ok(pooled);
            }
            // Dropping it gives it back marked broken, and r2d2 closes it.
            Err(_) => pooled.broken = true,
        }
    }
}

/// A prepared `SELECT ?`, kept in the connection's statement cache: diesel's own `ping` sends `SELECT 1` as text,
/// which SQLite would parse anew each time.
fn ping(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    use diesel::IntoSql as _;
    use diesel::RunQueryDsl as _;
    use diesel::sql_types::Integer;
    diesel::select(1_i32.into_sql::<Integer>()).get_result::<i32>(conn).map(drop)
}

/// A connection with what the pool needs to know of its use.
pub struct Connection {
    conn: DbConnection,
    returned_at: Instant,
    /// The last unit of work failed with a database error: test before the next.
    suspect: bool,
    /// Failed its test: r2d2 closes it when it comes back.
    broken: bool,
}

impl Connection {
    fn returned(&mut self, error: Option<&Error>) {
        self.returned_at = Instant::now();
        // Not found, conflicts and refused input are answers from a working connection.
        self.suspect = error.is_some_and(|e| matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Internal));
    }
}

/// Opens connections with [`establish`].
struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = Connection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Connection, Self::Error> {
        let conn = establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        Ok(Connection { conn, returned_at: Instant::now(), suspect: false, broken: false })
    }

    /// Not called: the pool does not test at checkout; [`checkout`] does when it must.
    fn is_valid(&self, connection: &mut Connection) -> Result<(), Self::Error> {
        ping(&mut connection.conn).map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, connection: &mut Connection) -> bool {
        connection.broken || std::thread::panicking() || connection.conn.is_broken()
    }
}
