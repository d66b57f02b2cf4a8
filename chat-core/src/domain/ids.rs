use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw id, as read from a store or a request.
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw id.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// A user's id, assigned by the store.
    UserId
);
id_type!(
    /// A message's id: strictly increasing in commit order within a
    /// conversation, and across all conversations of one store, so that
    /// "everything after id N" is a gap-free recovery point.
    MessageId
);
id_type!(
    /// A conversation's id, assigned by the store.
    ConversationId
);
id_type!(
    /// A session's public id (not its token), used to end its subscriptions.
    SessionId
);
id_type!(
    /// A change's place in the store's change log: one sequence for every
    /// committed change (a message, a read mark), growing in commit order
    /// across the whole store. A message's position is its id, so "every
    /// change after position N" includes "every message after id N".
    Position
);

impl SessionId {
    /// The id of every session no store holds ([`Chat::session_for`](crate::Chat::session_for)):
    /// stores number theirs from 1, so no logout ever names it.
    pub const UNSTORED: Self = Self(0);
}

impl MessageId {
    /// The id before every message: "nothing read yet", "from the start".
    pub const ZERO: Self = Self(0);
}

impl Position {
    /// The position before every change: "from the start".
    pub const ZERO: Self = Self(0);
}

impl From<MessageId> for Position {
    /// A message's position in the change log: its id.
    fn from(id: MessageId) -> Self {
        Self(id.get())
    }
}
