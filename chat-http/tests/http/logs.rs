//! No password, token or message body ever reaches the logs: every flow runs
//! with logging at debug level, captured, and the capture is searched.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chat_test_support::{PASSWORD, TestServer, expect_frame, send_frame};
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// On one thread, so that the subscriber set for this test sees the server's
// every task and no other test's.
#[tokio::test(flavor = "current_thread")]
async fn secrets_and_message_bodies_never_reach_the_logs() {
    let capture = Capture::default();
    let _logging = capturing(&capture);

    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let body = "the secret body text 7f3a";
    server.send(&alice, "bob", body).await;
    let (status, _, _) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": "wrong password 99" }),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    let (status, _, _) = server
        .post(
            "/api/conversations/bob/messages",
            json!({ "text": body }),
            &[("cookie", &alice.cookie), ("x-csrf-token", "forged")],
        )
        .await;
    assert_eq!(status, 403);
    let mut ws = server.ws(&bob, "?since=0").await;
    expect_frame(&mut ws, "ready").await;
    expect_frame(&mut ws, "message").await;
    send_frame(
        &mut ws,
        json!({ "type": "send", "to": "alice", "text": "ws body text 9c1e", "client_id": "k" }),
    )
    .await;
    expect_frame(&mut ws, "ack").await;
    let (status, _, _) = server
        .post(
            "/api/logout",
            json!({}),
            &[("authorization", &alice.bearer())],
        )
        .await;
    assert_eq!(status, 204);
    drop(ws);
    drop(server);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("login failed"),
        "the capture is empty or wrong:\n{logs}"
    );
    for secret in [
        PASSWORD,
        "wrong password 99",
        &alice.token,
        &bob.token,
        &alice.csrf,
        body,
        "ws body text 9c1e",
    ] {
        assert!(!logs.contains(secret), "{secret:?} was logged");
    }
}

/// Logging at debug level into `capture` for the rest of the scope.
fn capturing(capture: &Capture) -> tracing::subscriber::DefaultGuard {
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_default(subscriber)
}

#[tokio::test(flavor = "current_thread")]
async fn connections_past_the_cap_are_logged_at_most_once_a_second() {
    let capture = Capture::default();
    let _logging = capturing(&capture);
    let mut config = chat_http::HttpConfig::default();
    config.max_connections = 1;
    let server = TestServer::builder().http(config).start().await;
    let _held = tokio::net::TcpStream::connect(&server.host).await.unwrap();
    chat_test_support::eventually("the one connection is open", || {
        server.counter("chat_connections_open") == 1
    })
    .await;
    let started = std::time::Instant::now();
    for _ in 0..20 {
        use tokio::io::AsyncReadExt;
        let mut refused = tokio::net::TcpStream::connect(&server.host).await.unwrap();
        // Closed at once: the read ends.
        let _ = refused.read(&mut [0u8; 1]).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(server.counter("chat_connections_refused_total"), 20);
    drop(server);
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines = logs.matches("connection refused").count();
    let allowed = 1 + elapsed.as_secs() as usize;
    assert!(
        (1..=allowed).contains(&lines),
        "{lines} log lines for 20 refusals in {elapsed:?}"
    );
}
