//! `{"type":"react","id":42,"emoji":"👍"}` and
//! `{"type":"unreact","id":42,"emoji":"👍"}`: no answer; the change comes
//! back as a `reaction` event (to every member who may read the message,
//! the user's own devices included), or an `error`. Adding a reaction that
//! is there, or taking away one that is not, changes nothing.

use chat_core::{Chat, MessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "I react to message `id` with `emoji`."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct React {
    /// The message.
    pub(crate) id: i64,
    /// One emoji.
    pub(crate) emoji: String,
}

/// "I take my reaction `emoji` to message `id` away."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Unreact {
    /// The message.
    pub(crate) id: i64,
    /// The emoji.
    pub(crate) emoji: String,
}

impl Run for React {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(reacted(chat, session, self.id, &self.emoji, true).await)
    }
}

impl Run for Unreact {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(reacted(chat, session, self.id, &self.emoji, false).await)
    }
}

async fn reacted(chat: &Chat, session: &Session, id: i64, emoji: &str, add: bool) -> Reply {
    match chat.react(session, MessageId::new(id), emoji, add).await {
        Ok(_) => Reply::Done,
        Err(error) => Reply::Failed(error),
    }
}
