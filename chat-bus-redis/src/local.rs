//! The local side of the bus: one broadcast channel per topic with live
//! subscribers in this process, shared by the hub (which feeds it) and the
//! subscriptions (which drain it).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};

use chat_core::{Delivery, SharedEvent, Topic};
use futures::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::hub::Command;

/// What a topic's local channel carries.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    /// An event from Redis, decoded once for every local subscriber.
    Event(SharedEvent),
    /// The connection to Redis was lost: events may be missing.
    Lagged,
}

/// The topics with live local subscribers.
pub(crate) struct Local {
    topics: RwLock<HashMap<Topic, broadcast::Sender<Item>>>,
    capacity: usize,
}

impl Local {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            topics: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Hands `item` to the local subscribers of `topic`; whether it had any.
    pub(crate) fn deliver(&self, topic: &Topic, item: impl FnOnce() -> Option<Item>) -> bool {
        let Ok(topics) = self.topics.read() else {
            return false;
        };
        let Some(sender) = topics.get(topic) else {
            return false;
        };
        if let Some(item) = item() {
            let _ = sender.send(item);
        }
        true
    }

    /// Tells every local subscriber that events may be missing.
    pub(crate) fn lag_all(&self) {
        if let Ok(topics) = self.topics.read() {
            for sender in topics.values() {
                let _ = sender.send(Item::Lagged);
            }
        }
    }

    /// The topics with local subscribers.
    pub(crate) fn topics(&self) -> Vec<Topic> {
        self.topics
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `topic` has local subscribers.
    pub(crate) fn is_live(&self, topic: &Topic) -> bool {
        self.topics.read().is_ok_and(|t| t.contains_key(topic))
    }

    /// Registers a local subscriber of `topic`.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        topic: &Topic,
        hub: mpsc::UnboundedSender<Command>,
    ) -> Option<LocalSubscription> {
        let receiver = {
            let mut topics = self.topics.write().ok()?;
            topics
                .entry(topic.clone())
                .or_insert_with(|| broadcast::channel(self.capacity).0)
                .subscribe()
        };
        Some(LocalSubscription {
            stream: Some(BroadcastStream::new(receiver)),
            topic: topic.clone(),
            local: Arc::downgrade(self),
            hub,
        })
    }
}

/// One local subscriber; dropping it frees its slot and, for the last one
/// of a topic, asks the hub to unsubscribe from Redis.
pub(crate) struct LocalSubscription {
    stream: Option<BroadcastStream<Item>>,
    topic: Topic,
    local: Weak<Local>,
    hub: mpsc::UnboundedSender<Command>,
}

impl Stream for LocalSubscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        Pin::new(stream).poll_next(cx).map(|item| {
            item.map(|received| match received {
                Ok(Item::Event(event)) => Delivery::Event(event),
                Ok(Item::Lagged) | Err(BroadcastStreamRecvError::Lagged(_)) => Delivery::Lagged,
            })
        })
    }
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        drop(self.stream.take());
        let Some(local) = self.local.upgrade() else {
            return;
        };
        let Ok(mut topics) = local.topics.write() else {
            return;
        };
        if topics
            .get(&self.topic)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            topics.remove(&self.topic);
            // Sent under the lock, so it is ordered before any later
            // subscribe of the same topic.
            let _ = self.hub.send(Command::Unsubscribe(self.topic.clone()));
        }
    }
}
