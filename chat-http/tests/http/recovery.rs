//! What a connection does when its dependencies fail or fall behind, and
//! its backpressure on the client: each step made to happen exactly when
//! the test needs it, by holding or failing the store call behind it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chat_core::LocalBus;
use chat_test_support::faults::{Call, Faults};
use chat_test_support::{
    Login, TestServer, Ws, expect_close, expect_frame, next_frame, send_frame,
};
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How far behind the server's bus lets a subscriber fall here: small, so
/// that a test overflows it in a few sends.
const BUS_CAPACITY: usize = 128;

async fn server(faults: &Faults) -> TestServer {
    TestServer::builder()
        .faults(faults.clone())
        .bus(Arc::new(LocalBus::with_capacity(BUS_CAPACITY)))
        .websocket(|ws| ws.ping_interval = Duration::from_millis(50))
        .start()
        .await
}

#[tokio::test]
async fn a_dependency_failing_while_a_connection_is_set_up_closes_it_with_1011() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    faults.fail(Call::LastMessageId);
    let mut ws = server.ws(&alice, "").await;
    let close = expect_close(&mut ws).await.expect("a close frame");
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Error, "temporarily unavailable")
    );
    faults.heal(Call::LastMessageId);
    server.ws_ready(&alice, "").await;
}

#[tokio::test]
async fn a_dependency_failing_during_the_replay_of_since_closes_with_1011() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    server.send(&alice, "bob", "missed").await;
    faults.fail(Call::ChangesSince);
    let (mut ws, _) = server.ws_ready(&bob, "?since=0").await;
    let close = expect_close(&mut ws).await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Error);
}

