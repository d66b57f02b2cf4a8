//! Connections lent in turn: a few connections a store keeps for itself,
//! each lent to one caller at a time and taken back the moment the caller
//! is done.
//!
//! sqlx's pool hands a connection back through a task of its own that
//! first pings it (a round trip to the database). Under load that task
//! waits behind everything else the runtime runs, and the next caller waits
//! for it: measured under a fan-out load, three quarters of a group
//! commit's time went there. Here a connection goes back to the idle list
//! when its guard drops, at once; a connection left in an unknown state (a
//! transaction not ended, a statement cancelled half-way) is rolled back
//! before it is lent again, and one that broke is closed and replaced.
//! The SQLite store lends all its connections this way; the PostgreSQL
//! store its appending one.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::{ConnectOptions, Connection, Executor};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::debug;

/// At most `max` connections of type `C`, opened when first needed.
pub struct Lender<C: Connection> {
    shared: Arc<Shared<C>>,
}

impl<C: Connection> Clone for Lender<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<C: Connection> {
    options: <C as Connection>::Options,
    idle: Mutex<Vec<Idle<C>>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

struct Idle<C> {
    connection: C,
    /// Left in an unknown state: rolled back before it is lent again.
    unsettled: bool,
}

impl<C> Lender<C>
where
    C: Connection,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    /// At most `max` connections opened with `options`; a caller waits at
    /// most `acquire_timeout` for one.
    pub fn new(options: <C as Connection>::Options, max: usize, acquire_timeout: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max.max(1))),
                acquire_timeout,
            }),
        }
    }

    /// Lends `connection` first: a connection already opened (and
    /// migrated) becomes the lender's.
    #[must_use]
    pub fn with_connection(self, connection: C) -> Self {
        self.shared.idle().push(Idle {
            connection,
            unsettled: false,
        });
        self
    }

    /// A connection for the caller alone until the guard drops.
    ///
    /// # Errors
    /// `PoolTimedOut` when none is free (or could be opened) in time,
    /// `PoolClosed` after [`Lender::close`], or why a new connection could
    /// not be opened.
    pub async fn acquire(&self) -> Result<Lent<C>, sqlx::Error> {
        tokio::time::timeout(self.shared.acquire_timeout, self.lend_one())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    async fn lend_one(&self) -> Result<Lent<C>, sqlx::Error> {
        let shared = &self.shared;
        let permit = Arc::clone(&shared.permits)
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = shared.idle().pop();
        let connection = match idle {
            Some(Idle {
                connection,
                unsettled: false,
            }) => connection,
            Some(Idle {
                mut connection,
                unsettled: true,
            }) => match roll_back(&mut connection).await {
                Ok(()) => connection,
                Err(error) => {
                    debug!(%error, "a connection left unsettled is replaced");
                    let _ = connection.close().await;
                    shared.options.connect().await?
                }
            },
            None => shared.options.connect().await?,
        };
        Ok(Lent {
            connection: Some(connection),
            unsettled: false,
            shared: Arc::clone(shared),
            _permit: permit,
        })
    }

    /// Closes every idle connection and lends no more.
    pub async fn close(&self) {
        self.shared.permits.close();
        let idle = std::mem::take(&mut *self.shared.idle());
        for Idle { connection, .. } in idle {
            let _ = connection.close().await;
        }
    }
}

impl<C: Connection> Shared<C> {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle<C>>> {
        // The list is never left half-changed: a poisoned lock still holds
        // a valid list.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends whatever a caller left open: a transaction, or a statement it
/// stopped waiting for (whose result the connection still drains). Outside
/// a transaction the rollback is ignored (PostgreSQL) or refused as such
/// (SQLite), which is fine; any other failure is an error, and the
/// connection is not to be lent again.
pub async fn roll_back<C>(connection: &mut C) -> Result<(), sqlx::Error>
where
    C: Connection,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    match connection.execute("ROLLBACK").await {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(error))
            if error.message().contains("no transaction is active") =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// A lent connection; it goes back when dropped.
pub struct Lent<C: Connection> {
    connection: Option<C>,
    unsettled: bool,
    shared: Arc<Shared<C>>,
    _permit: OwnedSemaphorePermit,
}

impl<C: Connection> Lent<C> {
    /// Says that the connection is about to be left in a state its next
    /// borrower must not inherit (a statement under way, a transaction
    /// open), until [`Lent::settled`].
    pub fn unsettle(&mut self) {
        self.unsettled = true;
    }

    /// Says that the connection is back in a clean state.
    pub fn settled(&mut self) {
        self.unsettled = false;
    }

    /// Closes the connection instead of handing it back (it broke): the
    /// next borrower opens another.
    pub async fn discard(mut self) {
        if let Some(connection) = self.connection.take() {
            let _ = connection.close().await;
        }
    }
}

impl<C: Connection> Deref for Lent<C> {
    type Target = C;

    fn deref(&self) -> &C {
        // Only `discard` and `drop` take the connection, and both consume
        // the guard.
        self.connection
            .as_ref()
            .unwrap_or_else(|| unreachable!("a lent connection is there until the guard goes"))
    }
}

impl<C: Connection> DerefMut for Lent<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lent connection is there until the guard goes"))
    }
}

impl<C: Connection> Drop for Lent<C> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.shared.idle().push(Idle {
                connection,
                unsettled: self.unsettled,
            });
        }
    }
}

/// A transaction on a lent connection: it commits or rolls back through
/// [`Commit`](crate::Commit); dropped without either, the connection is
/// rolled back before it is lent again.
pub struct LentTx<C: Connection> {
    pub(crate) lent: Lent<C>,
}
