//! `{"type":"send","to":"bob","text":"hi","client_id":"c-1"}`: answered
//! by `ack` (with the stored message) or `error`.

use chat_core::{Chat, Session};
use serde::{Deserialize, Serialize};

use super::Reply;

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

impl Send {
    pub(super) async fn apply(self, chat: &Chat, session: &Session) -> Reply {
        match chat
            .send(session, &self.to, self.text, self.client_id.clone())
            .await
        {
            Ok(sent) => Reply::Sent {
                client_id: self.client_id,
                sent,
            },
            Err(error) => Reply::Failed {
                client_id: self.client_id,
                error,
            },
        }
    }
}
