//! What every case needs: a service on the backend under test, a clock the
//! test moves, and waits with bounded timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};

use crate::ports::{Clock, Delivery, Store};
use crate::{
    Account, Argon2Hasher, Chat, ChatConfig, GovernorLimiter, LocalBus, Rate, RateLimits, Session,
    SharedEvent, SignupForm, Timestamp,
};

/// The password of every test user.
pub const PASSWORD: &str = "test password 1234";

/// How long a case waits for an event that must come.
const WAIT: Duration = Duration::from_secs(10);

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.unix_micros()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.0.load(Ordering::SeqCst))
    }
}

/// Limits no case meets unless it means to.
pub fn generous_limits() -> RateLimits {
    // A burst that takes a second to earn back: no test meets it, and the
    // limiter tolerates clocks that differ slightly between CPUs.
    RateLimits::all(Rate::new(1_000_000, Duration::from_micros(1)))
}

/// A hasher that counts what it is asked to do (real argon2id, minimal
/// cost): to show what costs hashing and what does not.
#[derive(Default)]
pub struct CountingHasher {
    inner: CheapHasher,
    /// Passwords hashed.
    pub hashed: AtomicUsize,
    /// Passwords verified.
    pub verified: AtomicUsize,
}

/// argon2id at minimal cost.
struct CheapHasher(Argon2Hasher);

impl Default for CheapHasher {
    fn default() -> Self {
        Self(Argon2Hasher::with_params(8, 1, 1).unwrap())
    }
}

#[async_trait::async_trait]
impl crate::PasswordHasher for CountingHasher {
    async fn hash(&self, password: &crate::Password) -> crate::Result<crate::PasswordHash> {
        self.hashed.fetch_add(1, Ordering::SeqCst);
        self.inner.0.hash(password).await
    }

    async fn verify(
        &self,
        password: &crate::Password,
        hash: &crate::PasswordHash,
    ) -> crate::Result<bool> {
        self.verified.fetch_add(1, Ordering::SeqCst);
        self.inner.0.verify(password, hash).await
    }
}

/// A [`Chat`] on the store under test, with a manual clock, a cheap hasher
/// and an in-process bus.
pub struct Harness {
    pub chat: Chat,
    pub clock: Arc<ManualClock>,
}

