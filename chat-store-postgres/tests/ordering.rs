//! Ids grow in commit order across processes: a reader that follows
//! `since(cursor)` while two "server processes" write concurrently sees
//! every message exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chat_core::testkit::Harness;
use chat_core::{MessageId, PageLimit, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_since_never_skips_a_late_commit() {
    let test = chat_test_support::postgres::TestSchema::new().await;
    let Some(first) = test.store() else {
        return;
    };
    let second = test.another_process().await;
    let a = Arc::new(Harness::new(first as Arc<dyn Store>));
    let b = Arc::new(Harness::new(second as Arc<dyn Store>));
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = a.user("carol").await;

    let writing = Arc::new(AtomicBool::new(true));
    let reader = {
        let a = Arc::clone(&a);
        let alice = alice.clone();
        let writing = Arc::clone(&writing);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = MessageId::ZERO;
            loop {
                let done = !writing.load(Ordering::SeqCst);
                let page = a
                    .chat
                    .since(&alice, cursor, PageLimit::LARGEST)
                    .await
                    .unwrap();
                for message in &page.items {
                    seen.push(message.id().get());
                    cursor = message.id();
                }
                if done && !page.has_more {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for task in 0..8 {
        let (h, from, to) = match task % 2 {
            0 => (Arc::clone(&b), bob.clone(), "alice"),
            _ => (Arc::clone(&a), carol.clone(), "alice"),
        };
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..40 {
                let sent = h
                    .chat
                    .send(&from, to, format!("{task}-{n}"), None)
                    .await
                    .unwrap();
                ids.push(sent.message.id().get());
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    writing.store(false, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a message was seen twice");
    assert_eq!(
        unique, written,
        "the reader skipped a message that committed late"
    );
}
