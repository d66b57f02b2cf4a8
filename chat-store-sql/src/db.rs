//! Statements, arguments and rows, the same for every database: what the
//! shared code runs, through a pool or inside a transaction.

use std::future::Future;

use chat_core::Result;
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

/// The text of a statement: a literal, or one assembled at run time from
/// literals. Never from input: values travel as [`Arg`]s.
#[derive(Debug)]
pub struct Stmt(SqlStr);

impl Stmt {
    /// A statement assembled from literals at run time.
    pub fn assembled(sql: String) -> Self {
        Self(AssertSqlSafe(sql).into_sql_str())
    }

    /// The text, for sqlx.
    pub fn into_sql(self) -> SqlStr {
        self.0
    }
}

impl From<&'static str> for Stmt {
    fn from(sql: &'static str) -> Self {
        Self(sql.into_sql_str())
    }
}

/// One bound argument.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// An integer (`BIGINT`).
    Int(i64),
    /// An integer or `NULL`.
    OptInt(Option<i64>),
    /// Text.
    Text(&'a str),
    /// Text or `NULL`.
    OptText(Option<&'a str>),
    /// Bytes (`BLOB`, `BYTEA`).
    Bytes(&'a [u8]),
    /// A boolean.
    Flag(bool),
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(value: Option<i64>) -> Self {
        Self::OptInt(value)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Self::Text(value)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(value: &'a String) -> Self {
        Self::Text(value)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Self::OptText(value)
    }
}

impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(value: &'a [u8]) -> Self {
        Self::Bytes(value)
    }
}

impl From<bool> for Arg<'_> {
    fn from(value: bool) -> Self {
        Self::Flag(value)
    }
}

/// The arguments of a statement, in `$1, $2, …` order.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::Arg::from($value)),*]
    };
}

/// A row read back, by column name. A value of the wrong type or a missing
/// column is an internal error naming the column.
pub trait SqlRow: Send + Sync + 'static {
    /// An integer.
    fn int(&self, column: &str) -> Result<i64>;
    /// An integer or `NULL`.
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    /// Text.
    fn text(&self, column: &str) -> Result<String>;
    /// Text or `NULL`.
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    /// A boolean (SQLite's 0 and 1 too).
    fn flag(&self, column: &str) -> Result<bool>;
    /// Bytes.
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
}

/// Runs statements: a transaction (or a connection). Errors are the
/// database's own, already classified into [`ChatError`](chat_core::ChatError)s.
pub trait Sql: Send {
    /// The rows it reads.
    type Row: SqlRow;

    /// Every row.
    fn fetch_all(
        &mut self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;

    /// The row, if there is one.
    fn fetch_optional(
        &mut self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Option<Self::Row>>> + Send;

    /// Runs a statement; how many rows it changed.
    fn execute(&mut self, sql: Stmt, args: &[Arg<'_>]) -> impl Future<Output = Result<u64>> + Send;

    /// The one row; an internal error if there is none.
    fn fetch_one(
        &mut self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Self::Row>> + Send {
        async move {
            self.fetch_optional(sql, args)
                .await?
                .ok_or_else(|| chat_core::ChatError::internal("a statement returned no row"))
        }
    }
}

/// A pool of connections: statements of their own, and transactions.
pub trait SqlPool: Send + Sync + 'static {
    /// The rows it reads.
    type Row: SqlRow;
    /// Its transactions.
    type Tx: Sql<Row = Self::Row> + Commit;

    /// Every row.
    fn fetch_all(
        &self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;

    /// The row, if there is one.
    fn fetch_optional(
        &self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Option<Self::Row>>> + Send;

    /// Runs a statement; how many rows it changed.
    fn execute(&self, sql: Stmt, args: &[Arg<'_>]) -> impl Future<Output = Result<u64>> + Send;

    /// The one row; an internal error if there is none.
    fn fetch_one(
        &self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<Self::Row>> + Send {
        async move {
            self.fetch_optional(sql, args)
                .await?
                .ok_or_else(|| chat_core::ChatError::internal("a statement returned no row"))
        }
    }

    /// Runs an insert that returns its row; `Ok(Err(constraint))` when a
    /// unique constraint refused it (its name, or the database's message
    /// naming its columns).
    fn insert_unique(
        &self,
        sql: Stmt,
        args: &[Arg<'_>],
    ) -> impl Future<Output = Result<std::result::Result<Self::Row, String>>> + Send;

    /// Starts a transaction.
    fn begin(&self) -> impl Future<Output = Result<Self::Tx>> + Send;
}

/// The end of a transaction. Dropped without either, it rolls back.
pub trait Commit: Send {
    /// Commits.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;
    /// Rolls back.
    fn rollback(self) -> impl Future<Output = Result<()>> + Send;
}
