//! The whole store conformance suite against a real PostgreSQL server, a
//! fresh schema per test.

mod common;

async fn fresh() -> common::TestStore {
    common::TestStore::new().await
}

chat_core::store_conformance_suite!(fresh);
