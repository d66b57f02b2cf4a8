//! Secrets never reach the database: a session is stored as the SHA-256 of
//! its token, a password as its argon2id hash.

#![allow(clippy::unwrap_used)]

use chat_core::testkit::{Harness, PASSWORD};
use chat_core::{SessionToken, Store};
use chat_test_support::postgres::TestSchema;
use sqlx::AssertSqlSafe;

#[tokio::test]
async fn only_the_hash_of_a_token_and_of_a_password_is_stored() {
    let test = TestSchema::new().await;
    let Some(store) = test.store() else {
        return;
    };
    let h = Harness::new(store as std::sync::Arc<dyn Store>);
    h.signup("alice").await;
    let (_, token) = h.login("alice").await;

    let pool = sqlx::PgPool::connect(test.url()).await.unwrap();
    let rows = |table: &str| {
        let sql = format!("SELECT t::text FROM {}.{table} t", test.schema);
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap()
                .join("\n")
        }
    };
    let sessions = rows("sessions").await;
    let hash = SessionToken::parse(&token).unwrap().hash();
    let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        sessions.contains(&hex),
        "the session row holds the hash: {sessions}"
    );
    assert!(!sessions.contains(&token), "the token was stored");
    let users = rows("users").await;
    assert!(users.contains("$argon2id$"), "{users}");
    assert!(!users.contains(PASSWORD), "the password was stored");
    pool.close().await;
}
