//! The change log over the wire: resuming a WebSocket with `?cursor=`, and
//! `GET /api/events`, the same stream as Server-Sent Events.

use std::time::Duration;

use chat_test_support::{Login, TestServer, expect_frame, send_frame};
use serde_json::{Value, json};

/// Two users who have both written (so read marks pass between them).
async fn pair(server: &TestServer) -> (Login, Login) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    server.send(&alice, "bob", "hi bob").await;
    server.send(&bob, "alice", "hi alice").await;
    (alice, bob)
}

/// Bob reads his conversation with alice up to `id`, over his own socket.
async fn bob_reads(server: &TestServer, bob: &Login, id: &Value) {
    let (mut ws, _) = server.ws_ready(bob, "").await;
    send_frame(
        &mut ws,
        json!({ "type": "read", "with": "alice", "up_to": id }),
    )
    .await;
    assert_eq!(expect_frame(&mut ws, "read").await["up_to"], *id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_resumed_with_its_cursor_gets_what_changed_meanwhile_once() {
    let server = TestServer::start().await;
    let (alice, bob) = pair(&server).await;
    let (mut ws, ready) = server.ws_ready(&alice, "").await;
    let sent = server.send(&alice, "bob", "are you there?").await;
    let cursor = {
        // Alice's own message, sent over HTTP, reaches her socket with its
        // cursor: the last thing she saw before going away.
        let frame = expect_frame(&mut ws, "message").await;
        assert_eq!(frame["message"]["id"], sent["id"]);
        assert_ne!(frame["cursor"], ready["cursor"]);
        frame["cursor"].as_str().unwrap().to_owned()
    };
    drop(ws);
    // While she is away: bob reads, then answers.
    bob_reads(&server, &bob, &sent["id"]).await;
    let answer = server.send(&bob, "alice", "yes").await;
    let (mut ws, _) = server.ws_ready(&alice, &format!("?cursor={cursor}")).await;
    let read = expect_frame(&mut ws, "read").await;
    assert_eq!((&read["by"], &read["up_to"]), (&json!("bob"), &sent["id"]));
    let message = expect_frame(&mut ws, "message").await;
    assert_eq!(message["message"]["id"], answer["id"]);
    // Then live, and nothing twice: the next frame is the next message.
    let live = server.send(&bob, "alice", "still here").await;
    assert_eq!(
        expect_frame(&mut ws, "message").await["message"]["id"],
        live["id"]
    );
    // Resuming from the last cursor replays nothing.
    let last = message["cursor"].as_str().unwrap().to_owned();
    drop(ws);
    let (mut ws, _) = server.ws_ready(&alice, &format!("?cursor={last}")).await;
    assert_eq!(
        expect_frame(&mut ws, "message").await["message"]["id"],
        live["id"],
        "only what came after the cursor"
    );
}

#[tokio::test]
async fn a_cursor_that_is_not_one_is_refused_and_a_foreign_one_resyncs() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    for bad in ["nonsense", "12", "12-zz", "-1-00000000"] {
        let status = match server
            .ws_with(
                &format!("?cursor={bad}"),
                &[("authorization", &alice.bearer())],
            )
            .await
        {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16()
            }
            other => panic!("{bad}: {:?}", other.map(|_| ())),
        };
        assert_eq!(status, 400, "{bad}");
    }
    let (_, ready) = server.ws_ready(&alice, "").await;
    let ours = ready["cursor"].as_str().unwrap();
    let (position, epoch) = ours.split_once('-').unwrap();
    let other_epoch = format!("{:08x}", u32::from_str_radix(epoch, 16).unwrap() ^ 1);
    let (mut ws, _) = server
        .ws_ready(&alice, &format!("?cursor={position}-{other_epoch}"))
        .await;
    assert_eq!(expect_frame(&mut ws, "resync").await["cursor"], ours);
    // A cursor beyond the newest change (a database restored from a
    // backup) resyncs too.
    let (mut ws, _) = server
        .ws_ready(&alice, &format!("?cursor=999999-{epoch}"))
        .await;
    assert_eq!(expect_frame(&mut ws, "resync").await["cursor"], ours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_carries_the_websocket_frames_with_cursors_as_ids() {
    let server = TestServer::start().await;
    let (alice, bob) = pair(&server).await;
    let mut events = server.sse_as(&alice, "").await;
    assert_eq!(events.status, 200);
    assert_eq!(events.headers["content-type"], "text/event-stream");
    assert_eq!(events.headers["cache-control"], "no-store");
    let ready = events.expect("ready").await;
    assert_eq!(ready.data["user"]["username"], "alice");
    assert_eq!(ready.id.as_deref(), ready.data["cursor"].as_str());
    let sent = server.send(&bob, "alice", "over SSE").await;
    let message = events.expect("message").await;
    assert_eq!(message.data["message"]["id"], sent["id"]);
    assert_eq!(message.data["message"]["text"], "over SSE");
    assert_eq!(message.id.as_deref(), message.data["cursor"].as_str());
    // Sending stays on POST; the stream carries her own messages too.
    let mine = server.send(&alice, "bob", "and back").await;
    assert_eq!(
        events.expect("message").await.data["message"]["id"],
        mine["id"]
    );
    // Typing passes as an event without an id.
    let (mut ws, _) = server.ws_ready(&bob, "").await;
    send_frame(&mut ws, json!({ "type": "typing", "to": "alice" })).await;
    let typing = events.expect("typing").await;
    assert_eq!(
        (typing.data["from"].as_str(), typing.id),
        (Some("bob"), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_resumes_after_last_event_id_with_no_gap_and_no_duplicate() {
    let server = TestServer::start().await;
    let (alice, bob) = pair(&server).await;
    let mut events = server.sse_as(&alice, "").await;
    events.expect("ready").await;
    let sent = server.send(&alice, "bob", "are you there?").await;
    let seen = events.expect("message").await;
    drop(events);
    bob_reads(&server, &bob, &sent["id"]).await;
    let answer = server.send(&bob, "alice", "yes").await;
    let last_id = seen.id.unwrap();
    let mut events = server
        .sse(
            "",
            &[
                ("authorization", &alice.bearer()),
                ("last-event-id", &last_id),
            ],
        )
        .await;
    events.expect("ready").await;
    let read = events.expect("read").await;
    assert_eq!(read.data["up_to"], sent["id"]);
    assert!(read.id.is_some());
    let message = events.expect("message").await;
    assert_eq!(message.data["message"]["id"], answer["id"]);
    let live = server.send(&bob, "alice", "live").await;
    assert_eq!(
        events.expect("message").await.data["message"]["id"],
        live["id"]
    );
    // `?cursor=` resumes the same way.
    let mut again = server
        .sse_as(&alice, &format!("?cursor={}", message.id.unwrap()))
        .await;
    again.expect("ready").await;
    assert_eq!(
        again.expect("message").await.data["message"]["id"],
        live["id"]
    );
}

#[tokio::test]
async fn the_event_stream_has_the_websockets_authentication_and_origin_rules() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    assert_eq!(server.sse("", &[]).await.status, 401, "no session");
    let foreign = server
        .sse(
            "",
            &[
                ("authorization", &alice.bearer()),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(foreign.status, 403);
    let mut by_cookie = server.sse("", &[("cookie", &alice.cookie)]).await;
    assert_eq!(by_cookie.status, 200, "a cookie is enough for a GET");
    by_cookie.expect("ready").await;
    let bad = server
        .sse(
            "",
            &[
                ("authorization", &alice.bearer()),
                ("last-event-id", "not a cursor"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn an_event_stream_keeps_alive_counts_against_the_socket_cap_and_ends_at_logout() {
    let server = TestServer::builder()
        .websocket(|ws| {
            ws.ping_interval = Duration::from_millis(50);
            ws.max_per_user = 2;
        })
        .start()
        .await;
    let alice = server.user("alice").await;
    let mut events = server.sse_as(&alice, "").await;
    events.expect("ready").await;
    let _socket = server.ws_ready(&alice, "").await;
    assert_eq!(
        server.sse_as(&alice, "").await.status,
        429,
        "a WebSocket and a stream fill a cap of two"
    );
    // Idle, the stream carries comments; a logout ends it.
    events.expect_comment().await;
    let (status, _, _) = server
        .post(
            "/api/logout",
            json!({}),
            &[("authorization", &alice.bearer())],
        )
        .await;
    assert_eq!(status, 204);
    loop {
        match events.next_event().await {
            None => break,
            Some(event) => assert_eq!(event.data["type"], "presence", "{:?}", event.data),
        }
    }
}

#[tokio::test]
async fn an_event_stream_ends_at_its_next_keep_alive_when_its_session_was_deleted_elsewhere() {
    let server = TestServer::builder()
        .websocket(|ws| ws.ping_interval = Duration::from_millis(100))
        .start()
        .await;
    let alice = server.user("alice").await;
    let mut events = server.sse_as(&alice, "").await;
    events.expect("ready").await;
    // Another process deletes the session in the shared store: no event
    // reaches this one, only the re-check at the next keep-alive.
    let session = server.chat.authenticate(&alice.token).await.unwrap();
    chat_core::ports::SessionStore::delete_session(&server.store, session.id())
        .await
        .unwrap();
    while let Some(event) = events.next_event().await {
        assert_eq!(event.data["type"], "presence", "{:?}", event.data);
    }
}

#[tokio::test]
async fn event_streams_count_against_the_upgrade_limits_of_websockets() {
    let server = TestServer::builder().defaults().start().await;
    let alice = server.user("alice").await;
    // The per-user burst of live connections (20), WebSockets and streams
    // alike, each closed before the next.
    for _ in 0..10 {
        let (ws, _) = server.ws_ready(&alice, "").await;
        drop(ws);
        chat_test_support::eventually("the socket is gone", || server.http.open_websockets() == 0)
            .await;
        let mut events = server.sse_as(&alice, "").await;
        events.expect("ready").await;
        drop(events);
        chat_test_support::eventually("the stream is gone", || server.http.open_websockets() == 0)
            .await;
    }
    let refused = server.sse_as(&alice, "").await;
    assert_eq!(refused.status, 429);
    assert_eq!(server.refused_upgrade(&alice).await, 429);
    server.clock().advance(Duration::from_secs(3));
    server.sse_as(&alice, "").await.expect("ready").await;
}

/// A stream opened on a socket with a small receive buffer, whose reader
/// reads nothing until told to: its raw bytes, `id:` lines intact (each
/// event is one chunk).
async fn raw_stream(server: &TestServer, alice: &Login) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(server.host.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET /api/events HTTP/1.1\r\nhost: {}\r\nauthorization: {}\r\n\r\n",
        server.host,
        alice.bearer()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_reader_stops_is_cut_off_and_resumes_from_its_last_id_with_no_gap() {
    use tokio::io::AsyncReadExt;

    let server = TestServer::builder()
        .websocket(|ws| ws.outbound_queue = 16)
        .start()
        .await;
    let (alice, slow) = pair(&server).await;
    let mut stream = raw_stream(&server, &slow).await;
    let sent = server
        .send_until_a_slow_reader_is_cut_off(&alice, "bob")
        .await;
    assert!(sent > 16);
    // It reads again: what the kernel held, then the end of the response.
    let mut raw = Vec::new();
    tokio::time::timeout(chat_test_support::WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("the stream ended")
        .unwrap();
    let raw = String::from_utf8_lossy(&raw);
    let last_id = raw
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .next_back()
        .expect("some events came through")
        .to_owned();
    // Resumed from its last id, it gets what followed, first to last.
    let mut events = server
        .sse(
            "",
            &[
                ("authorization", &slow.bearer()),
                ("last-event-id", &last_id),
            ],
        )
        .await;
    events.expect("ready").await;
    let last_seen: i64 = last_id.split('-').next().unwrap().parse().unwrap();
    let (_, _, missed) = server
        .get_as(
            &slow,
            &format!("/api/conversations/alice/messages?after={last_seen}&limit=200"),
        )
        .await;
    let missed: Vec<&Value> = missed["messages"].as_array().unwrap().iter().collect();
    assert!(!missed.is_empty(), "the cut-off came before the last send");
    for expected in missed {
        let message = events.expect("message").await;
        assert_eq!(message.data["message"]["id"], expected["id"]);
    }
}
