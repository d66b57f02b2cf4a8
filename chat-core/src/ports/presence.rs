use async_trait::async_trait;

use crate::domain::UserId;
use crate::error::Result;

/// Who is online: a user with at least one live connection on any server.
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
}
