//! The fan-out hot path allocates nothing per recipient: a counting
//! allocator measures the heap allocations of one publish (on the
//! publishing thread) and of a whole round (every thread, every delivery)
//! through `LocalBus`, beside raw `tokio::sync::broadcast` channels of the
//! same shape, at N = 1, 1 000 and 10 000 subscribers.
//!
//! Without the test harness (`harness = false`): nothing but the check runs
//! in the process while it counts.

#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)]

use std::alloc::System;
use std::sync::Arc;

use benches::{Round, broadcast_subscribers, event, subscribers};
use chat_core::{Bus, LocalBus, Topic, UserId};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The raw broadcast reference's queue: the capacity `LocalBus` had when
/// it was built on `tokio::sync::broadcast` (tokio's channel allocates it
/// up front, and a larger one only slows it down).
const REFERENCE_CAPACITY: usize = 128;

/// The system allocator, counting allocations.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap allocations (including reallocations) since `region` began.
fn allocated(region: &Region<'_, System>) -> usize {
    let change = region.change();
    change.allocations + change.reallocations
}

/// How a round publishes: through the bus, or straight into raw broadcast
/// channels (the reference).
#[derive(Clone, Copy)]
enum Path {
    LocalBus,
    Broadcast,
}

/// Allocations of one publish and of one whole round, at `n` subscribers
/// of one topic, after two warm-up rounds (a topic's queue and its list of
/// waiting subscribers reach their steady size in two: the list is kept as
/// two buffers that take turns). One thread runs everything, so
/// nothing but the publish runs while it is measured.
fn allocations(path: Path, n: usize) -> (usize, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let topics = [Topic::user(UserId::new(1))];
    let bus = LocalBus::with_capacity(LocalBus::DEFAULT_CAPACITY);
    let senders = [broadcast::channel(REFERENCE_CAPACITY).0];
    let round = Round::new();
    let tasks = match path {
        Path::LocalBus => subscribers(&rt, &bus, &topics, n, &round),
        Path::Broadcast => broadcast_subscribers(&rt, &senders, n, &round),
    };
    let mut measured = (0, 0);
    for _ in 0..3 {
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

/// Beyond the one boxed future of an async trait call, the bus may
/// allocate only what the raw broadcast reference allocates (the runtime's
/// run queue, growing to hold the woken tasks), at every N.
fn main() {
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
    eprintln!("fanout_allocations: ok");
}
