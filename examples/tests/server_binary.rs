//! The reference `chat-server` binary: its flags reach the server that
//! runs, it serves TLS and metrics when asked, it reports a bus outage as
//! not ready, and it starts from nothing and stops on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use chat_test_support::client::cookie_attributes;
use chat_test_support::process::ServerProcess;
use chat_test_support::redis::PrivateRedis;
use chat_test_support::tls::{SelfSigned, signup_request};
use chat_test_support::{Client, PASSWORD, WAIT};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_chat-server");

/// A server on an in-memory database with exactly `flags`.
async fn server(flags: &[&str]) -> ServerProcess {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite::memory:",
    ];
    args.extend(flags);
    ServerProcess::spawn(BINARY, None, &args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn its_flags_set_the_limits_of_the_running_server() {
    let server = server(&[
        "--login-burst",
        "2",
        "--send-rate",
        "1",
        "--ws-sockets-per-user",
        "2",
    ])
    .await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    // --login-burst 2: alice's login above was the first attempt.
    assert_eq!(server.try_login("alice", "wrong password").await.0, 401);
    assert_eq!(server.try_login("alice", PASSWORD).await.0, 429);
    // --send-rate 1: bursts of three.
    for _ in 0..3 {
        server.send(&alice, "bob", "hi").await;
    }
    let (status, _, _) = server
        .post_as(
            &alice,
            "/api/conversations/bob/messages",
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(status, 429);
    // --ws-sockets-per-user 2.
    let _one = server.ws_ready(&alice, "").await;
    let _two = server.ws_ready(&alice, "").await;
    assert_eq!(server.refused_upgrade(&alice).await, 429);
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure_and_responses_carry_hsts() {
    let server = server(&["--behind-tls"]).await;
    server.signup("alice").await;
    let (status, headers, _) = server.try_login("alice", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(
        cookie_attributes(headers["set-cookie"].to_str().unwrap()),
        [
            "HttpOnly",
            "Max-Age",
            "Path=/",
            "SameSite=Lax",
            "Secure",
            "__Host-chat_session"
        ]
    );
    assert!(
        headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=31536000")
    );
}

#[tokio::test]
async fn with_a_certificate_it_serves_https_and_redirects_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = SelfSigned::new();
    let (cert, key) = certificate.write_pem(dir.path());
    let mut server = server(&[
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--redirect-listen",
        "127.0.0.1:0",
    ])
    .await;
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let port: u16 = server.host.rsplit(':').next().unwrap().parse().unwrap();
    let signup = certificate.raw(port, &signup_request("alice")).await;
    assert!(signup.starts_with("HTTP/1.1 201"), "{signup}");
    assert!(
        signup
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000")
    );
    let line = server.wait_for_log("redirecting http://").await;
    let plain = line
        .split("redirecting http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let redirect = chat_test_support::raw(
        &plain,
        b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(redirect.starts_with("HTTP/1.1 308"), "{redirect}");
    assert!(
        redirect.contains(&format!("location: https://localhost:{port}/login")),
        "{redirect}"
    );
}

/// Where the server says it serves `/metrics` (`host:port`).
async fn metrics_address(server: &mut ServerProcess) -> String {
    let line = server.wait_for_log("metrics at http://").await;
    line.split("metrics at http://")
        .nth(1)
        .unwrap()
        .trim_end_matches("/metrics")
        .to_owned()
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address() {
    let mut server = server(&["--metrics-listen", "127.0.0.1:0"]).await;
    let address = metrics_address(&mut server).await;
    assert_ne!(address, server.host, "a listener of its own");
    server.signup("alice").await;
    assert_eq!(server.try_login("alice", "wrong password").await.0, 401);
    let metrics = Client::new(&address);
    let (status, _, text) = metrics.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(
        text.lines().any(|l| l == "chat_login_failures_total 1"),
        "{text}"
    );
    assert_eq!(metrics.get_text("/api/me", &[]).await.0, 404);
    assert_eq!(server.get_text("/metrics", &[]).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_is_not_ready_while_redis_is_down() {
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let url = redis.url();
    let server = server(&["--redis-url", &url]).await;
    let ready = async || server.get("/readyz", &[]).await;
    let (status, _, body) = ready().await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    redis.stop().await;
    let (status, _, body) = ready().await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert_eq!(
        server.get("/healthz", &[]).await.0,
        200,
        "alive all the same"
    );
    redis.resume().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while ready().await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ready again after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn from_an_empty_directory_it_creates_its_database_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(BINARY, Some(dir.path()), &["--listen", "127.0.0.1:0"]).await;
    assert!(server.base.starts_with("http://127.0.0.1:"));
    assert!(
        dir.path().join("chat.db").exists(),
        "chat.db in the working directory"
    );
    let (status, _, body) = server.get("/healthz", &[]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let alice = server.user("alice").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    let closed = tokio::spawn(async move { chat_test_support::expect_close(&mut ws).await });
    let (status, log) = server.terminate().await;
    assert!(status.success(), "{status:?}");
    let close = closed.await.unwrap().expect("a close frame");
    assert_eq!(u16::from(close.code), 1001, "going away");
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
}

#[tokio::test]
async fn it_refuses_to_start_with_the_null_origin_allowed() {
    let run = tokio::process::Command::new(BINARY)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
        ])
        .args(["--allowed-origin", "https://fine.example,null"])
        .output();
    let output = tokio::time::timeout(WAIT, run).await.unwrap().unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains(r#"allowed origin "null" refused"#), "{log}");
    assert!(!log.contains("listening"), "{log}");
}

/// Password hashing keeps at most one 19 MiB work area per hash that can
/// run at once (one per CPU by default), however many logins it served:
/// before, each hash's area stayed with the allocator, hundreds of MiB
/// after a few dozen logins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resident_memory_after_many_logins_stays_within_the_hashing_pool() {
    let server = ServerProcess::start(BINARY, &["--database-url", "sqlite::memory:"]).await;
    server.user("warm").await;
    let before = server.resident_bytes();
    for n in 0..12 {
        let name = format!("user{n}");
        server.signup(&name).await;
        server.login(&name).await;
    }
    let after = server.resident_bytes();
    let cpus = std::thread::available_parallelism().map_or(2, usize::from) as u64;
    // The pool, plus room for everything else 24 accounts and sessions cost.
    let allowed = cpus * 19 * 1024 * 1024 + 24 * 1024 * 1024;
    let grew = after.saturating_sub(before);
    assert!(
        grew <= allowed,
        "grew {} MiB after 24 hashes (allowed {} MiB)",
        grew / (1024 * 1024),
        allowed / (1024 * 1024)
    );
}

/// Runs `chat-server` with `args` to its end: (stdout, stderr, success).
fn run_to_end(args: &[&str]) -> (String, String, bool) {
    let out = std::process::Command::new(BINARY)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_made_on_the_command_line_read_the_feed_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let (key, note, made) = run_to_end(&[
        "--database-url",
        &url,
        "api-key",
        "create",
        "--scope",
        "feed",
        "--name",
        "analytics",
    ]);
    assert!(made, "{note}");
    let key = key.trim().to_owned();
    assert!(key.starts_with("chat_key_"), "{key}");
    assert!(note.contains("shown only now"), "{note}");
    let (_, _, made) = run_to_end(&[
        "--database-url",
        &url,
        "api-key",
        "create",
        "--scope",
        "send",
    ]);
    assert!(made);
    let (listed, _, _) = run_to_end(&["--database-url", &url, "api-key", "list"]);
    assert!(
        listed.contains("1\tanalytics\tfeed\t") && listed.contains("2\tapi key\tsend\t"),
        "{listed}"
    );
    assert!(!listed.contains(&key[9..]), "no secret is listed");
    let (_, refused, ok) = run_to_end(&[
        "--database-url",
        &url,
        "api-key",
        "create",
        "--scope",
        "root",
    ]);
    assert!(!ok && refused.contains("scope"), "{refused}");

    let server = ServerProcess::start(BINARY, &["--database-url", &url]).await;
    server.signup("alice").await;
    server.signup("bob").await;
    let alice = server.login("alice").await;
    server.send(&alice, "bob", "for the feed").await;
    let bearer = format!("Bearer {key}");
    let (status, _, feed) = server.get("/api/feed", &[("authorization", &bearer)]).await;
    assert_eq!(status, 200, "{feed}");
    assert_eq!(feed["events"][0]["type"], "message");
    assert_eq!(feed["events"][0]["message"]["text"], "for the feed");
    assert_eq!(feed["events"][0]["cursor"], feed["cursor"]);
    assert_eq!(feed["has_more"], false);
    // From its cursor, nothing more until something happens.
    let after = format!("/api/feed?cursor={}", feed["cursor"].as_str().unwrap());
    let (_, _, rest) = server.get(&after, &[("authorization", &bearer)]).await;
    assert_eq!(rest["events"], json!([]));
    // A session is not a key; revoked, the key stops at once.
    let (status, _, _) = server
        .get("/api/feed", &[("authorization", &alice.bearer())])
        .await;
    assert_eq!(status, 401);
    let (_, note, revoked) = run_to_end(&["--database-url", &url, "api-key", "revoke", "1"]);
    assert!(revoked, "{note}");
    let (status, _, body) = server.get("/api/feed", &[("authorization", &bearer)]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (_, note, again) = run_to_end(&["--database-url", &url, "api-key", "revoke", "1"]);
    assert!(!again && note.contains("not found"), "{note}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_are_made_on_the_command_line_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let server = ServerProcess::start(BINARY, &["--database-url", &url]).await;
    server.signup("alice").await;
    server.signup("bob").await;
    let alice = server.login("alice").await;
    let (status, _, _) = server
        .post_as(&alice, "/api/admin/users/bob/disable", json!({}))
        .await;
    assert_eq!(status, 403, "not yet an administrator");
    let (_, note, granted) = run_to_end(&["--database-url", &url, "admin", "grant", "ALICE"]);
    assert!(
        granted && note.contains("alice is an administrator"),
        "{note}"
    );
    let (_, note, refused) = run_to_end(&["--database-url", &url, "admin", "grant", "nobody"]);
    assert!(!refused && note.contains("not found"), "{note}");
    let (listed, _, _) = run_to_end(&["--database-url", &url, "admin", "list"]);
    assert_eq!(listed, "alice\n");
    // The running server sees the grant at once.
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/admin/users/bob/disable",
            json!({"reason": "test"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, _, log) = server.get_as(&alice, "/api/admin/audit").await;
    assert_eq!(log["entries"][0]["action"], "disable_account");
    assert_eq!(log["entries"][1]["action"], "grant_admin");
    // The operator enables an account from the command line too.
    let (_, note, enabled) = run_to_end(&["--database-url", &url, "admin", "enable", "bob"]);
    assert!(
        enabled && note.contains("bob's account is enabled"),
        "{note}"
    );
    server.login("bob").await;
    let (_, note, revoked) = run_to_end(&["--database-url", &url, "admin", "revoke", "alice"]);
    assert!(revoked, "{note}");
    assert_eq!(server.get_as(&alice, "/api/admin/audit").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_notices_reach_the_webhook_and_its_metrics() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A receiver that takes every request with 200 and says when.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (took, mut taken) = tokio::sync::mpsc::channel::<String>(8);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let took = took.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0_u8; 4096];
                // The head, then as much body as it declares.
                loop {
                    let n = stream.read(&mut buffer).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                                .await;
                            let _ = took.send(text).await;
                            return;
                        }
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("webhook.secret");
    std::fs::write(&secret, "a webhook secret, long enough").unwrap();
    let url = format!("http://127.0.0.1:{port}/hooks/secret-path");
    let mut server = server(&[
        "--webhook-url",
        &url,
        "--webhook-secret-file",
        secret.to_str().unwrap(),
        "--offline-delay-secs",
        "1",
        "--metrics-listen",
        "127.0.0.1:0",
        "--send-rate",
        "1000",
    ])
    .await;
    let address = metrics_address(&mut server).await;
    let said = server
        .wait_for_log("offline notices go to the webhook")
        .await;
    assert!(!said.contains("secret-path"), "{said}");
    server.signup("alice").await;
    server.signup("bob").await;
    let alice = server.login("alice").await;
    server.send(&alice, "bob", "are you there?").await;
    let request = tokio::time::timeout(WAIT, taken.recv())
        .await
        .expect("a webhook")
        .unwrap();
    assert!(
        request.starts_with("POST /hooks/secret-path HTTP/1.1"),
        "{request}"
    );
    assert!(
        request.contains("\"type\":\"message.offline\""),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("chat-webhook-signature: t="),
        "{request}"
    );
    // The delivery is counted once the receiver's answer is in.
    let metrics = Client::new(&address);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, _, text) = metrics.get_text("/metrics", &[]).await;
        if text.lines().any(|l| l == "chat_webhook_sent_total 1") {
            assert!(
                text.lines().any(|l| l == "chat_webhook_dropped_total 0"),
                "{text}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never counted: {text}"
        );
        tokio::task::yield_now().await;
    }
}
