//! The WebSocket protocol over real sockets.

use chat_http::HttpConfig;
use chat_test_support::{TestServer, expect_close, expect_frame, next_frame, send_frame};
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn two_users_talk_live_with_acks_typing_and_read_marks() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let alice_phone = server.login("alice").await;
    let bob = server.user("bob").await;
    let mut a = server.ws(&alice, "").await;
    let mut a2 = server.ws(&alice_phone, "").await;
    let mut b = server.ws(&bob, "").await;
    for (ws, name) in [(&mut a, "alice"), (&mut a2, "alice"), (&mut b, "bob")] {
        let ready = expect_frame(ws, "ready").await;
        assert_eq!(ready["user"]["username"], name);
        assert_eq!(ready["last_message_id"], 0);
    }

    send_frame(
        &mut a,
        json!({ "type": "send", "to": "bob", "text": "hi bob", "client_id": "c-1" }),
    )
    .await;
    let ack = expect_frame(&mut a, "ack").await;
    assert_eq!(ack["client_id"], "c-1");
    assert_eq!(ack["message"]["text"], "hi bob");
    let id = ack["message"]["id"].as_i64().unwrap();
    // The ack carries the change's cursor, the same every copy carries.
    let cursor = ack["cursor"]
        .as_str()
        .expect("an ack has a cursor")
        .to_owned();
    assert!(cursor.starts_with(&format!("{id}-")), "{cursor}");
    for ws in [&mut b, &mut a2] {
        let frame = expect_frame(ws, "message").await;
        assert_eq!(frame["message"]["id"], id);
        assert_eq!(frame["cursor"], cursor);
        assert_eq!(frame["message"]["from"], "alice");
        assert_eq!(frame["message"]["to"], "bob");
    }

    // Bob reads before he has written: only his own devices hear of it (a
    // read mark says when he was here). The sending connection got an ack
    // and no second copy: alice's next frame is bob's reply, not a read mark.
    send_frame(
        &mut b,
        json!({ "type": "read", "with": "alice", "up_to": id }),
    )
    .await;
    let read = expect_frame(&mut b, "read").await;
    assert_eq!(read["up_to"], id);
    let read_cursor = read["cursor"].as_str().expect("a read mark has a cursor");
    assert_ne!(read_cursor, cursor, "a change of its own");
    send_frame(
        &mut b,
        json!({ "type": "send", "to": "alice", "text": "hi alice", "client_id": "b-1" }),
    )
    .await;
    assert_eq!(expect_frame(&mut b, "ack").await["client_id"], "b-1");
    for ws in [&mut a, &mut a2] {
        assert_eq!(
            expect_frame(ws, "message").await["message"]["text"],
            "hi alice"
        );
    }

    // Both have written: bob's next read mark reaches every device of both.
    send_frame(
        &mut a,
        json!({ "type": "send", "to": "bob", "text": "how are you?", "client_id": "c-2" }),
    )
    .await;
    let id = expect_frame(&mut a, "ack").await["message"]["id"]
        .as_i64()
        .unwrap();
    for ws in [&mut b, &mut a2] {
        assert_eq!(expect_frame(ws, "message").await["message"]["id"], id);
    }
    send_frame(
        &mut b,
        json!({ "type": "read", "with": "alice", "up_to": id }),
    )
    .await;
    for ws in [&mut a, &mut a2, &mut b] {
        let read = expect_frame(ws, "read").await;
        assert_eq!(
            (
                read["by"].as_str(),
                read["with"].as_str(),
                read["up_to"].as_i64()
            ),
            (Some("bob"), Some("alice"), Some(id))
        );
    }

    // Both have written: typing reaches every device of the peer.
    send_frame(&mut b, json!({ "type": "typing", "to": "alice" })).await;
    for ws in [&mut a, &mut a2] {
        assert_eq!(expect_frame(ws, "typing").await["from"], "bob");
    }
}

#[tokio::test]
async fn a_retried_client_id_is_acked_with_the_original_and_published_once() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut a = server.ws(&alice, "").await;
    let mut b = server.ws(&bob, "").await;
    expect_frame(&mut a, "ready").await;
    expect_frame(&mut b, "ready").await;
    for _ in 0..2 {
        send_frame(
            &mut a,
            json!({ "type": "send", "to": "bob", "text": "once", "client_id": "same" }),
        )
        .await;
    }
    let first = expect_frame(&mut a, "ack").await;
    let second = expect_frame(&mut a, "ack").await;
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    assert_eq!(
        expect_frame(&mut b, "message").await["message"]["text"],
        "once"
    );
    send_frame(
        &mut a,
        json!({ "type": "send", "to": "bob", "text": "twice", "client_id": "other" }),
    )
    .await;
    assert_eq!(
        expect_frame(&mut b, "message").await["message"]["text"],
        "twice",
        "no duplicate in between"
    );
}