impl Harness {
    /// The usual harness: generous limits, default configuration.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with(store, generous_limits(), ChatConfig::default())
    }

    /// A harness with chosen limits and configuration.
    pub fn with(store: Arc<dyn Store>, limits: RateLimits, config: ChatConfig) -> Self {
        let clock = Self::clock();
        let limiter = Arc::new(GovernorLimiter::with_clock(limits, clock.clone()));
        let chat = Self::builder(store, &clock)
            .limiter(limiter)
            .config(config)
            .build();
        Self { chat, clock }
    }

    /// A harness whose service limits by `limiter` (another backend's).
    pub fn with_limiter(store: Arc<dyn Store>, limiter: Arc<dyn crate::RateLimiter>) -> Self {
        let clock = Self::clock();
        let chat = Self::builder(store, &clock).limiter(limiter).build();
        Self { chat, clock }
    }

    /// A harness on the service's own defaults: the limiter and the
    /// configuration [`Chat::builder`] installs when given none.
    pub fn with_defaults(store: Arc<dyn Store>) -> Self {
        let clock = Self::clock();
        let chat = Self::builder(store, &clock).build();
        Self { chat, clock }
    }

    /// The usual harness, on an in-process bus whose subscribers may fall
    /// only `capacity` events behind (to make them lag).
    pub fn with_bus_capacity(store: Arc<dyn Store>, capacity: usize) -> Self {
        let clock = Self::clock();
        let limiter = Arc::new(GovernorLimiter::with_clock(
            generous_limits(),
            clock.clone(),
        ));
        let chat = Self::builder(store, &clock)
            .bus(Arc::new(LocalBus::with_capacity(capacity)))
            .limiter(limiter)
            .build();
        Self { chat, clock }
    }

    /// The usual harness telling `notifier` of members away, with `config`.
    pub fn with_notifier(
        store: Arc<dyn Store>,
        notifier: Arc<dyn crate::OfflineNotifier>,
        config: ChatConfig,
    ) -> Self {
        Self::generous(store, |b| b.offline_notifier(notifier).config(config))
    }

    /// The usual harness asking `policy`, with `config`.
    pub fn with_policy(
        store: Arc<dyn Store>,
        policy: Arc<dyn crate::Policy>,
        config: ChatConfig,
    ) -> Self {
        Self::generous(store, |b| b.policy(policy).config(config))
    }

    /// The usual harness with generous limits, its builder changed by
    /// `change`.
    fn generous(
        store: Arc<dyn Store>,
        change: impl FnOnce(crate::ChatBuilder) -> crate::ChatBuilder,
    ) -> Self {
        let clock = Self::clock();
        let limiter = Arc::new(GovernorLimiter::with_clock(
            generous_limits(),
            clock.clone(),
        ));
        let chat = change(Self::builder(store, &clock).limiter(limiter)).build();
        Self { chat, clock }
    }

    /// The usual harness on `bus`, which the test also holds (to publish
    /// what no service would).
    pub fn with_bus(store: Arc<dyn Store>, bus: Arc<dyn crate::Bus>) -> Self {
        let clock = Self::clock();
        let limiter = Arc::new(GovernorLimiter::with_clock(
            generous_limits(),
            clock.clone(),
        ));
        let chat = Self::builder(store, &clock)
            .bus(bus)
            .limiter(limiter)
            .build();
        Self { chat, clock }
    }

    /// 2026-01-01T00:00:00Z; fixed so equal timestamps are the norm.
    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(Timestamp::from_unix_micros(
            1_767_225_600_000_000,
        )))
    }

    fn builder(store: Arc<dyn Store>, clock: &Arc<ManualClock>) -> crate::ChatBuilder {
        // Real argon2id, minimal cost: the suites test the store, not argon2.
        let hasher = Argon2Hasher::with_params(8, 1, 1).unwrap();
        Chat::builder(store)
            .bus(Arc::new(LocalBus::with_capacity(1024)))
            .hasher(Arc::new(hasher))
            .clock(clock.clone())
    }

    /// Signs up `name` with email `name@example.test` and [`PASSWORD`].
    pub async fn signup(&self, name: &str) -> Account {
        self.chat
            .signup(
                SignupForm {
                    email: format!("{name}@example.test"),
                    username: name.to_owned(),
                    password: PASSWORD.to_owned(),
                    confirm_password: PASSWORD.to_owned(),
                },
                "test-client",
            )
            .await
            .unwrap_or_else(|e| panic!("signup {name}: {e}"))
    }

    /// Logs `name` in and returns the session and its token.
    pub async fn login(&self, name: &str) -> (Session, String) {
        let login = self
            .chat
            .login(name, PASSWORD.to_owned(), "test-client")
            .await
            .unwrap_or_else(|e| panic!("login {name}: {e}"));
        (login.session, login.token.expose().to_owned())
    }

    /// Signs `name` up and logs in.
    pub async fn user(&self, name: &str) -> Session {
        self.signup(name).await;
        self.login(name).await.0
    }

    /// Sends `text` from `from` to `to`, which must succeed.
    pub async fn send(&self, from: &Session, to: &str, text: &str) -> crate::Message {
        self.chat
            .send(from, to, text.to_owned(), None)
            .await
            .unwrap_or_else(|e| panic!("send to {to}: {e}"))
            .message
    }
}

/// The next delivery of `stream`, failing the test after a bounded wait.
pub async fn next_delivery<S: Stream<Item = Delivery> + Unpin>(stream: &mut S) -> Option<Delivery> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("timed out waiting for a delivery")
}

/// The next event of `stream`, failing the test on a lag, an end or a
/// bounded wait.
pub async fn next_event<S: Stream<Item = Delivery> + Unpin>(stream: &mut S) -> SharedEvent {
    match next_delivery(stream).await {
        Some(Delivery::Event(event)) => event,
        Some(Delivery::Lagged) => panic!("unexpected lag"),
        None => panic!("the stream ended"),
    }
}
