//! Test databases: a fresh schema per test on a real PostgreSQL server,
//! dropped when the test ends.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chat_core::Store;
use chat_core::testkit::Fresh;
use chat_store_postgres::{PgOptions, PgStore};

/// The server the tests use.
pub fn url() -> String {
    std::env::var("CHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether a missing server fails the tests (CI) instead of skipping them.
pub fn required() -> bool {
    std::env::var("CHAT_TEST_REQUIRE_SERVICES").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A unique schema name for this process and test.
pub fn schema_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "chat_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store in its own schema; the schema is dropped with this guard.
pub struct TestStore {
    pub store: Option<Arc<PgStore>>,
    pub schema: String,
}

impl Fresh<dyn Store> for TestStore {
    fn get(&self) -> Option<Arc<dyn Store>> {
        self.store.clone().map(|s| s as Arc<dyn Store>)
    }
}

impl TestStore {
    /// Opens a store in a new schema, or skips when no server answers (and
    /// the tests are not required to run).
    pub async fn new() -> Self {
        let schema = schema_name();
        match PgStore::open_with(PgOptions::new(url()).schema(&schema).max_connections(8)).await {
            Ok(store) => Self {
                store: Some(Arc::new(store)),
                schema,
            },
            Err(error) if !required() => {
                eprintln!(
                    "skipped: no PostgreSQL at {} ({error}); set CHAT_TEST_REQUIRE_SERVICES=1 to fail instead",
                    url()
                );
                Self {
                    store: None,
                    schema,
                }
            }
            Err(error) => panic!(
                "PostgreSQL is required but not usable at {}: {error}",
                url()
            ),
        }
    }

    /// A second store on the same schema: another "server process".
    pub async fn another_process(&self) -> Arc<PgStore> {
        Arc::new(
            PgStore::open_with(
                PgOptions::new(url())
                    .schema(&self.schema)
                    .max_connections(8),
            )
            .await
            .unwrap(),
        )
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if self.store.take().is_none() {
            return;
        }
        let schema = std::mem::take(&mut self.schema);
        // Drop the schema on a thread of its own: this may run while the
        // test's runtime is unwinding.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&pool)
                    .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}
