//! The in-process bus: the default when one process serves every connection.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::{ChatError, Result};
use crate::event::SharedEvent;
use crate::ports::{Bus, Delivery, EventStream, Topic};

/// A [`Bus`] inside one process: one `tokio::sync::broadcast` channel per
/// topic with live subscribers.
///
/// Publishing hands every subscriber the same `Arc` (one reference count
/// increment per recipient, no copy, no encoding, no allocation); a
/// subscriber more than `capacity` events behind is told it
/// [lagged](Delivery::Lagged); the last subscription of a topic to be
/// dropped removes the topic.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<Inner>,
}

struct Inner {
    /// Live topics. Publishing takes the read lock only.
    topics: RwLock<HashMap<Topic, broadcast::Sender<SharedEvent>>>,
    /// Events a subscriber may fall behind before it lags.
    capacity: usize,
}

impl LocalBus {
    /// The default per-subscriber queue length.
    pub const DEFAULT_CAPACITY: usize = 128;

    /// A bus whose subscribers may fall `capacity` events behind.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: RwLock::new(HashMap::new()),
                capacity: capacity.max(1),
            }),
        }
    }

    /// How many topics have live subscribers (for tests and metrics).
    pub fn topic_count(&self) -> usize {
        self.inner.topics.read().map(|t| t.len()).unwrap_or(0)
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

fn poisoned() -> ChatError {
    ChatError::internal("local bus lock poisoned")
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, topics: &[Topic], event: SharedEvent) -> Result<()> {
        let live = self.inner.topics.read().map_err(|_| poisoned())?;
        for topic in topics {
            if let Some(sender) = live.get(topic) {
                // An error only means every receiver is gone; the last one's
                // drop is removing the topic.
                let _ = sender.send(Arc::clone(&event));
            }
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &Topic) -> Result<EventStream> {
        let existing = {
            let live = self.inner.topics.read().map_err(|_| poisoned())?;
            live.get(topic).map(broadcast::Sender::subscribe)
        };
        let receiver = match existing {
            Some(receiver) => receiver,
            None => {
                let mut live = self.inner.topics.write().map_err(|_| poisoned())?;
                live.entry(topic.clone())
                    .or_insert_with(|| broadcast::channel(self.inner.capacity).0)
                    .subscribe()
            }
        };
        Ok(Box::pin(LocalSubscription {
            stream: Some(BroadcastStream::new(receiver)),
            topic: topic.clone(),
            bus: Arc::downgrade(&self.inner),
        }))
    }
}

/// One subscriber's end; dropping it frees its slot and, if it was the last,
/// the topic.
struct LocalSubscription {
    stream: Option<BroadcastStream<SharedEvent>>,
    topic: Topic,
    bus: Weak<Inner>,
}

impl Stream for LocalSubscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        Pin::new(stream).poll_next(cx).map(|item| {
            item.map(|received| match received {
                Ok(event) => Delivery::Event(event),
                Err(BroadcastStreamRecvError::Lagged(_)) => Delivery::Lagged,
            })
        })
    }
}

impl Drop for LocalSubscription {
    fn drop(&mut self) {
        drop(self.stream.take());
        let Some(bus) = self.bus.upgrade() else {
            return;
        };
        let Ok(mut live) = bus.topics.write() else {
            return;
        };
        if live
            .get(&self.topic)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            live.remove(&self.topic);
        }
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use crate::ports::Bus;

    async fn fresh() -> Arc<dyn Bus> {
        Arc::new(super::LocalBus::default())
    }

    crate::bus_conformance_suite!(fresh);
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::domain::SessionId;
    use crate::event::{Event, EventKind};

    fn event(n: i64) -> SharedEvent {
        Event::new(EventKind::SessionEnded {
            session: SessionId::new(n),
        })
    }

    #[tokio::test]
    async fn dropping_the_last_subscription_frees_the_topic() {
        let bus = LocalBus::default();
        let topic = Topic::user(crate::domain::UserId::new(1));
        let first = bus.subscribe(&topic).await.unwrap();
        let second = bus.subscribe(&topic).await.unwrap();
        assert_eq!(bus.topic_count(), 1);
        drop(first);
        assert_eq!(bus.topic_count(), 1);
        drop(second);
        assert_eq!(bus.topic_count(), 0);
    }

    #[tokio::test]
    async fn subscribers_share_one_event_allocation() {
        let bus = LocalBus::default();
        let topic = Topic::user(crate::domain::UserId::new(1));
        let mut a = bus.subscribe(&topic).await.unwrap();
        let mut b = bus.subscribe(&topic).await.unwrap();
        let sent = event(1);
        bus.publish(std::slice::from_ref(&topic), Arc::clone(&sent))
            .await
            .unwrap();
        for stream in [&mut a, &mut b] {
            match stream.next().await {
                Some(Delivery::Event(got)) => assert!(Arc::ptr_eq(&got, &sent)),
                other => panic!("expected the event, got {other:?}"),
            }
        }
    }
}
