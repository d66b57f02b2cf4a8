//! Presence and rate limits shared by two "processes" (two clients) on a
//! real Redis server.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use chat_bus_redis::{Redis, RedisLimiter, RedisPresence};
use chat_core::{Action, ChatError, Presence, Rate, RateLimiter, RateLimits, UserId};

use chat_test_support::redis::prefix;
use chat_test_support::require_redis;

async fn presence(url: &str, prefix: &str, ttl: Duration) -> std::sync::Arc<RedisPresence> {
    redis(url, prefix, ttl).await.presence()
}

/// A process's connection to the shared Redis.
async fn redis(url: &str, prefix: &str, ttl: Duration) -> Redis {
    Redis::builder(url)
        .prefix(prefix)
        .presence_ttl(ttl)
        .connect()
        .await
        .unwrap()
}

async fn limiter(url: &str, prefix: &str, limits: RateLimits) -> RedisLimiter {
    redis(url, prefix, Duration::from_secs(30))
        .await
        .limiter(limits)
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
    let one = limiter(&url, &prefix, limits).await;
    let two = limiter(&url, &prefix, limits).await;
    one.check(Action::LoginPerUsername, "alice").await.unwrap();
    two.check(Action::LoginPerUsername, "alice").await.unwrap();
    one.check(Action::LoginPerUsername, "alice").await.unwrap();
    match two.check(Action::LoginPerUsername, "alice").await {
        Err(ChatError::RateLimited { retry_after }) => assert!(retry_after > Duration::ZERO),
        other => panic!("the fourth attempt across processes must be limited, got {other:?}"),
    }
    two.check(Action::LoginPerUsername, "bob").await.unwrap();
}

#[tokio::test]
async fn the_redis_limiter_allows_the_burst_then_one_per_period_and_says_when() {
    let url = require_redis!();
    let prefix = prefix("gcra");
    let limits = RateLimits {
        send_per_user: Rate::new(3, Duration::from_millis(400)),
        ..RateLimits::default()
    };
    let one = limiter(&url, &prefix, limits).await;
    let two = limiter(&url, &prefix, limits).await;
    let started = Instant::now();
    for limiter in [&one, &two, &one] {
        limiter.check(Action::SendPerUser, "alice").await.unwrap();
    }
    let wait = match two.check(Action::SendPerUser, "alice").await {
        Err(ChatError::RateLimited { retry_after }) => retry_after,
        other => panic!("the fourth attempt must be limited, got {other:?}"),
    };
    // As the in-process limiter: the next attempt is due one period after
    // the burst began (not at the end of a window of burst × period).
    let elapsed = started.elapsed();
    assert!(
        wait <= Duration::from_millis(400) && wait + elapsed >= Duration::from_millis(390),
        "{wait:?} after {elapsed:?}"
    );
    tokio::time::sleep(wait).await;
    one.check(Action::SendPerUser, "alice").await.unwrap();
    assert!(two.check(Action::SendPerUser, "alice").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_redis_limiter_a_known_device_still_logs_in_under_attack() {
    let url = require_redis!();
    let hour = Duration::from_secs(3600);
    let limits = RateLimits {
        login_per_username: Rate::new(5, hour),
        login_per_device: Rate::new(3, hour),
        login_per_network: Rate::new(6, hour),
        ..chat_core::testkit::generous_limits()
    };
    let limiter = limiter(&url, &prefix("devices"), limits).await;
    let store = chat_store_sqlite::SqliteStore::memory().await.unwrap();
    let h = chat_core::testkit::Harness::with_limiter(
        std::sync::Arc::new(store),
        std::sync::Arc::new(limiter),
    );
    chat_core::testkit::limits::a_known_device_logs_in_while_its_account_is_under_attack(
        &h, &limits,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_redis_limiter_attempts_count_per_network() {
    let url = require_redis!();
    let hour = Duration::from_secs(3600);
    let limits = RateLimits {
        login_per_network: Rate::new(6, hour),
        ..chat_core::testkit::generous_limits()
    };
    let limiter = limiter(&url, &prefix("networks"), limits).await;
    let store = chat_store_sqlite::SqliteStore::memory().await.unwrap();
    let h = chat_core::testkit::Harness::with_limiter(
        std::sync::Arc::new(store),
        std::sync::Arc::new(limiter),
    );
    chat_core::testkit::limits::login_attempts_count_per_network(&h, &limits).await;
}
