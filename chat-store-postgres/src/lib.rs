//! # chat-store-postgres
//!
//! The production store of [`chat_core`]: PostgreSQL through sqlx.
//!
//! - A bounded pool with an acquire timeout: when the server is down, calls
//!   fail fast with `ChatError::Unavailable`, and the pool reconnects by
//!   itself when it is back.
//! - Migrations are embedded and run at open; sqlx takes an advisory lock,
//!   so servers starting together migrate once.
//! - Message ids come from a one-row clock advanced inside each append
//!   transaction: ids grow in commit order across every server process, so
//!   "every message after id N" never skips one that committed late.
//! - Appends come in batches (the service's group commit), each one
//!   transaction of a few set-based statements.
//! - Substring search uses a `pg_trgm` GIN index on the case-folded text;
//!   the store creates the extension at open, or fails naming it.
//! - Everything but connecting, search and the batch statements is the SQL
//!   every store shares (`chat-store-sql`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_store_postgres::PgError> {
//! let store = chat_store_postgres::PgStore::open("postgres://chat@localhost/chat").await?;
//! let chat = chat_core::Chat::builder(std::sync::Arc::new(store)).build();
//! # Ok(()) }
//! ```

mod error;
mod messages;
#[cfg(feature = "scale")]
mod scale;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chat_core::ports::{HistoryQuery, Page};
use chat_core::{ConversationId, Message};
use chat_store_sql::{Lender, SqlStore, Statements, sql_store_ports};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

pub use error::PgError;

/// How the store connects.
#[derive(Clone, Debug)]
pub struct PgOptions {
    url: String,
    max_connections: u32,
    acquire_timeout: Duration,
    schema: Option<String>,
    max_batch: usize,
}

impl PgOptions {
    /// Options for `url` (`postgres://user:password@host:port/database`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            schema: None,
            max_batch: 256,
        }
    }

    /// At most this many connections (default 16).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(2);
        self
    }

    /// How long a call waits for a connection before it is `Unavailable`
    /// (default 3 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Keeps the tables in this schema (created if missing; letters, digits
    /// and `_` only) instead of the user's default.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// How many appends one transaction takes at most (default 256).
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }
}

/// A [`chat_core::Store`] on PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// The connection batches of appends go through, kept apart from the
    /// pool (see [`Lender`]).
    appender: Lender<PgConnection>,
    max_batch: usize,
}

impl PgStore {
    /// Connects to `url` and migrates, with default options.
    ///
    /// # Errors
    /// [`PgError`] if the URL is invalid, the server cannot be reached,
    /// `pg_trgm` is missing, or a migration fails.
    pub async fn open(url: &str) -> Result<Self, PgError> {
        Self::open_with(PgOptions::new(url)).await
    }

    /// Connects with explicit options.
    ///
    /// # Errors
    /// As [`PgStore::open`].
    pub async fn open_with(options: PgOptions) -> Result<Self, PgError> {
        let mut connect = PgConnectOptions::from_str(&options.url).map_err(PgError::Url)?;
        if let Some(schema) = &options.schema {
            if schema.is_empty()
                || !schema
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(PgError::Url(sqlx::Error::Configuration(
                    format!("invalid schema name {schema:?}").into(),
                )));
            }
            connect = connect.options([("search_path", format!("{schema},public"))]);
        }
        let appender = Lender::new(connect.clone(), 1, options.acquire_timeout);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(true)
            .connect_with(connect)
            .await
            .map_err(PgError::Connect)?;
        // The extension lives in `public`, where every schema sees it.
        if let Err(error) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            .execute(&pool)
            .await
        {
            let present: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
                    .fetch_optional(&pool)
                    .await
                    .map_err(PgError::Connect)?;
            if present.is_none() {
                return Err(PgError::Trigram(error));
            }
        }
        if let Some(schema) = &options.schema {
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&pool)
            .await
            .map_err(PgError::Connect)?;
        }
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(PgError::Migrate)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                appender,
                max_batch: options.max_batch,
            }),
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.inner.appender.close().await;
        self.inner.pool.close().await;
    }
}

impl SqlStore for PgStore {
    type Pool = PgPool;

    fn reader(&self) -> &PgPool {
        &self.inner.pool
    }

    fn writer(&self) -> &PgPool {
        &self.inner.pool
    }

    type Appender = Lender<PgConnection>;

    fn appender(&self) -> &Lender<PgConnection> {
        &self.inner.appender
    }

    fn statements(&self) -> &'static Statements {
        &messages::STATEMENTS
    }

    fn max_batch(&self) -> usize {
        self.inner.max_batch
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> chat_core::Result<Page<Message>> {
        messages::list_messages(self, conversation, query).await
    }
}

sql_store_ports!(PgStore);
