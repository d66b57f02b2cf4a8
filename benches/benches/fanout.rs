//! Fan-out: one publish delivered to N subscribers, each a task awaiting its
//! stream, through [`LocalBus`] and, as the reference in the same run,
//! through a raw `tokio::sync::broadcast` channel of the same shape.
//!
//! Throughput is reported in deliveries per second (elements = N).
//!
//! That the hot path allocates nothing per recipient is checked by the
//! test `fanout_allocations` (part of `cargo test`), not here.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use benches::{Round, broadcast_subscribers, event, runtime, subscribers};
use chat_core::{Bus, LocalBus, Topic, UserId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The raw broadcast reference's queue: the capacity `LocalBus` had when
/// it was built on `tokio::sync::broadcast` (tokio's channel allocates it
/// up front, and a larger one only slows it down).
const REFERENCE_CAPACITY: usize = 128;

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
            .map(|_| broadcast::channel(REFERENCE_CAPACITY).0)
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

fn fanout(c: &mut Criterion) {
    bench_shape(c, "fanout", &[(1, 1), (1, 100), (1, 1_000), (1, 10_000)]);
    bench_shape(c, "fanout_topics", &[(100, 100)]);
}

criterion_group!(benches, fanout);
criterion_main!(benches);