/// Holds `login`'s connection at its next session re-check (a ping) and
/// sends it `count` messages meanwhile, more than its bus queue holds.
async fn overflow(server: &TestServer, faults: &Faults, from: &Login, login: &Login, count: usize) {
    faults.hold_session(&login.token);
    faults.reached(Call::FindSession, 1).await;
    for n in 0..count {
        server.send(from, "bob", &format!("during {n}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_bus_overflows_a_connection_replays_and_delivers_everything_once() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (mut ws, _) = server.ws_ready(&bob, "").await;
    let first = server.send(&alice, "bob", "before").await["id"].clone();
    assert_eq!(
        expect_frame(&mut ws, "message").await["message"]["id"],
        first
    );
    // 200 messages while the connection is stuck: the in-process bus keeps
    // BUS_CAPACITY for it, then tells it that it lagged.
    overflow(&server, &faults, &alice, &bob, 200).await;
    faults.release_session(&bob.token);
    let after = server.send(&alice, "bob", "after").await["id"]
        .as_i64()
        .unwrap();
    let mut seen: HashMap<i64, usize> = HashMap::new();
    while !seen.contains_key(&after) || seen.len() < 201 {
        let frame = next_frame(&mut ws).await;
        match frame["type"].as_str() {
            Some("message") => {
                let text = frame["message"]["text"].as_str().unwrap();
                assert_ne!(text, "before", "delivered before the overflow already");
                *seen
                    .entry(frame["message"]["id"].as_i64().unwrap())
                    .or_default() += 1;
            }
            Some("presence") => {}
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!(
        seen.len(),
        201,
        "every message committed meanwhile, and the next"
    );
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependency_failing_during_the_replay_after_a_lag_closes_with_1011() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (mut ws, _) = server.ws_ready(&bob, "").await;
    overflow(&server, &faults, &alice, &bob, 200).await;
    faults.fail(Call::ChangesSince);
    faults.release_session(&bob.token);
    let close = expect_close(&mut ws).await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Error);
}

fn send(n: usize) -> serde_json::Value {
    json!({ "type": "send", "to": "bob", "text": format!("m{n}"), "client_id": format!("c{n}") })
}

async fn bad_frame(ws: &mut Ws) {
    ws.send(Message::Text("{not json".into())).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_stops_reading_while_256_sends_commit_and_32_commands_wait() {
    const SENDING: usize = 256;
    const WAITING: usize = 32;
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    faults.hold(Call::AppendBatch);
    // The first send is held at the store; 255 more are queued behind its
    // commit and 31 commands wait to start: a bad frame is still read, and
    // answered at once.
    for n in 0..SENDING + WAITING - 1 {
        send_frame(&mut ws, send(n)).await;
    }
    faults.reached(Call::AppendBatch, 1).await;
    bad_frame(&mut ws).await;
    assert_eq!(
        expect_frame(&mut ws, "error").await["code"],
        "invalid_input"
    );
    // The 32nd waiting command fills the queue; a bad frame follows it.
    send_frame(&mut ws, send(SENDING + WAITING - 1)).await;
    bad_frame(&mut ws).await;
    // Let the connection's loop go round at least once after both reached
    // its socket: hold it at a session re-check (a ping) begun after them,
    // let that one pass and hold the next. Had it been reading, it would
    // have answered the bad frame in between.
    faults.hold_session(&alice.token);
    faults.reached(Call::FindSession, 1).await;
    faults.pass_session(&alice.token);
    faults.reached(Call::FindSession, 2).await;
    faults.release(Call::AppendBatch);
    faults.release_session(&alice.token);
    // The bad frame is read only once the first send is done; every send
    // is acknowledged, in order.
    let mut order = Vec::new();
    while order.len() < SENDING + WAITING + 1 {
        let frame = next_frame(&mut ws).await;
        match frame["type"].as_str() {
            Some("ack") => order.push(frame["client_id"].as_str().unwrap().to_owned()),
            Some("error") => order.push("error".to_owned()),
            Some("presence") => {}
            _ => panic!("unexpected {frame}"),
        }
    }
    let error = order.iter().position(|f| f == "error").unwrap();
    assert!(
        error > 0,
        "the bad frame was answered before the first ack: {order:?}"
    );
    order.remove(error);
    let expected: Vec<String> = (0..SENDING + WAITING).map(|n| format!("c{n}")).collect();
    assert_eq!(order, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connections_sends_are_pipelined_into_one_commit_and_answered_in_order() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;
    let (mut other_device, _) = server.ws_ready(&alice, "").await;
    // Bob and the conversation are known before the store is held.
    send_frame(&mut ws, send(0)).await;
    expect_frame(&mut ws, "ack").await;
    expect_frame(&mut other_device, "message").await;

    faults.hold(Call::AppendBatch);
    // Sends with and without a client id, and one that fails its checks.
    let frames: Vec<serde_json::Value> = (1..=10)
        .map(|n| match n {
            4 => json!({ "type": "send", "to": "nobody", "text": "m4", "client_id": "c4" }),
            n if n % 3 == 0 => json!({ "type": "send", "to": "bob", "text": format!("m{n}") }),
            n => send(n),
        })
        .collect();
    for frame in &frames {
        send_frame(&mut ws, frame.clone()).await;
    }
    // Answered once every send before it has been started.
    bad_frame(&mut ws).await;
    assert_eq!(
        expect_frame(&mut ws, "error").await["code"],
        "invalid_input"
    );
    // Two commits for all of them: the first send's, and one holding every
    // send that queued behind it while it was held. Sent one at a time,
    // they would need a commit each.
    faults.reached(Call::AppendBatch, 1).await;
    faults.pass(Call::AppendBatch);
    faults.pass(Call::AppendBatch);
    let mut answers = Vec::new();
    while answers.len() < 10 {
        let frame = next_frame(&mut ws).await;
        match frame["type"].as_str() {
            Some("ack") => answers.push(frame["message"]["text"].as_str().unwrap().to_owned()),
            Some("error") => {
                assert_eq!(frame["client_id"], "c4");
                answers.push("m4 refused".to_owned());
            }
            Some("presence") => {}
            _ => panic!("the sender hears only its answers, got {frame}"),
        }
    }
    faults.release(Call::AppendBatch);
    let expected: Vec<String> = (1..=10)
        .map(|n| match n {
            4 => "m4 refused".to_owned(),
            n => format!("m{n}"),
        })
        .collect();
    assert_eq!(answers, expected);
    // The user's other device hears each message once, in order.
    let mut heard = Vec::new();
    while heard.len() < 9 {
        let frame = expect_frame(&mut other_device, "message").await;
        heard.push(frame["message"]["text"].as_str().unwrap().to_owned());
    }
    let stored: Vec<String> = expected.into_iter().filter(|t| t != "m4 refused").collect();
    assert_eq!(heard, stored);
    // And the sender has no copy of its own: the next thing it hears is
    // the answer to its next send.
    send_frame(&mut ws, send(11)).await;
    let next = loop {
        let frame = next_frame(&mut ws).await;
        if frame["type"] != "presence" {
            break frame;
        }
    };
    assert_eq!(next["type"], "ack", "{next}");
    assert_eq!(next["client_id"], "c11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_client_goes_away_before_its_ack_still_reaches_the_recipient_live() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let (mut bob_ws, _) = server.ws_ready(&bob, "").await;
    let (mut alice_ws, _) = server.ws_ready(&alice, "").await;
    faults.hold(Call::AppendBatch);
    send_frame(&mut alice_ws, send(1)).await;
    faults.reached(Call::AppendBatch, 1).await;
    // Alice's client is gone while her message commits.
    drop(alice_ws);
    faults.release(Call::AppendBatch);
    loop {
        let frame = next_frame(&mut bob_ws).await;
        match frame["type"].as_str() {
            Some("message") => {
                assert_eq!(frame["message"]["text"], "m1");
                break;
            }
            Some("presence") => {}
            _ => panic!("unexpected {frame}"),
        }
    }
}

#[tokio::test]
async fn an_event_stream_whose_dependency_fails_is_refused_or_ended_and_resumes_once_healed() {
    let faults = Faults::default();
    let server = server(&faults).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    // While it is set up: refused with 503, as any request.
    faults.fail(Call::LastMessageId);
    let refused = server.sse_as(&bob, "").await;
    assert_eq!(refused.status, 503);
    faults.heal(Call::LastMessageId);
    // During a replay (`?since=`, the older clients' cursor): the stream
    // ends, and the client resumes once the store answers again.
    let missed = server.send(&alice, "bob", "missed").await;
    faults.fail(Call::ChangesSince);
    let mut events = server.sse_as(&bob, "?since=0").await;
    events.expect("ready").await;
    while let Some(event) = events.next_event().await {
        assert_eq!(event.data["type"], "presence", "{:?}", event.data);
    }
    faults.heal(Call::ChangesSince);
    let mut events = server.sse_as(&bob, "?since=0").await;
    events.expect("ready").await;
    assert_eq!(
        events.expect("message").await.data["message"]["id"],
        missed["id"]
    );
}
