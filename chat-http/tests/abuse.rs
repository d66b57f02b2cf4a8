//! Password guessing and login floods over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chat_core::{Argon2Hasher, ChatConfig, Rate, RateLimits};
use chat_http::HttpConfig;
use common::{PASSWORD, TestServer, generous_limits};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_bounded_and_the_server_stays_responsive() {
    // Real argon2id cost, two hashing slots, a short queue.
    let hasher = Argon2Hasher::new().with_concurrency(2, Duration::from_millis(500));
    let server = Arc::new(
        TestServer::with_hasher(
            generous_limits(),
            HttpConfig::default(),
            ChatConfig::default(),
            hasher,
        )
        .await,
    );
    let alice = server.user("alice").await;
    let finished = Arc::new(AtomicUsize::new(0));
    let logins: Vec<_> = (0..200)
        .map(|_| {
            let server = Arc::clone(&server);
            let finished = Arc::clone(&finished);
            tokio::spawn(async move {
                let (status, _, _) = server
                    .post(
                        "/api/login",
                        json!({ "username": "alice", "password": PASSWORD }),
                        &[],
                    )
                    .await;
                finished.fetch_add(1, Ordering::SeqCst);
                status
            })
        })
        .collect();
    // While the flood is being hashed, other requests are answered.
    let (status, _, _) = server.get("/healthz", &[]).await;
    assert_eq!(status, 200);
    let (status, _, _) = server
        .get("/api/me", &[("authorization", &alice.bearer())])
        .await;
    assert_eq!(status, 200);
    assert!(
        finished.load(Ordering::SeqCst) < 200,
        "the other requests waited for the whole flood"
    );
    let mut statuses = Vec::new();
    for login in logins {
        statuses.push(login.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&503),
        "the excess must be refused, not queued without bound"
    );
    assert!(statuses.contains(&200), "some logins must get through");
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_cannot_dodge_the_client_limit() {
    let limits = RateLimits {
        login_per_client: Rate::new(3, Duration::from_secs(3600)),
        ..generous_limits()
    };
    let server = TestServer::with(limits, HttpConfig::default()).await;
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
