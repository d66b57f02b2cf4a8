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

// Tokens the host signs are as secret as passwords: used, refused or
// expired, none reaches the logs.
#[tokio::test(flavor = "current_thread")]
async fn host_tokens_never_reach_the_logs() {
    use super::tokens;
    let capture = Capture::default();
    let _logging = capturing(&capture);

    let server = tokens::server().await;
    let token = tokens::sign(
        jsonwebtoken::Algorithm::HS256,
        &tokens::claims("host|ada", "ada"),
    );
    let mut expired_claims = tokens::claims("host|ada", "ada");
    expired_claims["exp"] = json!(1);
    let expired = tokens::sign(jsonwebtoken::Algorithm::HS256, &expired_claims);
    let forged = format!("{}x", &token[..token.len() - 1]);
    for (presented, status) in [(&token, 200), (&expired, 401), (&forged, 401)] {
        let (got, _, _) = server
            .get(
                "/api/me",
                &[("authorization", &format!("Bearer {presented}"))],
            )
            .await;
        assert_eq!(got, status);
    }
    let mut ws = server
        .ws_with("", &[("authorization", &format!("Bearer {token}"))])
        .await
        .unwrap();
    expect_frame(&mut ws, "ready").await;
    let (status, _, _) = server
        .post(
            "/api/login",
            json!({ "username": "ada", "password": "no password at all" }),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    drop(ws);
    drop(server);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("login failed"),
        "the capture is empty or wrong:\n{logs}"
    );
    let secret = String::from_utf8_lossy(tokens::SECRET).into_owned();
    let signature = token.rsplit('.').next().unwrap();
    for hidden in [token.as_str(), &expired, &forged, signature, &secret] {
        assert!(!logs.contains(hidden), "{hidden:?} was logged");
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
