//! Client commands run one at a time, in order, beside the connection's
//! event loop: a send waiting for its commit must not hold up deliveries to
//! the same connection.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use chat_core::{Chat, ClientMessageId, Message, MessageId, Result, Sent, Session};

/// How many commands may wait behind the running one before the connection
/// stops reading frames (backpressure on the client).
pub(super) const MAX_QUEUED: usize = 32;

/// A client frame's request to the chat service.
pub(super) enum Command {
    Send {
        to: String,
        text: String,
        client_id: Option<String>,
    },
    Typing {
        to: String,
    },
    Read {
        with: String,
        up_to: MessageId,
    },
}

/// What a command came to.
pub(super) enum Outcome {
    Sent {
        client_id: Option<String>,
        result: Result<Sent>,
    },
    Typing(Result<()>),
    Read(Result<MessageId>),
}

type Running = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The connection's command queue: at most one running, the rest waiting.
#[derive(Default)]
pub(super) struct Commands {
    waiting: VecDeque<Command>,
    running: Option<Running>,
    /// The client id of the send that is running (`Some(None)`: a send
    /// without one).
    sending: Option<Option<String>>,
}

impl Commands {
    /// Whether another frame may be read.
    pub(super) fn has_room(&self) -> bool {
        self.waiting.len() < MAX_QUEUED
    }

    /// Queues a command, and starts it if nothing is running.
    pub(super) fn push(&mut self, chat: &Chat, session: &Session, command: Command) {
        self.waiting.push_back(command);
        self.start_next(chat, session);
    }

    /// Whether `message`, sent by this connection's user, may be the one the
    /// running send is committing: its live copy must wait for the `ack`.
    pub(super) fn may_be_running_send(&self, message: &Message) -> bool {
        match &self.sending {
            None => false,
            Some(None) => true,
            Some(Some(client_id)) => {
                message.client_id().map(ClientMessageId::as_str) == Some(client_id)
            }
        }
    }

    /// The running command's outcome, once it has one; pending forever when
    /// nothing runs.
    pub(super) async fn next_outcome(&mut self) -> Outcome {
        match self.running.as_mut() {
            Some(running) => running.await,
            None => std::future::pending().await,
        }
    }

    /// Marks the running command done and starts the next.
    pub(super) fn finished(&mut self, chat: &Chat, session: &Session) {
        self.running = None;
        self.sending = None;
        self.start_next(chat, session);
    }

    fn start_next(&mut self, chat: &Chat, session: &Session) {
        if self.running.is_some() {
            return;
        }
        let Some(command) = self.waiting.pop_front() else {
            return;
        };
        let (chat, session) = (chat.clone(), session.clone());
        self.running = Some(match command {
            Command::Send {
                to,
                text,
                client_id,
            } => {
                self.sending = Some(client_id.clone());
                Box::pin(async move {
                    let result = chat.send(&session, &to, text, client_id.clone()).await;
                    Outcome::Sent { client_id, result }
                })
            }
            Command::Typing { to } => {
                Box::pin(async move { Outcome::Typing(chat.typing(&session, &to).await) })
            }
            Command::Read { with, up_to } => {
                Box::pin(async move { Outcome::Read(chat.mark_read(&session, &with, up_to).await) })
            }
        });
    }
}
