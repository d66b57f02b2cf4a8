//! A group message delivered in-process to every member: `Chat::send_to_group`
//! (the commit on the memory store, one publish on the group's topic) until
//! the live stream (`Chat::live`) of each of N members has yielded it, each
//! stream in a task of its own, as each WebSocket's is. Beside it, in the
//! same run, the reference: one `Arc` sent on a raw `tokio::sync::broadcast`
//! channel to N receiving tasks (no store, no stream rules).
//!
//! Throughput is reported in deliveries per second (elements = N).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use benches::{Round, broadcast_subscribers, event, runtime};
use chat_core::ports::{GroupStore, NewGroup};
use chat_core::testkit::{Harness, generous_limits};
use chat_core::{ChatConfig, GroupSettings, GroupTitle, Item, MemoryStore, Resume, Store};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

fn group_fanout(c: &mut Criterion) {
    let rt = runtime();
    let mut bench = c.benchmark_group("group_fanout");
    bench.warm_up_time(Duration::from_secs(1));
    bench.measurement_time(Duration::from_secs(5));
    bench.sample_size(20);
    for members in [1_000usize, 10_000] {
        bench.throughput(Throughput::Elements(members as u64));

        let store = Arc::new(MemoryStore::new());
        let config = ChatConfig::default().with_max_group_members(members);
        let h = Harness::with(store.clone() as Arc<dyn Store>, generous_limits(), config);
        let sessions: Vec<_> = rt.block_on(async {
            let mut sessions = Vec::with_capacity(members);
            for n in 0..members {
                sessions.push(h.user(&format!("member{n}")).await);
            }
            sessions
        });
        // Straight through the store port: the service's consent rule would
        // have every member write to the owner first.
        let (group, _) = rt
            .block_on(store.create_group(NewGroup {
                title: GroupTitle::parse("Everyone").unwrap(),
                creator: sessions[0].user().clone(),
                settings: GroupSettings::default(),
                members: sessions[1..].iter().map(|s| s.user().clone()).collect(),
                invited: Vec::new(),
                at: h.chat.clock().now(),
            }))
            .unwrap();
        let round = Round::new();
        let tasks: Vec<JoinHandle<()>> = sessions
            .iter()
            .map(|session| {
                let mut live = rt
                    .block_on(h.chat.live(session, Resume::Now, 1_000))
                    .unwrap();
                let round = Arc::clone(&round);
                rt.spawn(async move {
                    while let Some(Ok(item)) = live.next().await {
                        if let Item::Change { .. } = item {
                            round.delivered();
                        }
                    }
                })
            })
            .collect();
        let owner = sessions[0].clone();
        bench.bench_function(BenchmarkId::new("send_to_group", members), |b| {
            b.to_async(&rt).iter(|| {
                round.run(members, async {
                    h.chat
                        .send_to_group(&owner, group, "to everyone".into(), None)
                        .await
                        .unwrap();
                })
            });
        });
        tasks.iter().for_each(JoinHandle::abort);

        let senders = [broadcast::channel(128).0];
        let round = Round::new();
        let tasks = broadcast_subscribers(&rt, &senders, members, &round);
        bench.bench_function(BenchmarkId::new("broadcast", members), |b| {
            b.to_async(&rt).iter(|| {
                round.run(members, async {
                    let _ = senders[0].send(event());
                })
            });
        });
        tasks.iter().for_each(JoinHandle::abort);
    }
    bench.finish();
}

criterion_group!(benches, group_fanout);
criterion_main!(benches);
