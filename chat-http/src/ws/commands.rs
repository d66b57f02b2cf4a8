//! Client commands, run in order beside the connection's event loop: a send
//! waiting for its commit must not hold up deliveries to the same
//! connection, nor the client's next sends.
//!
//! Commands start one at a time, in the order they came. A send is started
//! once its message has its place in the commit order; then the next
//! command starts while it commits (sends are pipelined, as a client that
//! sends faster than one commit's round trip needs), and the replies of
//! sends come back in the order they were sent.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use chat_core::{Chat, Session};
use futures::StreamExt;
use futures::stream::FuturesOrdered;

use super::command::{Command, Pending, Reply, Started};

/// How many commands may wait to start before the connection stops reading
/// frames (backpressure on the client).
pub(super) const MAX_QUEUED: usize = 32;

/// How many sends may be committing at once for one connection.
pub(super) const MAX_SENDING: usize = chat_core::Live::MAX_SENDING;

type Starting = Pin<Box<dyn Future<Output = Started> + Send>>;

/// The connection's command queue.
pub(super) struct Commands {
    chat: Chat,
    session: Session,
    waiting: VecDeque<Command>,
    starting: Option<Starting>,
    sending: FuturesOrdered<Pending>,
}

impl Drop for Commands {
    fn drop(&mut self) {
        // Sends the client will not hear of still commit: finish them in
        // one task, in the order they started, so that their messages are
        // published in commit order (each dropped on its own would finish
        // in a task of its own, in any order).
        if self.sending.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut sending = std::mem::take(&mut self.sending);
            runtime.spawn(async move { while sending.next().await.is_some() {} });
        }
    }
}

impl Commands {
    pub(super) fn new(chat: Chat, session: Session) -> Self {
        Self {
            chat,
            session,
            waiting: VecDeque::new(),
            starting: None,
            sending: FuturesOrdered::new(),
        }
    }

    /// Whether another frame may be read.
    pub(super) fn has_room(&self) -> bool {
        self.waiting.len() < MAX_QUEUED
    }

    /// Queues a command; it starts on the next [`Commands::next_reply`].
    pub(super) fn push(&mut self, command: Command) {
        self.waiting.push_back(command);
    }

    /// The next reply: of a command that is done, or of the oldest send
    /// once it has committed. Pending while there is none to give.
    /// Cancel-safe: everything lives in `self`.
    pub(super) async fn next_reply(&mut self) -> Reply {
        poll_fn(|cx| self.poll_reply(cx)).await
    }

    fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<Reply> {
        loop {
            if self.starting.is_none() {
                if self.sending.len() >= MAX_SENDING {
                    break;
                }
                let Some(command) = self.waiting.pop_front() else {
                    break;
                };
                self.starting = Some(Box::pin(
                    command.start(self.chat.clone(), self.session.clone()),
                ));
            }
            let Some(starting) = self.starting.as_mut() else {
                break;
            };
            match starting.as_mut().poll(cx) {
                Poll::Pending => break,
                Poll::Ready(started) => {
                    self.starting = None;
                    match started {
                        Started::Done(reply) => return Poll::Ready(reply),
                        Started::Sending(rest) => self.sending.push_back(rest),
                    }
                }
            }
        }
        match self.sending.poll_next_unpin(cx) {
            Poll::Ready(Some(reply)) => Poll::Ready(reply),
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}
