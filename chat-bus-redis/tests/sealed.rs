//! Only events sealed with the chat's key, for the channel they arrive on,
//! are delivered: nobody else who can publish on the Redis server can make
//! a connection deliver a forged message (or move its recovery cursor past
//! real ones with a forged id).

#![allow(clippy::unwrap_used, clippy::panic)]

use chat_bus_redis::{Redis, RedisBus};
use chat_core::testkit::next_event;
use chat_core::{Bus, Event, EventKind, SessionId, Topic, UserId};
use chat_test_support::redis::prefix;
use chat_test_support::require_redis;

fn ended(n: i64) -> chat_core::SharedEvent {
    Event::new(EventKind::SessionEnded {
        session: SessionId::new(n),
    })
}

#[tokio::test]
async fn only_events_sealed_with_the_chat_key_are_delivered() {
    let url = require_redis!();
    let prefix = prefix("sealed");
    let bus = |key: Option<u8>| {
        let builder = Redis::builder(&url).prefix(&prefix);
        let builder = match key {
            Some(byte) => builder.signing_key(vec![byte; 32]),
            None => builder,
        };
        async move {
            let redis = builder.connect().await.unwrap();
            RedisBus::clone(&redis.bus().await.unwrap())
        }
    };
    let (bus, other_key, unsealed) = (bus(Some(7)).await, bus(Some(9)).await, bus(None).await);
    let topic = Topic::user(UserId::new(42));
    let mut events = bus.subscribe(&topic).await.unwrap();

    // Published by processes without the key, or straight into Redis: the
    // bytes a real process would send, forged ones, too many of them.
    other_key
        .publish(std::slice::from_ref(&topic), ended(1))
        .await
        .unwrap();
    unsealed
        .publish(std::slice::from_ref(&topic), ended(2))
        .await
        .unwrap();
    let channel = format!("{prefix}:{}", topic.as_str());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    // An event in the wire format, as a real process would send it, but
    // without the chat's seal.
    let forged = br#"{"v":2,"event":{"kind":"session_ended","session":3}}"#.to_vec();
    for payload in [forged, vec![b'x'; 70 * 1024], Vec::new()] {
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async::<i64>(&mut raw)
            .await
            .unwrap();
    }
    // Sealed by the chat for another channel, and replayed on this one.
    let elsewhere = Topic::user(UserId::new(43));
    let mut listener = client.get_async_pubsub().await.unwrap();
    listener
        .subscribe(format!("{prefix}:{}", elsewhere.as_str()))
        .await
        .unwrap();
    bus.publish(std::slice::from_ref(&elsewhere), ended(5))
        .await
        .unwrap();
    let captured = {
        use futures::StreamExt;
        let message = tokio::time::timeout(chat_test_support::WAIT, listener.on_message().next())
            .await
            .unwrap()
            .unwrap();
        message.get_payload_bytes().to_vec()
    };
    redis::cmd("PUBLISH")
        .arg(&channel)
        .arg(captured)
        .query_async::<i64>(&mut raw)
        .await
        .unwrap();

    // The next event delivered is the chat's own.
    bus.publish(std::slice::from_ref(&topic), ended(4))
        .await
        .unwrap();
    match next_event(&mut events).await.kind() {
        EventKind::SessionEnded { session } => assert_eq!(session.get(), 4),
        other => panic!("unexpected {other:?}"),
    }
}
