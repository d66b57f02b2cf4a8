//! The write path of both stores: messages persisted per second through
//! the service's group commit (the default: every append waiting at the
//! moment shares a transaction) against one transaction per message (a
//! batch size of one), in the same run, with one sender and with 64
//! concurrent senders.
//!
//! SQLite: a WAL file on disk, `synchronous = NORMAL`. PostgreSQL: the
//! server at `CHAT_BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), in a schema of its own
//! that is dropped afterwards; skipped if no server answers.
//!
//! Every append is answered only after its transaction committed, so the
//! figures are acknowledged messages per second.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chat_core::backend::GroupCommit;
use chat_core::ports::NewUser;
use chat_core::{
    ClientMessageId, ConversationId, MessageText, NewMessage, Store, Timestamp, User, Username,
};
use chat_store_postgres::{PgOptions, PgStore};
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

const POSTGRES_SCHEMA: &str = "bench_store_write";

fn postgres_url() -> String {
    std::env::var("CHAT_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A SQLite file store, `max_batch` appends per transaction.
async fn sqlite(dir: &tempfile::TempDir, name: &str, max_batch: usize) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.path().join(name).display());
    Arc::new(
        SqliteStore::open_with(SqliteOptions::new(url).max_batch(max_batch))
            .await
            .unwrap(),
    )
}

/// A PostgreSQL store in a fresh schema, or `None` without a server.
async fn postgres(max_batch: usize) -> Option<Arc<dyn Store>> {
    drop_postgres_schema().await?;
    let options = PgOptions::new(postgres_url())
        .schema(POSTGRES_SCHEMA)
        .max_batch(max_batch);
    match PgStore::open_with(options).await {
        Ok(store) => Some(Arc::new(store)),
        Err(error) => {
            eprintln!("PostgreSQL skipped: {error}");
            None
        }
    }
}

async fn drop_postgres_schema() -> Option<()> {
    use sqlx::Connection;
    let mut conn = match sqlx::PgConnection::connect(&postgres_url()).await {
        Ok(conn) => conn,
        Err(error) => {
            eprintln!("PostgreSQL skipped: {error}");
            return None;
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA} CASCADE"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    Some(())
}

/// Adds the two users every round writes between, and their conversation.
async fn users(store: &Arc<dyn Store>) -> (User, User, ConversationId) {
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let account = store
            .insert_user(NewUser {
                username: Username::parse(name).unwrap(),
                email: chat_core::Email::parse(format!("{name}@example.test")).unwrap(),
                password_hash: chat_core::PasswordHash::from_phc("$argon2id$unused"),
                created_at: Timestamp::now(),
            })
            .await
            .unwrap();
        users.push(account.user().clone());
    }
    let bob = users.pop().unwrap();
    let alice = users.pop().unwrap();
    let conversation = store
        .direct_conversation(alice.id(), bob.id(), Timestamp::now())
        .await
        .unwrap();
    (alice, bob, conversation)
}

/// Appends `PER_ROUND` messages from `senders` concurrent tasks through
/// `appends`.
async fn round(
    appends: &Arc<GroupCommit>,
    (alice, bob, conversation): &(User, User, ConversationId),
    senders: usize,
) {
    let per_sender = PER_ROUND / senders;
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let (appends, alice, bob) = (Arc::clone(appends), alice.clone(), bob.clone());
            let conversation = *conversation;
            tokio::spawn(async move {
                for _ in 0..per_sender {
                    appends
                        .append(NewMessage {
                            conversation,
                            sender: alice.clone(),
                            recipient: Some(bob.clone()),
                            text: MessageText::parse(
                                "a message of ordinary length, say forty-six chars",
                            )
                            .unwrap(),
                            sent_at: Timestamp::now(),
                            client_id: None::<ClientMessageId>,
                            reply: None,
                            mentioned: Default::default(),
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
    let mut group = c.benchmark_group("store_write");
    group.throughput(Throughput::Elements(PER_ROUND as u64));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(10);
    for backend in ["sqlite", "postgres"] {
        for senders in [1, 64] {
            for (label, max_batch) in [("group_commit", 256), ("one_tx_per_message", 1)] {
                let store = rt.block_on(async {
                    match backend {
                        "sqlite" => {
                            let name = format!("{label}-{senders}.db");
                            Some(sqlite(&dir, &name, max_batch).await)
                        }
                        _ => postgres(max_batch).await,
                    }
                });
                let Some(store) = store else { continue };
                let pair = rt.block_on(users(&store));
                let appends = Arc::new(GroupCommit::new(store));
                let id =
                    BenchmarkId::new(format!("{backend}/{label}"), format!("{senders}_senders"));
                group.bench_function(id, |b| {
                    b.to_async(&rt).iter(|| round(&appends, &pair, senders));
                });
            }
        }
    }
    group.finish();
    rt.block_on(drop_postgres_schema());
}

criterion_group!(benches, store_write);
criterion_main!(benches);
