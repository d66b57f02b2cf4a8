//! The presence suite: what every [`Presence`] backend does, called
//! directly.

use std::sync::Arc;

use crate::{Presence, Timestamp, UserId};

/// A user's first connection and last disconnection are the ones reported;
/// `online` answers for many users at once, in order.
pub async fn the_first_connection_and_the_last_disconnection_are_reported(
    presence: Arc<dyn Presence>,
) {
    let (alice, bob, carol) = (UserId::new(1), UserId::new(2), UserId::new(3));
    assert_eq!(
        presence.online(&[alice, bob, carol]).await.unwrap(),
        [false, false, false]
    );
    assert!(
        presence.connect(alice).await.unwrap(),
        "her first connection"
    );
    assert!(!presence.connect(alice).await.unwrap(), "a second one");
    assert!(presence.connect(carol).await.unwrap());
    assert_eq!(
        presence.online(&[alice, bob, carol]).await.unwrap(),
        [true, false, true]
    );
    assert!(!presence.disconnect(alice).await.unwrap(), "one still open");
    assert!(presence.disconnect(alice).await.unwrap(), "her last one");
    assert_eq!(
        presence.online(&[carol, alice]).await.unwrap(),
        [true, false]
    );
    assert!(presence.online(&[]).await.unwrap().is_empty());
}

/// Connections come and go concurrently without losing count.
pub async fn concurrent_connections_are_counted_exactly(presence: Arc<dyn Presence>) {
    let user = UserId::new(42);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let presence = Arc::clone(&presence);
            tokio::spawn(async move { presence.connect(user).await.unwrap() })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += usize::from(task.await.unwrap());
    }
    assert_eq!(firsts, 1, "exactly one connection was the first");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let presence = Arc::clone(&presence);
            tokio::spawn(async move { presence.disconnect(user).await.unwrap() })
        })
        .collect();
    let mut lasts = 0;
    for task in tasks {
        lasts += usize::from(task.await.unwrap());
    }
    assert_eq!(lasts, 1, "exactly one disconnection was the last");
    assert_eq!(presence.online(&[user]).await.unwrap(), [false]);
}

/// Activity is kept per user, the newest whatever order notes arrive in,
/// and answered for many users at once, in order.
pub async fn the_newest_activity_is_kept_per_user(presence: Arc<dyn Presence>) {
    let (alice, bob, carol) = (UserId::new(7), UserId::new(8), UserId::new(9));
    let at = |s: i64| Timestamp::from_unix_micros(1_767_225_600_000_000 + s * 1_000_000);
    assert_eq!(
        presence.last_active(&[alice, bob]).await.unwrap(),
        [None, None]
    );
    presence.touch(alice, at(10)).await.unwrap();
    presence.touch(alice, at(5)).await.unwrap();
    presence.touch(carol, at(3)).await.unwrap();
    assert_eq!(
        presence.last_active(&[carol, bob, alice]).await.unwrap(),
        [Some(at(3)), None, Some(at(10))]
    );
    presence.touch(alice, at(11)).await.unwrap();
    assert_eq!(
        presence.last_active(&[alice]).await.unwrap(),
        [Some(at(11))]
    );
    assert!(presence.last_active(&[]).await.unwrap().is_empty());
}
