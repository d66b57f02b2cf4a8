//! `{"type":"delete","id":42}`: no answer; the tombstone comes back as a
//! `deleted` event (to every member who may read the message, the user's
//! own devices included), or an `error`. Deleting a deleted message
//! changes nothing and is no error.

use chat_core::{Chat, MessageId, Session};
use serde::{Deserialize, Serialize};

use super::{Reply, Run, Started};

/// "Delete message `id` for everyone."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub(crate) struct Delete {
    /// The message: the user's own, or any in a group they manage.
    pub(crate) id: i64,
}

impl Run for Delete {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        Started::Done(
            match chat.delete_message(session, MessageId::new(self.id)).await {
                Ok(_) => Reply::Done,
                Err(error) => Reply::Failed(error),
            },
        )
    }
}
