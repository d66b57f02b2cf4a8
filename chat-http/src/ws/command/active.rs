//! `{"type":"active"}`: the client's person is there (its page is in view):
//! no answer. The connection forwards it at most every few seconds, and
//! counts a send, a read or typing as the same.

use chat_core::{Chat, Session};
use serde::{Deserialize, Serialize};
use tracing::debug;

use super::{Reply, Run, Started};

/// "I am here."
#[derive(Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Active {}

impl Active {
    /// Notes the user's activity. Nothing for the client to act on when
    /// presence is down: offline notices may then go to someone who was
    /// there, which is the safe side.
    pub(crate) async fn note(self, chat: &Chat, session: &Session) {
        if let Err(error) = chat.mark_active(session).await {
            debug!(%error, "could not note activity");
        }
    }
}

impl Run for Active {
    async fn start(self, chat: &Chat, session: &Session) -> Started {
        self.note(chat, session).await;
        Started::Done(Reply::Done)
    }
}
