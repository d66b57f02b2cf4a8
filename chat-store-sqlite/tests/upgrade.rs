//! Every released database upgrades in place: each fixture of
//! `chat-test-support/fixtures/upgrade/` (written by that release's code)
//! is migrated by this one, keeps every row, and answers as it did.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use chat_core::Store;
use chat_store_sqlite::SqliteStore;
use chat_test_support::upgrade::{self, Recorded};
use serde_json::Value;

async fn rows(url: &str, recorded: &Value) -> Value {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut tables = serde_json::Map::new();
    for (table, order) in upgrade::TABLES {
        let columns: Vec<String> = recorded[table][0]
            .as_object()
            .map(|row| row.keys().cloned().collect())
            .unwrap_or_default();
        let rows = upgrade::sqlite_table(&pool, table, order, &columns).await;
        tables.insert(table.to_owned(), rows);
    }
    pool.close().await;
    Value::Object(tables)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_released_database_upgrades_in_place_and_answers_as_before() {
    let releases = upgrade::releases();
    assert!(!releases.is_empty(), "no upgrade fixtures");
    for release in releases {
        let fixture = upgrade::fixture_dir(&release, "sqlite");
        let recorded = Recorded::read(&fixture);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("chat.db");
        std::fs::copy(fixture.join("chat.db"), &file).unwrap();
        let url = format!("sqlite://{}", file.display());
        assert_eq!(
            rows(&url, &recorded.rows).await,
            recorded.rows,
            "{release}: the fixture holds what its release recorded"
        );

        let store = SqliteStore::open(&url)
            .await
            .unwrap_or_else(|e| panic!("{release} does not migrate: {e}"));
        upgrade::assert_rows_kept(&recorded.rows, &rows(&url, &recorded.rows).await);
        recorded
            .check_upgraded(Arc::new(store.clone()) as Arc<dyn Store>)
            .await;
        store.close().await;
        // Opening it again migrates nothing and changes nothing.
        let again = SqliteStore::open(&url).await.unwrap();
        again.close().await;
    }
}

#[test]
fn released_migrations_are_never_edited() {
    upgrade::assert_released_migrations_unchanged(env!("CARGO_MANIFEST_DIR"));
}
