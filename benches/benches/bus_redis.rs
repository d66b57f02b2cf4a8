//! The Redis bus beside the in-process bus, in the same run.
//!
//! - `bus_publish`: 64 concurrent publishers publish 64 events each to one
//!   topic; a round ends when its one subscriber, on another bus instance
//!   (its own Redis connections, as in another server process), has all
//!   4 096. Elements are publishes.
//! - `bus_cross_process`: one publish delivered to N subscribers of the
//!   other instance (N = 1, 100, 1 000): Redis carries the event once, the
//!   receiving process fans it out. Elements are deliveries.
//!
//! The in-process `LocalBus` runs the same shapes (publisher and
//! subscribers on one bus). Redis: `CHAT_BENCH_REDIS_URL`, default
//! `redis://127.0.0.1:6379`; its cases are skipped if it does not answer.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use benches::{Round, event, runtime, subscribers};
use chat_bus_redis::Redis;
use chat_core::{Bus, LocalBus, Topic, UserId};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

const PUBLISHERS: usize = 64;
const PER_PUBLISHER: usize = 64;
/// Room for a whole round in every subscriber's queue: a lag would drop
/// deliveries and the round would never end.
const QUEUE: usize = 8 * 1024;

fn redis_url() -> String {
    std::env::var("CHAT_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Two instances of the Redis bus, as two server processes would have,
/// sharing a prefix of their own; `None` without Redis.
fn redis_pair(rt: &Runtime) -> Option<(Arc<dyn Bus>, Arc<dyn Bus>)> {
    let prefix = format!("bench-{}", std::process::id());
    let connect = || {
        let builder = Redis::builder(redis_url())
            .prefix(prefix.clone())
            .bus_queue(QUEUE);
        rt.block_on(async move { builder.connect().await?.bus().await })
    };
    match (connect(), connect()) {
        (Ok(a), Ok(b)) => Some((Arc::new(a), Arc::new(b))),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("Redis cases skipped: {error}");
            None
        }
    }
}

/// A bus under comparison: its name, its publishing side and its
/// subscribing side.
type Sides = (&'static str, Arc<dyn Bus>, Arc<dyn Bus>);

/// The buses to compare.
fn buses(rt: &Runtime) -> Vec<Sides> {
    let local: Arc<dyn Bus> = Arc::new(LocalBus::with_capacity(QUEUE));
    let mut buses = vec![("local_bus", Arc::clone(&local), local)];
    if let Some((publisher, subscriber)) = redis_pair(rt) {
        buses.push(("redis", publisher, subscriber));
    }
    buses
}

fn stop(tasks: Vec<JoinHandle<()>>) {
    tasks.iter().for_each(JoinHandle::abort);
}

fn bus_publish(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("bus_publish");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements((PUBLISHERS * PER_PUBLISHER) as u64));
    let topics = [Topic::user(UserId::new(1))];
    for (label, publisher, subscriber) in buses(&rt) {
        let round = Round::new();
        let tasks = subscribers(&rt, &*subscriber, &topics, 1, &round);
        group.bench_function(
            BenchmarkId::new(label, format!("{PUBLISHERS}x{PER_PUBLISHER}")),
            |b| {
                b.to_async(&rt).iter(|| {
                    round.run(PUBLISHERS * PER_PUBLISHER, async {
                        let publishing = (0..PUBLISHERS).map(|_| async {
                            for _ in 0..PER_PUBLISHER {
                                publisher.publish(&topics, event()).await.unwrap();
                            }
                        });
                        futures::future::join_all(publishing).await;
                    })
                });
            },
        );
        stop(tasks);
    }
    group.finish();
}

fn bus_cross_process(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("bus_cross_process");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let buses = buses(&rt);
    for n in [1, 100, 1_000] {
        group.throughput(Throughput::Elements(n as u64));
        let topics = [Topic::user(UserId::new(2 + n as i64))];
        for (label, publisher, subscriber) in &buses {
            let round = Round::new();
            let tasks = subscribers(&rt, &**subscriber, &topics, n, &round);
            group.bench_function(BenchmarkId::new(*label, n), |b| {
                b.to_async(&rt).iter(|| {
                    round.run(n, async {
                        publisher.publish(&topics, event()).await.unwrap();
                    })
                });
            });
            stop(tasks);
        }
    }
    group.finish();
}

criterion_group!(benches, bus_publish, bus_cross_process);
criterion_main!(benches);
