use async_trait::async_trait;

use crate::domain::{Timestamp, UserId};
use crate::error::Result;

/// Who is online: a user with at least one live connection on any server;
/// and who is active: when each last showed they are there, so that an
/// open but idle tab does not count as someone reading.
///
/// Contract: `connect` and `disconnect` come in pairs per connection;
/// `connect` says whether the user has just come online (their first live
/// connection anywhere), `disconnect` whether they have just gone offline
/// (their last). An implementation shared between processes expires the
/// entries of a process that died without disconnecting.
#[async_trait]
pub trait Presence: Send + Sync + 'static {
    /// One more live connection of `user`; `true` if they just came online.
    async fn connect(&self, user: UserId) -> Result<bool>;

    /// One live connection of `user` fewer; `true` if they just went offline.
    async fn disconnect(&self, user: UserId) -> Result<bool>;

    /// Whether each of `users` is online, in order.
    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>>;

    /// Notes that `user` showed, at `at`, that they are there (a client
    /// said its page is in view, or they sent, read or typed). The newest
    /// time is kept, whatever order notes arrive in; a note older than a
    /// day may be forgotten.
    async fn touch(&self, user: UserId, at: Timestamp) -> Result<()>;

    /// When each of `users` was last noted as there, in order (`None`:
    /// not within the last day).
    async fn last_active(&self, users: &[UserId]) -> Result<Vec<Option<Timestamp>>>;
}

/// How long activity is remembered by the presence backends.
pub const ACTIVITY_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