#[tokio::test]
async fn since_replays_what_was_missed_without_gap_or_duplicate() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let first = server.send(&alice, "bob", "before").await["id"]
        .as_i64()
        .unwrap();
    let mut b = server.ws(&bob, "").await;
    assert_eq!(
        expect_frame(&mut b, "ready").await["last_message_id"],
        first
    );
    drop(b);
    let mut missed = Vec::new();
    for n in 0..3 {
        missed.push(
            server.send(&alice, "bob", &format!("missed {n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut b = server.ws(&bob, &format!("?since={first}")).await;
    let ready = expect_frame(&mut b, "ready").await;
    assert_eq!(ready["last_message_id"], missed[2]);
    for id in &missed {
        assert_eq!(expect_frame(&mut b, "message").await["message"]["id"], *id);
    }
    let live = server.send(&alice, "bob", "live").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(expect_frame(&mut b, "message").await["message"]["id"], live);

    // Past the replay bound, the client is told to resync by HTTP.
    let mut config = HttpConfig::default();
    config.websocket.replay_limit = 2;
    let small = TestServer::builder().http(config).start().await;
    let alice = small.user("alice").await;
    let bob = small.user("bob").await;
    for n in 0..250 {
        small.send(&alice, "bob", &format!("m{n}")).await;
    }
    let mut b = small.ws(&bob, "?since=0").await;
    expect_frame(&mut b, "ready").await;
    let mut replayed = 0;
    loop {
        let frame = next_frame(&mut b).await;
        match frame["type"].as_str() {
            Some("message") => replayed += 1,
            Some("resync") => break,
            Some("presence") => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!((2..=200).contains(&replayed), "replayed {replayed}");
}

#[tokio::test]
async fn logout_closes_the_sessions_sockets() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let other_session = server.login("alice").await;
    let mut a = server.ws(&alice, "").await;
    let mut kept = server.ws(&other_session, "").await;
    expect_frame(&mut a, "ready").await;
    expect_frame(&mut kept, "ready").await;
    let (status, _, _) = server
        .post(
            "/api/logout",
            json!({}),
            &[("authorization", &alice.bearer())],
        )
        .await;
    assert_eq!(status, 204);
    let close = expect_close(&mut a).await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy);
    // The other session's socket stays.
    let bob = server.user("bob").await;
    server.send(&bob, "alice", "still here").await;
    assert_eq!(
        expect_frame(&mut kept, "message").await["message"]["text"],
        "still here"
    );
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let mut a = server.ws(&alice, "").await;
    expect_frame(&mut a, "ready").await;

    a.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(expect_frame(&mut a, "error").await["code"], "invalid_input");
    a.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(expect_frame(&mut a, "error").await["code"], "invalid_input");
    send_frame(&mut a, json!({ "type": "dance" })).await;
    assert_eq!(expect_frame(&mut a, "error").await["code"], "invalid_input");
    send_frame(
        &mut a,
        json!({ "type": "send", "to": "bob", "text": "", "client_id": "e-1" }),
    )
    .await;
    let error = expect_frame(&mut a, "error").await;
    assert_eq!(
        (
            error["code"].as_str(),
            error["client_id"].as_str(),
            error["field"].as_str()
        ),
        (Some("invalid_input"), Some("e-1"), Some("text"))
    );
    send_frame(
        &mut a,
        json!({ "type": "send", "to": "nobody", "text": "hi", "client_id": "e-2" }),
    )
    .await;
    assert_eq!(expect_frame(&mut a, "error").await["code"], "not_found");
    send_frame(&mut a, json!({ "type": "read", "with": "bob", "up_to": 5 })).await;
    assert_eq!(expect_frame(&mut a, "error").await["code"], "not_found");

    send_frame(
        &mut a,
        json!({ "type": "send", "to": "bob", "text": "still works", "client_id": "ok" }),
    )
    .await;
    assert_eq!(expect_frame(&mut a, "ack").await["client_id"], "ok");

    // Oversize messages close the connection with 1009.
    a.send(Message::Text("x".repeat(17 * 1024).into()))
        .await
        .unwrap();
    let close = expect_close(&mut a).await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Size);
}

#[tokio::test]
async fn upgrades_need_a_session_and_an_allowed_origin() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bearer = alice.bearer();
    for (headers, status) in [
        (vec![], 401),
        (vec![("authorization", "Bearer nonsense")], 401),
        (
            vec![
                ("authorization", bearer.as_str()),
                ("origin", "http://evil.example"),
            ],
            403,
        ),
        (
            vec![("authorization", bearer.as_str()), ("origin", "null")],
            403,
        ),
        (
            vec![
                ("cookie", alice.cookie.as_str()),
                ("origin", "http://evil.example"),
            ],
            403,
        ),
    ] {
        match server.ws_with("", &headers).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), status, "{headers:?}");
            }
            other => panic!("expected a refused upgrade for {headers:?}, got {other:?}"),
        }
    }
    let own = format!("http://{}", server.host);
    let mut ws = server
        .ws_with("", &[("cookie", &alice.cookie), ("origin", &own)])
        .await
        .unwrap();
    expect_frame(&mut ws, "ready").await;
}

