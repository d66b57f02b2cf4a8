//! `{"type":"typing","to":"bob"}`, or in a conversation by its id
//! (`{"type":"typing","conversation_id":7}`): no answer. Over the typing limit it is
//! dropped without one too (a client repeats it anyway).

use chat_core::{Chat, ChatError, ConversationId, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "I am typing to `to`."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Typing {
    /// Recipient, by name.
    pub(crate) to: String,
    /// The conversation, by id (`to` is then ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) conversation_id: Option<i64>,
}

impl Run for Typing {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(self.apply(chat, session).await)
    }
}

impl Typing {
    async fn apply(self, chat: &Chat, session: &Session) -> Reply {
        let typed = match self.conversation_id {
            Some(id) => chat.typing_in(session, ConversationId::new(id)).await,
            None => chat.typing(session, &self.to).await,
        };
        match typed {
            Ok(()) | Err(ChatError::RateLimited { .. }) => Reply::Done,
            Err(error) => Reply::Failed(error),
        }
    }
}
