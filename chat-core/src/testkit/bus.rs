//! The bus conformance suite: the contract of [`Bus`].

use std::sync::Arc;

use futures::StreamExt;

use super::harness::{next_delivery, next_event};
use crate::ports::{Bus, Delivery, Topic};
use crate::{Event, EventKind, SessionId, SharedEvent, UserId};

/// A numbered event; the number comes back through [`number`].
fn event(n: i64) -> SharedEvent {
    Event::new(EventKind::SessionEnded {
        session: SessionId::new(n),
    })
}

fn number(event: &SharedEvent) -> i64 {
    match event.kind() {
        EventKind::SessionEnded { session } => session.get(),
        other => panic!("unexpected {other:?}"),
    }
}

/// Topics unique to this run, so that backends shared between tests (a
/// Redis server) do not mix cases.
fn topic(name: u32) -> Topic {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(0);
    let base = i64::from(std::process::id()) << 32;
    let unique = NEXT.fetch_add(1, Ordering::Relaxed) + i64::from(name);
    Topic::user(UserId::new(base + unique * 1000))
}

pub async fn delivers_to_every_subscriber(bus: Arc<dyn Bus>) {
    let t = topic(1);
    let mut a = bus.subscribe(&t).await.unwrap();
    let mut b = bus.subscribe(&t).await.unwrap();
    bus.publish(std::slice::from_ref(&t), event(7))
        .await
        .unwrap();
    assert_eq!(number(&next_event(&mut a).await), 7);
    assert_eq!(number(&next_event(&mut b).await), 7);
}

pub async fn conversation_topics_are_carried_apart_from_user_topics(bus: Arc<dyn Bus>) {
    // The same number names a user and a conversation: two topics.
    let user = topic(1);
    let number_of = user.as_str().trim_start_matches("user:").parse().unwrap();
    let conversation = Topic::conversation(crate::ConversationId::new(number_of));
    let mut of_user = bus.subscribe(&user).await.unwrap();
    let mut members = bus.subscribe(&conversation).await.unwrap();
    let mut also_members = bus.subscribe(&conversation).await.unwrap();
    bus.publish(std::slice::from_ref(&conversation), event(1))
        .await
        .unwrap();
    bus.publish(std::slice::from_ref(&user), event(2))
        .await
        .unwrap();
    assert_eq!(number(&next_event(&mut members).await), 1);
    assert_eq!(number(&next_event(&mut also_members).await), 1);
    assert_eq!(
        number(&next_event(&mut of_user).await),
        2,
        "the user's topic heard nothing of the conversation's"
    );
    bus.publish(std::slice::from_ref(&conversation), event(3))
        .await
        .unwrap();
    assert_eq!(
        number(&next_event(&mut members).await),
        3,
        "nor the conversation's of the user's"
    );
}

pub async fn topics_are_isolated(bus: Arc<dyn Bus>) {
    let (t1, t2) = (topic(1), topic(2));
    let mut one = bus.subscribe(&t1).await.unwrap();
    let mut two = bus.subscribe(&t2).await.unwrap();
    bus.publish(std::slice::from_ref(&t1), event(1))
        .await
        .unwrap();
    bus.publish(std::slice::from_ref(&t2), event(2))
        .await
        .unwrap();
    assert_eq!(number(&next_event(&mut one).await), 1);
    assert_eq!(number(&next_event(&mut two).await), 2);
    // Nothing else is queued for either: the next event is the next one sent.
    bus.publish(&[t1.clone(), t2.clone()], event(3))
        .await
        .unwrap();
    assert_eq!(number(&next_event(&mut one).await), 3);
    assert_eq!(number(&next_event(&mut two).await), 3);
}

pub async fn order_is_preserved_per_topic(bus: Arc<dyn Bus>) {
    let t = topic(1);
    let mut sub = bus.subscribe(&t).await.unwrap();
    for n in 0..100 {
        bus.publish(std::slice::from_ref(&t), event(n))
            .await
            .unwrap();
    }
    for n in 0..100 {
        assert_eq!(number(&next_event(&mut sub).await), n);
    }
}

pub async fn publishes_to_several_topics_at_once(bus: Arc<dyn Bus>) {
    let topics: Vec<Topic> = (0..5).map(topic).collect();
    let mut subs = Vec::new();
    for t in &topics {
        subs.push(bus.subscribe(t).await.unwrap());
    }
    bus.publish(&topics, event(42)).await.unwrap();
    for sub in &mut subs {
        assert_eq!(number(&next_event(sub).await), 42);
    }
}

pub async fn publishing_without_subscribers_succeeds(bus: Arc<dyn Bus>) {
    bus.publish(&[topic(1)], event(1)).await.unwrap();
    bus.publish(&[], event(2)).await.unwrap();
}

pub async fn subscription_is_live_when_subscribe_returns(bus: Arc<dyn Bus>) {
    for n in 0..20 {
        let t = topic(1);
        let mut sub = bus.subscribe(&t).await.unwrap();
        bus.publish(std::slice::from_ref(&t), event(n))
            .await
            .unwrap();
        assert_eq!(number(&next_event(&mut sub).await), n);
    }
}

pub async fn slow_subscriber_is_told_it_lagged(bus: Arc<dyn Bus>) {
    let t = topic(1);
    let mut slow = bus.subscribe(&t).await.unwrap();
    const SENT: i64 = 10_000;
    for n in 0..SENT {
        bus.publish(std::slice::from_ref(&t), event(n))
            .await
            .unwrap();
    }
    // Reading now finds a bounded backlog and a lag notice, then the
    // newest events, in order, ending with the last one published.
    let mut lagged = false;
    let mut last = -1;
    let mut received = 0;
    while last != SENT - 1 {
        match next_delivery(&mut slow).await {
            Some(Delivery::Lagged) => lagged = true,
            Some(Delivery::Event(e)) => {
                let n = number(&e);
                assert!(n > last, "out of order: {n} after {last}");
                last = n;
                received += 1;
            }
            None => panic!("the stream ended"),
        }
    }
    assert!(
        lagged,
        "a subscriber that fell {SENT} events behind must be told"
    );
    assert!(
        received < SENT,
        "the backlog must be bounded, got {received}"
    );
}

pub async fn dropped_subscription_does_not_disturb_others(bus: Arc<dyn Bus>) {
    let t = topic(1);
    let keep = bus.subscribe(&t).await.unwrap();
    let gone = bus.subscribe(&t).await.unwrap();
    drop(gone);
    let mut keep = keep;
    for n in 0..10 {
        bus.publish(std::slice::from_ref(&t), event(n))
            .await
            .unwrap();
        assert_eq!(number(&next_event(&mut keep).await), n);
    }
    drop(keep);
    // A topic whose subscribers all left can be subscribed to again.
    let mut again = bus.subscribe(&t).await.unwrap();
    bus.publish(std::slice::from_ref(&t), event(99))
        .await
        .unwrap();
    assert_eq!(number(&next_event(&mut again).await), 99);
    assert!(futures::FutureExt::now_or_never(again.next()).is_none());
}

pub async fn subscribers_share_one_event(bus: Arc<dyn Bus>) {
    let t = topic(1);
    let mut subs = Vec::new();
    for _ in 0..10 {
        subs.push(bus.subscribe(&t).await.unwrap());
    }
    bus.publish(std::slice::from_ref(&t), event(5))
        .await
        .unwrap();
    let first = next_event(&mut subs[0]).await;
    for sub in &mut subs[1..] {
        let other = next_event(sub).await;
        assert!(
            Arc::ptr_eq(&first, &other),
            "each subscriber got its own copy"
        );
    }
}
