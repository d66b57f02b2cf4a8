//! Presence shared by every server process, on Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chat_core::{ChatError, Clock, Presence, Result, Timestamp, UserId};
use redis::aio::ConnectionManager;
use tracing::debug;

use crate::error::unavailable;

/// Who is online across every process: per user, a sorted set of the
/// processes holding a live connection, each scored with an expiry that the
/// process renews every few seconds. A process that dies without cleaning
/// up drops out when its entries expire (after `ttl`).
pub struct RedisPresence {
    connection: ConnectionManager,
    prefix: String,
    /// This process, as a member of the sets.
    process: String,
    ttl: Duration,
    timeout: Duration,
    /// Live connections per user in this process.
    local: Mutex<HashMap<UserId, usize>>,
    /// What entries are stamped with: the chat's clock, so that every
    /// process of a chat counts expiries by the same time.
    clock: Arc<dyn Clock>,
}

/// A name for this process's entries, unique even for several presences in
/// one process.
fn process_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl RedisPresence {
    /// Presence on `connection`, keys under `prefix`, entries living `ttl`
    /// (renewed every third of it); see [`Redis::presence`](crate::Redis::presence).
    pub(crate) fn start(
        connection: ConnectionManager,
        prefix: &str,
        ttl: Duration,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        let presence = Arc::new(Self {
            connection,
            prefix: prefix.to_owned(),
            process: process_name(),
            ttl: ttl.max(Duration::from_secs(1)),
            timeout,
            local: Mutex::new(HashMap::new()),
            clock,
        });
        tokio::spawn(renew(Arc::downgrade(&presence)));
        presence
    }

    fn key(&self, user: UserId) -> String {
        format!("{}:presence:{user}", self.prefix)
    }

    /// The sorted set of when each user was last active (microseconds).
    fn activity_key(&self) -> String {
        format!("{}:activity", self.prefix)
    }

    /// The clock's time in milliseconds: the entries' scores.
    fn now_ms(&self) -> i64 {
        self.clock.now().unix_micros() / 1000
    }

    fn expiry(&self) -> i64 {
        self.now_ms() + i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    fn count(&self, user: UserId, change: isize) -> Result<usize> {
        let mut local = self
            .local
            .lock()
            .map_err(|_| ChatError::internal("presence lock poisoned"))?;
        let count = local.entry(user).or_insert(0);
        *count = count.saturating_add_signed(change);
        let now = *count;
        if now == 0 {
            local.remove(&user);
        }
        Ok(now)
    }

    /// Runs `pipe` (atomically) and returns the last reply: the set's size.
    async fn run(&self, pipe: &redis::Pipeline) -> Result<usize> {
        let mut connection = self.connection.clone();
        let replies = tokio::time::timeout(
            self.timeout,
            pipe.query_async::<Vec<redis::Value>>(&mut connection),
        )
        .await
        .map_err(|_| unavailable("Redis presence timed out"))?
        .map_err(unavailable)?;
        match replies.last() {
            Some(redis::Value::Int(n)) => Ok(usize::try_from(*n).unwrap_or(0)),
            _ => Ok(0),
        }
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connect(&self, user: UserId) -> Result<bool> {
        if self.count(user, 1)? > 1 {
            return Ok(false);
        }
        let key = self.key(user);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zrembyscore(&key, "-inf", self.now_ms())
            .ignore()
            .zadd(&key, &self.process, self.expiry())
            .ignore()
            .pexpire(
                &key,
                i64::try_from(self.ttl.as_millis() * 2).unwrap_or(i64::MAX),
            )
            .ignore()
            .zcard(&key);
        Ok(self.run(&pipe).await? == 1)
    }

    async fn disconnect(&self, user: UserId) -> Result<bool> {
        if self.count(user, -1)? > 0 {
            return Ok(false);
        }
        let key = self.key(user);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zrem(&key, &self.process)
            .ignore()
            .zrembyscore(&key, "-inf", self.now_ms())
            .ignore()
            .zcard(&key);
        Ok(self.run(&pipe).await? == 0)
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        let mut pipe = redis::pipe();
        for user in users {
            pipe.zcount(self.key(*user), now, "+inf");
        }
        let mut connection = self.connection.clone();
        let counts: Vec<i64> =
            tokio::time::timeout(self.timeout, pipe.query_async(&mut connection))
                .await
                .map_err(|_| unavailable("Redis presence timed out"))?
                .map_err(unavailable)?;
        Ok(counts.into_iter().map(|n| n > 0).collect())
    }

    async fn touch(&self, user: UserId, at: Timestamp) -> Result<()> {
        // One sorted set for every user: a note only ever raises a user's
        // score (GT), and notes older than a day are dropped as new ones
        // come, so the set holds the users active in the last day.
        let key = self.activity_key();
        let forgotten = at.minus(chat_core::ports::ACTIVITY_KEPT).unix_micros();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(&key)
            .arg("GT")
            .arg(at.unix_micros())
            .arg(user.get())
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg("-inf")
            .arg(format!("({forgotten}"))
            .ignore()
            .zcard(&key);
        self.run(&pipe).await.map(drop)
    }

    async fn last_active(&self, users: &[UserId]) -> Result<Vec<Option<Timestamp>>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = redis::cmd("ZMSCORE");
        command.arg(self.activity_key());
        for user in users {
            command.arg(user.get());
        }
        let mut connection = self.connection.clone();
        let scores: Vec<Option<f64>> =
            tokio::time::timeout(self.timeout, command.query_async(&mut connection))
                .await
                .map_err(|_| unavailable("Redis presence timed out"))?
                .map_err(unavailable)?;
        // Microseconds of this era are below 2^53: exact as scores.
        #[allow(clippy::cast_possible_truncation)]
        Ok(scores
            .into_iter()
            .map(|score| score.map(|micros| Timestamp::from_unix_micros(micros as i64)))
            .collect())
    }
}

/// Renews this process's entries every third of the time to live, until
/// the presence is dropped.
async fn renew(presence: Weak<RedisPresence>) {
    loop {
        let Some(period) = presence.upgrade().map(|p| p.ttl / 3) else {
            return;
        };
        tokio::time::sleep(period).await;
        let Some(presence) = presence.upgrade() else {
            return;
        };
        let users: Vec<UserId> = match presence.local.lock() {
            Ok(local) => local.keys().copied().collect(),
            Err(_) => return,
        };
        if users.is_empty() {
            continue;
        }
        let expiry = presence.expiry();
        let mut pipe = redis::pipe();
        for user in users {
            let key = presence.key(user);
            pipe.zadd(&key, &presence.process, expiry)
                .ignore()
                .pexpire(
                    &key,
                    i64::try_from(presence.ttl.as_millis() * 2).unwrap_or(i64::MAX),
                )
                .ignore();
        }
        if let Err(error) = presence.run(&pipe).await {
            debug!(%error, "could not renew presence");
        }
    }
}
