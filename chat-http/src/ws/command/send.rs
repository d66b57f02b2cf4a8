//! `{"type":"send","to":"bob","text":"hi","client_id":"c-1"}`, or to a
//! conversation by its id (a group, or a direct one):
//! `{"type":"send","conversation_id":7,"text":"hi","client_id":"c-1"}`;
//! answered by `ack` (with the stored message) or `error`. A reply names
//! the message it answers, of the same conversation: `"reply_to": 41`.

use chat_core::{Chat, ClientMessageId, ConversationId, Draft, MessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Pending, Reply, Run, Started};

/// Send a message.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Send {
    /// Recipient, for a direct message by name.
    pub(crate) to: String,
    /// The conversation, for a message by conversation id (`to` is then
    /// ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) conversation_id: Option<i64>,
    /// Text.
    pub(crate) text: String,
    /// Idempotency key.
    pub(crate) client_id: Option<String>,
    /// The message it replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_to: Option<i64>,
}

impl Run for Send {
    fn sends(&self) -> Option<Option<ClientMessageId>> {
        Some(
            self.client_id
                .clone()
                .and_then(|c| ClientMessageId::parse(c).ok()),
        )
    }

    /// Checks the send and queues its message for the commit; the rest of
    /// it (the commit, then the reply) is returned to run beside the next
    /// commands.
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Sending(self.queue(chat, session).await)
    }
}

impl Send {
    async fn queue(self, chat: &Chat, session: &Session) -> Pending {
        let client_id = self.client_id.clone();
        let draft = Draft {
            text: self.text,
            client_id: self.client_id,
            reply_to: self.reply_to.map(MessageId::new),
        };
        let started = match self.conversation_id {
            Some(id) => {
                chat.start_send_draft_in(session, ConversationId::new(id), draft)
                    .await
            }
            None => chat.start_send_draft(session, &self.to, draft).await,
        };
        match started {
            Ok(sending) => Box::pin(async move {
                match sending.await {
                    Ok(sent) => Reply::Sent { client_id, sent },
                    Err(error) => Reply::NotSent { client_id, error },
                }
            }),
            Err(error) => Box::pin(std::future::ready(Reply::NotSent { client_id, error })),
        }
    }
}
