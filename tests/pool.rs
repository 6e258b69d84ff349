//! The connection pool (`src/db/pool.rs`): a connection the server dropped is replaced before work uses it, a
//! connection whose work failed is tested before its next use, waiting work is served in arrival order, and a
//! busy pool answers 503 `database_unavailable` after its timeout, naming why; trial reads are pipelined on
//! PostgreSQL, and the bundled SQLite plans each statement once.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::RunQueryDsl as _;
use diesel::connection::SimpleConnection as _;
use eris::db::{DatabaseUrl, Db, DbConnection, PoolOptions};
use eris::error::ErrorKind;

use common::TestDatabase;

/// The PostgreSQL backend process behind the connection the pool hands out.
async fn backend_pid(db: &Db) -> eris::error::Result<i32> {
    db.run(|conn| match conn {
        DbConnection::Postgres(pg) => {
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("pg_backend_pid()")).get_result(pg)?)
        }
        DbConnection::Sqlite(_) => unreachable!("only PostgreSQL has backend processes"),
    })
    .await
}

/// Ends a backend as a PostgreSQL restart or an administrator would, and waits (up to 5 s) until it is gone.
fn terminate(admin_url: &str, pid: i32) {
    use diesel::Connection as _;
    let mut admin = diesel::PgConnection::establish(admin_url).unwrap();
    admin.batch_execute(&format!("SELECT pg_terminate_backend({pid}, 5000)")).unwrap();
}

fn admin_url() -> String {
    std::env::var("ERIS_TEST_DATABASE_URL").unwrap().trim().to_owned()
}

/// The PostgreSQL database of [`TestDatabase::all`], when there is one: SQLite has no server to drop a connection.
fn postgres() -> Option<TestDatabase> {
    TestDatabase::all().into_iter().find(|database| matches!(database.url, DatabaseUrl::Postgres(_)))
}

/// Takes the pool's one connection and keeps it until `release` is sent.
async fn hold_the_connection(
    db: &Db,
) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<eris::error::Result<()>>) {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let holder = tokio::spawn({
        let db = db.clone();
        async move {
            db.run(move |_| {
                held.recv().expect("released");
                Ok(())
            })
            .await
        }
    });
    common::wait_until(Duration::from_secs(5), "the connection to be taken", || {
        let in_use = db.pool_state().in_use;
        async move { in_use == 1 }
    })
    .await;
    (release, holder)
}

#[tokio::test]
async fn a_connection_the_server_dropped_is_replaced_before_work_uses_it() {
    let Some(database) = postgres() else { return };
    // Every checkout tests the connection, as one that idled longer than `check_after_idle` (500 ms) is.
    let options = PoolOptions { max_size: 1, check_after_idle: Duration::ZERO, ..PoolOptions::default() };
    let db = Db::connect(database.url.clone(), options).unwrap();
    let before = backend_pid(&db).await.unwrap();
    terminate(&admin_url(), before);
    let after = backend_pid(&db).await.expect("the dropped connection is replaced, and the work succeeds");
    assert_ne!(before, after);
    assert_eq!(backend_pid(&db).await.unwrap(), after, "a working connection is kept");
}

#[tokio::test]
async fn a_connection_whose_work_failed_is_tested_before_its_next_use() {
    let Some(database) = postgres() else { return };
    // Never tested for having idled: only the failure makes the pool test it.
    let options = PoolOptions { max_size: 1, check_after_idle: Duration::from_secs(3600), ..PoolOptions::default() };
    let db = Db::connect(database.url.clone(), options).unwrap();
    let before = backend_pid(&db).await.unwrap();
    terminate(&admin_url(), before);
    let error = backend_pid(&db).await.expect_err("the work on the dropped connection fails");
    assert!(matches!(error.kind, ErrorKind::Unavailable | ErrorKind::Internal), "{error}");
    let after = backend_pid(&db).await.expect("the next work gets a new connection");
    assert_ne!(before, after);
}

#[tokio::test]
async fn waiting_work_is_served_in_arrival_order() {
    for database in TestDatabase::all() {
        let db = Db::connect(database.url.clone(), PoolOptions { max_size: 1, ..PoolOptions::default() }).unwrap();
        let (release, holder) = hold_the_connection(&db).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..8 {
            let (db, order) = (db.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                db.run(move |_| {
                    order.lock().unwrap().push(n);
                    Ok(())
                })
                .await
            }));
            // On the test's one-thread runtime this lets the new task run until it waits for the connection.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(db.pool_state().waiting, 8, "eris_db_pool_waiting counts the queued work");
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>(), "{}", database.url.backend());
        assert_eq!(db.pool_state().waiting, 0);
    }
}

