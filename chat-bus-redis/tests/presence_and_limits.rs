//! Presence and rate limits shared by two "processes" (two clients) on a
//! real Redis server.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use chat_bus_redis::{RedisLimiter, RedisPresence};
use chat_core::{Action, ChatError, Presence, Rate, RateLimiter, RateLimits, UserId};

fn url() -> String {
    std::env::var("CHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn prefix(name: &str) -> String {
    format!("chat-test-{name}-{}", std::process::id())
}

async fn presence(prefix: &str, ttl: Duration) -> Option<std::sync::Arc<RedisPresence>> {
    match RedisPresence::connect(&url(), prefix, ttl).await {
        Ok(presence) => Some(presence),
        Err(error)
            if std::env::var("CHAT_TEST_REQUIRE_SERVICES")
                .is_ok_and(|v| !v.is_empty() && v != "0") =>
        {
            panic!("Redis is required: {error}")
        }
        Err(error) => {
            eprintln!("skipped: no Redis ({error})");
            None
        }
    }
}

#[tokio::test]
async fn presence_is_shared_and_expires_with_its_process() {
    let prefix = prefix("presence");
    let Some(one) = presence(&prefix, Duration::from_secs(30)).await else {
        return;
    };
    let two = presence(&prefix, Duration::from_secs(30)).await.unwrap();
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
    let doomed = presence(&prefix, Duration::from_secs(1)).await.unwrap();
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
    let prefix = prefix("limits");
    let limits = RateLimits {
        login_per_username: Rate::new(3, Duration::from_secs(60)),
        ..RateLimits::default()
    };
    let one = match RedisLimiter::connect(&url(), &prefix, limits).await {
        Ok(limiter) => limiter,
        Err(error) => {
            assert!(
                std::env::var("CHAT_TEST_REQUIRE_SERVICES").is_err(),
                "Redis is required: {error}"
            );
            return;
        }
    };
    let two = RedisLimiter::connect(&url(), &prefix, limits)
        .await
        .unwrap();
    one.check(Action::LoginPerUsername, "alice").await.unwrap();
    two.check(Action::LoginPerUsername, "alice").await.unwrap();
    one.check(Action::LoginPerUsername, "alice").await.unwrap();
    match two.check(Action::LoginPerUsername, "alice").await {
        Err(ChatError::RateLimited { retry_after }) => assert!(retry_after > Duration::ZERO),
        other => panic!("the fourth attempt across processes must be limited, got {other:?}"),
    }
    two.check(Action::LoginPerUsername, "bob").await.unwrap();
}
