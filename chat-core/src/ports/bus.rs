use std::fmt;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::domain::{ConversationId, UserId};
use crate::error::Result;
use crate::event::SharedEvent;

/// A named channel of events: one per user (everything that concerns
/// them), one per conversation (what its members hear, published once for
/// all of them).
///
/// A name is at most [`Topic::MAX_LEN`] bytes of ASCII letters, digits and
/// `:._-`, so that every bus can carry it as it is.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(String);

impl Topic {
    /// The longest topic name.
    pub const MAX_LEN: usize = 64;

    /// The topic of everything that concerns `user`.
    pub fn user(user: UserId) -> Self {
        Self(format!("user:{user}"))
    }

    /// The topic of everything a conversation's members hear.
    pub fn conversation(conversation: ConversationId) -> Self {
        Self(format!("conversation:{conversation}"))
    }

    /// A topic named by a bus that received it: any name of the allowed
    /// characters and length (`None` otherwise), whether or not the service
    /// uses it.
    pub fn from_name(name: &str) -> Option<Self> {
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-'));
        valid.then(|| Self(name.to_owned()))
    }

    /// The topic's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({})", self.0)
    }
}

/// What a subscription yields.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// The next event of the topic.
    Event(SharedEvent),
    /// The subscriber fell behind or the bus lost its connection: some events
    /// may be missing before the next one. Recover from the store.
    Lagged,
}

/// A subscription: an endless stream of deliveries; dropping it unsubscribes.
pub type EventStream = BoxStream<'static, Delivery>;

/// Carries events from publishers to the live subscribers of a topic.
///
/// Contract:
/// - Once `subscribe` has returned, every event published to that topic
///   afterwards is delivered to the subscription, or a [`Delivery::Lagged`]
///   says some were lost; never silently skipped.
/// - Events of one topic from one publisher arrive in publish order.
/// - Every subscriber of a topic receives the same shared event; publishing
///   does no per-subscriber encoding.
/// - A subscriber that does not keep up has a bounded queue (well under
///   10 000 events) and is told it lagged; it never makes memory grow without
///   bound or slows the others.
/// - Delivery is at most once and not durable: the store is the record, the
///   bus only says "look now".
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Publishes `event` to every current subscriber of each of `topics`.
    async fn publish(&self, topics: &[Topic], event: SharedEvent) -> Result<()>;

    /// Subscribes to `topic`.
    async fn subscribe(&self, topic: &Topic) -> Result<EventStream>;

    /// Checks that the bus works (for readiness probes).
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
