//! `{"type":"read","with":"bob","up_to":42}`: no answer; the read mark
//! comes back as a `read` event (to the user's devices, and to the peer
//! once both have written).

use chat_core::{Chat, MessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "I have read the conversation with `with` up to `up_to`."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Read {
    /// The other member.
    pub(crate) with: String,
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
        match chat
            .mark_read(session, &self.with, MessageId::new(self.up_to))
            .await
        {
            Ok(_) => Reply::Done,
            Err(error) => Reply::Failed(error),
        }
    }
}
