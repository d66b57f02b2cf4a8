//! Fan-out: one publish delivered to N subscribers, each a task awaiting its
//! stream, through [`LocalBus`] and, as the reference in the same run,
//! through a raw `tokio::sync::broadcast` channel of the same shape.
//!
//! Throughput is reported in deliveries per second (elements = N).
//!
//! Before timing, a counting allocator checks the hot path: the heap
//! allocations made by one publish (on the publishing thread) and by a
//! whole round (every thread, every delivery), at N = 1, 1 000 and 10 000.
//! The bench fails if the publish path allocates more at N = 10 000 than at
//! N = 1, or if a round allocates per recipient.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use benches::{Round, event, runtime, subscribers};
use chat_core::{Bus, LocalBus, SharedEvent, Topic, UserId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The system allocator, counting allocations.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap allocations (including reallocations) since `region` began.
fn allocated(region: &Region<'_, System>) -> usize {
    let change = region.change();
    change.allocations + change.reallocations
}

/// The same shape on raw broadcast channels.
fn broadcast_subscribers(
    rt: &Runtime,
    senders: &[broadcast::Sender<SharedEvent>],
    per_topic: usize,
    round: &Arc<Round>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for sender in senders {
        for _ in 0..per_topic {
            let mut receiver = sender.subscribe();
            let round = Arc::clone(round);
            tasks.push(rt.spawn(async move {
                while let Ok(_event) = receiver.recv().await {
                    round.delivered();
                }
            }));
        }
    }
    tasks
}

fn bench_shape(c: &mut Criterion, group_name: &str, shapes: &[(usize, usize)]) {
    let rt = runtime();
    let mut group = c.benchmark_group(group_name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for &(topic_count, per_topic) in shapes {
        let deliveries = topic_count * per_topic;
        let label = if topic_count == 1 {
            format!("{per_topic}")
        } else {
            format!("{topic_count}x{per_topic}")
        };
        group.throughput(Throughput::Elements(deliveries as u64));
        if deliveries >= 10_000 {
            group.sample_size(20);
        }

        let topics: Vec<Topic> = (0..topic_count)
            .map(|n| Topic::user(UserId::new(n as i64)))
            .collect();
        let bus = LocalBus::with_capacity(LocalBus::DEFAULT_CAPACITY);
        let round = Round::new();
        let tasks = subscribers(&rt, &bus, &topics, per_topic, &round);
        group.bench_function(BenchmarkId::new("local_bus", &label), |b| {
            b.to_async(&rt).iter(|| {
                round.run(deliveries, async {
                    bus.publish(&topics, event()).await.unwrap();
                })
            });
        });
        tasks.iter().for_each(JoinHandle::abort);

        let senders: Vec<_> = (0..topic_count)
            .map(|_| broadcast::channel(LocalBus::DEFAULT_CAPACITY).0)
            .collect();
        let round = Round::new();
        let tasks = broadcast_subscribers(&rt, &senders, per_topic, &round);
        group.bench_function(BenchmarkId::new("broadcast", &label), |b| {
            b.to_async(&rt).iter(|| {
                round.run(deliveries, async {
                    let shared = event();
                    for sender in &senders {
                        let _ = sender.send(Arc::clone(&shared));
                    }
                })
            });
        });
        tasks.iter().for_each(JoinHandle::abort);
    }
    group.finish();
}

/// How the allocation check publishes: through the bus, or straight into
/// raw broadcast channels (the reference).
#[derive(Clone, Copy)]
enum Path {
    LocalBus,
    Broadcast,
}

/// Allocations of one publish and of one whole round, at `n` subscribers
/// of one topic, after a warm-up round. One thread runs everything, so
/// nothing but the publish runs while it is measured.
fn allocations(path: Path, n: usize) -> (usize, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let topics = [Topic::user(UserId::new(1))];
    let bus = LocalBus::with_capacity(LocalBus::DEFAULT_CAPACITY);
    let senders = [broadcast::channel(LocalBus::DEFAULT_CAPACITY).0];
    let round = Round::new();
    let tasks = match path {
        Path::LocalBus => subscribers(&rt, &bus, &topics, n, &round),
        Path::Broadcast => broadcast_subscribers(&rt, &senders, n, &round),
    };
    let mut measured = (0, 0);
    for _ in 0..2 {
        let shared = event();
        measured = rt.block_on(async {
            let whole_round = Region::new(GLOBAL);
            let mut publish_path = 0;
            round
                .run(n, async {
                    let publish = Region::new(GLOBAL);
                    match path {
                        Path::LocalBus => bus.publish(&topics, Arc::clone(&shared)).await.unwrap(),
                        Path::Broadcast => {
                            let _ = senders[0].send(Arc::clone(&shared));
                        }
                    }
                    publish_path = allocated(&publish);
                })
                .await;
            (publish_path, allocated(&whole_round))
        });
    }
    tasks.iter().for_each(JoinHandle::abort);
    measured
}

/// Fails the bench if the bus allocates per recipient: beyond the one boxed
/// future of an async trait call, it may allocate only what the raw
/// broadcast reference allocates (the runtime's run queue, growing to hold
/// the woken tasks).
fn allocation_check() {
    for n in [1, 1_000, 10_000] {
        let (bus_publish, bus_round) = allocations(Path::LocalBus, n);
        let (raw_publish, raw_round) = allocations(Path::Broadcast, n);
        eprintln!(
            "allocations at N = {n}: publish {bus_publish} (reference {raw_publish}), \
             whole round {bus_round} (reference {raw_round})"
        );
        assert!(
            bus_publish <= raw_publish + 1 && bus_round <= raw_round + 1,
            "the local bus allocates per recipient at N = {n}"
        );
    }
}

fn fanout(c: &mut Criterion) {
    allocation_check();
    bench_shape(c, "fanout", &[(1, 1), (1, 100), (1, 1_000), (1, 10_000)]);
    bench_shape(c, "fanout_topics", &[(100, 100)]);
}

criterion_group!(benches, fanout);
criterion_main!(benches);
