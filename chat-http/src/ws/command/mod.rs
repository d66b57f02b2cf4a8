//! The client's commands, one file each (as in mini-redis): a command
//! decodes from its frame and runs itself against the chat service
//! ([`Run`]). A new command is a new file, its variant of [`Command`] and
//! its line in `each_command!`.

mod active;
mod delete;
mod edit;
mod react;
mod read;
mod send;
mod typing;

use std::future::Future;
use std::pin::Pin;

use chat_core::{Chat, ChatError, ClientMessageId, Sent, Session};
use serde::{Deserialize, Serialize};

pub(crate) use active::Active;
pub(crate) use delete::Delete;
pub(crate) use edit::Edit;
pub(crate) use react::{React, Unreact};
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
    /// "I am here": the page is in view.
    Active(Active),
    /// Edit one of one's messages.
    Edit(Edit),
    /// Delete a message for everyone.
    Delete(Delete),
    /// React to a message.
    React(React),
    /// Take a reaction away.
    Unreact(Unreact),
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

/// What each command does; the one place a command's behaviour lives.
pub(crate) trait Run {
    /// For a send, the client id its message will carry (`Some(None)`: a
    /// send without one, or with one that is not valid); `None` for any
    /// other command.
    fn sends(&self) -> Option<Option<ClientMessageId>> {
        None
    }

    /// Starts the command as the session's user: a send returns once its
    /// message has its place in the commit order, anything else once done.
    async fn start(self, chat: &Chat, session: &Session) -> Started;
}

/// Runs `$body` with `$command` bound to the command inside the frame:
/// the one match over every command.
macro_rules! each_command {
    ($frame:expr, $command:ident => $body:expr) => {
        match $frame {
            Command::Send($command) => $body,
            Command::Typing($command) => $body,
            Command::Read($command) => $body,
            Command::Active($command) => $body,
            Command::Edit($command) => $body,
            Command::Delete($command) => $body,
            Command::React($command) => $body,
            Command::Unreact($command) => $body,
        }
    };
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
        each_command!(self, command => command.sends())
    }

    /// Starts the command as the session's user ([`Run::start`]).
    pub(crate) async fn start(self, chat: Chat, session: Session) -> Started {
        each_command!(self, command => command.start(&chat, &session).await)
    }
}
