//! # chat-bus-redis
//!
//! A [`chat_core::Bus`] on Redis pub/sub, so that many server processes
//! behave as one chat: a user connected to one process hears what is sent
//! on another.
//!
//! Per process, whatever the number of WebSockets: one multiplexed,
//! pipelining connection publishes, and one connection (the hub) holds the
//! subscriptions. The hub subscribes a topic's channel for its first local
//! subscriber and unsubscribes after the last, decodes each event once and
//! shares it with every local subscriber.
//!
//! Guarantee: events are delivered at most once, in publish order per
//! publisher and topic. When the Redis connection is lost, every local
//! subscriber gets [`Delivery::Lagged`](chat_core::Delivery::Lagged) at once
//! and again after the hub has reconnected and re-subscribed; the connection
//! then replays from the store's change log (`Chat::live` does it), which
//! holds every acknowledged change. So no acknowledged message is lost, and
//! the replay de-duplicates by position. Publishing fails fast (`Unavailable`, within
//! the publish timeout) while Redis is down; the message itself is already
//! committed.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn chat_core::Store>, key: Vec<u8>) -> Result<(), chat_bus_redis::RedisBusError> {
//! use std::sync::Arc;
//!
//! let redis = chat_bus_redis::Redis::builder("redis://127.0.0.1:6379")
//!     .signing_key(key) // the same for every process of the chat
//!     .connect()
//!     .await?;
//! let limits = chat_core::RateLimits::default();
//! let chat = chat_core::Chat::builder(store)
//!     .bus(Arc::new(redis.bus().await?))
//!     .presence(redis.presence())
//!     .limiter(Arc::new(redis.limiter(limits)))
//!     .build();
//! # Ok(()) }
//! ```
//!
//! What crosses Redis is this crate's own versioned wire format (see
//! `wire.rs`), sealed with the chat's key: processes of two releases whose
//! formats differ drop each other's events, with a log line saying why.

mod error;
mod hub;
#[cfg(feature = "limiter")]
mod limiter;
mod presence;
mod seal;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chat_core::backend::Fanout;
use chat_core::{Bus, ChatError, EventStream, Result, SharedEvent, Topic};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

pub use error::RedisBusError;
#[cfg(feature = "limiter")]
pub use limiter::RedisLimiter;
pub use presence::RedisPresence;

use error::unavailable;
use hub::{Command, Hub};

/// How a chat's processes connect to their shared Redis: the URL, the key
/// prefix, the timeouts and the signing key, each with a documented
/// default. Its `Debug` shows whether a signing key is set, never the key,
/// and the URL without its credentials.
#[derive(Clone)]
pub struct RedisBuilder {
    url: String,
    prefix: String,
    command_timeout: Duration,
    limiter_timeout: Duration,
    subscribe_timeout: Duration,
    bus_queue: usize,
    presence_ttl: Duration,
    key: Option<Vec<u8>>,
    clock: Arc<dyn chat_core::Clock>,
}

impl std::fmt::Debug for RedisBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBuilder")
            .field("url", &without_credentials(&self.url))
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .field("limiter_timeout", &self.limiter_timeout)
            .field("subscribe_timeout", &self.subscribe_timeout)
            .field("bus_queue", &self.bus_queue)
            .field("presence_ttl", &self.presence_ttl)
            .field("signed", &self.key.is_some())
            .finish()
    }
}

/// `url` with any `user:password@` replaced by `***@`.
fn without_credentials(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        _ => url.to_owned(),
    }
}

impl RedisBuilder {
    /// Keys and channels under `prefix` (default `chat`), so that several
    /// chats can share one Redis: letters, digits, `_`, `-`, `.` and `:`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a publish or a presence call may take before it fails as
    /// unavailable (default 2 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// How long a rate-limit check may take before the in-process limiter
    /// decides instead (default 1 s).
    pub fn limiter_timeout(mut self, timeout: Duration) -> Self {
        self.limiter_timeout = timeout;
        self
    }

