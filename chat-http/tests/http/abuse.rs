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
    let server = Arc::new(
        TestServer::builder()
            .hasher(Arc::new(hasher))
            .behind_a_proxy()
            .start()
            .await,
    );
    let alice = server.user("alice").await;
    let busy = Arc::clone(&slots).acquire_many_owned(2).await.unwrap();
    let started = Instant::now();
    // A flood from 200 addresses: each login waits its turn (a flood from
    // one address is mostly refused at once: see the test below).
    let logins: Vec<_> = (0..200)
        .map(|n| {
            let server = Arc::clone(&server);
            let client = format!("10.{}.{}.1", n / 100, n % 100);
            tokio::spawn(async move {
                login_as(&server, "alice", PASSWORD, &client, None, None)
                    .await
                    .0
            })
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

/// Logs `name` in from `client` (a forwarded address), with a device token
/// in the body when given; the status and the answer's device token.
async fn login_as(
    server: &TestServer,
    name: &str,
    password: &str,
    client: &str,
    device: Option<&str>,
    cookie: Option<&str>,
) -> (u16, Option<String>) {
    let mut body = json!({ "username": name, "password": password });
    if let Some(device) = device {
        body["device_token"] = json!(device);
    }
    let mut headers = vec![("x-forwarded-for", client)];
    if let Some(cookie) = cookie {
        headers.push(("cookie", cookie));
    }
    let (status, _, answer) = server.post("/api/login", body, &headers).await;
    (status, answer["device_token"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_strangers_do_not_lock_the_owner_out_of_a_known_device() {
    let server = TestServer::builder()
        .defaults()
        .behind_a_proxy()
        .start()
        .await;
    server.signup("alice").await;
    // The owner's browser logs in once and keeps the device cookie.
    let (status, headers, body) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": PASSWORD }),
            &[("x-forwarded-for", "10.1.0.1")],
        )
        .await;
    assert_eq!(status, 200);
    let device_cookie = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("chat_device="))
        .expect("a device cookie")
        .to_owned();
    assert_eq!(
        chat_test_support::client::cookie_attributes(&device_cookie),
        [
            "HttpOnly",
            "Max-Age",
            "Path=/api/login",
            "SameSite=Strict",
            "chat_device"
        ]
    );
    let cookie = device_cookie.split(';').next().unwrap().to_owned();
    let token = body["device_token"].as_str().unwrap().to_owned();
    // Strangers guess, each from a network of its own, until the account's
    // shared limit is spent: a stranger with the password is refused too.
    for n in 0..9 {
        let client = format!("10.2.{n}.1");
        assert_eq!(
            login_as(&server, "alice", "a guess", &client, None, None)
                .await
                .0,
            401
        );
    }
    assert_eq!(
        login_as(&server, "alice", PASSWORD, "10.3.0.1", None, None)
            .await
            .0,
        429
    );
    // The owner's browser (its cookie) and a client with the token in the
    // body still get in, from anywhere.
    let (status, renewed) =
        login_as(&server, "alice", PASSWORD, "10.4.0.1", None, Some(&cookie)).await;
    assert_eq!(status, 200);
    assert!(
        renewed.is_some_and(|t| t != token),
        "a fresh token each time"
    );
    assert_eq!(
        login_as(&server, "alice", PASSWORD, "10.5.0.1", Some(&token), None)
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_from_one_client_waits_behind_its_own_requests_only() {
    let slots = Arc::new(Semaphore::new(2));
    let hasher = Argon2Hasher::new().with_slots(Arc::clone(&slots));
    let server = Arc::new(
        TestServer::builder()
            .hasher(Arc::new(hasher))
            .behind_a_proxy()
            .start()
            .await,
    );
    server.signup("alice").await;
    server.signup("bob").await;
    let busy = Arc::clone(&slots).acquire_many_owned(2).await.unwrap();
    let login = |name: &'static str, client: &'static str| {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            login_as(&server, name, PASSWORD, client, None, None)
                .await
                .0
        })
    };
    // Ten at once from one address: two wait for hashing, eight are told
    // to come back in a second, at once.
    let flood: Vec<_> = (0..10).map(|_| login("alice", "10.6.0.1")).collect();
    let mut refused = 0;
    let mut waiting = Vec::new();
    for attempt in flood {
        if attempt.is_finished() {
            assert_eq!(attempt.await.unwrap(), 429);
            refused += 1;
        } else {
            waiting.push(attempt);
        }
    }
    let deadline = tokio::time::Instant::now() + chat_test_support::WAIT;
    while refused < 8 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {refused} refused"
        );
        let mut still = Vec::new();
        for attempt in waiting {
            if attempt.is_finished() {
                assert_eq!(attempt.await.unwrap(), 429);
                refused += 1;
            } else {
                still.push(attempt);
            }
        }
        waiting = still;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(waiting.len(), 2, "two of the flood's requests hold places");
    // Another client's login is queued right behind them, not refused.
    let other = login("bob", "10.7.0.1");
    drop(busy);
    assert_eq!(other.await.unwrap(), 200);
    for attempt in waiting {
        assert_eq!(attempt.await.unwrap(), 200);
    }
}
