use serde::{Deserialize, Serialize};

use super::{ClientMessageId, ConversationId, MessageId, MessageText, Timestamp, User};

/// A stored message of a direct conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    id: MessageId,
    conversation: ConversationId,
    sender: User,
    recipient: User,
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
        recipient: User,
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

    /// Who it was sent to.
    pub fn recipient(&self) -> &User {
        &self.recipient
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

    /// The member of this conversation who is not `user`.
    pub fn peer_of(&self, user: &User) -> &User {
        if self.sender.id() == user.id() {
            &self.recipient
        } else {
            &self.sender
        }
    }
}

/// A message to be appended: validated and authorized, not yet stored.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Who sends it.
    pub sender: User,
    /// Who receives it.
    pub recipient: User,
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
