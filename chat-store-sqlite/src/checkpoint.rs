//! WAL checkpoints beside the writer instead of on it.
//!
//! By default SQLite checkpoints on the connection that commits, once the
//! WAL passes 1 000 pages: that commit copies the WAL back into the
//! database and syncs the file, and every append of its batch waits with
//! it. The writer here has automatic checkpoints off; this task runs a
//! `PASSIVE` checkpoint on a connection of its own a few times a second,
//! which never waits for readers or the writer. Should readers keep it
//! from catching up until the WAL is large, it takes a `TRUNCATE`
//! checkpoint, which waits for them once and shrinks the file.

use std::sync::Weak;
use std::time::Duration;

use sqlx::SqlitePool;
use tracing::{debug, warn};

use crate::Inner;

/// How often the WAL is checkpointed.
const EVERY: Duration = Duration::from_millis(250);
/// WAL pages (4 KiB) left behind after which a checkpoint waits for
/// readers to truncate the file.
const TOO_LARGE: i64 = 32 * 1024;

/// Checkpoints the store's WAL until the store is dropped or closed.
pub(crate) async fn run(store: Weak<Inner>) {
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(pool) = store.upgrade().and_then(|inner| inner.checkpointer.clone()) else {
            return;
        };
        if pool.is_closed() {
            return;
        }
        match checkpoint(&pool, "PRAGMA wal_checkpoint(PASSIVE)").await {
            Ok(left) if left > TOO_LARGE => {
                warn!(
                    pages = left,
                    "the WAL keeps growing; waiting for readers to truncate it"
                );
                if let Err(error) = checkpoint(&pool, "PRAGMA wal_checkpoint(TRUNCATE)").await {
                    debug!(%error, "WAL checkpoint failed");
                }
            }
            Ok(_) => {}
            Err(error) => debug!(%error, "WAL checkpoint failed"),
        }
    }
}

/// Runs one checkpoint pragma; returns the WAL pages it could not copy.
async fn checkpoint(pool: &SqlitePool, pragma: &'static str) -> Result<i64, sqlx::Error> {
    let (_busy, log, copied): (i64, i64, i64) = sqlx::query_as(pragma).fetch_one(pool).await?;
    Ok(log - copied)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::SqliteStore;
    use chat_store_sql::SqlStore;

    #[tokio::test]
    async fn the_wal_is_copied_back_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoint.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        let before = size();
        // About 4 MiB of rows, in the WAL once committed.
        sqlx::query(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) \
             INSERT INTO users (username, username_canonical, email, email_canonical, password_hash, created_at) \
             SELECT 'u' || n, 'u' || n, 'u' || n || '@x.test', 'u' || n || '@x.test', hex(randomblob(64)), 0 FROM g",
        )
        .execute(&mut *store.writer().acquire().await.unwrap())
        .await
        .unwrap();
        // The writer does not checkpoint: only the checkpoint task can grow
        // the database file. Wait for it, boundedly.
        let deadline = Instant::now() + Duration::from_secs(10);
        while size() < before + 2 * 1024 * 1024 {
            assert!(
                Instant::now() < deadline,
                "no checkpoint: still {} bytes",
                size()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.close().await;
    }
}