    /// How long Redis may take to confirm a subscription (default 5 s).
    pub fn subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.subscribe_timeout = timeout;
        self
    }

    /// Events a local subscriber may fall behind before it lags (default
    /// [`LocalBus::DEFAULT_CAPACITY`](chat_core::LocalBus::DEFAULT_CAPACITY),
    /// 1 024: a topic's queue grows that far only while a subscriber is
    /// that far behind).
    pub fn bus_queue(mut self, events: usize) -> Self {
        self.bus_queue = events;
        self
    }

    /// How long a process's presence entries live without renewal (default
    /// 30 s): a process that dies without cleaning up drops out after it.
    pub fn presence_ttl(mut self, ttl: Duration) -> Self {
        self.presence_ttl = ttl;
        self
    }

    /// The clock presence entries are stamped with (default the system
    /// clock); give it the chat's own ([`ChatBuilder::clock`](chat_core::ChatBuilder::clock))
    /// so that every expiry counts by the same time.
    pub fn clock(mut self, clock: Arc<dyn chat_core::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seals every event with `key` (HMAC-SHA256 of its channel and
    /// bytes), and accepts only events sealed with it: give every process of
    /// the chat the same key (the reference server keeps one in the store,
    /// `UserStore::shared_secret`). Without a key, anyone who can publish on
    /// the Redis server can make connections deliver what they like.
    pub fn signing_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Connects the multiplexed connection that publishes, keeps presence
    /// and counts limits.
    ///
    /// # Errors
    /// [`RedisBusError`] if the URL or the prefix is invalid, or Redis is
    /// unreachable.
    pub async fn connect(self) -> Result<Redis, RedisBusError> {
        let valid_prefix = !self.prefix.is_empty()
            && self
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !valid_prefix {
            return Err(RedisBusError::Prefix(self.prefix));
        }
        let client = redis::Client::open(self.url.as_str()).map_err(RedisBusError::Url)?;
        let timeout = self.command_timeout.max(self.limiter_timeout);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let shared = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(RedisBusError::Connect)?;
        Ok(Redis {
            client,
            shared,
            options: self,
        })
    }
}

/// The Redis a chat's processes share, connected: the bus, presence and
/// the rate limiter of one process, on two connections in all.
///
/// - One multiplexed, pipelining connection (reconnecting by itself)
///   publishes events, keeps presence and counts limits for the whole
///   process: [`Redis::presence`] and [`Redis::limiter`] share it, and so
///   does the bus for publishing.
/// - One subscriber connection, opened by [`Redis::bus`], holds the
///   process's subscriptions (the hub): one channel per topic that some
///   local connection listens to. Call `bus` once per process.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    shared: ConnectionManager,
    options: RedisBuilder,
}

impl Redis {
    /// Starts configuring the Redis at `url` (`redis://host:port/db`,
    /// `rediss://` for TLS).
    pub fn builder(url: impl Into<String>) -> RedisBuilder {
        RedisBuilder {
            url: url.into(),
            prefix: "chat".into(),
            command_timeout: Duration::from_secs(2),
            limiter_timeout: Duration::from_secs(1),
            subscribe_timeout: Duration::from_secs(5),
            bus_queue: chat_core::LocalBus::DEFAULT_CAPACITY,
            presence_ttl: Duration::from_secs(30),
            key: None,
            clock: Arc::new(chat_core::SystemClock),
        }
    }

    /// The options it was built with.
    pub fn options(&self) -> &RedisBuilder {
        &self.options
    }

    /// The process's bus: opens the subscriber connection and its hub.
    ///
    /// # Errors
    /// [`RedisBusError::Connect`] if Redis is unreachable.
    pub async fn bus(&self) -> Result<RedisBus, RedisBusError> {
        RedisBus::start(self).await
    }

    /// The process's presence, on the shared connection.
    pub fn presence(&self) -> Arc<RedisPresence> {
        RedisPresence::start(
            self.shared.clone(),
            &self.options.prefix,
            self.options.presence_ttl,
            self.options.command_timeout,
            self.options.clock.clone(),
        )
    }

    /// A rate limiter enforcing `limits`, on the shared connection.
    #[cfg(feature = "limiter")]
    pub fn limiter(&self, limits: chat_core::RateLimits) -> RedisLimiter {
        RedisLimiter::new(
            self.shared.clone(),
            &self.options.prefix,
            limits,
            self.options.limiter_timeout,
        )
    }
}

