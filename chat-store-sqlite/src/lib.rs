//! # chat-store-sqlite
//!
//! The embedded default store of [`chat_core`]: one SQLite file (or memory),
//! through sqlx.
//!
//! - Migrations are embedded and run when the store opens.
//! - Files use WAL with `synchronous = NORMAL`: readers never wait for the
//!   writer, and a commit survives a crash of the process (the last commits
//!   before a power loss may not).
//! - Reads go through a few connections; writes through one connection;
//!   WAL checkpoints through another, a few times a second, so that no
//!   commit pays for one. Connections are lent in turn by the store itself
//!   ([`chat_store_sql::Lender`]), handed back the moment a caller is done. Message appends come in batches (the service's
//!   group commit), each one transaction of a few set-based statements.
//! - Substring search uses an FTS5 trigram index over case-folded text.
//! - Everything but opening, search and the batch statements is the SQL
//!   every store shares (`chat-store-sql`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_store_sqlite::SqliteError> {
//! let store = chat_store_sqlite::SqliteStore::open("sqlite://chat.db").await?;
//! let chat = chat_core::Chat::builder(std::sync::Arc::new(store)).build();
//! # Ok(()) }
//! ```

mod append;
mod checkpoint;
mod error;
mod messages;
#[cfg(test)]
mod query_plans;
#[cfg(feature = "scale")]
mod scale;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqlitePool};

/// The store's connections: lent in turn, see [`Lender`].
pub type Connections = Lender<SqliteConnection>;

pub use error::SqliteError;

use chat_core::ports::{HistoryQuery, Page};
use chat_core::{ConversationId, Message};
use chat_store_sql::{Lender, SqlStore, Statements, sql_store_ports};

/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the store opens its database.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    url: String,
    readers: u32,
    busy_timeout: Duration,
    max_batch: usize,
    scan_limit: i64,
}

impl SqliteOptions {
    /// Options for `url`: `sqlite://path/to/chat.db` (created if missing),
    /// `sqlite:chat.db` or `sqlite::memory:`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            max_batch: 256,
            scan_limit: messages::SCAN_LIMIT,
        }
    }

    /// How many read connections to keep (default 4; memory databases use one
    /// connection for everything).
    pub fn readers(mut self, readers: u32) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// How many appends one transaction takes at most (default 256).
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Searches read a range of up to `messages` messages in full (default
    /// 10 000), and larger ones through the store-wide trigram index. `0`
    /// always uses the index (tests of the index use it).
    pub fn search_scan_limit(mut self, messages: u32) -> Self {
        self.scan_limit = i64::from(messages);
        self
    }

    fn is_memory(&self) -> bool {
        self.url.contains(":memory:") || self.url.contains("mode=memory")
    }
}

