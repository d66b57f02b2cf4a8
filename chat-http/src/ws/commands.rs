//! Client commands run one at a time, in order, beside the connection's
//! event loop: a send waiting for its commit must not hold up deliveries to
//! the same connection.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use chat_core::{Chat, ClientMessageId, Session};

use super::command::{Command, Reply};

/// How many commands may wait behind the running one before the connection
/// stops reading frames (backpressure on the client).
pub(super) const MAX_QUEUED: usize = 32;

type Running = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// The connection's command queue: at most one running, the rest waiting.
#[derive(Default)]
pub(super) struct Commands {
    waiting: VecDeque<Command>,
    running: Option<Running>,
}

impl Commands {
    /// Whether another frame may be read.
    pub(super) fn has_room(&self) -> bool {
        self.waiting.len() < MAX_QUEUED
    }

    /// Queues a command.
    pub(super) fn push(&mut self, command: Command) {
        self.waiting.push_back(command);
    }

    /// Starts the next waiting command if none runs. A send it starts
    /// comes back as `Some` with the client id its message will carry (see
    /// [`Command::sends`]), for the connection to hold that message's live
    /// copy until the send's reply.
    pub(super) fn start_next(
        &mut self,
        chat: &Chat,
        session: &Session,
    ) -> Option<Option<ClientMessageId>> {
        if self.running.is_some() {
            return None;
        }
        let command = self.waiting.pop_front()?;
        let sends = command.sends();
        self.running = Some(Box::pin(command.apply(chat.clone(), session.clone())));
        sends
    }

    /// The running command's reply, once it has one; pending forever when
    /// nothing runs.
    pub(super) async fn next_reply(&mut self) -> Reply {
        let reply = match self.running.as_mut() {
            Some(running) => running.await,
            None => std::future::pending().await,
        };
        self.running = None;
        reply
    }
}
