//! Group commit: many concurrent appends, one transaction.
//!
//! Stores hand [`GroupCommit`] a [`BatchAppend`]; senders call
//! [`GroupCommit::append`] and wait. One task takes every append waiting at
//! that moment (up to a batch size), hands them to the store as one batch,
//! and answers each sender only after the batch committed. Under load the
//! cost of a commit (an fsync, a round trip) is shared by the whole batch;
//! with one sender, a batch is one message and nothing waits.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tracing::error;

use crate::domain::NewMessage;
use crate::error::{ChatError, Result};
use crate::ports::Appended;

/// A store's side of group commit.
#[async_trait]
pub trait BatchAppend: Send + Sync + 'static {
    /// Appends `batch` in one transaction, each message with the contract of
    /// [`MessageStore::append_message`](crate::ports::MessageStore::append_message),
    /// and returns one result per message, in order. A failing message
    /// (its own error) must not undo the others. `Err` means the transaction
    /// as a whole failed and nothing was committed.
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>>;
}

struct Request {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended>>,
}

/// The queue in front of a [`BatchAppend`]. Cheap to clone.
#[derive(Clone)]
pub struct GroupCommit {
    requests: mpsc::Sender<Request>,
}

impl GroupCommit {
    /// Starts the batching task: at most `queue` appends wait to be taken,
    /// at most `max_batch` go into one transaction.
    pub fn start(store: Arc<dyn BatchAppend>, queue: usize, max_batch: usize) -> Self {
        let (requests, receiver) = mpsc::channel(queue.max(1));
        tokio::spawn(run(store, receiver, max_batch.max(1)));
        Self { requests }
    }

    /// Appends one message, returning once the transaction holding it has
    /// committed.
    ///
    /// # Errors
    /// The message's own error, or [`ChatError::Unavailable`] if its batch
    /// could not be committed or the task has stopped.
    pub async fn append(&self, message: NewMessage) -> Result<Appended> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { message, reply })
            .await
            .map_err(|_| ChatError::unavailable("the writer has stopped"))?;
        answer
            .await
            .map_err(|_| ChatError::unavailable("the writer has stopped"))?
    }
}

async fn run(store: Arc<dyn BatchAppend>, mut receiver: mpsc::Receiver<Request>, max_batch: usize) {
    let mut requests = Vec::with_capacity(max_batch);
    let mut messages = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut requests, max_batch).await > 0 {
        let replies: Vec<_> = requests
            .drain(..)
            .map(|Request { message, reply }| {
                messages.push(message);
                reply
            })
            .collect();
        match store.append_batch(&messages).await {
            Ok(results) if results.len() == replies.len() => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Ok(results) => {
                error!(
                    expected = replies.len(),
                    got = results.len(),
                    "a batch returned the wrong number of results"
                );
                for reply in replies {
                    let _ = reply.send(Err(ChatError::internal("batch result count mismatch")));
                }
            }
            Err(failure) => {
                error!(error = %failure, batch = replies.len(), "a message batch failed to commit");
                let unavailable = matches!(failure, ChatError::Unavailable { .. });
                let reason = failure.to_string();
                for reply in replies {
                    let error = if unavailable {
                        ChatError::unavailable(reason.clone())
                    } else {
                        ChatError::internal(reason.clone())
                    };
                    let _ = reply.send(Err(error));
                }
            }
        }
        messages.clear();
    }
}