/// A [`chat_core::Store`] on SQLite. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// For a memory database, a connection that holds it alive: the
    /// database lives as long as one connection to it does, and the pool
    /// replaces a connection it finds broken (after a cancelled query, say)
    /// by a new one. Never used otherwise.
    memory_anchor: Option<tokio::sync::Mutex<SqliteConnection>>,
    /// The only connection that writes.
    writer: Connections,
    /// The connection that checkpoints the WAL (files only).
    checkpointer: Option<SqlitePool>,
    /// Connections for reads; the writer itself for memory databases.
    reader: Connections,
    /// Appends per transaction, at most.
    max_batch: usize,
    /// Searches read ranges up to this size in full.
    scan_limit: i64,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `url`, with
    /// default options.
    ///
    /// # Errors
    /// [`SqliteError`] if the URL is invalid, the file cannot be opened, or a
    /// migration fails.
    pub async fn open(url: &str) -> Result<Self, SqliteError> {
        Self::open_with(SqliteOptions::new(url)).await
    }

    /// Opens a fresh private in-memory database.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub async fn memory() -> Result<Self, SqliteError> {
        Self::open("sqlite::memory:").await
    }

    /// Opens with explicit options.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub async fn open_with(options: SqliteOptions) -> Result<Self, SqliteError> {
        let connect = SqliteConnectOptions::from_str(&options.url)
            .map_err(SqliteError::Url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .synchronous(SqliteSynchronous::Normal)
            .pragma("temp_store", "memory");
        let memory = options.is_memory();
        let connect = if memory {
            connect
        } else {
            connect.journal_mode(SqliteJournalMode::Wal)
        };
        // A memory database (a named, shared-cache one: sqlx names each)
        // lives as long as a connection to it does: one is kept open beside
        // the pool. Files: the writer never checkpoints (see `checkpoint`).
        let memory_anchor = if memory {
            let anchor = connect.connect().await.map_err(SqliteError::Open)?;
            Some(tokio::sync::Mutex::new(anchor))
        } else {
            None
        };
        let writer_connect = if memory {
            connect.clone()
        } else {
            connect.clone().pragma("wal_autocheckpoint", "0")
        };
        let mut first = writer_connect.connect().await.map_err(SqliteError::Open)?;
        sqlx::migrate!("./migrations")
            .run(&mut first)
            .await
            .map_err(SqliteError::Migrate)?;
        let writer = Lender::new(writer_connect, 1, ACQUIRE_TIMEOUT).with_connection(first);
        let reader = if memory {
            writer.clone()
        } else {
            let readers = usize::try_from(options.readers).unwrap_or(1);
            let read_only = connect.clone().read_only(true);
            let first = read_only.connect().await.map_err(SqliteError::Open)?;
            Lender::new(read_only, readers, ACQUIRE_TIMEOUT).with_connection(first)
        };
        let checkpointer = if memory {
            None
        } else {
            Some(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(connect)
                    .await
                    .map_err(SqliteError::Open)?,
            )
        };
        let inner = Arc::new(Inner {
            memory_anchor,
            writer,
            checkpointer,
            reader,
            max_batch: options.max_batch,
            scan_limit: options.scan_limit,
        });
        if inner.checkpointer.is_some() {
            tokio::spawn(checkpoint::run(Arc::downgrade(&inner)));
        }
        Ok(Self { inner })
    }

    /// Closes every connection; calls made afterwards fail as unavailable.
    pub async fn close(&self) {
        self.inner.reader.close().await;
        self.inner.writer.close().await;
        if let Some(checkpointer) = &self.inner.checkpointer {
            checkpointer.close().await;
        }
        if let Some(anchor) = &self.inner.memory_anchor {
            let _ = sqlx::Connection::ping(&mut *anchor.lock().await).await;
        }
    }

    fn scan_limit(&self) -> i64 {
        self.inner.scan_limit
    }
}

impl SqlStore for SqliteStore {
    type Pool = Connections;
    type Appender = Connections;

    fn reader(&self) -> &Connections {
        &self.inner.reader
    }

    fn writer(&self) -> &Connections {
        &self.inner.writer
    }

    fn appender(&self) -> &Connections {
        &self.inner.writer
    }

    fn statements(&self) -> &'static Statements {
        &messages::STATEMENTS
    }

    fn max_batch(&self) -> usize {
        self.inner.max_batch
    }

    async fn append_batch(
        &self,
        batch: &[chat_core::NewMessage],
    ) -> chat_core::Result<Vec<chat_core::Result<chat_core::ports::Appended>>> {
        append::append_batch(self, batch).await
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> chat_core::Result<Page<Message>> {
        messages::list_messages(self, conversation, query).await
    }
}

sql_store_ports!(SqliteStore);

#[cfg(test)]
mod tests {
    use super::*;

    /// The store closes a connection it finds broken and opens another:
    /// a memory database must survive that, as it would not on its own.
    #[tokio::test]
    async fn a_memory_database_outlives_the_connection_that_made_it() {
        let store = SqliteStore::memory().await.unwrap();
        let mut writer = store.writer().acquire().await.unwrap();
        sqlx::query("CREATE TABLE kept (n INTEGER)")
            .execute(&mut *writer)
            .await
            .unwrap();
        writer.discard().await;
        let mut writer = store.writer().acquire().await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM kept")
            .fetch_one(&mut *writer)
            .await
            .unwrap();
        assert_eq!(count, 0, "the table and the database are still there");
        drop(writer);
        let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut *store.reader().acquire().await.unwrap())
            .await
            .unwrap();
        assert_eq!(users, 0);
    }

    /// A caller that stops waiting in the middle of a transaction leaves
    /// it open on the connection: the next borrower must not inherit it.
    #[tokio::test]
    async fn a_transaction_abandoned_half_way_is_rolled_back_before_the_connection_is_lent_again() {
        use chat_store_sql::{Sql, SqlPool};

        let store = SqliteStore::memory().await.unwrap();
        let mut tx = store.writer().begin().await.unwrap();
        tx.execute("CREATE TABLE abandoned (n INTEGER)".into(), &[])
            .await
            .unwrap();
        drop(tx);
        let tables = store
            .writer()
            .fetch_one(
                "SELECT count(*) AS n FROM sqlite_master WHERE name = 'abandoned'".into(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(chat_store_sql::SqlRow::int(&tables, "n").unwrap(), 0);
        // And the connection is usable: a new transaction begins.
        let tx = store.writer().begin().await.unwrap();
        chat_store_sql::Commit::commit(tx).await.unwrap();
    }
}
