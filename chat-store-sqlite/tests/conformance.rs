//! The whole store conformance suite, on an in-memory database and on a
//! file database in WAL mode (separate reader pool and writer).

#![allow(clippy::unwrap_used)] // Test set-up: a failure to open is a failed test.

use std::sync::Arc;

use chat_core::Store;
use chat_store_sqlite::SqliteStore;

mod memory {
    use super::*;

    async fn fresh() -> Arc<dyn Store> {
        Arc::new(SqliteStore::memory().await.unwrap())
    }

    chat_core::store_conformance_suite!(fresh);
}

mod file {
    use super::*;

    async fn fresh() -> Arc<dyn Store> {
        // The directory lives as long as the test process; each test gets its own.
        let dir = tempfile::tempdir().unwrap().keep();
        let url = format!("sqlite://{}", dir.join("chat.db").display());
        Arc::new(SqliteStore::open(&url).await.unwrap())
    }

    chat_core::store_conformance_suite!(fresh);
}

/// Every search through the store-wide trigram index (which by default
/// serves only conversations too large to read in full).
mod indexed {
    use super::*;

    async fn fresh() -> Arc<dyn Store> {
        let options = chat_store_sqlite::SqliteOptions::new("sqlite::memory:").search_scan_limit(0);
        Arc::new(SqliteStore::open_with(options).await.unwrap())
    }

    chat_core::store_conformance_suite!(fresh);
}
