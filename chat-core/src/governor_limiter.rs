//! The in-process rate limiter, on `governor`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use governor::Quota;
use governor::clock::Clock as _;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};

use crate::error::{ChatError, Result};
use crate::ports::{Action, Clock, RateLimiter, SystemClock};

/// A [`Clock`] seen as a `governor` clock, so that rate limits follow the
/// same time as everything else in the service (and a test's manual clock).
///
/// It never goes backwards: if the wall clock is set back, limits stay where
/// they were until it catches up (stricter, never looser). Clones share that
/// memory.
#[derive(Clone)]
pub struct GovernorClock {
    clock: Arc<dyn Clock>,
    /// The latest reading handed out, in nanoseconds since the Unix epoch.
    latest: Arc<AtomicU64>,
}

impl GovernorClock {
    /// Reads `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            latest: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl std::fmt::Debug for GovernorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernorClock")
            .field("latest", &self.latest.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl governor::clock::Clock for GovernorClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let micros = u64::try_from(self.clock.now().unix_micros()).unwrap_or(0);
        let nanos = micros.saturating_mul(1_000);
        let previous = self.latest.fetch_max(nanos, Ordering::Relaxed);
        Nanos::from(previous.max(nanos))
    }
}

/// A keyed GCRA limiter on a [`GovernorClock`].
pub type KeyedLimiter<K> =
    governor::RateLimiter<K, DefaultKeyedStateStore<K>, GovernorClock, NoOpMiddleware<Nanos>>;

/// A single (unkeyed) GCRA limiter on a [`GovernorClock`].
pub type DirectLimiter =
    governor::RateLimiter<NotKeyed, InMemoryState, GovernorClock, NoOpMiddleware<Nanos>>;

/// A quota: `burst` attempts at once, then one more every `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Attempts allowed in a burst.
    pub burst: u32,
    /// Time to earn back one attempt.
    pub every: Duration,
}

impl Rate {
    /// `burst` at once, then one every `every`.
    pub const fn new(burst: u32, every: Duration) -> Self {
        Self { burst, every }
    }

    /// The quota as `governor` takes it.
    pub fn quota(self) -> Quota {
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(self.every.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(burst))
            .allow_burst(burst)
    }
}

/// The quota of every [`Action`].
///
/// The defaults are never met by a person and are met within seconds by a
/// script: 10 login attempts per username then one per 30 s; 30 per client
/// then one per 2 s; 30 messages per user then 10 per second; 20 typing
/// notices then 4 per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Login attempts against one username.
    pub login_per_username: Rate,
    /// Login attempts from one client.
    pub login_per_client: Rate,
    /// Messages sent by one user.
    pub send_per_user: Rate,
    /// Typing notices from one user.
    pub typing_per_user: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_username: Rate::new(10, Duration::from_secs(30)),
            login_per_client: Rate::new(30, Duration::from_secs(2)),
            send_per_user: Rate::new(30, Duration::from_millis(100)),
            typing_per_user: Rate::new(20, Duration::from_millis(250)),
        }
    }
}

/// A [`RateLimiter`] in process memory: a keyed GCRA limiter per action.
///
/// Limits hold per process; keys whose state has fully recovered are
/// forgotten every few thousand checks so memory stays bounded.
pub struct GovernorLimiter {
    login_per_username: KeyedLimiter<String>,
    login_per_client: KeyedLimiter<String>,
    send_per_user: KeyedLimiter<String>,
    typing_per_user: KeyedLimiter<String>,
    clock: GovernorClock,
    checks: AtomicU64,
}

impl GovernorLimiter {
    const PURGE_EVERY: u64 = 4096;

    /// A limiter enforcing `limits` by the system clock.
    pub fn new(limits: RateLimits) -> Self {
        Self::with_clock(limits, Arc::new(SystemClock))
    }

    /// A limiter enforcing `limits` by `clock` (the service's clock, so a
    /// test that moves time moves the limits too).
    pub fn with_clock(limits: RateLimits, clock: Arc<dyn Clock>) -> Self {
        let clock = GovernorClock::new(clock);
        let keyed = |rate: Rate| KeyedLimiter::new(rate.quota(), Default::default(), clock.clone());
        Self {
            login_per_username: keyed(limits.login_per_username),
            login_per_client: keyed(limits.login_per_client),
            send_per_user: keyed(limits.send_per_user),
            typing_per_user: keyed(limits.typing_per_user),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    fn limiter(&self, action: Action) -> &KeyedLimiter<String> {
        match action {
            Action::LoginPerUsername => &self.login_per_username,
            Action::LoginPerClient => &self.login_per_client,
            Action::SendPerUser => &self.send_per_user,
            Action::TypingPerUser => &self.typing_per_user,
        }
    }

    fn purge(&self) {
        for limiter in [
            &self.login_per_username,
            &self.login_per_client,
            &self.send_per_user,
            &self.typing_per_user,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

impl Default for GovernorLimiter {
    fn default() -> Self {
        Self::new(RateLimits::default())
    }
}

#[async_trait]
impl RateLimiter for GovernorLimiter {
    async fn check(&self, action: Action, key: &str) -> Result<()> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % Self::PURGE_EVERY == Self::PURGE_EVERY - 1
        {
            self.purge();
        }
        let key = key.to_owned();
        self.limiter(action).check_key(&key).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(self.clock.now());
            ChatError::RateLimited { retry_after }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_the_burst_then_says_when_to_retry() {
        let limits = RateLimits {
            send_per_user: Rate::new(3, Duration::from_secs(60)),
            ..RateLimits::default()
        };
        let limiter = GovernorLimiter::new(limits);
        for _ in 0..3 {
            limiter.check(Action::SendPerUser, "alice").await.unwrap();
        }
        match limiter.check(Action::SendPerUser, "alice").await {
            Err(ChatError::RateLimited { retry_after }) => {
                assert!(retry_after > Duration::from_secs(50), "{retry_after:?}");
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // Other keys and other actions are independent.
        limiter.check(Action::SendPerUser, "bob").await.unwrap();
        limiter.check(Action::TypingPerUser, "alice").await.unwrap();
    }
}
