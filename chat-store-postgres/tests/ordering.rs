//! Positions grow in commit order across processes: a reader that follows
//! the change log while two "server processes" write messages and read
//! marks concurrently sees every message exactly once, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chat_core::testkit::Harness;
use chat_core::{Change, MessageId, PageLimit, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_the_change_log_never_skips_a_late_commit() {
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
    // Both conversations mutual, so that their read marks reach alice.
    a.send(&alice, "bob", "hi bob").await;
    a.send(&alice, "carol", "hi carol").await;
    let start = a.chat.head().await.unwrap().position();

    let writing = Arc::new(AtomicBool::new(true));
    let reader = {
        let a = Arc::clone(&a);
        let alice = alice.clone();
        let writing = Arc::clone(&writing);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut positions = Vec::new();
            let mut cursor = start;
            loop {
                let done = !writing.load(Ordering::SeqCst);
                let page = a
                    .chat
                    .changes(&alice, cursor, PageLimit::LARGEST)
                    .await
                    .unwrap();
                for change in &page.items {
                    if let Change::Message(message) = change {
                        seen.push(message.id().get());
                    }
                    positions.push(change.position().get());
                    cursor = change.position();
                }
                assert!(
                    positions.windows(2).all(|w| w[0] < w[1]),
                    "positions out of order: {positions:?}"
                );
                if done && !page.has_more {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = Vec::new();
    for (h, reader) in [
        (Arc::clone(&b), bob.clone()),
        (Arc::clone(&a), carol.clone()),
    ] {
        let writing = Arc::clone(&writing);
        tokio::spawn(async move {
            while writing.load(Ordering::SeqCst) {
                h.chat
                    .mark_read(&reader, "alice", MessageId::new(i64::MAX))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        });
    }
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
