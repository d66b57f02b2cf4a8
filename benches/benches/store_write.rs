//! The SQLite write path: messages persisted per second, with group commit
//! (the default: every append waiting at the moment shares a transaction)
//! against one transaction per message (a batch size of one), in the same
//! run, with one sender and with 64 concurrent senders. WAL file on disk,
//! `synchronous = NORMAL`.
//!
//! Every append is answered only after its transaction committed, so the
//! figures are acknowledged, durable-to-the-OS messages per second.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chat_core::ports::MessageStore;
use chat_core::{ClientMessageId, MessageText, NewMessage, Timestamp, User, UserId, Username};
use chat_store_sqlite::{SqliteOptions, SqliteStore};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const PER_ROUND: usize = 512;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A file store with two users, `max_batch` appends per transaction.
fn store(
    rt: &Runtime,
    dir: &tempfile::TempDir,
    name: &str,
    max_batch: usize,
) -> (Arc<SqliteStore>, User, User) {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    let store = rt
        .block_on(SqliteStore::open_with(
            SqliteOptions::new(url).group_commit(4096, max_batch),
        ))
        .unwrap();
    let user = |id: i64, name: &str| User::new(UserId::new(id), Username::parse(name).unwrap());
    let (alice, bob) = (user(1, "alice"), user(2, "bob"));
    rt.block_on(async {
        use chat_core::ports::{NewUser, UserStore};
        for (name, email) in [("alice", "a@example.test"), ("bob", "b@example.test")] {
            store
                .insert_user(NewUser {
                    username: Username::parse(name).unwrap(),
                    email: chat_core::Email::parse(email).unwrap(),
                    password_hash: chat_core::PasswordHash::from_phc("$argon2id$unused"),
                    created_at: Timestamp::now(),
                })
                .await
                .unwrap();
        }
    });
    (Arc::new(store), alice, bob)
}

/// Appends `PER_ROUND` messages from `senders` concurrent tasks.
async fn round(store: &Arc<SqliteStore>, alice: &User, bob: &User, senders: usize) {
    let per_sender = PER_ROUND / senders;
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (store, alice, bob) = (Arc::clone(store), alice.clone(), bob.clone());
            tokio::spawn(async move {
                for _ in 0..per_sender {
                    store
                        .append_message(NewMessage {
                            sender: alice.clone(),
                            recipient: bob.clone(),
                            text: MessageText::parse(
                                "a message of ordinary length, say forty-six chars",
                            )
                            .unwrap(),
                            sent_at: Timestamp::now(),
                            client_id: None::<ClientMessageId>,
                        })
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn store_write(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("sqlite_write");
    group.throughput(Throughput::Elements(PER_ROUND as u64));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(10);
    for senders in [1, 64] {
        for (label, max_batch) in [("group_commit", 256), ("one_tx_per_message", 1)] {
            let (store, alice, bob) = store(&rt, &dir, &format!("{label}-{senders}.db"), max_batch);
            group.bench_function(BenchmarkId::new(label, format!("{senders}_senders")), |b| {
                b.to_async(&rt)
                    .iter(|| round(&store, &alice, &bob, senders));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, store_write);
criterion_main!(benches);
