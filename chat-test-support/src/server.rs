//! The adapter served in process on a loopback port (`127.0.0.1:0`), over
//! an in-memory SQLite store, with real clients.
//!
//! By default the limits are generous (no test meets one unless it means
//! to) and hashing is cheap. [`TestServerBuilder::defaults`] runs the real
//! defaults instead: the documented rate limits, frame limits and hashing
//! cost, on a manual clock the test moves.

use std::ops::Deref;
use std::sync::Arc;

use chat_core::{
    Argon2Hasher, Bus, Chat, ChatConfig, GovernorLimiter, PasswordHasher, RateLimiter, RateLimits,
    Store, Timestamp,
};
use chat_http::{ChatHttp, HttpConfig, WebSocketLimits};
use chat_store_sqlite::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::faults::{Faults, FaultyStore};
use crate::{Client, EPOCH_MICROS, Login, ManualClock, WAIT, generous_limits};

/// A running in-process server. Derefs to its [`Client`].
pub struct TestServer {
    /// Talks to it.
    pub client: Client,
    /// The store under the server (to close it on purpose).
    pub store: SqliteStore,
    /// The adapter (open sockets, metrics).
    pub http: ChatHttp,
    /// The service.
    pub chat: Chat,
    /// The manual clock, when the server runs on one.
    pub clock: Option<Arc<ManualClock>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// How to build a [`TestServer`].
#[must_use]
pub struct TestServerBuilder {
    limits: RateLimits,
    limiter: Option<Arc<dyn RateLimiter>>,
    config: HttpConfig,
    lift_frame_limits: bool,
    chat_config: ChatConfig,
    hasher: Option<Arc<dyn PasswordHasher>>,
    clock: Option<Arc<ManualClock>>,
    faults: Option<Faults>,
    bus: Option<Arc<dyn Bus>>,
    policy: Option<Arc<dyn chat_core::Policy>>,
    notifier: Option<Arc<dyn chat_core::OfflineNotifier>>,
}

impl TestServer {
    /// A server with generous limits.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Starts building one.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            limits: generous_limits(),
            limiter: None,
            config: HttpConfig::default(),
            lift_frame_limits: true,
            chat_config: ChatConfig::default(),
            hasher: None,
            clock: None,
            faults: None,
            bus: None,
            policy: None,
            notifier: None,
        }
    }

    /// The manual clock; panics when the server runs on the system clock.
    pub fn clock(&self) -> &ManualClock {
        self.clock.as_deref().expect("a server on a manual clock")
    }

    /// The value of the counter `name` in the adapter's metrics.
    pub fn counter(&self, name: &str) -> u64 {
        counter(&self.http.metrics_text(), name)
    }

    /// Sends messages of 3 900 characters from `from` to `to` over HTTP
    /// until the server closes one more WebSocket for reading too slowly
    /// (a client of `to` that stops reading); returns how many it sent. On
    /// a manual clock, it moves the clock three seconds every 30 messages,
    /// so that the default send rate lets them all through.
    pub async fn send_until_a_slow_reader_is_cut_off(&self, from: &Login, to: &str) -> u64 {
        let counter = "chat_websocket_slow_consumer_total";
        let before = self.counter(counter);
        let text = "s".repeat(3900);
        let mut sent = 0;
        while self.counter(counter) == before {
            assert!(sent < 20_000, "no slow reader was cut off");
            if let Some(clock) = &self.clock
                && sent % 30 == 29
            {
                clock.advance(std::time::Duration::from_secs(3));
            }
            self.send(from, to, &text).await;
            sent += 1;
        }
        sent
    }

    /// Stops the server and waits for `serve` to return.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT * 2, task)
                .await
                .expect("serve did not return")
                .unwrap()
                .unwrap();
        }
    }
}

/// The value of the counter `name` in `metrics` (the Prometheus text
/// format).
///
/// # Panics
/// If `metrics` has no such counter.
pub fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
}

