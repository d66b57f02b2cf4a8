//! Per-topic fan-out inside one process: the machinery under [`LocalBus`]
//! and under the local side of bus backends that span processes.
//!
//! [`LocalBus`]: crate::LocalBus

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};

use futures::Stream;

use crate::ports::{Delivery, Topic};

mod channel;

use channel::{Channel, Receiver};

/// Called, under the fan-out's lock, when the last local subscriber of a
/// topic leaves (a backend unsubscribes upstream there).
pub type OnLastLeave = Box<dyn Fn(&Topic) + Send + Sync>;

/// One broadcast queue per topic with live subscribers.
///
/// Delivering hands every subscriber a clone of the same [`Delivery`] (an
/// `Arc` for events: no copy, no encoding, no allocation per subscriber).
/// A topic's queue holds a delivery until every subscriber has read it: it
/// grows under a burst, up to `capacity` deliveries, and gives the memory
/// back once they are read, so an idle topic costs a few dozen bytes. A
/// subscriber more than `capacity` behind is told it lagged; the last
/// subscription of a topic to be dropped removes the topic; dropping the
/// fan-out ends every subscription once it has read what was queued.
pub struct Fanout {
    topics: RwLock<HashMap<Topic, Arc<Channel>>>,
    capacity: usize,
    on_last_leave: Option<OnLastLeave>,
}

impl Fanout {
    /// A fan-out whose subscribers may fall `capacity` deliveries behind.
    pub fn new(capacity: usize) -> Arc<Self> {
        Self::with_hook(capacity, None)
    }

    /// Like [`Fanout::new`], calling `on_last_leave` when a topic's last
    /// subscriber leaves.
    pub fn with_hook(capacity: usize, on_last_leave: Option<OnLastLeave>) -> Arc<Self> {
        Arc::new(Self {
            topics: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
            on_last_leave,
        })
    }

    /// Hands `delivery` to the subscribers of `topic`, building it only if
    /// there are any; whether there were.
    pub fn deliver(&self, topic: &Topic, delivery: impl FnOnce() -> Option<Delivery>) -> bool {
        // The topic's queue is taken out of the map first: waking its
        // subscribers does not hold up subscribing and leaving elsewhere.
        let channel = match self.topics.read() {
            Ok(topics) => topics.get(topic).cloned(),
            Err(_) => None,
        };
        let Some(channel) = channel else {
            return false;
        };
        if let Some(delivery) = delivery() {
            channel.send(delivery);
        }
        true
    }

    /// Tells every subscriber of every topic that deliveries may be missing.
    pub fn lag_all(&self) {
        let channels: Vec<Arc<Channel>> = match self.topics.read() {
            Ok(topics) => topics.values().cloned().collect(),
            Err(_) => return,
        };
        for channel in channels {
            channel.send(Delivery::Lagged);
        }
    }

    /// The topics with subscribers.
    pub fn topics(&self) -> Vec<Topic> {
        self.topics
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `topic` has subscribers.
    pub fn is_live(&self, topic: &Topic) -> bool {
        self.topics.read().is_ok_and(|t| t.contains_key(topic))
    }

    /// How many topics have subscribers.
    pub fn topic_count(&self) -> usize {
        self.topics.read().map(|t| t.len()).unwrap_or(0)
    }

    /// Adds a subscriber of `topic`; `None` if the lock was poisoned.
    pub fn subscribe(self: &Arc<Self>, topic: &Topic) -> Option<FanoutSubscription> {
        let existing = {
            let topics = self.topics.read().ok()?;
            topics.get(topic).map(Channel::subscribe)
        };
        let receiver = match existing {
            Some(receiver) => receiver,
            None => {
                let mut topics = self.topics.write().ok()?;
                topics
                    .entry(topic.clone())
                    .or_insert_with(|| Channel::new(self.capacity))
                    .subscribe()
            }
        };
        Some(FanoutSubscription {
            receiver: Some(receiver),
            topic: topic.clone(),
            fanout: Arc::downgrade(self),
        })
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        let topics = self
            .topics
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for channel in topics.values() {
            channel.close();
        }
    }
}

/// One subscriber; dropping it frees its slot and, if it was the last, the
/// topic.
pub struct FanoutSubscription {
    receiver: Option<Receiver>,
    topic: Topic,
    fanout: Weak<Fanout>,
}

impl Stream for FanoutSubscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        match self.receiver.as_mut() {
            Some(receiver) => receiver.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Drop for FanoutSubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let Some(fanout) = self.fanout.upgrade() else {
            return;
        };
        let Ok(mut topics) = fanout.topics.write() else {
            return;
        };
        if topics
            .get(&self.topic)
            .is_some_and(|channel| channel.subscriber_count() == 0)
        {
            topics.remove(&self.topic);
            // Under the lock, so it is ordered before any later subscribe.
            if let Some(hook) = &fanout.on_last_leave {
                hook(&self.topic);
            }
        }
    }
}
