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