impl Deref for TestServer {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServerBuilder {
    /// The real defaults: [`RateLimits::default`], [`HttpConfig::default`]
    /// with its frame limits, [`ChatConfig::default`], the OWASP-cost
    /// [`Argon2Hasher::new`], on a manual clock.
    pub fn defaults(mut self) -> Self {
        self.limits = RateLimits::default();
        self.lift_frame_limits = false;
        self.hasher = Some(Arc::new(Argon2Hasher::new()));
        self.manual_clock()
    }

    /// Believes `X-Forwarded-For` from the test (127.0.0.1), so that each
    /// request can come from a client address of the test's choosing.
    pub fn behind_a_proxy(mut self) -> Self {
        self.config.trusted_proxies = vec![std::net::IpAddr::from([127, 0, 0, 1])];
        self
    }

    /// Rate limits of the in-process limiter.
    pub fn limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// A limiter of the test's own instead.
    pub fn limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The adapter's configuration. Its frame limits are lifted unless they
    /// differ from the defaults (or [`defaults`](Self::defaults) was asked).
    pub fn http(mut self, config: HttpConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes the adapter's WebSocket limits in place.
    pub fn websocket(mut self, change: impl FnOnce(&mut WebSocketLimits)) -> Self {
        change(&mut self.config.websocket);
        self
    }

    /// The service's configuration.
    pub fn chat_config(mut self, config: ChatConfig) -> Self {
        self.chat_config = config;
        self
    }

    /// A hasher other than the cheap one.
    pub fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// A manual clock at 2026-01-01T00:00:00Z.
    pub fn manual_clock(mut self) -> Self {
        self.clock = Some(Arc::new(ManualClock::new(Timestamp::from_unix_micros(
            EPOCH_MICROS,
        ))));
        self
    }

    /// Puts the store behind `faults`.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// A bus other than the in-process one.
    pub fn bus(mut self, bus: Arc<dyn Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Tells `notifier` of members away.
    pub fn offline_notifier(mut self, notifier: Arc<dyn chat_core::OfflineNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// A host policy other than allowing everything.
    pub fn policy(mut self, policy: Arc<dyn chat_core::Policy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Starts the server on `127.0.0.1:0`.
    pub async fn start(self) -> TestServer {
        let store = SqliteStore::memory().await.unwrap();
        let served: Arc<dyn Store> = match self.faults {
            Some(faults) => Arc::new(FaultyStore::new(Arc::new(store.clone()), faults)),
            None => Arc::new(store.clone()),
        };
        let hasher = self
            .hasher
            .unwrap_or_else(|| Arc::new(Argon2Hasher::with_params(8, 1, 1).unwrap()));
        let mut builder = Chat::builder(served)
            .hasher(hasher)
            .config(self.chat_config);
        if let Some(clock) = &self.clock {
            builder = builder.clock(clock.clone());
        }
        let limiter = self.limiter.unwrap_or_else(|| match &self.clock {
            Some(clock) => Arc::new(GovernorLimiter::with_clock(self.limits, clock.clone())),
            None => Arc::new(GovernorLimiter::new(self.limits)),
        });
        builder = builder.limiter(limiter);
        if let Some(bus) = self.bus {
            builder = builder.bus(bus);
        }
        if let Some(policy) = self.policy {
            builder = builder.policy(policy);
        }
        if let Some(notifier) = self.notifier {
            builder = builder.offline_notifier(notifier);
        }
        let chat = builder.build();
        let mut config = self.config;
        let default_frames = WebSocketLimits::default();
        if self.lift_frame_limits
            && config.websocket.frames_per_second == default_frames.frames_per_second
            && config.websocket.frame_burst == default_frames.frame_burst
        {
            config.websocket.frames_per_second = 100_000;
            config.websocket.frame_burst = 100_000;
            config.websocket.user_frames_per_second = 100_000;
        }
        let http = ChatHttp::new(chat.clone(), config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(chat_http::serve(listener, http.clone(), async {
            let _ = stopped.await;
        }));
        TestServer {
            client: Client::new(&address.to_string()),
            store,
            http,
            chat,
            clock: self.clock,
            stop: Some(stop),
            task: Some(task),
        }
    }
}
