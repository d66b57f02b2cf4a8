//! The operator's counters, served on a listener of their own.

use chat_test_support::{TestServer, expect_frame};
use serde_json::json;

#[tokio::test]
async fn refusals_and_messages_are_counted_and_served() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let (status, _, _) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": "wrong password" }),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    let path = "/api/conversations/bob/messages";
    let (status, _, _) = server
        .post(path, json!({ "text": "hi" }), &[("cookie", &alice.cookie)])
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = server
        .post(
            path,
            json!({ "text": "hi" }),
            &[
                ("authorization", &alice.bearer()),
                ("origin", "http://evil.example"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    server.send(&alice, "bob", "counted").await;
    let mut ws = server.ws(&alice, "").await;
    expect_frame(&mut ws, "ready").await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(chat_http::serve_metrics(
        listener,
        server.http.clone(),
        std::future::pending(),
    ));
    let response = server
        .client
        .http
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    for line in [
        "chat_login_failures_total 1",
        "chat_csrf_refused_total 1",
        "chat_origin_refused_total 1",
        "chat_messages_sent_total 1",
        "chat_websockets_open 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    let other = server
        .client
        .http
        .get(format!("http://{address}/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status().as_u16(),
        404,
        "the metrics listener serves nothing else"
    );
}
