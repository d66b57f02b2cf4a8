//! `{"type":"read","with":"bob","up_to":42}`, or in a conversation by
//! its id (`{"type":"read","conversation_id":7,"up_to":42}`): no answer;
//! the read mark comes back as a `read` event (to the user's devices, and
//! in a direct conversation to the peer once both have written).

use chat_core::{Chat, ConversationId, MessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "I have read the conversation with `with` up to `up_to`."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Read {
    /// The other member, by name.
    pub(crate) with: String,
    /// The conversation, by id (`with` is then ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) conversation_id: Option<i64>,
    /// The newest message read.
    pub(crate) up_to: i64,
}

impl Run for Read {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(self.apply(chat, session).await)
    }
}

impl Read {
    async fn apply(self, chat: &Chat, session: &Session) -> Reply {
        let up_to = MessageId::new(self.up_to);
        let marked = match self.conversation_id {
            Some(id) => {
                chat.mark_read_in(session, ConversationId::new(id), up_to)
                    .await
            }
            None => chat.mark_read(session, &self.with, up_to).await,
        };
        match marked {
            Ok(_) => Reply::Done,
            Err(error) => Reply::Failed(error),
        }
    }
}
