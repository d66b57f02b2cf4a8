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
/// script:
///
/// | action | burst | then one more every |
/// |---|---|---|
/// | login per username, from clients it does not know | 10 | 30 s |
/// | login per device that logged in before | 10 | 30 s |
/// | login per client address | 30 | 2 s |
/// | login per network (IPv6 /48, IPv4 prefix) | 100 | 1 s |
/// | signup per client address | 5 | 10 min |
/// | signup per network | 20 | 3 min |
/// | messages per user | 30 | 100 ms |
/// | typing notices per user | 20 | 250 ms |
/// | searches per user | 30 | 500 ms |
/// | live connections per user | 20 | 3 s |
/// | live connections per client address | 60 | 1 s |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Login attempts against one username from clients it does not know.
    pub login_per_username: Rate,
    /// Login attempts from one device that logged in before.
    pub login_per_device: Rate,
    /// Login attempts from one client address.
    pub login_per_client: Rate,
    /// Login attempts from one network.
    pub login_per_network: Rate,
    /// Signups from one client address.
    pub signup_per_client: Rate,
    /// Signups from one network.
    pub signup_per_network: Rate,
    /// Messages sent by one user.
    pub send_per_user: Rate,
    /// Typing notices from one user.
    pub typing_per_user: Rate,
    /// Searches by one user.
    pub search_per_user: Rate,
    /// Live connections opened by one user.
    pub connect_per_user: Rate,
    /// Live connections opened from one client address.
    pub connect_per_client: Rate,
}

impl RateLimits {
    /// The quota of `action`.
    pub fn rate(&self, action: Action) -> Rate {
        match action {
            Action::LoginPerUsername => self.login_per_username,
            Action::LoginPerDevice => self.login_per_device,
            Action::LoginPerClient => self.login_per_client,
            Action::LoginPerNetwork => self.login_per_network,
            Action::SignupPerClient => self.signup_per_client,
            Action::SignupPerNetwork => self.signup_per_network,
            Action::SendPerUser => self.send_per_user,
            Action::TypingPerUser => self.typing_per_user,
            Action::SearchPerUser => self.search_per_user,
            Action::ConnectPerUser => self.connect_per_user,
            Action::ConnectPerClient => self.connect_per_client,
        }
    }

    /// The same `rate` for every action.
    pub fn all(rate: Rate) -> Self {
        Self {
            login_per_username: rate,
            login_per_device: rate,
            login_per_client: rate,
            login_per_network: rate,
            signup_per_client: rate,
            signup_per_network: rate,
            send_per_user: rate,
            typing_per_user: rate,
            search_per_user: rate,
            connect_per_user: rate,
            connect_per_client: rate,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        Self {
            login_per_username: Rate::new(10, Duration::from_secs(30)),
            login_per_device: Rate::new(10, Duration::from_secs(30)),
            login_per_client: Rate::new(30, Duration::from_secs(2)),
            login_per_network: Rate::new(100, Duration::from_secs(1)),
            signup_per_client: Rate::new(5, 10 * minute),
            signup_per_network: Rate::new(20, 3 * minute),
            send_per_user: Rate::new(30, Duration::from_millis(100)),
            typing_per_user: Rate::new(20, Duration::from_millis(250)),
            search_per_user: Rate::new(30, Duration::from_millis(500)),
            connect_per_user: Rate::new(20, Duration::from_secs(3)),
            connect_per_client: Rate::new(60, Duration::from_secs(1)),
        }
    }
}

/// A [`RateLimiter`] in process memory: a keyed GCRA limiter per action.
///
/// Limits hold per process; keys whose state has fully recovered are
/// forgotten every few thousand checks so memory stays bounded.
pub struct GovernorLimiter {
    /// One limiter per action, in the order of [`Action::ALL`].
    limiters: Vec<KeyedLimiter<String>>,
    /// One limiter per period of [`RateLimiter::check_every`], made when
    /// first asked for.
    periodic: std::sync::Mutex<std::collections::HashMap<Duration, Arc<KeyedLimiter<String>>>>,
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
        let limiters = Action::ALL
            .iter()
            .map(|action| {
                KeyedLimiter::new(
                    limits.rate(*action).quota(),
                    Default::default(),
                    clock.clone(),
                )
            })
            .collect();
        Self {
            limiters,
            periodic: std::sync::Mutex::default(),
            clock,
            checks: AtomicU64::new(0),
        }
    }

    fn limiter(&self, action: Action) -> &KeyedLimiter<String> {
        let index = Action::ALL
            .iter()
            .position(|a| *a == action)
            .unwrap_or_default();
        &self.limiters[index]
    }

    fn purge(&self) {
        for limiter in &self.limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let mut periodic = self.periodic.lock().unwrap_or_else(|e| e.into_inner());
        periodic.retain(|_, limiter| {
            limiter.retain_recent();
            limiter.shrink_to_fit();
            !limiter.is_empty()
        });
    }

    /// The limiter of period `every`, made if it is the first asked for.
    fn periodic(&self, every: Duration) -> Arc<KeyedLimiter<String>> {
        let mut periodic = self.periodic.lock().unwrap_or_else(|e| e.into_inner());
        let clock = self.clock.clone();
        Arc::clone(periodic.entry(every).or_insert_with(|| {
            Arc::new(KeyedLimiter::new(
                Rate::new(1, every).quota(),
                Default::default(),
                clock,
            ))
        }))
    }

    fn counted(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % Self::PURGE_EVERY == Self::PURGE_EVERY - 1
        {
            self.purge();
        }
    }

    /// How many keys the limiter of `action` remembers.
    pub fn remembered(&self, action: Action) -> usize {
        self.limiter(action).len()
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
        self.counted();
        let key = key.to_owned();
        self.limiter(action).check_key(&key).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(self.clock.now());
            ChatError::RateLimited { retry_after }
        })
    }

    async fn check_every(&self, key: &str, every: Duration) -> Result<()> {
        self.counted();
        let key = key.to_owned();
        self.periodic(every).check_key(&key).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(self.clock.now());
            ChatError::RateLimited { retry_after }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_whose_budget_is_full_again_are_forgotten() {
        let clock = Arc::new(crate::testkit::ManualClock::new(
            crate::Timestamp::from_unix_micros(0),
        ));
        let limiter = GovernorLimiter::with_clock(RateLimits::default(), clock.clone());
        for n in 0..100 {
            limiter
                .check(Action::SignupPerClient, &format!("client-{n}"))
                .await
                .unwrap();
        }
        assert_eq!(limiter.remembered(Action::SignupPerClient), 100);
        clock.advance(Duration::from_secs(3600));
        for _ in 0..GovernorLimiter::PURGE_EVERY {
            let _ = limiter.check(Action::SendPerUser, "busy").await;
        }
        assert_eq!(limiter.remembered(Action::SignupPerClient), 0);
        assert_eq!(limiter.remembered(Action::SendPerUser), 1);
    }

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

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use crate::ports::RateLimiter;

    async fn fresh() -> Arc<dyn RateLimiter> {
        Arc::new(super::GovernorLimiter::new(
            crate::testkit::limits::suite_limits(),
        ))
    }

    crate::limiter_conformance_suite!(fresh);
}
