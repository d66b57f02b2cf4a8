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
use tracing::{error, warn};

use crate::domain::NewMessage;
use crate::error::{ChatError, Result};
use crate::ports::Appended;

/// A store's side of group commit.
#[async_trait]
pub trait BatchAppend: Send + Sync + 'static {
    /// Appends `batch` in one transaction, each message with the contract of
    /// [`MessageStore::append_message`](crate::ports::MessageStore::append_message),
    /// and returns one result per message, in order. `Err` means nothing
    /// was committed: [`ChatError::Unavailable`] fails every message of the
    /// batch; any other error makes [`GroupCommit`] try each message alone,
    /// so that a message the store refuses fails by itself.
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
        // Senders just answered by the last commit are about to append
        // again: let them run once before the batch closes, so that it
        // takes them too instead of leaving them for a small batch of their
        // own. A lone sender pays one scheduler round.
        if requests.len() < max_batch {
            tokio::task::yield_now().await;
            while requests.len() < max_batch {
                match receiver.try_recv() {
                    Ok(request) => requests.push(request),
                    Err(_) => break,
                }
            }
        }
        let replies: Vec<_> = requests
            .drain(..)
            .map(|Request { message, reply }| {
                messages.push(message);
                reply
            })
            .collect();
        for (reply, result) in replies
            .into_iter()
            .zip(append_all(&*store, &messages).await)
        {
            let _ = reply.send(result);
        }
        messages.clear();
    }
}

/// One result per message of `batch`. A batch that fails for another
/// reason than the store being unavailable is tried again one message at
/// a time, so that a message the store refuses fails alone.
async fn append_all(store: &dyn BatchAppend, batch: &[NewMessage]) -> Vec<Result<Appended>> {
    match checked(store, batch).await {
        Ok(results) => results,
        Err(failure) if batch.len() > 1 && !matches!(failure, ChatError::Unavailable { .. }) => {
            warn!(error = %failure, batch = batch.len(), "a batch failed; appending its messages one at a time");
            let mut results = Vec::with_capacity(batch.len());
            for message in batch {
                let result = match checked(store, std::slice::from_ref(message)).await {
                    Ok(mut one) => one.pop().unwrap_or_else(|| Err(mismatch())),
                    Err(failure) => Err(failure),
                };
                results.push(result);
            }
            results
        }
        Err(failure) => {
            error!(error = %failure, batch = batch.len(), "a message batch failed to commit");
            let unavailable = matches!(failure, ChatError::Unavailable { .. });
            let reason = failure.to_string();
            batch
                .iter()
                .map(|_| {
                    Err(if unavailable {
                        ChatError::unavailable(reason.clone())
                    } else {
                        ChatError::internal(reason.clone())
                    })
                })
                .collect()
        }
    }
}

/// The store's answer, with its length checked.
async fn checked(store: &dyn BatchAppend, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
    let results = store.append_batch(batch).await?;
    if results.len() == batch.len() {
        Ok(results)
    } else {
        error!(
            expected = batch.len(),
            got = results.len(),
            "a batch returned the wrong number of results"
        );
        Err(mismatch())
    }
}

fn mismatch() -> ChatError {
    ChatError::internal("batch result count mismatch")
}
