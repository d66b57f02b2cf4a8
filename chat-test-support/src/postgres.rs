//! A fresh schema or database per test on the real PostgreSQL server,
//! dropped when the test ends, pass or fail.

use std::sync::Arc;

use chat_core::Store;
use chat_core::testkit::Fresh;
use chat_store_postgres::{PgOptions, PgStore};

use crate::services;
use crate::unique;

/// A store in a schema of its own; the schema is dropped with the guard.
/// Without a server (and not required) it holds no store, and the
/// conformance case it is given to is skipped.
pub struct TestSchema {
    store: Option<Arc<PgStore>>,
    url: String,
    /// The schema's name.
    pub schema: String,
}

impl TestSchema {
    /// Opens a store in a new schema of the test server.
    ///
    /// # Panics
    /// When the server answers but the store cannot open (a migration that
    /// fails is a failed test, never a skip).
    pub async fn new() -> Self {
        let schema = unique("chat_test");
        let Some(url) = services::postgres().await else {
            return Self {
                store: None,
                url: String::new(),
                schema,
            };
        };
        let store = open(&url, &schema).await;
        Self {
            store: Some(store),
            url,
            schema,
        }
    }

    /// The store (`None` when skipped).
    pub fn store(&self) -> Option<Arc<PgStore>> {
        self.store.clone()
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A second store on the same schema: another "server process".
    pub async fn another_process(&self) -> Arc<PgStore> {
        open(&self.url, &self.schema).await
    }
}

async fn open(url: &str, schema: &str) -> Arc<PgStore> {
    match PgStore::open_with(PgOptions::new(url).schema(schema).max_connections(8)).await {
        Ok(store) => Arc::new(store),
        Err(error) => panic!("PostgreSQL answers at {url} but the store does not open: {error}"),
    }
}

impl Fresh<dyn Store> for TestSchema {
    fn get(&self) -> Option<Arc<dyn Store>> {
        self.store.clone().map(|s| s as Arc<dyn Store>)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if self.store.take().is_none() {
            return;
        }
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        run_admin(&self.url, sql);
    }
}

/// A fresh database on the test server, dropped with the guard.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    /// Its name.
    pub name: String,
    admin: String,
}

impl TestDatabase {
    /// Creates one, or `None` (skipped) when no server answers.
    pub async fn create() -> Option<Self> {
        let admin = services::postgres().await?;
        let name = unique("chat_it");
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        Some(Self {
            url: database_url(&admin, &name),
            name,
            admin,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        run_admin(&self.admin, sql);
    }
}

/// `url` with its database replaced by `name`.
pub fn database_url(url: &str, name: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).unwrap();
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// Runs one statement on a thread of its own: a guard may be dropped while
/// the test's runtime is unwinding.
fn run_admin(url: &str, sql: String) {
    let url = url.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                pool.close().await;
            }
        });
    })
    .join();
}
