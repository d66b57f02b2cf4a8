//! The bus's own errors, and their mapping into `ChatError`.

use chat_core::ChatError;

/// Why the Redis bus could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisBusError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// Redis could not be reached.
    #[error("could not connect to Redis: {0}")]
    Connect(#[source] redis::RedisError),
    /// The key prefix is empty or has characters other than letters,
    /// digits, `_`, `-`, `.` and `:`.
    #[error("invalid key prefix {0:?}")]
    Prefix(String),
}

/// A Redis failure while serving a call: the bus is unavailable.
pub(crate) fn unavailable(error: impl Into<chat_core::Source>) -> ChatError {
    ChatError::unavailable(error)
}
