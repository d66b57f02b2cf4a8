use async_trait::async_trait;

use crate::error::Result;

/// What a rate limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Login attempts against one username.
    LoginPerUsername,
    /// Login attempts from one client (address or other key the transport chooses).
    LoginPerClient,
    /// Messages sent by one user.
    SendPerUser,
    /// Typing notices sent by one user.
    TypingPerUser,
}

/// Counts attempts and says when there were too many.
///
/// Contract: `check` records one attempt of `action` by `key` and fails with
/// [`ChatError::RateLimited`](crate::ChatError::RateLimited), carrying when
/// to retry, if that exceeds the action's quota. Memory stays bounded however
/// many keys are seen.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Records one attempt.
    async fn check(&self, action: Action, key: &str) -> Result<()>;
}
