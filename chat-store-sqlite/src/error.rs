//! The store's own errors, and their mapping into `ChatError`.

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
