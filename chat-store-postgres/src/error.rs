//! The store's own errors, and their mapping into `ChatError`.

/// Why the PostgreSQL store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The URL is not a PostgreSQL URL sqlx understands.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The server could not be reached or refused the connection.
    #[error("could not connect to PostgreSQL: {0}")]
    Connect(#[source] sqlx::Error),
    /// The `pg_trgm` extension is missing and could not be created.
    #[error(
        "the PostgreSQL extension pg_trgm is required for message search and could not be created \
         ({0}); install it (Debian: postgresql-contrib) or run `CREATE EXTENSION pg_trgm;` as a superuser"
    )]
    Trigram(#[source] sqlx::Error),
    /// A migration failed.
    #[error("could not migrate the PostgreSQL database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}
