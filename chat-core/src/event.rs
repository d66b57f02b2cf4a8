//! Events: what the bus carries to a user's live connections.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::domain::{
    Change, ConversationId, Emoji, Message, MessageId, Position, Reaction, SessionId, User, UserId,
};

/// What happened.
///
/// Deliberately exhaustive: a transport matches every kind, so that a new
/// kind is a compile error there, never an event dropped in silence. It has
/// no serialization of its own: each transport and bus writes its own wire
/// format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A message was committed in one of the user's conversations.
    Message {
        /// The stored message.
        message: Message,
    },
    /// `by` has read the conversation up to `up_to`.
    Read {
        /// The conversation.
        conversation: ConversationId,
        /// Who read.
        by: User,
        /// The other member of a direct conversation (`None` in a group).
        with: Option<User>,
        /// The newest message read.
        up_to: MessageId,
        /// The change's place in the change log.
        position: Position,
    },
    /// A message was edited or deleted; `message` is how it is now (a
    /// tombstone once deleted).
    Revised {
        /// The message as it is now.
        message: Message,
        /// The change's place in the change log.
        position: Position,
    },
    /// `by` added (`added`) or took away a reaction `emoji` to `message`;
    /// `reactions` are the message's counts now (`me` unknown: the event is
    /// shared by every member's connections). It carries no text, so it
    /// shows nobody a message they may not read.
    Reacted {
        /// The conversation.
        conversation: ConversationId,
        /// The message.
        message: MessageId,
        /// Its reactions now, one per emoji in the order first used.
        reactions: Vec<Reaction>,
        /// The change's place in the change log.
        position: Position,
        /// Who reacted.
        by: User,
        /// With what.
        emoji: Emoji,
        /// Whether the reaction was added (or taken away).
        added: bool,
    },
    /// How many members of a group have read some of the user's messages
    /// there ("read by N", never who); ephemeral, the history carries the
    /// same counts.
    ReadBy {
        /// The group.
        conversation: ConversationId,
        /// The messages, oldest first, with their counts.
        counts: Vec<ReadCount>,
    },
    /// `from` is typing to `to`; ephemeral, never stored.
    Typing {
        /// Who types.
        from: User,
        /// To whom.
        to: User,
    },
    /// `from` is typing in the group `group`; ephemeral, never stored.
    GroupTyping {
        /// Who types.
        from: User,
        /// In which group.
        group: ConversationId,
    },
    /// `user` came online (first live connection) or went offline (last).
    Presence {
        /// Whose presence changed.
        user: User,
        /// Whether they are online now.
        online: bool,
    },
    /// The session logged out; its subscriptions end.
    SessionEnded {
        /// Which session.
        session: SessionId,
    },
    /// An administrator disabled the user's account: every subscription
    /// of every session of theirs ends, on every process.
    AccountDisabled {
        /// Whose account.
        user: UserId,
    },
}

/// How many members other than its sender have read a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadCount {
    /// The message.
    pub message: MessageId,
    /// How many have read it.
    pub read_by: u64,
}

impl EventKind {
    /// The place in the change log of the committed change this event
    /// reports; `None` for what is not stored (typing, presence).
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Message { message } => Some(message.position()),
            Self::Read { position, .. }
            | Self::Revised { position, .. }
            | Self::Reacted { position, .. } => Some(*position),
            Self::Typing { .. }
            | Self::ReadBy { .. }
            | Self::GroupTyping { .. }
            | Self::Presence { .. }
            | Self::SessionEnded { .. }
            | Self::AccountDisabled { .. } => None,
        }
    }
}

impl From<Change> for EventKind {
    fn from(change: Change) -> Self {
        match change {
            Change::Message(message) => Self::Message { message },
            Change::Read {
                position,
                conversation,
                by,
                with,
                up_to,
            } => Self::Read {
                conversation,
                by,
                with,
                up_to,
                position,
            },
            Change::Revised { position, message } => Self::Revised { message, position },
        }
    }
}

/// An event as published: immutable, shared by every recipient, with a
/// one-slot cache so a transport encodes it once for all its connections.
pub struct Event {
    kind: EventKind,
    encoded: OnceLock<Box<dyn Any + Send + Sync>>,
}

/// The form in which events travel: one allocation, shared by reference.
pub type SharedEvent = Arc<Event>;

impl Event {
    /// Wraps `kind` for publishing.
    pub fn new(kind: EventKind) -> SharedEvent {
        Arc::new(Self {
            kind,
            encoded: OnceLock::new(),
        })
    }

    /// What happened.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// This event encoded by `encode`, computed by the first caller and
    /// shared (cloned, so make `T` cheap to clone, like `Bytes`) with every
    /// later one. The cache holds one encoding; a caller asking for another
    /// type gets a fresh, uncached value.
    pub fn encoded<T>(&self, encode: impl FnOnce(&EventKind) -> T) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        if let Some(value) = self.encoded.get().and_then(|c| c.downcast_ref::<T>()) {
            return value.clone();
        }
        // Two first callers racing may both encode; one result is kept.
        let value = encode(&self.kind);
        let _ = self.encoded.set(Box::new(value.clone()));
        value
    }

    /// This event encoded by `encode`, computed by the first caller and
    /// lent to every later one, without a clone (so without touching a
    /// reference count that every recipient's thread shares). `None` when
    /// the cache holds an encoding of another type.
    pub fn encoded_ref<T>(&self, encode: impl FnOnce(&EventKind) -> T) -> Option<&T>
    where
        T: Send + Sync + 'static,
    {
        self.encoded
            .get_or_init(|| Box::new(encode(&self.kind)))
            .downcast_ref::<T>()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("kind", &self.kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn encodes_once_for_every_caller() {
        let event = Event::new(EventKind::SessionEnded {
            session: SessionId::new(7),
        });
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            let bytes: Arc<str> = event.encoded(|_| {
                calls.fetch_add(1, Ordering::Relaxed);
                Arc::from("encoded")
            });
            assert_eq!(&*bytes, "encoded");
        }
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        // Another encoding type is computed, not confused with the cached one.
        let other: u32 = event.encoded(|_| 5);
        assert_eq!(other, 5);
        // Lent, the cached value is the same; another type is not lent.
        assert_eq!(
            event
                .encoded_ref(|_| -> Arc<str> { unreachable!() })
                .map(|s| &**s),
            Some("encoded")
        );
        assert_eq!(event.encoded_ref(|_| 5_u32), None);
    }
}