#[tokio::test]
async fn a_slow_reader_is_cut_off_while_a_fast_one_gets_everything() {
    let mut config = HttpConfig::default();
    config.websocket.outbound_queue = 8;
    let server = TestServer::builder().http(config).start().await;
    let alice = server.user("alice").await;
    let slow = server.user("slow").await;
    let fast = server.user("fast").await;
    let mut slow_ws = server.ws_small_buffer(&slow).await;
    let mut fast_ws = server.ws(&fast, "").await;
    expect_frame(&mut slow_ws, "ready").await;
    expect_frame(&mut fast_ws, "ready").await;
    let (sender, _) = server.ws_ready(&alice, "").await;
    // The sender reads its acks as they come, so that it is no slow reader
    // itself.
    let (mut to_server, mut from_server) = futures::StreamExt::split(sender);
    const SENT: usize = 1650;
    let acks = tokio::spawn(async move {
        let mut acks = 0;
        while acks < SENT {
            let next = futures::StreamExt::next(&mut from_server);
            match tokio::time::timeout(chat_test_support::WAIT, next)
                .await
                .unwrap()
            {
                Some(Ok(Message::Text(text))) => {
                    let frame: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    match frame["type"].as_str() {
                        Some("ack") => acks += 1,
                        Some("presence") => {}
                        _ => panic!("unexpected {frame}"),
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the sender's socket ended: {other:?}"),
            }
        }
    });
    let mut send = async |frame: serde_json::Value| {
        to_server
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    };

    // The fast reader reads as messages come.
    const FAST: usize = 150;
    let fast_reader = tokio::spawn(async move {
        let mut texts = Vec::new();
        while texts.len() < FAST {
            let frame = expect_frame(&mut fast_ws, "message").await;
            texts.push(frame["message"]["text"].as_str().unwrap().to_owned());
        }
        texts
    });
    // The slow reader reads nothing while more than the kernel's socket
    // buffers can hold piles up for it.
    let text = "y".repeat(3900);
    let mut expected_fast = Vec::new();
    for n in 0..1500 {
        send(json!({ "type": "send", "to": "slow", "text": text, "client_id": format!("s{n}") }))
            .await;
        if n % 10 == 0 {
            let fast_text = format!("f{n}");
            send(json!({ "type": "send", "to": "fast", "text": fast_text, "client_id": format!("f{n}") })).await;
            expected_fast.push(fast_text);
        }
    }
    acks.await.unwrap();
    assert_eq!(
        fast_reader.await.unwrap(),
        expected_fast,
        "the fast reader lost nothing"
    );

    // The slow reader finds a bounded backlog ending in "too slow".
    let mut frames = 0;
    let close = loop {
        match tokio::time::timeout(
            chat_test_support::WAIT,
            futures::StreamExt::next(&mut slow_ws),
        )
        .await
        .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => frames += 1,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(close.expect("close frame").code, CloseCode::Again);
    assert!(
        frames < 1500,
        "the backlog must be bounded, got {frames} frames"
    );
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away() {
    let mut server = TestServer::start().await;
    let alice = server.user("alice").await;
    let mut a = server.ws(&alice, "").await;
    expect_frame(&mut a, "ready").await;
    let closing = tokio::spawn(async move {
        let frame = expect_close(&mut a).await;
        frame.map(|f| f.code)
    });
    server.shutdown().await;
    assert_eq!(closing.await.unwrap(), Some(CloseCode::Away));
    assert_eq!(server.http.open_websockets(), 0);
}

/// Holds one user's sends at the rate limiter until released: a send that
/// takes its time on the way to its commit.
struct HeldSends {
    user_id: std::sync::Mutex<Option<String>>,
    reached: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl chat_core::RateLimiter for HeldSends {
    async fn check(&self, action: chat_core::Action, key: &str) -> chat_core::Result<()> {
        let held = self.user_id.lock().unwrap().as_deref() == Some(key);
        if held && action == chat_core::Action::SendPerUser {
            self.reached.notify_one();
            self.release.acquire().await.unwrap().forget();
        }
        Ok(())
    }

    async fn check_every(&self, _key: &str, _every: std::time::Duration) -> chat_core::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_send_on_its_way_to_commit_does_not_hold_up_deliveries() {
    let held = std::sync::Arc::new(HeldSends {
        user_id: std::sync::Mutex::new(None),
        reached: tokio::sync::Notify::new(),
        release: tokio::sync::Semaphore::new(0),
    });
    let server = TestServer::builder().limiter(held.clone()).start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mut a = server.ws(&alice, "").await;
    let ready = expect_frame(&mut a, "ready").await;
    *held.user_id.lock().unwrap() = Some(ready["user"]["id"].to_string());

    send_frame(
        &mut a,
        json!({"type": "send", "to": "bob", "text": "slow one", "client_id": "s-1"}),
    )
    .await;
    tokio::time::timeout(chat_test_support::WAIT, held.reached.notified())
        .await
        .expect("the send reached the limiter");
    // While alice's send waits, bob's message still reaches her.
    server.send(&bob, "alice", "meanwhile").await;
    let message = expect_frame(&mut a, "message").await;
    assert_eq!(message["message"]["text"], "meanwhile");

    held.release.add_permits(1);
    let ack = expect_frame(&mut a, "ack").await;
    assert_eq!(ack["client_id"], "s-1");
    assert_eq!(ack["message"]["text"], "slow one");
    // Commands stay in order: the next send is answered after the first.
    held.release.add_permits(2);
    for n in 2..=3 {
        send_frame(
            &mut a,
            json!({"type": "send", "to": "bob", "text": format!("then {n}"), "client_id": format!("s-{n}")}),
        )
        .await;
    }
    for n in 2..=3 {
        let ack = expect_frame(&mut a, "ack").await;
        assert_eq!(ack["client_id"], format!("s-{n}"));
    }
}

#[tokio::test]
async fn conversation_peers_hear_who_comes_and_goes_and_the_list_says_who_is_online() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    server.send(&alice, "bob", "hi").await;
    server.send(&bob, "alice", "hi alice").await;
    // Carol wrote to alice, who never answered: carol learns nothing of her.
    server.send(&carol, "alice", "unsolicited").await;
    let (mut b, _) = server.ws_ready(&bob, "").await;
    let (mut c, _) = server.ws_ready(&carol, "").await;
    let online = async || {
        let (_, _, list) = server.get_as(&bob, "/api/conversations").await;
        list["conversations"][0]["user"]["online"].as_bool()
    };
    assert_eq!(online().await, Some(false));

    // Alice's first socket makes her online for bob (both have written),
    // not for carol (alice never answered her).
    let (first, _) = server.ws_ready(&alice, "").await;
    let frame = expect_frame(&mut b, "presence").await;
    assert_eq!(
        frame,
        json!({ "type": "presence", "user": "alice", "online": true })
    );
    assert_eq!(online().await, Some(true));
    // A second socket of hers changes nothing; closing only one of them
    // neither.
    let (second, _) = server.ws_ready(&alice, "").await;
    drop(first);
    chat_test_support::eventually("the first socket is gone", || {
        server.http.open_websockets() == 3
    })
    .await;
    server.send(&alice, "bob", "still here").await;
    let frame = next_frame(&mut b).await;
    assert_eq!(frame["message"]["text"], "still here", "{frame}");
    // The last one closing makes her offline.
    drop(second);
    let frame = expect_frame(&mut b, "presence").await;
    assert_eq!(
        frame,
        json!({ "type": "presence", "user": "alice", "online": false })
    );
    chat_test_support::eventually("the sockets are gone", || {
        server.http.open_websockets() == 2
    })
    .await;
    assert_eq!(online().await, Some(false));
    // Carol heard nothing of it, and her list does not say: her next frame
    // is a message, and alice is "offline" to her throughout.
    server.send(&bob, "carol", "for carol").await;
    let frame = next_frame(&mut c).await;
    assert_eq!(frame["message"]["text"], "for carol", "{frame}");
    let (_alice_again, _) = server.ws_ready(&alice, "").await;
    let (_, _, list) = server.get_as(&carol, "/api/conversations").await;
    let alice_entry = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"]["username"] == "alice")
        .unwrap()
        .clone();
    assert_eq!(alice_entry["user"]["online"], false);
}
