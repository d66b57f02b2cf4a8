//! Secrets never reach the database file: a session is stored as the
//! SHA-256 of its token, a password as its argon2id hash.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chat_core::testkit::{Harness, PASSWORD};
use chat_core::{SessionToken, Store};
use chat_store_sqlite::SqliteStore;

/// Every byte of the database: the file, its WAL and shared memory.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn only_the_hash_of_a_token_and_of_a_password_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let h = Harness::new(Arc::new(store.clone()) as Arc<dyn Store>);
    h.signup("alice").await;
    let (_, token) = h.login("alice").await;
    store.close().await;

    let bytes = database_bytes(dir.path());
    let hash = SessionToken::parse(&token).unwrap().hash();
    assert!(
        contains(&bytes, hash.as_bytes()),
        "the scan must see the session row"
    );
    assert!(!contains(&bytes, token.as_bytes()), "the token was written");
    assert!(
        contains(&bytes, b"$argon2id$"),
        "the scan must see the user row"
    );
    assert!(
        !contains(&bytes, PASSWORD.as_bytes()),
        "the password was written"
    );
}
