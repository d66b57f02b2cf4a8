//! The whole store conformance suite against a real PostgreSQL server, a
//! fresh schema per test.

async fn fresh() -> chat_test_support::postgres::TestSchema {
    chat_test_support::postgres::TestSchema::new().await
}

chat_core::store_conformance_suite!(fresh);
