//! The hub: the one Redis subscription connection of this process.
//!
//! It subscribes a Redis channel for the first local subscriber of a topic
//! and unsubscribes after the last, decodes each arriving event once, and
//! hands it to the local subscribers. When the connection drops it tells
//! every local subscriber that it may have missed events, reconnects with
//! back-off, subscribes every live topic again, and tells them once more
//! (so a replay from the store started then misses nothing).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chat_core::backend::Fanout;
use chat_core::{ChatError, Delivery, Event, Topic};
use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// What the hub is asked to do.
pub(crate) enum Command {
    /// Make sure the topic's channel is subscribed; answer when it is.
    Subscribe(Topic, oneshot::Sender<Result<(), ChatError>>),
    /// Unsubscribe the topic's channel if it has no local subscriber left.
    Unsubscribe(Topic),
}

pub(crate) struct Hub {
    pub(crate) client: redis::Client,
    pub(crate) prefix: String,
    pub(crate) local: Arc<Fanout>,
    /// Opens what arrives.
    pub(crate) seal: Arc<crate::seal::Seal>,
    /// How long Redis may take to confirm a subscription.
    pub(crate) subscribe_timeout: Duration,
    /// Events dropped as unsealed, oversize or undecodable: whoever can
    /// publish on the Redis server can send many, so the log hears of the
    /// 1st, 2nd, 4th, 8th … only.
    pub(crate) dropped: AtomicU64,
}

impl Hub {
    fn channel(&self, topic: &Topic) -> String {
        format!("{}:{}", self.prefix, topic.as_str())
    }

    fn topic(&self, channel: &str) -> Option<Topic> {
        let name = channel.strip_prefix(&self.prefix)?.strip_prefix(':')?;
        Topic::from_name(name)
    }

    /// Runs until every command sender is gone.
    pub(crate) async fn run(
        self,
        first: (PubSubSink, PubSubStream),
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let (mut sink, mut stream) = first;
        let mut subscribed: HashSet<Topic> = HashSet::new();
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None => return,
                    Some(command) => self.command(command, &mut sink, &mut subscribed).await,
                },
                message = stream.next() => match message {
                    Some(message) => self.deliver(&message),
                    None => {
                        warn!("lost the Redis subscription connection; reconnecting");
                        self.local.lag_all();
                        subscribed.clear();
                        match self.reconnect(&mut commands).await {
                            Some((new_sink, new_stream)) => {
                                sink = new_sink;
                                stream = new_stream;
                                for topic in self.local.topics() {
                                    if sink.subscribe(self.channel(&topic)).await.is_ok() {
                                        subscribed.insert(topic);
                                    }
                                }
                                info!(topics = subscribed.len(), "Redis subscriptions restored");
                                // Anything published while we were away is in
                                // the store: have every subscriber recover now.
                                self.local.lag_all();
                            }
                            None => return,
                        }
                    }
                },
            }
        }
    }

    async fn command(
        &self,
        command: Command,
        sink: &mut PubSubSink,
        subscribed: &mut HashSet<Topic>,
    ) {
        match command {
            Command::Subscribe(topic, reply) => {
                let result = if subscribed.contains(&topic) {
                    Ok(())
                } else {
                    match tokio::time::timeout(
                        self.subscribe_timeout,
                        sink.subscribe(self.channel(&topic)),
                    )
                    .await
                    {
                        Ok(Ok(())) => {
                            subscribed.insert(topic);
                            Ok(())
                        }
                        Ok(Err(error)) => Err(ChatError::unavailable(error)),
                        Err(_) => Err(ChatError::unavailable(
                            "Redis did not confirm a subscription",
                        )),
                    }
                };
                let _ = reply.send(result);
            }
            Command::Unsubscribe(topic) => {
                if !self.local.is_live(&topic)
                    && subscribed.remove(&topic)
                    && let Err(error) = sink.unsubscribe(self.channel(&topic)).await
                {
                    debug!(%error, "unsubscribe failed");
                }
            }
        }
    }

    /// Counts one more dropped event; the count so far when it is a power
    /// of two, so the log grows with its logarithm.
    fn count_dropped(&self) -> Option<u64> {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        dropped.is_power_of_two().then_some(dropped)
    }

    fn deliver(&self, message: &redis::Msg) {
        let Some(topic) = self.topic(message.get_channel_name()) else {
            return;
        };
        let channel = message.get_channel_name();
        let payload = message.get_payload_bytes();
        // Opened and decoded only if someone here listens, and then once
        // for all.
        self.local.deliver(&topic, || {
            let Some(event) = self.seal.open(channel, payload) else {
                if let Some(dropped) = self.count_dropped() {
                    warn!(
                        channel,
                        bytes = payload.len(),
                        dropped,
                        "unsealed or oversize event on the bus dropped"
                    );
                }
                return None;
            };
            match crate::wire::decode(event) {
                Ok(kind) => Some(Delivery::Event(Event::new(kind))),
                Err(error) => {
                    if let Some(dropped) = self.count_dropped() {
                        warn!(%error, dropped, "an event on the bus dropped");
                    }
                    None
                }
            }
        });
    }

    /// Reconnects with exponential back-off (100 ms to 5 s), answering
    /// subscribe requests with `Unavailable` meanwhile. `None` when the bus
    /// is dropped.
    async fn reconnect(
        &self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Option<(PubSubSink, PubSubStream)> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.client.get_async_pubsub().await {
                Ok(pubsub) => return Some(pubsub.split()),
                Err(error) => debug!(%error, "Redis still unreachable"),
            }
            let wake = tokio::time::sleep(delay);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    () = &mut wake => break,
                    command = commands.recv() => match command {
                        None => return None,
                        Some(Command::Subscribe(_, reply)) => {
                            let _ = reply.send(Err(ChatError::unavailable("Redis is unreachable")));
                        }
                        Some(Command::Unsubscribe(_)) => {}
                    },
                }
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}
