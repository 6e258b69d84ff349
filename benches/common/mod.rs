//! The databases a benchmark measures: SQLite always (a temporary file), and PostgreSQL when `ERIS_TEST_DATABASE_URL`
//! is set, in a schema of its own that is dropped afterwards.

#[allow(dead_code, reason = "only the read benchmark seeds these rows")]
pub mod seed;
#[allow(dead_code, reason = "only the benches that serve eris use it")]
pub mod serve;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use eris::db::DatabaseUrl;
use uuid::Uuid;

pub struct BenchDatabase {
    pub name: &'static str,
    pub url: DatabaseUrl,
    _sqlite_dir: Option<tempfile::TempDir>,
    /// The admin URL and the schema to drop.
    postgres_schema: Option<(String, String)>,
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, schema)) = &self.postgres_schema
            && let Ok(mut admin) = diesel::PgConnection::establish(admin_url)
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
        }
    }
}

/// Runs `measure` once per database of [`databases`], each migrated and behind a default pool, after a line with
/// the backend's name.
#[allow(dead_code, reason = "not every bench measures with a pool of its own")]
pub fn each_database(mut measure: impl FnMut(&tokio::runtime::Runtime, &eris::db::Db)) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for database in databases() {
        println!("== {}", database.name);
        eris::db::migrate(&database.url).unwrap();
        let db = eris::db::Db::connect(database.url.clone(), eris::db::PoolOptions::default()).unwrap();
        measure(&runtime, &db);
    }
}

pub fn databases() -> Vec<BenchDatabase> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db").to_str().unwrap().to_owned();
    let mut databases = vec![BenchDatabase {
        name: "sqlite",
        url: DatabaseUrl::Sqlite(path),
        _sqlite_dir: Some(dir),
        postgres_schema: None,
    }];
    if let Ok(url) = std::env::var("ERIS_TEST_DATABASE_URL") {
        let schema = format!("eris_bench_{}", Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(&url).expect("PostgreSQL answers");
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let scoped = format!("{url}{}options=-c%20search_path%3D{schema}", if url.contains('?') { '&' } else { '?' });
        databases.push(BenchDatabase {
            name: "postgres",
            url: DatabaseUrl::Postgres(scoped),
            _sqlite_dir: None,
            postgres_schema: Some((url, schema)),
        });
    }
    databases
}

/// A time difference in milliseconds.
#[allow(dead_code, reason = "not every bench reports latencies")]
pub fn ms(duration: chrono::TimeDelta) -> f64 {
    duration.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

/// Prints n, p50, p99, max and min of `samples` (in ms) under `what`.
#[allow(dead_code, reason = "not every bench reports latencies")]
pub fn report(what: &str, samples: &[f64]) {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    if sorted.is_empty() {
        println!("{what}: no samples");
        return;
    }
    println!(
        "{what}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms min={:.1} ms",
        sorted.len(),
        at(0.5),
        at(0.99),
        sorted[sorted.len() - 1],
        sorted[0]
    );
}

/// A real worker with default settings and no MiSArch components, running until the token is cancelled.
#[allow(dead_code, reason = "only the benches that run trials use it")]
pub fn spawn_worker(db: &eris::db::Db) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    use eris::worker::{Worker, WorkerConfig};
    let executor = eris::executor::Executor {
        actions: eris::actions::ActionContext::new(std::time::Duration::from_secs(5)),
        misarch: eris::executor::misarch::MisarchRuntime { db: db.clone(), settings: Default::default() },
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = Worker::new(db.clone(), eris::wakeups::Wakeups::default(), WorkerConfig::default(), executor);
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    (shutdown, handle)
}
