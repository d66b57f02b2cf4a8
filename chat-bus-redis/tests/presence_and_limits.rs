//! Presence and rate limits shared by two "processes" (two clients) on a
//! real Redis server.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use chat_bus_redis::{RedisLimiter, RedisPresence};
use chat_core::{Action, ChatError, Presence, Rate, RateLimiter, RateLimits, UserId};

use chat_test_support::redis::prefix;
use chat_test_support::require_redis;

async fn presence(url: &str, prefix: &str, ttl: Duration) -> std::sync::Arc<RedisPresence> {
    RedisPresence::connect(url, prefix, ttl).await.unwrap()
}

#[tokio::test]
async fn presence_is_shared_and_expires_with_its_process() {
    let url = require_redis!();
    let prefix = prefix("presence");
    let one = presence(&url, &prefix, Duration::from_secs(30)).await;
    let two = presence(&url, &prefix, Duration::from_secs(30)).await;
    let (alice, bob) = (UserId::new(1), UserId::new(2));

    assert!(
        one.connect(alice).await.unwrap(),
        "first connection anywhere"
    );
    assert!(
        !two.connect(alice).await.unwrap(),
        "already online on the other process"
    );
    assert_eq!(two.online(&[alice, bob]).await.unwrap(), [true, false]);
    assert!(
        !one.disconnect(alice).await.unwrap(),
        "still online on the other process"
    );
    assert!(two.disconnect(alice).await.unwrap(), "last connection gone");
    assert_eq!(one.online(&[alice]).await.unwrap(), [false]);

    // A process that dies without disconnecting drops out after its time to live.
    let doomed = presence(&url, &prefix, Duration::from_secs(1)).await;
    assert!(doomed.connect(bob).await.unwrap());
    assert_eq!(one.online(&[bob]).await.unwrap(), [true]);
    drop(doomed);
    let deadline = Instant::now() + Duration::from_secs(10);
    while one.online(&[bob]).await.unwrap() == [true] {
        assert!(
            Instant::now() < deadline,
            "a dead process's presence never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn login_limits_hold_across_processes() {
    let url = require_redis!();
    let prefix = prefix("limits");
    let limits = RateLimits {
        login_per_username: Rate::new(3, Duration::from_secs(60)),
        ..RateLimits::default()
    };
    let one = RedisLimiter::connect(&url, &prefix, limits).await.unwrap();
    let two = RedisLimiter::connect(&url, &prefix, limits).await.unwrap();
    one.check(Action::LoginPerUsername, "alice").await.unwrap();
    two.check(Action::LoginPerUsername, "alice").await.unwrap();
    one.check(Action::LoginPerUsername, "alice").await.unwrap();
    match two.check(Action::LoginPerUsername, "alice").await {
        Err(ChatError::RateLimited { retry_after }) => assert!(retry_after > Duration::ZERO),
        other => panic!("the fourth attempt across processes must be limited, got {other:?}"),
    }
    two.check(Action::LoginPerUsername, "bob").await.unwrap();
}
