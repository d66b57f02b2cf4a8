//! The store's own errors, and their mapping into `ChatError`.

use chat_core::ChatError;

/// Why the SQLite store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// The URL is not a SQLite URL sqlx understands.
    #[error("invalid SQLite URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The database could not be opened or created.
    #[error("could not open the SQLite database: {0}")]
    Open(#[source] sqlx::Error),
    /// A migration failed (for example, a SQLite without FTS5 trigram support).
    #[error("could not migrate the SQLite database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Maps a sqlx error met while serving a call: connection trouble is
/// `Unavailable`, anything else `Internal`.
pub(crate) fn to_chat(error: sqlx::Error) -> ChatError {
    match &error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            ChatError::unavailable(error)
        }
        sqlx::Error::Database(db) if is_busy(db.code().as_deref()) => ChatError::unavailable(error),
        _ => ChatError::internal(error),
    }
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
fn is_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}