#[tokio::test]
async fn a_busy_pool_answers_database_unavailable_after_its_timeout() {
    for database in TestDatabase::all() {
        let options =
            PoolOptions { max_size: 1, connection_timeout: Duration::from_millis(200), ..PoolOptions::default() };
        let db = Db::connect(database.url.clone(), options).unwrap();
        let (release, holder) = hold_the_connection(&db).await;
        let started = std::time::Instant::now();
        let error = db.run(|_| Ok(())).await.expect_err("no connection within 200 ms");
        let waited = started.elapsed();
        assert_eq!((error.kind, error.code), (ErrorKind::Unavailable, "database_unavailable"));
        assert_eq!(error.message, "no database connection available: all 1 were busy for 200 ms");
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(db.pool_state().waiting, 0, "work that gave up waiting is no longer counted");
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        db.run(|_| Ok(())).await.expect("the connection is free again");
    }
}

/// The backends of pipelined trial reads (src/db/pipelined.rs) that started since `since` (PostgreSQL's clock), with
/// the last query each ran.
fn pipelined_backends(since: &str) -> Vec<(i32, String)> {
    use diesel::Connection as _;
    #[derive(diesel::QueryableByName)]
    struct Backend {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
        #[diesel(sql_type = diesel::sql_types::Text)]
        query: String,
    }
    let mut admin = diesel::PgConnection::establish(&admin_url()).unwrap();
    let backends: Vec<Backend> = diesel::sql_query(
        "SELECT pid, query FROM pg_stat_activity WHERE application_name = 'eris pipelined reads' \
         AND backend_start >= $1::timestamptz ORDER BY pid",
    )
    .bind::<diesel::sql_types::Text, _>(since)
    .load(&mut admin)
    .unwrap();
    backends.into_iter().map(|backend| (backend.pid, backend.query)).collect()
}

fn postgres_now() -> String {
    use diesel::Connection as _;
    #[derive(diesel::QueryableByName)]
    struct Now {
        #[diesel(sql_type = diesel::sql_types::Text)]
        now: String,
    }
    let mut admin = diesel::PgConnection::establish(&admin_url()).unwrap();
    diesel::sql_query("SELECT now()::text AS now").get_result::<Now>(&mut admin).unwrap().now
}

/// Reads the trial until its pipelined connection is open, each read answering `expected`; returns its backend.
async fn read_until_pipelined(app: &common::TestApp, path: &str, expected: &str, since: &str) -> Vec<(i32, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(app.get(path).await.expect_status(axum::http::StatusCode::OK).text(), expected);
        let backends = pipelined_backends(since);
        if backends.len() == 1 {
            return backends;
        }
        assert!(std::time::Instant::now() < deadline, "no one pipelined read connection after 10 s: {backends:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn trial_reads_on_postgres_are_pipelined_and_survive_a_lost_connection() {
    let Some(database) = postgres() else { return };
    let since = postgres_now();
    let app = common::TestApp::new(database);
    let experiment = app.experiment_id().await;
    let queued = app.post("/api/v1/trial", &serde_json::json!({"experiment": experiment})).await.json();
    let id = queued["id"].as_str().unwrap().to_owned();
    app.db
        .run(move |conn| {
            diesel::sql_query("UPDATE trials SET status = 'Succeeded' WHERE id = $1")
                .bind::<diesel::sql_types::Text, _>(id)
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let path = format!("/api/v1/trial/{}", queued["id"].as_str().unwrap());
    // The first read after the end makes the view and keeps it; later reads send the kept text.
    let expected = app.get(&path).await.expect_status(axum::http::StatusCode::OK).text();
    assert!(expected.contains("\"status\":\"Succeeded\""), "{expected}");

    let first = read_until_pipelined(&app, &path, &expected, &since).await;
    for _ in 0..20 {
        assert_eq!(app.get(&path).await.text(), expected);
    }
    for (pid, query) in pipelined_backends(&since) {
        assert!(query.contains("api_view"), "backend {pid} ran the trial read, not {query:?}");
    }

    for (pid, _) in &first {
        terminate(&admin_url(), *pid);
    }
    // Reads that find the connection gone go through the pool, and the connection is opened anew.
    let second = read_until_pipelined(&app, &path, &expected, &since).await;
    assert!(second.iter().all(|(pid, _)| first.iter().all(|(old, _)| old != pid)), "{first:?} then {second:?}");
    let missing = format!("/api/v1/trial/{}", uuid::Uuid::new_v4());
    app.get(&missing).await.expect_error(axum::http::StatusCode::NOT_FOUND, "trial_not_found", None);
}

/// The bundled SQLite keeps its plans whatever values are bound (`.cargo/config.toml` builds it so): without that,
/// each execution of a query whose LIMIT is bound, every list page, compiles its SQL again.
#[tokio::test]
async fn the_bundled_sqlite_plans_each_statement_once() {
    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let database = TestDatabase::sqlite();
    let db = Db::connect(database.url.clone(), PoolOptions::default()).unwrap();
    let options = db
        .run(|conn| {
            Ok(diesel::sql_query("SELECT compile_options FROM pragma_compile_options").load::<CompileOption>(conn)?)
        })
        .await
        .unwrap();
    let options: Vec<String> = options.into_iter().map(|option| option.compile_options).collect();
    assert!(options.iter().any(|option| option == "ENABLE_QPSG"), "{options:?}");
}
