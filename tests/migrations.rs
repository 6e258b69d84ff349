//! The PostgreSQL and SQLite migrations describe the same logical schema.

mod common;

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use eris::db::{DbConnection, establish};

fn migration_names(backend: &str) -> Vec<String> {
    let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    assert_eq!(migration_names("postgres"), migration_names("sqlite"));
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// table → column → nullable.
fn columns(conn: &mut DbConnection) -> BTreeMap<String, BTreeMap<String, bool>> {
    let query = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name, CASE WHEN p.\"notnull\" = 1 OR p.pk = 1 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__diesel%'"
        }
        DbConnection::Postgres(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE '__diesel%'"
        }
    };
    let rows: Vec<Column> = diesel::sql_query(query).load(conn).unwrap();
    let mut tables: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for row in rows {
        tables.entry(row.table_name).or_default().insert(row.column_name, row.nullable == 1);
    }
    tables
}

#[test]
fn both_backends_have_the_same_tables_columns_and_nullability() {
    let databases = common::TestDatabase::all();
    let schemas: Vec<_> = databases.iter().map(|db| columns(&mut establish(&db.url).unwrap())).collect();
    assert_eq!(
        schemas[0].keys().collect::<Vec<_>>(),
        [
            "api_tokens",
            "audit_log",
            "blackouts",
            "emergency_stops",
            "experiments",
            "gatling_reports",
            "misarch_runs",
            "misarch_versions",
            "schedules",
            "sweeps",
            "trials",
            "webhook_deliveries",
            "worker_leases"
        ]
    );
    for schema in &schemas[1..] {
        assert_eq!(schema, &schemas[0]);
    }
}

#[test]
fn migrating_twice_changes_nothing() {
    for database in common::TestDatabase::all() {
        assert_eq!(eris::db::migrate(&database.url).unwrap(), Vec::<String>::new());
    }
}

#[test]
fn foreign_keys_cascade_on_sqlite_too() {
    for database in common::TestDatabase::all() {
        let mut conn = establish(&database.url).unwrap();
        let now = "2026-01-01 00:00:00";
        diesel::sql_query(format!(
            "INSERT INTO experiments (id, name, description, metadata, parameters, pre_steps, steps, post_steps, created_by, created_at, updated_at, revision) \
             VALUES ('e', 'n', '', '{{}}', '{{}}', '[]', '[]', '[]', 't', '{now}', '{now}', 1)"
        ))
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO schedules (id, experiment_id, metadata, parameters, ticket, recurrence_pattern, timezone, paused, misfire_policy, concurrency_policy, created_by, created_at, updated_at) \
             VALUES ('s', 'e', '{{}}', '{{}}', '{{}}', '@daily', 'UTC', false, 'run_once', 'queue', 't', '{now}', '{now}')"
        ))
        .execute(&mut conn)
        .unwrap();
        let orphan = diesel::sql_query(format!(
            "INSERT INTO schedules (id, experiment_id, metadata, parameters, ticket, recurrence_pattern, timezone, paused, misfire_policy, concurrency_policy, created_by, created_at, updated_at) \
             VALUES ('s2', 'missing', '{{}}', '{{}}', '{{}}', '@daily', 'UTC', false, 'run_once', 'queue', 't', '{now}', '{now}')"
        ))
        .execute(&mut conn);
        assert!(orphan.is_err(), "{}: a schedule of a missing experiment is refused", database.url.backend());
        diesel::sql_query("DELETE FROM experiments WHERE id = 'e'").execute(&mut conn).unwrap();
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let left: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM schedules").get_result(&mut conn).unwrap();
        assert_eq!(left.n, 0, "{}: deleting an experiment cascades", database.url.backend());
    }
}
