//! `{"type":"send","to":"bob","text":"hi","client_id":"c-1"}`: answered
//! by `ack` (with the stored message) or `error`.

use chat_core::{Chat, ClientMessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Pending, Reply, Run, Started};

/// Send a message.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Send {
    /// Recipient.
    pub(crate) to: String,
    /// Text.
    pub(crate) text: String,
    /// Idempotency key.
    pub(crate) client_id: Option<String>,
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
        match chat
            .start_send(session, &self.to, self.text, self.client_id)
            .await
        {
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
