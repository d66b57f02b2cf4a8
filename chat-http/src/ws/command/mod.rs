//! The client's commands, one file each (as in mini-redis): a command
//! decodes from its frame and applies itself to the chat service. A new
//! command is a new file, a variant of [`Command`] and an arm of
//! [`Command::apply`].

mod read;
mod send;
mod typing;

use std::future::Future;
use std::pin::Pin;

use chat_core::{Chat, ChatError, ClientMessageId, Sent, Session};
use serde::{Deserialize, Serialize};

pub(crate) use read::Read;
pub(crate) use send::Send;
pub(crate) use typing::Typing;

/// A frame from the client: `{"type": "<command>", …}`.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Command {
    /// Send a message.
    Send(Send),
    /// "I am typing to …".
    Typing(Typing),
    /// "I have read the conversation with … up to …".
    Read(Read),
}

/// What a command came to, for the connection to answer.
pub(crate) enum Reply {
    /// Nothing to answer: the effect comes back as events, if at all.
    Done,
    /// The command failed: answer with an `error`.
    Failed(ChatError),
    /// A message is stored: answer with an `ack`.
    Sent {
        /// The client's key, echoed.
        client_id: Option<String>,
        /// The stored message.
        sent: Sent,
    },
    /// A send failed: answer with an `error` carrying its client id.
    NotSent {
        /// The client's key, echoed.
        client_id: Option<String>,
        /// Why.
        error: ChatError,
    },
}

/// A reply still to come.
pub(crate) type Pending = Pin<Box<dyn Future<Output = Reply> + std::marker::Send>>;

/// A started command: done, or a send that has its place in the commit
/// order and whose reply is still to come.
pub(crate) enum Started {
    /// The command is done.
    Done(Reply),
    /// A send: the rest of it, which ends with its reply.
    Sending(Pending),
}

impl Command {
    /// Decodes a text frame; the reason to give the client if it is not a
    /// command.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                "unknown or malformed frame"
            } else {
                "malformed JSON"
            }
        })
    }

    /// For a send, the client id its message will carry (`Some(None)`: a
    /// send without one, or with one that is not valid): while it runs, the
    /// user's live messages that may be it wait for its `ack`.
    pub(crate) fn sends(&self) -> Option<Option<ClientMessageId>> {
        match self {
            Self::Send(send) => Some(
                send.client_id
                    .clone()
                    .and_then(|c| ClientMessageId::parse(c).ok()),
            ),
            Self::Typing(_) | Self::Read(_) => None,
        }
    }

    /// Starts the command as the session's user: a send returns once its
    /// message has its place in the commit order, anything else once done.
    pub(crate) async fn start(self, chat: Chat, session: Session) -> Started {
        match self {
            Self::Send(command) => Started::Sending(command.start(&chat, &session).await),
            Self::Typing(command) => Started::Done(command.apply(&chat, &session).await),
            Self::Read(command) => Started::Done(command.apply(&chat, &session).await),
        }
    }
}
