//! A rate limiter shared by every server process, on Redis.

use std::time::Duration;

use async_trait::async_trait;
use chat_core::{Action, ChatError, GovernorLimiter, RateLimiter, RateLimits, Result};
use redis::aio::ConnectionManager;
use tracing::warn;

/// Counts attempts in Redis, so a limit holds across every server process
/// (a password guesser gains nothing by spreading attempts over servers).
///
/// The same rule as [`GovernorLimiter`], GCRA: each action's quota
/// `Rate { burst, every }` allows `burst` attempts at once, then one more
/// every `every`, and says exactly when the next one is allowed. One Lua
/// script keeps each key's "theoretical arrival time" in Redis, by Redis's
/// clock (one clock for every process). When Redis does not answer, the
/// in-process governor limiter decides instead: limits then hold per
/// process rather than not at all.
pub struct RedisLimiter {
    connection: ConnectionManager,
    prefix: String,
    limits: RateLimits,
    fallback: GovernorLimiter,
    timeout: Duration,
}

/// GCRA on one key: KEYS[1] holds the theoretical arrival time (TAT) in
/// microseconds of Redis time; ARGV[1] is the emission interval (`every`),
/// ARGV[2] the burst tolerance (`every` × (`burst` − 1)), both in
/// microseconds. Returns 0 when allowed, else the microseconds to wait.
const SCRIPT: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if allow_at > now then
  return allow_at - now
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
";

impl RedisLimiter {
    /// A limiter enforcing `limits` on `connection`, keys under `prefix`;
    /// see [`Redis::limiter`](crate::Redis::limiter).
    pub(crate) fn new(
        connection: ConnectionManager,
        prefix: &str,
        limits: RateLimits,
        timeout: Duration,
    ) -> Self {
        Self {
            connection,
            prefix: prefix.to_owned(),
            limits,
            fallback: GovernorLimiter::new(limits),
            timeout,
        }
    }

    /// The emission interval and the burst tolerance of `action`, in
    /// microseconds.
    fn quota(&self, action: Action) -> (u64, u64) {
        let rate = self.limits.rate(action);
        let every = u64::try_from(rate.every.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let tolerance = every.saturating_mul(u64::from(rate.burst.max(1) - 1));
        (every, tolerance)
    }

    /// Runs the script on `redis_key` with the emission interval `every`
    /// and the burst tolerance `tolerance` (microseconds); `None` when
    /// Redis did not answer (then the caller limits in process).
    async fn count(&self, redis_key: &str, every: u64, tolerance: u64) -> Option<Result<()>> {
        let mut connection = self.connection.clone();
        let script = redis::Script::new(SCRIPT);
        let mut invocation = script.key(redis_key);
        invocation.arg(every).arg(tolerance);
        let counted = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await;
        match counted {
            Ok(Ok(wait)) if wait > 0 => Some(Err(ChatError::RateLimited {
                retry_after: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
            })),
            Ok(Ok(_)) => Some(Ok(())),
            Ok(Err(error)) => {
                warn!(%error, "Redis rate limiter unavailable; limiting in process");
                None
            }
            Err(_) => {
                warn!("Redis rate limiter timed out; limiting in process");
                None
            }
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, action: Action, key: &str) -> Result<()> {
        let (every, tolerance) = self.quota(action);
        let redis_key = format!("{}:rate:{}:{key}", self.prefix, action.name());
        match self.count(&redis_key, every, tolerance).await {
            Some(counted) => counted,
            None => self.fallback.check(action, key).await,
        }
    }

    async fn check_every(&self, key: &str, every: Duration) -> Result<()> {
        let micros = u64::try_from(every.as_micros()).unwrap_or(u64::MAX).max(1);
        let redis_key = format!("{}:every:{micros}:{key}", self.prefix);
        match self.count(&redis_key, micros, 0).await {
            Some(counted) => counted,
            None => self.fallback.check_every(key, every).await,
        }
    }
}
