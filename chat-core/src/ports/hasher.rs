use async_trait::async_trait;

use crate::domain::{Password, PasswordHash};
use crate::error::Result;

/// Hashes and verifies passwords.
///
/// Contract: work runs off the async executor (a blocking pool) and is
/// bounded in concurrency; when the pool is saturated for too long the call
/// fails with [`ChatError::Unavailable`](crate::ChatError::Unavailable)
/// instead of queueing without limit. Each hash uses a fresh random salt.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes `password` with a fresh salt.
    async fn hash(&self, password: &Password) -> Result<PasswordHash>;

    /// Whether `password` matches `hash`. A malformed hash is an error.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool>;
}
