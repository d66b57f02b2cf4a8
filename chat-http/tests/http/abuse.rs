//! Password guessing and login floods over real HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::{Argon2Hasher, Rate, RateLimits};
use chat_test_support::{PASSWORD, TestServer, generous_limits};
use serde_json::json;
use tokio::sync::Semaphore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_bounded_and_the_server_stays_responsive() {
    // Real argon2id cost and the default queue timeout, on hashing slots the
    // test holds: it decides when the pool is saturated.
    let slots = Arc::new(Semaphore::new(2));
    let hasher = Argon2Hasher::new().with_slots(Arc::clone(&slots));
    let server = Arc::new(TestServer::builder().hasher(Arc::new(hasher)).start().await);
    let alice = server.user("alice").await;
    let busy = Arc::clone(&slots).acquire_many_owned(2).await.unwrap();
    let started = Instant::now();
    let logins: Vec<_> = (0..200)
        .map(|_| {
            let server = Arc::clone(&server);
            tokio::spawn(async move { server.try_login("alice", PASSWORD).await.0 })
        })
        .collect();
    // While every slot is busy and the flood waits for one, requests that
    // need no hashing are answered.
    let (status, _, _) = server.get("/healthz", &[]).await;
    assert_eq!(status, 200);
    let (status, _, _) = server.get_as(&alice, "/api/me").await;
    assert_eq!(status, 200);
    let mut statuses = Vec::new();
    for login in logins {
        statuses.push(login.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 503),
        "the excess must be refused, not queued without bound: {statuses:?}"
    );
    assert!(
        started.elapsed() >= Argon2Hasher::QUEUE_TIMEOUT,
        "each waited out the queue timeout first"
    );
    // Once hashing is free again, logins at full cost go through.
    drop(busy);
    let (status, _, _) = server.try_login("alice", PASSWORD).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_cannot_dodge_the_client_limit() {
    let limits = RateLimits {
        login_per_client: Rate::new(3, Duration::from_secs(3600)),
        ..generous_limits()
    };
    let server = TestServer::builder().limits(limits).start().await;
    server.signup("alice").await;
    for n in 0..3 {
        let spoofed = format!("10.0.0.{n}");
        let (status, _, _) = server
            .post(
                "/api/login",
                json!({ "username": "alice", "password": "wrong password" }),
                &[("x-forwarded-for", &spoofed)],
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, headers, _) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": PASSWORD }),
            &[("x-forwarded-for", "10.9.9.9")],
        )
        .await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
}
