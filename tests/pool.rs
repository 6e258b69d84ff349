//! The connection pool (`src/db/pool.rs`): a connection the server dropped is replaced before work uses it, a
//! connection whose work failed is tested before its next use, waiting work is served in arrival order, and a
//! busy pool answers 503 `database_unavailable` after its timeout, naming why.

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
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>(), "{}", database.url.backend());
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
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        db.run(|_| Ok(())).await.expect("the connection is free again");
    }
}
