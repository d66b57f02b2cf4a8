//! `{"type":"edit","id":42,"text":"fixed"}`: no answer; the edit comes
//! back as an `edited` event (to every member who may read the message,
//! the user's own devices included), or an `error`.

use chat_core::{Chat, MessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "Message `id` now says `text`."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Edit {
    /// The message, one of the user's own.
    pub(crate) id: i64,
    /// The new text.
    pub(crate) text: String,
}

impl Run for Edit {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(
            match chat
                .edit_message(session, MessageId::new(self.id), self.text)
                .await
            {
                Ok(_) => Reply::Done,
                Err(error) => Reply::Failed(error),
            },
        )
    }
}
