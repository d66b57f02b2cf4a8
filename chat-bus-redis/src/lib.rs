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
//! then replays from the store (`Chat::since`), which holds every message
//! that was acknowledged. So no acknowledged message is lost, and the
//! replay de-duplicates by id. Publishing fails fast (`Unavailable`, within
//! the publish timeout) while Redis is down; the message itself is already
//! committed.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn chat_core::Store>) -> Result<(), chat_bus_redis::RedisBusError> {
//! let bus = chat_bus_redis::RedisBus::connect("redis://127.0.0.1:6379").await?;
//! let chat = chat_core::Chat::builder(store).bus(std::sync::Arc::new(bus)).build();
//! # Ok(()) }
//! ```

mod error;
mod hub;
mod limiter;
mod presence;
mod seal;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chat_core::backend::Fanout;
use chat_core::{Bus, ChatError, EventStream, Result, SharedEvent, Topic};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

pub use error::RedisBusError;
pub use limiter::RedisLimiter;
pub use presence::RedisPresence;

use error::unavailable;
use hub::{Command, Hub};

/// How the bus connects. Its `Debug` shows whether a signing key is set,
/// never the key, and the URL without its credentials.
#[derive(Clone)]
pub struct RedisBusOptions {
    url: String,
    prefix: String,
    timeout: Duration,
    queue: usize,
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for RedisBusOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBusOptions")
            .field("url", &without_credentials(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("queue", &self.queue)
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

impl RedisBusOptions {
    /// Options for `url` (`redis://host:port/db`, `rediss://` for TLS).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "chat".into(),
            timeout: Duration::from_secs(2),
            queue: 128,
            key: None,
        }
    }

    /// Prefixes every channel (default `chat`), so several chats can share
    /// one Redis.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a publish may take before it fails as unavailable
    /// (default 2 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Events a local subscriber may fall behind before it lags (default 128).
    pub fn queue(mut self, queue: usize) -> Self {
        self.queue = queue;
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
}

/// The Redis bus. Cheap to clone; clones share the two connections.
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
    /// Connects with default options.
    ///
    /// # Errors
    /// [`RedisBusError`] if the URL is invalid or Redis is unreachable.
    pub async fn connect(url: &str) -> Result<Self, RedisBusError> {
        Self::connect_with(RedisBusOptions::new(url)).await
    }

    /// Connects with explicit options.
    ///
    /// # Errors
    /// As [`RedisBus::connect`].
    pub async fn connect_with(options: RedisBusOptions) -> Result<Self, RedisBusError> {
        let valid_prefix = !options.prefix.is_empty()
            && options
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !valid_prefix {
            return Err(RedisBusError::Prefix(options.prefix));
        }
        let client = redis::Client::open(options.url.as_str()).map_err(RedisBusError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_number_of_retries(1);
        let publisher = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(RedisBusError::Connect)?;
        let pubsub = client
            .get_async_pubsub()
            .await
            .map_err(RedisBusError::Connect)?;
        let (hub, commands) = mpsc::unbounded_channel();
        let unsubscribe = hub.clone();
        let local = Fanout::with_hook(
            options.queue,
            Some(Box::new(move |topic: &Topic| {
                let _ = unsubscribe.send(Command::Unsubscribe(topic.clone()));
            })),
        );
        if options.key.is_none() {
            tracing::warn!("Redis bus without a signing key: events are not sealed");
        }
        let seal = Arc::new(seal::Seal::new(options.key));
        let runner = Hub {
            client,
            prefix: options.prefix.clone(),
            local: Arc::clone(&local),
            seal: Arc::clone(&seal),
            dropped: Default::default(),
        };
        tokio::spawn(runner.run(pubsub.split(), commands));
        Ok(Self {
            inner: Arc::new(Inner {
                prefix: options.prefix,
                timeout: options.timeout,
                publisher,
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
        let payload = Bytes::from(serde_json::to_vec(event.kind()).map_err(ChatError::internal)?);
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
        let options = RedisBusOptions::new("redis://admin:hunter2@cache:6379/0")
            .signing_key(b"the-signing-key".to_vec());
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("the-signing-key"), "{shown}");
        assert!(!shown.contains("116, 104, 101"), "{shown}");
        assert!(shown.contains("redis://***@cache:6379/0"), "{shown}");
        assert!(shown.contains("signed: true"), "{shown}");
        let plain = format!("{:?}", RedisBusOptions::new("redis://127.0.0.1:6379"));
        assert!(plain.contains("redis://127.0.0.1:6379"), "{plain}");
    }
}
