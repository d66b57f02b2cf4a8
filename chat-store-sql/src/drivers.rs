//! [`SqlPool`], [`Sql`] and [`SqlRow`] for each database sqlx drives, and
//! how each one's errors map into [`ChatError`]s: connection trouble is
//! `Unavailable` (the caller may retry), anything else `Internal`.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::db::{Arg, Commit, Sql, SqlPool, SqlRow, Stmt};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::lender::{Lender, Lent, LentTx};
use chat_core::ChatError;

/// The classification every database shares: a pool that cannot hand out
/// a connection, or a connection that broke, is unavailable.
pub fn connection_trouble(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

/// SQLite's errors: also `SQLITE_BUSY` (5) and `SQLITE_LOCKED` (6), with
/// their extended codes, are unavailable.
pub fn sqlite_error(error: sqlx::Error) -> ChatError {
    let busy = match &error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    };
    if busy || connection_trouble(&error) {
        ChatError::unavailable(error)
    } else {
        ChatError::internal(error)
    }
}

/// PostgreSQL's errors: also a server shutting down, starting or full
/// (classes 08 and 57P, 53300), and a transaction that lost a serialization
/// or deadlock check (40001, 40P01: trying again may succeed), are
/// unavailable.
pub fn postgres_error(error: sqlx::Error) -> ChatError {
    let gone = match &error {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(&*code, "53300" | "40001" | "40P01")
        }),
        _ => false,
    };
    if gone || connection_trouble(&error) {
        ChatError::unavailable(error)
    } else {
        ChatError::internal(error)
    }
}

/// The unique constraint a database error violated, by the name the
/// database gives (PostgreSQL's constraint, SQLite's message naming the
/// columns), or `None` for any other error.
fn unique_violation(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => Some(
            db.constraint()
                .map_or_else(|| db.message().to_owned(), str::to_owned),
        ),
        _ => None,
    }
}

