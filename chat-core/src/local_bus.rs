//! The in-process bus: the default when one process serves every connection.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{ChatError, Result};
use crate::event::SharedEvent;
use crate::fanout::Fanout;
use crate::ports::{Bus, Delivery, EventStream, Topic};

/// A [`Bus`] inside one process: a [`Fanout`], one broadcast queue per topic
/// with live subscribers, holding each event until every subscriber has
/// read it.
///
/// Publishing hands every subscriber the same `Arc` (one reference count
/// increment per recipient, no copy, no encoding, no allocation); a
/// subscriber more than `capacity` events behind is told it
/// [lagged](Delivery::Lagged); the last subscription of a topic to be
/// dropped removes the topic.
#[derive(Clone)]
pub struct LocalBus {
    fanout: Arc<Fanout>,
}

impl LocalBus {
    /// How far behind a subscriber may fall by default: a topic's queue
    /// grows to this many events only while a subscriber is that far
    /// behind (24 bytes each) and gives the memory back once they are read.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A bus whose subscribers may fall `capacity` events behind.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            fanout: Fanout::new(capacity),
        }
    }

    /// How many topics have live subscribers (for tests and metrics).
    pub fn topic_count(&self) -> usize {
        self.fanout.topic_count()
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, topics: &[Topic], event: SharedEvent) -> Result<()> {
        for topic in topics {
            self.fanout
                .deliver(topic, || Some(Delivery::Event(Arc::clone(&event))));
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &Topic) -> Result<EventStream> {
        let subscription = self
            .fanout
            .subscribe(topic)
            .ok_or_else(|| ChatError::internal("local bus lock poisoned"))?;
        Ok(Box::pin(subscription))
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
