//! The figures the documents state are the defaults that run: each test
//! starts the server with its default limits (on a manual clock, so that
//! "one more every 30 s" is exact) and meets them.

use std::time::Duration;

use chat_test_support::client::retry_after;
use chat_test_support::{
    Login, TestServer, WAIT, Ws, expect_close, expect_frame, next_frame, raw, try_send_frame,
};
use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// The default server, believing `X-Forwarded-For` from the test (so that
/// each request can come from a client address of its choosing).
async fn server() -> TestServer {
    TestServer::builder()
        .defaults()
        .behind_a_proxy()
        .start()
        .await
}

async fn login_from(server: &TestServer, name: &str, password: &str, client: &str) -> (u16, u64) {
    let (status, headers, _) = server
        .post(
            "/api/login",
            json!({ "username": name, "password": password }),
            &[("x-forwarded-for", client)],
        )
        .await;
    (status, retry_after(&headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_limited_per_username_and_per_client_as_documented() {
    let server = server().await;
    server.signup("carol").await;
    let password = chat_test_support::PASSWORD;
    // Ten attempts per username, from anywhere; then one every 30 s.
    for n in 0..10 {
        let client = format!("10.0.1.{n}");
        assert_eq!(
            login_from(&server, "carol", "wrong password", &client).await,
            (401, 0)
        );
    }
    assert_eq!(
        login_from(&server, "carol", password, "10.0.2.1").await,
        (429, 30)
    );
    server.clock().advance(Duration::from_secs(30));
    assert_eq!(
        login_from(&server, "carol", password, "10.0.2.2").await.0,
        200
    );
    assert_eq!(
        login_from(&server, "carol", password, "10.0.2.3").await,
        (429, 30)
    );

    // Thirty attempts per client address, at any names; then one every 2 s.
    for n in 0..30 {
        let name = format!("nobody{n}");
        assert_eq!(
            login_from(&server, &name, "wrong password", "10.0.3.1").await,
            (401, 0)
        );
    }
    assert_eq!(
        login_from(&server, "nobody99", password, "10.0.3.1").await,
        (429, 2)
    );
    server.clock().advance(Duration::from_secs(2));
    assert_eq!(
        login_from(&server, "nobody98", password, "10.0.3.1").await,
        (401, 0)
    );
    assert_eq!(
        login_from(&server, "nobody97", password, "10.0.3.1").await,
        (429, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_limited_per_network_as_documented() {
    let server = server().await;
    // A hundred attempts from one /24 (each address well under its own
    // limit, each at a name of its own); then one a second.
    for n in 0..100 {
        let client = format!("10.0.9.{}", n % 50);
        let name = format!("nobody{n}");
        assert_eq!(
            login_from(&server, &name, "wrong password", &client).await,
            (401, 0),
            "attempt {n}"
        );
    }
    assert_eq!(
        login_from(&server, "nobody_x", "wrong password", "10.0.9.200").await,
        (429, 1),
        "a fresh address of the same network"
    );
    assert_eq!(
        login_from(&server, "nobody_y", "wrong password", "10.0.10.1").await,
        (401, 0),
        "another network"
    );
    server.clock().advance(Duration::from_secs(1));
    assert_eq!(
        login_from(&server, "nobody_z", "wrong password", "10.0.9.201").await,
        (401, 0)
    );
    assert_eq!(
        login_from(&server, "nobody_w", "wrong password", "10.0.9.202").await,
        (429, 1)
    );
}

/// A login presenting `device`; the status, `Retry-After`, and the device
/// token of the answer.
async fn login_with_device(
    server: &TestServer,
    password: &str,
    client: &str,
    device: &str,
) -> (u16, u64, Option<String>) {
    let (status, headers, body) = server
        .post(
            "/api/login",
            json!({ "username": "dora", "password": password, "device_token": device }),
            &[("x-forwarded-for", client)],
        )
        .await;
    let token = body["device_token"].as_str().map(str::to_owned);
    (status, retry_after(&headers), token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_device_has_ten_attempts_of_its_own_then_one_every_30_s() {
    let server = server().await;
    server.signup("dora").await;
    let password = chat_test_support::PASSWORD;
    let (status, _, device) = login_with_device(&server, password, "10.0.11.1", "").await;
    assert_eq!(status, 200);
    let device = device.expect("a device token");
    for n in 0..10 {
        let client = format!("10.0.12.{n}");
        assert_eq!(
            login_with_device(&server, "wrong password", &client, &device)
                .await
                .0,
            401
        );
    }
    let (status, retry, _) = login_with_device(&server, password, "10.0.13.1", &device).await;
    assert_eq!((status, retry), (429, 30));
    server.clock().advance(Duration::from_secs(30));
    assert_eq!(
        login_with_device(&server, password, "10.0.13.2", &device)
            .await
            .0,
        200
    );
    let (status, retry, _) = login_with_device(&server, password, "10.0.13.3", &device).await;
    assert_eq!((status, retry), (429, 30));
}

/// Sends a frame the server answers with `not_found` when it is let
/// through (a read mark in a conversation with nobody).
async fn probe(ws: &mut Ws) -> bool {
    try_send_frame(ws, json!({ "type": "read", "with": "nobody", "up_to": 1 })).await
}

/// Reads `count` error frames and counts them by code.
async fn error_codes(ws: &mut Ws, count: usize) -> (usize, usize) {
    let (mut not_found, mut limited) = (0, 0);
    for _ in 0..count {
        let frame = expect_frame(ws, "error").await;
        match frame["code"].as_str() {
            Some("not_found") => not_found += 1,
            Some("rate_limited") => limited += 1,
            _ => panic!("unexpected {frame}"),
        }
    }
    (not_found, limited)
}

#[tokio::test]
async fn a_connection_may_send_60_frames_at_once_then_20_a_second_then_is_cut_off() {
    let server = server().await;
    let alice = server.user("alice").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    for _ in 0..61 {
        probe(&mut ws).await;
    }
    assert_eq!(error_codes(&mut ws, 61).await, (60, 1));
    // One frame is earned back every 50 ms.
    server.clock().advance(Duration::from_millis(50));
    probe(&mut ws).await;
    probe(&mut ws).await;
    assert_eq!(error_codes(&mut ws, 2).await, (1, 1));
    // Fifty refusals in a row are answered; the next one closes the socket.
    for _ in 0..51 {
        if !probe(&mut ws).await {
            break;
        }
    }
    let mut refused = 0;
    let close = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => {
                assert!(text.as_str().contains("rate_limited"), "{text}");
                refused += 1;
            }
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame"),
            Some(Ok(_)) => {}
            other => panic!("expected the close frame, got {other:?}"),
        }
    };
    // Refusals 2 to 50 in a row were answered (the first, above); the 51st
    // closed the socket.
    assert_eq!(refused, 49);
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Policy, "too many frames")
    );
}

#[tokio::test]
async fn a_user_may_send_120_frames_at_once_over_all_their_sockets_then_40_a_second() {
    let server = server().await;
    let alice = server.user("alice").await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(server.ws_ready(&alice, "").await.0);
    }
    for ws in &mut sockets[..2] {
        for _ in 0..60 {
            probe(ws).await;
        }
        assert_eq!(error_codes(ws, 60).await, (60, 0));
    }
    // The third socket has a fresh budget of its own, but the user has none.
    let third = &mut sockets[2];
    probe(third).await;
    assert_eq!(error_codes(third, 1).await, (0, 1));
    server.clock().advance(Duration::from_millis(25));
    probe(third).await;
    assert_eq!(error_codes(third, 1).await, (1, 0));
}

#[tokio::test]
async fn a_user_may_hold_16_sockets() {
    let server = server().await;
    let alice = server.user("alice").await;
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(server.ws_ready(&alice, "").await.0);
    }
    assert_eq!(server.refused_upgrade(&alice).await, 429);
}

#[tokio::test]
async fn texts_frames_bodies_and_heads_have_the_documented_sizes() {
    let server = server().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let path = "/api/conversations/bob/messages";
    // Message text: 4000 characters (here, four bytes each).
    let (status, _, _) = server
        .post_as(&alice, path, json!({ "text": "😀".repeat(4000) }))
        .await;
    assert_eq!(status, 201);
    let (status, _, body) = server
        .post_as(&alice, path, json!({ "text": "x".repeat(4001) }))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("text"))
    );

    // WebSocket messages: 16 KiB.
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    let frame = |size: usize| {
        let head = r#"{"type":"read","with":"nobody","up_to":1,"pad":""#;
        let tail = r#""}"#;
        let pad = "x".repeat(size - head.len() - tail.len());
        Message::Text(format!("{head}{pad}{tail}").into())
    };
    futures::SinkExt::send(&mut ws, frame(16 * 1024))
        .await
        .unwrap();
    assert_eq!(expect_frame(&mut ws, "error").await["code"], "not_found");
    futures::SinkExt::send(&mut ws, frame(16 * 1024 + 1))
        .await
        .unwrap();
    assert_eq!(expect_close(&mut ws).await.unwrap().code, CloseCode::Size);

    // Request bodies: 64 KiB, refused by their declared length before a
    // byte of them is read (none is sent here: waiting for it would hang).
    let head = |length: usize| {
        format!(
            "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
    };
    let refused = raw(&server.host, head(64 * 1024 + 1).as_bytes()).await;
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");
    assert!(refused.contains("too_large"), "{refused}");
    let mut body = String::from(r#"{"username":"nobody","password":"wrong password"}"#);
    body.push_str(&" ".repeat(64 * 1024 - body.len()));
    let taken = raw(
        &server.host,
        format!("{}{body}", head(body.len())).as_bytes(),
    )
    .await;
    assert!(taken.starts_with("HTTP/1.1 401"), "{taken}");
    // A chunked body is cut off once it passes the limit.
    let chunk = format!("{:x}\r\n{}\r\n", 40 * 1024, " ".repeat(40 * 1024));
    let chunked = format!(
        "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let refused = raw(&server.host, chunked.as_bytes()).await;
    assert!(refused.starts_with("HTTP/1.1 413"), "{refused}");

    // Request heads: 16 KiB.
    let with_header = |size: usize| {
        let start = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Filler: ";
        let end = "\r\n\r\n";
        format!("{start}{}{end}", "y".repeat(size - start.len() - end.len()))
    };
    let answered = raw(&server.host, with_header(15 * 1024).as_bytes()).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let refused = raw(&server.host, with_header(17 * 1024).as_bytes()).await;
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");
}

#[tokio::test]
async fn sessions_end_after_7_idle_days_and_after_30_days_in_all() {
    let server = server().await;
    let alice = server.user("alice").await;
    let day = Duration::from_secs(24 * 3600);
    let me = async |login: &Login| server.get_as(login, "/api/me").await.0;
    for _ in 0..4 {
        server.clock().advance(7 * day - Duration::from_secs(1));
        assert_eq!(me(&alice).await, 200);
    }
    server.clock().advance(2 * day + Duration::from_secs(4));
    assert_eq!(me(&alice).await, 401, "30 days after login");
    let again = server.login("alice").await;
    server.clock().advance(7 * day);
    assert_eq!(me(&again).await, 401, "7 days unused");
}

/// Sends `count` messages from `from` to `to` over HTTP within the default
/// send rate, moving the clock three seconds after each burst of 30.
async fn send_many(server: &TestServer, from: &Login, to: &str, text: &str, count: usize) {
    for n in 0..count {
        if n % 30 == 29 {
            server.clock().advance(Duration::from_secs(3));
        }
        server.send(from, to, &format!("{text} {n}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_hold_50_by_default_and_a_reconnect_replays_1000_then_resyncs() {
    let server = server().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    send_many(&server, &alice, "bob", "missed", 1100).await;
    // History pages: 50 by default, 1 to 200 on request.
    let path = "/api/conversations/alice/messages";
    let (_, _, page) = server.get_as(&bob, path).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 50);
    assert_eq!(page["has_more"], true);
    let (_, _, page) = server.get_as(&bob, &format!("{path}?limit=200")).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 200);
    for limit in [0, 201] {
        let (status, _, body) = server.get_as(&bob, &format!("{path}?limit={limit}")).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some("limit"))
        );
    }
    let (mut ws, _) = server.ws_ready(&bob, "?since=0").await;
    let mut replayed = 0;
    let mut first_cursor = None;
    loop {
        let frame = next_frame(&mut ws).await;
        match frame["type"].as_str() {
            Some("message") => {
                replayed += 1;
                first_cursor.get_or_insert(frame["cursor"].as_str().unwrap().to_owned());
            }
            Some("resync") => break,
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!(replayed, 1000);
    // A cursor 1 099 changes back resumes the same way: 1 000, then resync.
    let query = format!("?cursor={}", first_cursor.unwrap());
    let (mut ws, _) = server.ws_ready(&bob, &query).await;
    let mut replayed = 0;
    loop {
        let frame = next_frame(&mut ws).await;
        match frame["type"].as_str() {
            Some("message") => replayed += 1,
            Some("resync") => break,
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!(replayed, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_falls_512_frames_behind_is_closed_with_1013() {
    let server = server().await;
    let alice = server.user("alice").await;
    let slow = server.user("slow").await;
    let mut ws = server.ws_small_buffer(&slow).await;
    // Long messages until the kernel's buffers and then the 512 frames of
    // the outbound queue are full and the server gives up.
    let sent = server
        .send_until_a_slow_reader_is_cut_off(&alice, "slow")
        .await;
    // It reads again: what the kernel held, then the close frame.
    let mut frames = 0;
    let close = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close frame"),
            Some(Ok(Message::Text(_))) => frames += 1,
            Some(Ok(_)) => {}
            other => panic!("expected the close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Again);
    assert!(
        frames < sent,
        "{frames} of {sent} frames reached the slow reader"
    );
    chat_test_support::eventually("the connection is gone", || {
        server.http.open_websockets() == 0
    })
    .await;
}

#[tokio::test]
async fn pings_pongs_and_binary_frames_count_against_the_frame_limit() {
    let server = server().await;
    let alice = server.user("alice").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    for n in 0..60 {
        let frame = match n % 3 {
            0 => Message::Ping(vec![1].into()),
            1 => Message::Pong(vec![2].into()),
            _ => Message::Binary(vec![3].into()),
        };
        futures::SinkExt::send(&mut ws, frame).await.unwrap();
    }
    // The twenty binary frames were answered; the 61st frame is over the
    // limit, as the 61st text frame would be.
    for _ in 0..20 {
        assert_eq!(
            expect_frame(&mut ws, "error").await["code"],
            "invalid_input"
        );
    }
    probe(&mut ws).await;
    assert_eq!(expect_frame(&mut ws, "error").await["code"], "rate_limited");
}

async fn signup_from(server: &TestServer, name: &str, client: &str) -> (u16, u64) {
    let password = chat_test_support::PASSWORD;
    let (status, headers, _) = server
        .post(
            "/api/signup",
            json!({ "email": format!("{name}@example.test"), "username": name, "password": password, "confirm_password": password }),
            &[("x-forwarded-for", client)],
        )
        .await;
    (status, retry_after(&headers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signups_are_limited_per_client_address_and_per_network() {
    let server = server().await;
    // Five per address, then one every ten minutes.
    for n in 0..5 {
        assert_eq!(
            signup_from(&server, &format!("user_a{n}"), "10.0.5.1").await,
            (201, 0)
        );
    }
    assert_eq!(
        signup_from(&server, "user_a9", "10.0.5.1").await,
        (429, 600)
    );
    // Twenty per network (an IPv4 /24), then one every three minutes.
    for n in 2..17 {
        let address = format!("10.0.5.{n}");
        assert_eq!(
            signup_from(&server, &format!("user_b{n}"), &address)
                .await
                .0,
            201
        );
    }
    assert_eq!(
        signup_from(&server, "user_b99", "10.0.5.99").await,
        (429, 180)
    );
    assert_eq!(
        signup_from(&server, "user_c1", "10.0.6.1").await.0,
        201,
        "another network"
    );
    // IPv6: the addresses of one /64 are one client, the /64s of one /48 one
    // network.
    for n in 1..=5 {
        let address = format!("2001:db8:5:5::{n:x}");
        assert_eq!(
            signup_from(&server, &format!("user_d{n}"), &address)
                .await
                .0,
            201
        );
    }
    let same_64 = "2001:db8:5:5:ffff:ffff:ffff:ffff";
    assert_eq!(signup_from(&server, "user_d99", same_64).await.0, 429);
    for n in 6..=20 {
        let address = format!("2001:db8:5:{n:x}::1");
        assert_eq!(
            signup_from(&server, &format!("user_d{n}"), &address)
                .await
                .0,
            201
        );
    }
    let same_48 = "2001:db8:5:ffff::1";
    assert_eq!(signup_from(&server, "user_d98", same_48).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_and_websocket_upgrades_are_limited_per_user() {
    let server = server().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let search = "/api/conversations/bob/messages?search=lunch";
    for _ in 0..30 {
        assert_eq!(server.get_as(&alice, search).await.0, 200);
    }
    let (status, headers, _) = server.get_as(&alice, search).await;
    assert_eq!(
        (status, headers["retry-after"].to_str().unwrap()),
        (429, "1")
    );
    // One more every 500 ms.
    server.clock().advance(Duration::from_millis(500));
    assert_eq!(server.get_as(&alice, search).await.0, 200);
    assert_eq!(server.get_as(&alice, search).await.0, 429);
    assert_eq!(
        server
            .get_as(&alice, "/api/conversations/bob/messages")
            .await
            .0,
        200,
        "reading without a term is not a search"
    );
    // Twenty upgrades at once (one after another, each closed), then one
    // every three seconds.
    for _ in 0..20 {
        let (ws, _) = server.ws_ready(&alice, "").await;
        drop(ws);
        chat_test_support::eventually("the socket is gone", || server.http.open_websockets() == 0)
            .await;
    }
    assert_eq!(server.refused_upgrade(&alice).await, 429);
    server.clock().advance(Duration::from_secs(3));
    server.ws_ready(&alice, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_longer_than_the_outbound_queue_is_paced_by_the_reader() {
    let server = server().await;
    let alice = server.user("alice").await;
    let slow = server.user("slow").await;
    // A thousand of the longest messages (16 KiB each): twice the queue,
    // and more than the kernel holds for a reader with a small buffer.
    send_many(&server, &alice, "slow", &"😀".repeat(3995), 1000).await;
    let mut ws = server.ws_small_buffer_with(&slow, "?since=0").await;
    // A client that starts reading late, as a phone waking up would: the
    // replay waits for it (without pacing, the queue overflowed meanwhile
    // and closed it as too slow).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(expect_frame(&mut ws, "ready").await["type"], "ready");
    for _ in 0..1000 {
        expect_frame(&mut ws, "message").await;
    }
    // Still open, and answering.
    probe(&mut ws).await;
    assert_eq!(expect_frame(&mut ws, "error").await["code"], "not_found");
    assert_eq!(server.counter("chat_websocket_slow_consumer_total"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_are_limited_per_client_address() {
    let server = server().await;
    let client = [("x-forwarded-for", "10.0.14.1")];
    // Sixty upgrades from one address (three users, each within their own
    // twenty), then one a second.
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(server.user(&format!("upgrader{n}")).await);
    }
    let upgrade = async |login: &Login| {
        let bearer = login.bearer();
        server
            .ws_with("", &[("authorization", bearer.as_str()), client[0]])
            .await
    };
    for login in &users[..3] {
        for _ in 0..20 {
            let mut ws = upgrade(login).await.expect("an upgrade within the limits");
            expect_frame(&mut ws, "ready").await;
            drop(ws);
            chat_test_support::eventually("the socket is gone", || {
                server.http.open_websockets() == 0
            })
            .await;
        }
    }
    let refused = |result: Result<Ws, tungstenite::Error>| match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("the upgrade failed without an answer: {other}"),
        Ok(_) => 101,
    };
    assert_eq!(refused(upgrade(&users[3]).await), 429);
    let elsewhere = users[3].bearer();
    let other_address = server
        .ws_with(
            "",
            &[
                ("authorization", elsewhere.as_str()),
                ("x-forwarded-for", "10.0.15.1"),
            ],
        )
        .await;
    assert!(other_address.is_ok(), "another address is not limited");
    drop(other_address);
    server.clock().advance(Duration::from_secs(1));
    assert_eq!(refused(upgrade(&users[3]).await), 101);
}
