use serde::{Deserialize, Serialize};

use super::{ClientMessageId, ConversationId, MessageId, MessageText, Position, Timestamp, User};

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    id: MessageId,
    conversation: ConversationId,
    sender: User,
    recipient: Option<User>,
    text: MessageText,
    sent_at: Timestamp,
    client_id: Option<ClientMessageId>,
}

impl Message {
    /// Assembles a message from stored parts.
    pub fn new(
        id: MessageId,
        conversation: ConversationId,
        sender: User,
        recipient: Option<User>,
        text: MessageText,
        sent_at: Timestamp,
        client_id: Option<ClientMessageId>,
    ) -> Self {
        Self {
            id,
            conversation,
            sender,
            recipient,
            text,
            sent_at,
            client_id,
        }
    }

    /// The message's id.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// The conversation it belongs to.
    pub fn conversation(&self) -> ConversationId {
        self.conversation
    }

    /// Who sent it.
    pub fn sender(&self) -> &User {
        &self.sender
    }

    /// The other member of a direct conversation (`None` in a group).
    pub fn recipient(&self) -> Option<&User> {
        self.recipient.as_ref()
    }

    /// Its place in the change log: its id.
    pub fn position(&self) -> Position {
        self.id.into()
    }

    /// The text.
    pub fn text(&self) -> &MessageText {
        &self.text
    }

    /// When the store accepted it.
    pub fn sent_at(&self) -> Timestamp {
        self.sent_at
    }

    /// The sender's idempotency key, if one was given.
    pub fn client_id(&self) -> Option<&ClientMessageId> {
        self.client_id.as_ref()
    }
}

/// A message to be appended: validated and authorized, not yet stored.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The conversation it goes to; the sender is a member.
    pub conversation: ConversationId,
    /// Who sends it.
    pub sender: User,
    /// The other member, in a direct conversation.
    pub recipient: Option<User>,
    /// What it says.
    pub text: MessageText,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// The sender's idempotency key.
    pub client_id: Option<ClientMessageId>,
}

/// One line of a user's conversation list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: ConversationId,
    /// The other member.
    pub peer: User,
    /// The newest message, if any.
    pub last_message: Option<Message>,
    /// Messages from the peer after the user's read mark.
    pub unread: u64,
    /// The peer's read mark: they have read everything up to this message
    /// (0 if nothing yet), so the user's messages up to it show as read.
    pub peer_read_up_to: MessageId,
    /// Whether both members have sent a message in the conversation: only
    /// then does either see the other's presence and typing.
    pub mutual: bool,
    /// Whether the peer is online (filled in by the service, for mutual
    /// conversations only; stores leave it `false`).
    pub online: bool,
}

/// A member of a conversation, as the store keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Who.
    pub user: User,
    /// Whether they have sent a message in the conversation.
    pub has_spoken: bool,
    /// Their read mark.
    pub read_up_to: MessageId,
}

/// A committed change a member's clients must learn about, with its place
/// in the change log: what a reconnecting client replays.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A message was committed; its position is its id.
    Message(Message),
    /// `by` read the direct conversation with `with` up to `up_to`.
    Read {
        /// The change's position.
        position: Position,
        /// The conversation.
        conversation: ConversationId,
        /// Who read.
        by: User,
        /// The other member.
        with: User,
        /// Their read mark.
        up_to: MessageId,
    },
}

impl Change {
    /// The change's place in the change log.
    pub fn position(&self) -> Position {
        match self {
            Self::Message(message) => message.position(),
            Self::Read { position, .. } => *position,
        }
    }
}