/// The Redis bus of one process (see [`Redis::bus`]). Cheap to clone;
/// clones share its connections.
#[derive(Clone)]
pub struct RedisBus {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    timeout: Duration,
    /// Publishes (multiplexed, reconnects by itself).
    publisher: ConnectionManager,
    /// Local subscribers by topic.
    local: Arc<Fanout>,
    /// Seals what is published.
    seal: Arc<seal::Seal>,
    /// The hub's mailbox.
    hub: mpsc::UnboundedSender<Command>,
}

impl RedisBus {
    async fn start(redis: &Redis) -> Result<Self, RedisBusError> {
        let options = &redis.options;
        let pubsub = redis
            .client
            .get_async_pubsub()
            .await
            .map_err(RedisBusError::Connect)?;
        let (hub, commands) = mpsc::unbounded_channel();
        let unsubscribe = hub.clone();
        let local = Fanout::with_hook(
            options.bus_queue,
            Some(Box::new(move |topic: &Topic| {
                let _ = unsubscribe.send(Command::Unsubscribe(topic.clone()));
            })),
        );
        if options.key.is_none() {
            tracing::warn!("Redis bus without a signing key: events are not sealed");
        }
        let seal = Arc::new(seal::Seal::new(options.key.clone()));
        let runner = Hub {
            client: redis.client.clone(),
            prefix: options.prefix.clone(),
            local: Arc::clone(&local),
            seal: Arc::clone(&seal),
            subscribe_timeout: options.subscribe_timeout,
            dropped: Default::default(),
        };
        tokio::spawn(runner.run(pubsub.split(), commands));
        Ok(Self {
            inner: Arc::new(Inner {
                prefix: options.prefix.clone(),
                timeout: options.command_timeout,
                publisher: redis.shared.clone(),
                local,
                seal,
                hub,
            }),
        })
    }

    fn channel(&self, topic: &Topic) -> String {
        format!("{}:{}", self.inner.prefix, topic.as_str())
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, topics: &[Topic], event: SharedEvent) -> Result<()> {
        if topics.is_empty() {
            return Ok(());
        }
        // Encoded once, whatever the number of topics; sealed per channel.
        let payload = Bytes::from(wire::encode(event.kind()).map_err(ChatError::internal)?);
        let mut pipe = redis::pipe();
        for topic in topics {
            let channel = self.channel(topic);
            let sealed = self.inner.seal.seal(&channel, &payload);
            pipe.publish(channel, sealed).ignore();
        }
        let mut connection = self.inner.publisher.clone();
        match tokio::time::timeout(self.inner.timeout, pipe.query_async::<()>(&mut connection))
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(unavailable(error)),
            Err(_) => Err(unavailable("Redis publish timed out")),
        }
    }

    async fn subscribe(&self, topic: &Topic) -> Result<EventStream> {
        let subscription = self
            .inner
            .local
            .subscribe(topic)
            .ok_or_else(|| ChatError::internal("bus lock poisoned"))?;
        let (reply, confirmed) = oneshot::channel();
        self.inner
            .hub
            .send(Command::Subscribe(topic.clone(), reply))
            .map_err(|_| unavailable("the Redis hub has stopped"))?;
        confirmed
            .await
            .map_err(|_| unavailable("the Redis hub has stopped"))??;
        Ok(Box::pin(subscription))
    }

    async fn ping(&self) -> Result<()> {
        let mut connection = self.inner.publisher.clone();
        let ping = redis::cmd("PING");
        match tokio::time::timeout(
            self.inner.timeout,
            ping.query_async::<String>(&mut connection),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(unavailable(error)),
            Err(_) => Err(unavailable("Redis PING timed out")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_shows_neither_key_nor_password() {
        let options = Redis::builder("redis://admin:hunter2@cache:6379/0")
            .signing_key(b"the-signing-key".to_vec());
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("the-signing-key"), "{shown}");
        assert!(!shown.contains("116, 104, 101"), "{shown}");
        assert!(shown.contains("redis://***@cache:6379/0"), "{shown}");
        assert!(shown.contains("signed: true"), "{shown}");
        let plain = format!("{:?}", Redis::builder("redis://127.0.0.1:6379"));
        assert!(plain.contains("redis://127.0.0.1:6379"), "{plain}");
    }
}
