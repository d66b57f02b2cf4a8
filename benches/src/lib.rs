//! What the benches share: the runtime they run on, the event they publish,
//! and rounds that end when the last subscriber has its delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chat_core::{Bus, Delivery, Event, EventKind, SessionId, SharedEvent, Topic};
use futures::StreamExt;
use tokio::runtime::Runtime;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

/// Counts deliveries of one round and wakes the publisher after the last.
pub struct Round {
    remaining: AtomicUsize,
    done: Notify,
}

impl Round {
    /// A round with nothing to wait for yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            remaining: AtomicUsize::new(0),
            done: Notify::new(),
        })
    }

    /// One subscriber got its delivery.
    pub fn delivered(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// Runs `publish` and waits for `deliveries` deliveries.
    pub async fn run(&self, deliveries: usize, publish: impl std::future::Future<Output = ()>) {
        self.remaining.store(deliveries, Ordering::Release);
        publish.await;
        self.done.notified().await;
    }
}

/// The benches' runtime: two workers, like the machine's two cores.
///
/// # Panics
/// If the runtime cannot be built.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// The event every bench publishes: small, and encodable by every bus.
pub fn event() -> SharedEvent {
    Event::new(EventKind::SessionEnded {
        session: SessionId::new(1),
    })
}

/// `per_topic` subscriber tasks on each of `topics` of `bus`, each counting
/// its deliveries into `round`.
///
/// # Panics
/// If the bus refuses a subscription.
pub fn subscribers(
    rt: &Runtime,
    bus: &dyn Bus,
    topics: &[Topic],
    per_topic: usize,
    round: &Arc<Round>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for topic in topics {
        for _ in 0..per_topic {
            let mut stream = rt
                .block_on(bus.subscribe(topic))
                .unwrap_or_else(|e| panic!("subscribe: {e}"));
            let round = Arc::clone(round);
            tasks.push(rt.spawn(async move {
                while let Some(delivery) = stream.next().await {
                    if let Delivery::Event(_) = delivery {
                        round.delivered();
                    }
                }
            }));
        }
    }
    tasks
}

/// The same shape as [`subscribers`] on raw broadcast channels: the
/// reference the bus is measured against.
pub fn broadcast_subscribers(
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
