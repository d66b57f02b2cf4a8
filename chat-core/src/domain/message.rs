use serde::{Deserialize, Serialize};

use super::{
    ClientMessageId, ConversationId, GroupEvent, GroupTitle, MessageId, MessageText, Position,
    Role, Timestamp, User,
};

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
    event: Option<GroupEvent>,
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
            event: None,
        }
    }

    /// The message as the system message of a group's `event`.
    #[must_use]
    pub fn with_event(mut self, event: Option<GroupEvent>) -> Self {
        self.event = event;
        self
    }

    /// For a system message, the change to the group it reports (its text
    /// describes it for clients that show text only).
    pub fn event(&self) -> Option<&GroupEvent> {
        self.event.as_ref()
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

/// A system message to be appended: a change to a group, by `actor`.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// What changed.
    pub event: GroupEvent,
    /// Who changed it: the system message's sender.
    pub actor: User,
}

impl NewEvent {
    /// The text the system message stores.
    ///
    /// # Errors
    /// Never in practice: descriptions are short and printable.
    pub fn text(&self) -> crate::error::Result<MessageText> {
        MessageText::parse(self.event.describe(&self.actor))
    }
}

/// One line of a user's conversation list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: ConversationId,
    /// The newest message the user may read, if any.
    pub last_message: Option<Message>,
    /// Messages from others after the user's read mark.
    pub unread: u64,
    /// What kind of conversation, with what the list shows of it.
    pub kind: SummaryKind,
}

/// What a conversation list shows of each kind of conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SummaryKind {
    /// A direct conversation.
    Direct {
        /// The other member.
        peer: User,
        /// The peer's read mark: they have read everything up to this
        /// message (0 if nothing yet), so the user's messages up to it
        /// show as read.
        peer_read_up_to: MessageId,
        /// Whether both members have sent a message in the conversation:
        /// only then does either see the other's presence and typing.
        mutual: bool,
        /// Whether the peer is online (filled in by the service, for
        /// mutual conversations only; stores leave it `false`).
        online: bool,
    },
    /// A group.
    Group {
        /// Its title.
        title: GroupTitle,
        /// How many members it has.
        members: u64,
        /// The user's role; `None` for a former member.
        role: Option<Role>,
    },
}

impl ConversationSummary {
    /// The other member of a direct conversation.
    pub fn peer(&self) -> Option<&User> {
        match &self.kind {
            SummaryKind::Direct { peer, .. } => Some(peer),
            SummaryKind::Group { .. } => None,
        }
    }

    /// For a direct conversation, whether both members have spoken.
    pub fn mutual(&self) -> bool {
        matches!(self.kind, SummaryKind::Direct { mutual: true, .. })
    }

    /// For a direct conversation, the peer's read mark as the user may see
    /// it (zero otherwise).
    pub fn peer_read_up_to(&self) -> MessageId {
        match self.kind {
            SummaryKind::Direct {
                peer_read_up_to, ..
            } => peer_read_up_to,
            SummaryKind::Group { .. } => MessageId::ZERO,
        }
    }

    /// For a direct conversation, whether the peer is online (as the user
    /// may see it).
    pub fn online(&self) -> bool {
        matches!(self.kind, SummaryKind::Direct { online: true, .. })
    }

    /// The id of the newest message, the list's order and paging key.
    pub fn last_message_id(&self) -> MessageId {
        self.last_message
            .as_ref()
            .map_or(MessageId::ZERO, Message::id)
    }
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
    /// `by` read the conversation up to `up_to`.
    Read {
        /// The change's position.
        position: Position,
        /// The conversation.
        conversation: ConversationId,
        /// Who read.
        by: User,
        /// The other member of a direct conversation (`None` in a group).
        with: Option<User>,
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
