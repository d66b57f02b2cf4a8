//! `{"type":"typing","to":"bob"}`: no answer. Over the typing limit it is
//! dropped without one too (a client repeats it anyway).

use chat_core::{Chat, ChatError, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "I am typing to `to`."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Typing {
    /// Recipient.
    pub(crate) to: String,
}

impl Run for Typing {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(self.apply(chat, session).await)
    }
}

impl Typing {
    async fn apply(self, chat: &Chat, session: &Session) -> Reply {
        match chat.typing(session, &self.to).await {
            Ok(()) | Err(ChatError::RateLimited { .. }) => Reply::Done,
            Err(error) => Reply::Failed(error),
        }
    }
}
