//! Group commit: many concurrent appends, one transaction.
//!
//! The service puts a [`GroupCommit`] in front of its store's
//! [`MessageStore::append_batch`]; senders call [`GroupCommit::append`] and
//! wait. One task takes every append waiting at that moment (up to the
//! store's [`MessageStore::max_batch`]), hands them to the store as one
//! batch, and answers each sender only after the batch committed. Under
//! load the cost of a commit (an fsync, a round trip) is shared by the
//! whole batch; with one sender, a batch is one message and nothing waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, warn};

use crate::domain::NewMessage;
use crate::error::{ChatError, Result};
use crate::ports::{Appended, MessageStore};

struct Request {
    message: NewMessage,
    reply: oneshot::Sender<Result<Appended>>,
}

/// How many appends may wait for the batching task before senders wait to
/// queue.
pub const QUEUE: usize = 4096;

/// A batch smaller than this waits one scheduler round for more senders
/// before it closes; a larger one is worth committing at once (on a busy
/// runtime the round costs milliseconds).
const YIELD_BELOW: usize = 16;

/// The queue in front of a store's batch append. Its task starts with the
/// first append (inside the runtime), and stops when the queue is dropped.
///
/// [`Chat`](crate::Chat) puts one in front of its store; a benchmark or a
/// backend's own tests may build one directly.
pub struct GroupCommit {
    store: Arc<dyn MessageStore>,
    requests: OnceLock<mpsc::Sender<Request>>,
}

impl GroupCommit {
    /// A queue of at most [`QUEUE`] appends in front of `store`.
    pub fn new(store: Arc<dyn MessageStore>) -> Self {
        Self {
            store,
            requests: OnceLock::new(),
        }
    }

    /// Appends one message, returning once the transaction holding it has
    /// committed.
    ///
    /// # Errors
    /// The message's own error, or [`ChatError::Unavailable`] if its batch
    /// could not be committed or the task has stopped.
    pub async fn append(&self, message: NewMessage) -> Result<Appended> {
        self.enqueue(message).await?.await
    }

    /// Queues one message, returning once it has its place in the commit
    /// order (at once unless [`QUEUE`] appends wait already), with the
    /// future of its commit. Messages queued one after another commit in
    /// that order, so a caller may queue the next before the last has
    /// committed.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`] if the task has stopped.
    pub async fn enqueue(&self, message: NewMessage) -> Result<Committing> {
        let requests = self.requests.get_or_init(|| {
            let (requests, receiver) = mpsc::channel(QUEUE);
            let max_batch = self.store.max_batch().max(1);
            tokio::spawn(run(Arc::clone(&self.store), receiver, max_batch));
            requests
        });
        let (reply, answer) = oneshot::channel();
        requests
            .send(Request { message, reply })
            .await
            .map_err(|_| stopped())?;
        Ok(Committing { answer })
    }
}

/// A queued append's commit; see [`GroupCommit::enqueue`]. Dropping it
/// does not take the message back.
#[must_use = "the commit's outcome is only known by awaiting it"]
#[derive(Debug)]
pub struct Committing {
    answer: oneshot::Receiver<Result<Appended>>,
}

impl Future for Committing {
    type Output = Result<Appended>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| answer.unwrap_or_else(|_| Err(stopped())))
    }
}

fn stopped() -> ChatError {
    ChatError::unavailable("the writer has stopped")
}

async fn run(
    store: Arc<dyn MessageStore>,
    mut receiver: mpsc::Receiver<Request>,
    max_batch: usize,
) {
    let mut requests = Vec::with_capacity(max_batch);
    let mut messages = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut requests, max_batch).await > 0 {
        // Senders just answered by the last commit are about to append
        // again: let them run once before the batch closes, so that it
        // takes them too instead of leaving them for a small batch of their
        // own. A lone sender pays one scheduler round.
        if requests.len() < YIELD_BELOW.min(max_batch) {
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
async fn append_all(store: &dyn MessageStore, batch: &[NewMessage]) -> Vec<Result<Appended>> {
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
async fn checked(store: &dyn MessageStore, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
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
