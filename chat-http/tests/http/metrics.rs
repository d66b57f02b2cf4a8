//! The operator's counters, served on a listener of their own: every one
//! that docs/security.md names, each made to move by the event it counts.

use std::time::Duration;

use chat_core::{Rate, RateLimits};
use chat_test_support::faults::{Call, Faults};
use chat_test_support::server::counter;
use chat_test_support::{
    TestServer, eventually, expect_close, expect_frame, generous_limits, try_send_frame,
};
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_counter_counts_its_event_and_is_served() {
    let limits = RateLimits {
        login_per_username: Rate::new(2, Duration::from_secs(3600)),
        ..generous_limits()
    };
    let faults = Faults::default();
    let server = TestServer::builder()
        .limits(limits)
        .faults(faults.clone())
        .websocket(|ws| {
            ws.max_per_user = 2;
            ws.frames_per_second = 5;
            ws.frame_burst = 5;
            // Room for the 50 refusals a flooder is sent before it is cut off.
            ws.outbound_queue = 64;
        })
        .start()
        .await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let slow = server.user("slow").await;
    server.signup("mallory").await;

    // A failed login, then one over the limit.
    assert_eq!(server.try_login("mallory", "wrong password").await.0, 401);
    assert_eq!(server.try_login("mallory", "wrong password").await.0, 401);
    assert_eq!(server.try_login("mallory", "wrong password").await.0, 429);
    // A cookie request without its CSRF token; a foreign origin.
    let path = "/api/conversations/bob/messages";
    let (status, _, _) = server
        .post(path, json!({ "text": "hi" }), &[("cookie", &alice.cookie)])
        .await;
    assert_eq!(status, 403);
    let bearer = alice.bearer();
    let (status, _, _) = server
        .post(
            path,
            json!({ "text": "hi" }),
            &[
                ("authorization", &bearer),
                ("origin", "http://evil.example"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // A dependency down.
    faults.fail(Call::ListConversations);
    assert_eq!(server.get_as(&alice, "/api/conversations").await.0, 503);
    faults.heal(Call::ListConversations);
    // Two messages, one over HTTP and one over a WebSocket.
    server.send(&alice, "bob", "counted").await;
    let (mut sender, _) = server.ws_ready(&alice, "").await;
    chat_test_support::send_frame(
        &mut sender,
        json!({ "type": "send", "to": "bob", "text": "counted too", "client_id": "w" }),
    )
    .await;
    expect_frame(&mut sender, "ack").await;
    drop(sender);
    eventually("the sender's socket is gone", || {
        server.http.open_websockets() == 0
    })
    .await;

    // Bob: a socket over his cap, one closed for an oversize message, one
    // for flooding.
    let (mut big, _) = server.ws_ready(&bob, "").await;
    let (mut flood, _) = server.ws_ready(&bob, "").await;
    assert!(
        server
            .ws_with("", &[("authorization", &bob.bearer())])
            .await
            .is_err()
    );
    big.send(Message::Text("x".repeat(17 * 1024).into()))
        .await
        .unwrap();
    assert_eq!(expect_close(&mut big).await.unwrap().code, CloseCode::Size);
    for _ in 0..100 {
        if !try_send_frame(&mut flood, json!({ "type": "typing", "to": "alice" })).await {
            break;
        }
    }
    assert_eq!(
        expect_close(&mut flood).await.unwrap().code,
        CloseCode::Policy
    );
    eventually("bob's sockets are gone", || {
        server.http.open_websockets() == 0
    })
    .await;

    // A reader too slow for what it is sent.
    let slow_ws = server.ws_small_buffer(&slow).await;
    let sent = server
        .send_until_a_slow_reader_is_cut_off(&alice, "slow")
        .await;
    let open = server.http.open_websockets();

    // Served on a listener of their own, and nothing else there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(chat_http::serve_metrics(
        listener,
        server.http.clone(),
        std::future::pending(),
    ));
    let own = chat_test_support::Client::new(&address.to_string());
    let (status, headers, text) = own.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let expected = [
        ("chat_login_failures_total", 2),
        ("chat_origin_refused_total", 1),
        ("chat_csrf_refused_total", 1),
        ("chat_unavailable_total", 1),
        ("chat_websocket_refused_total", 1),
        ("chat_websocket_oversize_total", 1),
        ("chat_websocket_flood_total", 1),
        ("chat_websocket_slow_consumer_total", 1),
        ("chat_messages_sent_total", 2 + sent),
    ];
    for (name, value) in expected {
        assert_eq!(counter(&text, name), value, "{name}");
    }
    // One refused login, and the 50 frames refused before the flood closed.
    assert_eq!(counter(&text, "chat_rate_limited_total"), 1 + 50);
    assert_eq!(counter(&text, "chat_websockets_open"), open as u64);
    drop(slow_ws);
    assert_eq!(own.get_text("/api/me", &[]).await.0, 404);
}