/// The impls for one database: `$db` (the sqlx database), its pool,
/// connection and row types, and its error mapping.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! driver {
    ($db:ty, $pool:ty, $conn:ty, $row:ty, $to_chat:path) => {
        fn bind<'q>(
            mut query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
            args: &[Arg<'_>],
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
            for arg in args {
                query = match *arg {
                    Arg::Int(value) => query.bind(value),
                    Arg::OptInt(value) => query.bind(value),
                    Arg::Text(value) => query.bind(value),
                    Arg::OptText(value) => query.bind(value),
                    Arg::Bytes(value) => query.bind(value),
                    Arg::Flag(value) => query.bind(value),
                };
            }
            query
        }

        fn get<'r, T>(row: &'r $row, column: &str) -> chat_core::Result<T>
        where
            T: sqlx::Decode<'r, $db> + sqlx::Type<$db>,
        {
            sqlx::Row::try_get(row, column).map_err($to_chat)
        }

        impl SqlRow for $row {
            fn int(&self, column: &str) -> chat_core::Result<i64> {
                get(self, column)
            }
            fn opt_int(&self, column: &str) -> chat_core::Result<Option<i64>> {
                get(self, column)
            }
            fn text(&self, column: &str) -> chat_core::Result<String> {
                get(self, column)
            }
            fn opt_text(&self, column: &str) -> chat_core::Result<Option<String>> {
                get(self, column)
            }
            fn flag(&self, column: &str) -> chat_core::Result<bool> {
                get(self, column)
            }
            fn bytes(&self, column: &str) -> chat_core::Result<Vec<u8>> {
                get(self, column)
            }
        }

        /// Each statement once, on any executor (a pool, a connection).
        mod on {
            use super::*;

            pub(super) async fn fetch_all<'e, E>(
                executor: E,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> Result<Vec<$row>, sqlx::Error>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                bind(sqlx::query(sql.into_sql()), args)
                    .fetch_all(executor)
                    .await
            }

            pub(super) async fn fetch_optional<'e, E>(
                executor: E,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> Result<Option<$row>, sqlx::Error>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                bind(sqlx::query(sql.into_sql()), args)
                    .fetch_optional(executor)
                    .await
            }

            pub(super) async fn execute<'e, E>(
                executor: E,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> Result<u64, sqlx::Error>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                bind(sqlx::query(sql.into_sql()), args)
                    .execute(executor)
                    .await
                    .map(|done| done.rows_affected())
            }

            /// The inserted row, or the unique constraint that refused it.
            pub(super) async fn insert_unique<'e, E>(
                executor: E,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Result<$row, String>>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                match bind(sqlx::query(sql.into_sql()), args)
                    .fetch_one(executor)
                    .await
                {
                    Ok(row) => Ok(Ok(row)),
                    Err(error) => match unique_violation(&error) {
                        Some(constraint) => Ok(Err(constraint)),
                        None => Err($to_chat(error)),
                    },
                }
            }
        }

        impl SqlPool for $pool {
            type Row = $row;
            type Tx = sqlx::Transaction<'static, $db>;

            async fn fetch_all(&self, sql: Stmt, args: &[Arg<'_>]) -> chat_core::Result<Vec<$row>> {
                on::fetch_all(self, sql, args).await.map_err($to_chat)
            }

            async fn fetch_optional(
                &self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Option<$row>> {
                on::fetch_optional(self, sql, args).await.map_err($to_chat)
            }

            async fn execute(&self, sql: Stmt, args: &[Arg<'_>]) -> chat_core::Result<u64> {
                on::execute(self, sql, args).await.map_err($to_chat)
            }

            async fn insert_unique(
                &self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Result<$row, String>> {
                on::insert_unique(self, sql, args).await
            }

            async fn begin(&self) -> chat_core::Result<Self::Tx> {
                sqlx::Pool::begin(self).await.map_err($to_chat)
            }
        }

        impl Sql for sqlx::Transaction<'static, $db> {
            type Row = $row;

            async fn fetch_all(
                &mut self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Vec<$row>> {
                on::fetch_all(&mut **self, sql, args)
                    .await
                    .map_err($to_chat)
            }

            async fn fetch_optional(
                &mut self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Option<$row>> {
                on::fetch_optional(&mut **self, sql, args)
                    .await
                    .map_err($to_chat)
            }

            async fn execute(&mut self, sql: Stmt, args: &[Arg<'_>]) -> chat_core::Result<u64> {
                on::execute(&mut **self, sql, args).await.map_err($to_chat)
            }
        }

        impl Commit for sqlx::Transaction<'static, $db> {
            async fn commit(self) -> chat_core::Result<()> {
                sqlx::Transaction::commit(self).await.map_err($to_chat)
            }

            async fn rollback(self) -> chat_core::Result<()> {
                sqlx::Transaction::rollback(self).await.map_err($to_chat)
            }
        }

        impl Lender<$conn> {
            /// A connection, with its error mapped.
            async fn lend(&self) -> chat_core::Result<Lent<$conn>> {
                let mut lent = self.acquire().await.map_err($to_chat)?;
                // Until the statement has answered: a caller that stops
                // waiting leaves it to be settled.
                lent.unsettle();
                Ok(lent)
            }
        }

        /// The end of a statement on a lent connection.
        async fn returned<T>(
            mut lent: Lent<$conn>,
            result: Result<T, sqlx::Error>,
        ) -> chat_core::Result<T> {
            match result {
                Ok(value) => {
                    lent.settled();
                    Ok(value)
                }
                Err(error) => Err(failed(lent, error).await),
            }
        }

        /// A statement on a lent connection failed: the connection is
        /// closed rather than lent again if it broke.
        async fn failed(mut lent: Lent<$conn>, error: sqlx::Error) -> chat_core::ChatError {
            if connection_trouble(&error) {
                lent.discard().await;
            } else {
                lent.settled();
            }
            $to_chat(error)
        }

        impl SqlPool for Lender<$conn> {
            type Row = $row;
            type Tx = LentTx<$conn>;

            async fn fetch_all(&self, sql: Stmt, args: &[Arg<'_>]) -> chat_core::Result<Vec<$row>> {
                let mut lent = self.lend().await?;
                let result = on::fetch_all(&mut *lent, sql, args).await;
                returned(lent, result).await
            }

            async fn fetch_optional(
                &self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Option<$row>> {
                let mut lent = self.lend().await?;
                let result = on::fetch_optional(&mut *lent, sql, args).await;
                returned(lent, result).await
            }

            async fn execute(&self, sql: Stmt, args: &[Arg<'_>]) -> chat_core::Result<u64> {
                let mut lent = self.lend().await?;
                let result = on::execute(&mut *lent, sql, args).await;
                returned(lent, result).await
            }

            async fn insert_unique(
                &self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Result<$row, String>> {
                let mut lent = self.lend().await?;
                let result = on::insert_unique(&mut *lent, sql, args).await;
                lent.settled();
                result
            }

            async fn begin(&self) -> chat_core::Result<Self::Tx> {
                let mut lent = self.lend().await?;
                match on::execute(&mut *lent, "BEGIN".into(), &[]).await {
                    // Unsettled until it commits or rolls back.
                    Ok(_) => Ok(LentTx { lent }),
                    Err(error) => Err(failed(lent, error).await),
                }
            }
        }

        impl Sql for LentTx<$conn> {
            type Row = $row;

            async fn fetch_all(
                &mut self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Vec<$row>> {
                on::fetch_all(&mut *self.lent, sql, args)
                    .await
                    .map_err($to_chat)
            }

            async fn fetch_optional(
                &mut self,
                sql: Stmt,
                args: &[Arg<'_>],
            ) -> chat_core::Result<Option<$row>> {
                on::fetch_optional(&mut *self.lent, sql, args)
                    .await
                    .map_err($to_chat)
            }

            async fn execute(&mut self, sql: Stmt, args: &[Arg<'_>]) -> chat_core::Result<u64> {
                on::execute(&mut *self.lent, sql, args)
                    .await
                    .map_err($to_chat)
            }
        }

        impl Commit for LentTx<$conn> {
            async fn commit(mut self) -> chat_core::Result<()> {
                let result = on::execute(&mut *self.lent, "COMMIT".into(), &[]).await;
                returned(self.lent, result).await.map(drop)
            }

            async fn rollback(mut self) -> chat_core::Result<()> {
                let result = on::execute(&mut *self.lent, "ROLLBACK".into(), &[]).await;
                returned(self.lent, result).await.map(drop)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    driver!(
        sqlx::Sqlite,
        sqlx::SqlitePool,
        sqlx::SqliteConnection,
        sqlx::sqlite::SqliteRow,
        super::sqlite_error
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    driver!(
        sqlx::Postgres,
        sqlx::PgPool,
        sqlx::PgConnection,
        sqlx::postgres::PgRow,
        super::postgres_error
    );
}
