//! Every released database upgrades in place: each fixture of
//! `chat-test-support/fixtures/upgrade/` (a `pg_dump` of what that
//! release's code wrote) is restored, migrated by this release, keeps every
//! row, and answers as it did.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use chat_core::Store;
use chat_store_postgres::PgStore;
use chat_test_support::postgres::TestDatabase;
use chat_test_support::upgrade::{self, Recorded};
use sqlx::Connection;

/// Restores a plain `pg_dump` (its psql meta-commands left out).
async fn restore(url: &str, dump: &str) {
    let sql: String = dump
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
}

async fn rows(url: &str) -> serde_json::Value {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows = upgrade::pg_rows(&pool).await;
    pool.close().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_released_database_upgrades_in_place_and_answers_as_before() {
    let releases = upgrade::releases();
    assert!(!releases.is_empty(), "no upgrade fixtures");
    for release in releases {
        let Some(database) = TestDatabase::create().await else {
            return;
        };
        let fixture = upgrade::fixture_dir(&release, "postgres");
        let recorded = Recorded::read(&fixture);
        let dump = std::fs::read_to_string(fixture.join("dump.sql")).unwrap();
        restore(&database.url, &dump).await;
        assert_eq!(
            rows(&database.url).await,
            recorded.rows,
            "{release}: the fixture holds what its release recorded"
        );

        let store = PgStore::open(&database.url)
            .await
            .unwrap_or_else(|e| panic!("{release} does not migrate: {e}"));
        upgrade::assert_rows_kept(&recorded.rows, &rows(&database.url).await);
        recorded
            .check_upgraded(Arc::new(store.clone()) as Arc<dyn Store>)
            .await;
        store.close().await;
    }
}

#[test]
fn released_migrations_are_never_edited() {
    upgrade::assert_released_migrations_unchanged(env!("CARGO_MANIFEST_DIR"));
}
