//! The backend author's toolkit: pure helpers for implementing the
//! [ports](crate::ports), so that every store answers alike.
//!
//! - [`AppendPlan`]: the store-independent half of
//!   [`MessageStore::append_batch`](crate::ports::MessageStore::append_batch),
//!   which messages of a batch are new and what each sender is answered.
//! - [`StoredMessage`] and [`stored_user`]: a row read back, validated again,
//!   so that a corrupt row is an error naming its column, never a panic.
//! - [`GroupCommit`]: the batching queue the service puts in front of a
//!   store's `append_batch` (every append waiting at a moment shares one
//!   transaction); public for benchmarks and a backend's own tests.
//! - [`Fanout`]: per-topic broadcast with bounded queues and lag notices,
//!   the local half of every bus (the in-process one and Redis's).
//!
//! An embedder never needs this module; a new store does. The conformance
//! suites (`testkit`, behind the `testkit` feature) say whether the store
//! is right.

mod append_plan;
mod stored;
mod thread_reads;

pub use crate::fanout::{Fanout, FanoutSubscription, OnLastLeave};
pub use crate::group_commit::{Committing, GroupCommit, QUEUE as GROUP_COMMIT_QUEUE};
pub use append_plan::{AppendPlan, WrittenBatch};
pub use stored::{StoredMessage, corrupt, stored_user};
pub use thread_reads::{ThreadRead, thread_reads};
