//! A rate limiter shared by every server process, on Redis.

use std::time::Duration;

use async_trait::async_trait;
use chat_core::{Action, ChatError, GovernorLimiter, RateLimiter, RateLimits, Result};
use redis::aio::ConnectionManager;
use tracing::warn;

/// Counts attempts in Redis, so a limit holds across every server process
/// (a password guesser gains nothing by spreading attempts over servers).
///
/// Each action's quota `Rate { burst, every }` becomes a window of
/// `burst × every` allowing `burst` attempts, counted atomically with a Lua
/// script. When Redis does not answer, the in-process governor limiter
/// decides instead: limits then hold per process rather than not at all.
pub struct RedisLimiter {
    connection: ConnectionManager,
    prefix: String,
    limits: RateLimits,
    fallback: GovernorLimiter,
    timeout: Duration,
}

/// Increments the window's counter, starting the window on the first
/// attempt; returns the count and the milliseconds left in the window.
const SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
";

impl RedisLimiter {
    /// A limiter enforcing `limits` on the Redis at `url`, with keys under `prefix`.
    ///
    /// # Errors
    /// [`crate::RedisBusError`] if Redis cannot be reached.
    pub async fn connect(
        url: &str,
        prefix: &str,
        limits: RateLimits,
    ) -> Result<Self, crate::RedisBusError> {
        let client = redis::Client::open(url).map_err(crate::RedisBusError::Url)?;
        let timeout = Duration::from_secs(1);
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(crate::RedisBusError::Connect)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            limits,
            fallback: GovernorLimiter::new(limits),
            timeout,
        })
    }

    fn quota(&self, action: Action) -> (u32, Duration, &'static str) {
        let (rate, name) = match action {
            Action::LoginPerUsername => (self.limits.login_per_username, "login-user"),
            Action::LoginPerClient => (self.limits.login_per_client, "login-client"),
            Action::SendPerUser => (self.limits.send_per_user, "send"),
            _ => (self.limits.typing_per_user, "typing"),
        };
        let window = rate
            .every
            .saturating_mul(rate.burst.max(1))
            .max(Duration::from_millis(1));
        (rate.burst.max(1), window, name)
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, action: Action, key: &str) -> Result<()> {
        let (burst, window, name) = self.quota(action);
        let redis_key = format!("{}:rate:{name}:{key}", self.prefix);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut connection = self.connection.clone();
        let script = redis::Script::new(SCRIPT);
        let mut invocation = script.key(&redis_key);
        invocation.arg(window_ms);
        let counted = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<(u64, i64)>(&mut connection),
        )
        .await;
        match counted {
            Ok(Ok((count, ttl_ms))) if count > u64::from(burst) => Err(ChatError::RateLimited {
                retry_after: Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0).max(1)),
            }),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                warn!(%error, "Redis rate limiter unavailable; limiting in process");
                self.fallback.check(action, key).await
            }
            Err(_) => {
                warn!("Redis rate limiter timed out; limiting in process");
                self.fallback.check(action, key).await
            }
        }
    }
}
