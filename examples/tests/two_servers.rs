//! Two real `chat-server` processes on one PostgreSQL database and one
//! Redis behave as one chat, and survive Redis going away.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use chat_test_support::postgres::TestDatabase;
use chat_test_support::process::ServerProcess;
use chat_test_support::redis::PrivateRedis;
use chat_test_support::{Ws, expect_frame, next_frame, require_redis, send_frame};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_chat-server");

async fn servers(database: &TestDatabase, redis: &str) -> (ServerProcess, ServerProcess) {
    let prefix = chat_test_support::redis::prefix("two-servers");
    let args = [
        "--database-url",
        &database.url,
        "--redis-url",
        redis,
        "--redis-prefix",
        &prefix,
    ];
    let a = ServerProcess::start(BINARY, &args).await;
    let b = ServerProcess::start(BINARY, &args).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_servers_talk_live() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let redis = require_redis!();
    let (a, b) = servers(&database, &redis).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let mut alice_ws = a.ws(&alice, "").await;
    let mut bob_ws = b.ws(&bob, "").await;
    expect_frame(&mut alice_ws, "ready").await;
    expect_frame(&mut bob_ws, "ready").await;

    send_frame(
        &mut alice_ws,
        json!({ "type": "send", "to": "bob", "text": "hello from A", "client_id": "a-1" }),
    )
    .await;
    let ack = expect_frame(&mut alice_ws, "ack").await;
    let id = ack["message"]["id"].as_i64().unwrap();
    let got = expect_frame(&mut bob_ws, "message").await;
    assert_eq!(
        (
            got["message"]["id"].as_i64(),
            got["message"]["text"].as_str()
        ),
        (Some(id), Some("hello from A"))
    );

    send_frame(
        &mut bob_ws,
        json!({ "type": "send", "to": "alice", "text": "hello from B", "client_id": "b-1" }),
    )
    .await;
    assert_eq!(expect_frame(&mut bob_ws, "ack").await["client_id"], "b-1");
    assert_eq!(
        expect_frame(&mut alice_ws, "message").await["message"]["text"],
        "hello from B"
    );

    // Both have written: read marks and typing cross servers too.
    send_frame(
        &mut alice_ws,
        json!({ "type": "send", "to": "bob", "text": "and again", "client_id": "a-2" }),
    )
    .await;
    let id = expect_frame(&mut alice_ws, "ack").await["message"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        expect_frame(&mut bob_ws, "message").await["message"]["id"],
        id
    );
    send_frame(
        &mut bob_ws,
        json!({ "type": "read", "with": "alice", "up_to": id }),
    )
    .await;
    assert_eq!(expect_frame(&mut alice_ws, "read").await["up_to"], id);
    assert_eq!(expect_frame(&mut bob_ws, "read").await["by"], "bob");

    send_frame(&mut bob_ws, json!({ "type": "typing", "to": "alice" })).await;
    assert_eq!(expect_frame(&mut alice_ws, "typing").await["from"], "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_mark_made_on_one_server_while_away_is_recovered_on_the_other() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let redis = require_redis!();
    let (a, b) = servers(&database, &redis).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    b.send(&bob, "alice", "hi alice").await;
    let sent = a.send(&alice, "bob", "hi bob").await;
    // Alice's last cursor, from a server that saw everything so far.
    let mut alice_ws = a.ws(&alice, "").await;
    let cursor = expect_frame(&mut alice_ws, "ready").await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(alice_ws);
    // While she is away, bob reads on the other server.
    let mut bob_ws = b.ws(&bob, "").await;
    expect_frame(&mut bob_ws, "ready").await;
    send_frame(
        &mut bob_ws,
        json!({ "type": "read", "with": "alice", "up_to": sent["id"] }),
    )
    .await;
    assert_eq!(expect_frame(&mut bob_ws, "read").await["up_to"], sent["id"]);
    // Back on her server, from her cursor: the read mark, once.
    let mut alice_ws = a.ws(&alice, &format!("?cursor={cursor}")).await;
    expect_frame(&mut alice_ws, "ready").await;
    let read = expect_frame(&mut alice_ws, "read").await;
    assert_eq!((&read["by"], &read["up_to"]), (&json!("bob"), &sent["id"]));
    // Then live across servers; nothing in between.
    let live = b.send(&bob, "alice", "live").await;
    assert_eq!(
        expect_frame(&mut alice_ws, "message").await["message"]["id"],
        live["id"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_crosses_servers() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let redis = require_redis!();
    let (a, b) = servers(&database, &redis).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    // Presence passes only between people who have both written.
    a.send(&alice, "bob", "hi").await;
    b.send(&bob, "alice", "hi alice").await;
    let mut bob_ws = b.ws(&bob, "").await;
    expect_frame(&mut bob_ws, "ready").await;

    let alice_ws = a.ws(&alice, "").await;
    let online = expect_frame(&mut bob_ws, "presence").await;
    assert_eq!(
        (online["user"].as_str(), online["online"].as_bool()),
        (Some("alice"), Some(true))
    );
    let (_, _, list) = b.get_as(&bob, "/api/conversations").await;
    assert_eq!(list["conversations"][0]["user"]["online"], true);

    drop(alice_ws);
    let offline = expect_frame(&mut bob_ws, "presence").await;
    assert_eq!(
        (offline["user"].as_str(), offline["online"].as_bool()),
        (Some("alice"), Some(false))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_message_arrives_once_across_a_redis_outage() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let Some(mut redis) = PrivateRedis::start().await else {
        return;
    };
    let (a, b) = servers(&database, &redis.url()).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let mut alice_ws = a.ws(&alice, "").await;
    let mut bob_ws = b.ws(&bob, "").await;
    expect_frame(&mut alice_ws, "ready").await;
    expect_frame(&mut bob_ws, "ready").await;

    let mut acked = Vec::new();
    let send = async |ws: &mut Ws, n: usize| {
        send_frame(ws, json!({ "type": "send", "to": "bob", "text": format!("m{n}"), "client_id": format!("c{n}") })).await;
        expect_frame(ws, "ack").await["message"]["id"]
            .as_i64()
            .unwrap()
    };
    for n in 0..10 {
        acked.push(send(&mut alice_ws, n).await);
    }
    redis.stop().await;
    for n in 10..20 {
        acked.push(send(&mut alice_ws, n).await);
    }
    redis.resume().await;
    for n in 20..30 {
        acked.push(send(&mut alice_ws, n).await);
    }

    // Bob receives every acknowledged message exactly once, live or
    // replayed after the hub noticed the outage.
    let mut received: HashMap<i64, usize> = HashMap::new();
    while acked.iter().any(|id| !received.contains_key(id)) {
        let frame = next_frame(&mut bob_ws).await;
        match frame["type"].as_str() {
            Some("message") => {
                *received
                    .entry(frame["message"]["id"].as_i64().unwrap())
                    .or_default() += 1
            }
            Some("resync") => panic!("a 30-message gap must be replayed, not resynced"),
            _ => {}
        }
    }
    assert!(
        received.values().all(|n| *n == 1),
        "duplicates: {received:?}"
    );

    // And new messages flow live again, through the restored Redis.
    let live = send(&mut alice_ws, 99).await;
    loop {
        let frame = expect_frame(&mut bob_ws, "message").await;
        let id = frame["message"]["id"].as_i64().unwrap();
        assert!(!received.contains_key(&id), "duplicate {id}");
        if id == live {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_spans_two_servers_and_a_removed_member_hears_nothing_more() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let redis = require_redis!();
    let (a, b) = servers(&database, &redis).await;
    let alice = a.user("alice").await;
    let bob = b.user("bob").await;
    let carol = b.user("carol").await;
    for (from, to, server) in [
        (&alice, "bob", &a),
        (&bob, "alice", &b),
        (&alice, "carol", &a),
        (&carol, "alice", &b),
    ] {
        server.send(from, to, "hello").await;
    }
    let mut bob_ws = b.ws(&bob, "").await;
    let mut carol_ws = b.ws(&carol, "").await;
    expect_frame(&mut bob_ws, "ready").await;
    expect_frame(&mut carol_ws, "ready").await;
    // Made on A with both added: their streams on B follow the group from
    // the add they hear of.
    let (status, _, made) = a
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "Across", "members": ["bob", "carol"] }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["conversation"]["id"].as_i64().unwrap();
    // Each hears of the changes from their own add on (bob was added
    // first, so he hears carol's add too).
    for (ws, adds) in [
        (&mut bob_ws, ["bob", "carol"].as_slice()),
        (&mut carol_ws, &["carol"]),
    ] {
        for user in adds {
            let frame = expect_frame(ws, "message").await;
            assert_eq!(
                frame["message"]["event"],
                json!({ "type": "added", "user": user })
            );
        }
    }
    let (status, _, _) = a
        .post_as(
            &alice,
            &format!("/api/groups/{id}/messages"),
            json!({ "text": "one publish, every node" }),
        )
        .await;
    assert_eq!(status, 201);
    for ws in [&mut bob_ws, &mut carol_ws] {
        assert_eq!(
            expect_frame(ws, "message").await["message"]["text"],
            "one publish, every node"
        );
    }
    // Carol is removed on A: her stream on B hears it, then nothing of the
    // group; bob's goes on.
    let (status, _, _) = a
        .delete_as(&alice, &format!("/api/groups/{id}/members/carol"))
        .await;
    assert_eq!(status, 204);
    for ws in [&mut bob_ws, &mut carol_ws] {
        assert_eq!(
            expect_frame(ws, "message").await["message"]["event"]["type"],
            "removed"
        );
    }
    a.post_as(
        &alice,
        &format!("/api/groups/{id}/messages"),
        json!({ "text": "after carol" }),
    )
    .await;
    assert_eq!(
        expect_frame(&mut bob_ws, "message").await["message"]["text"],
        "after carol"
    );
    a.send(&alice, "carol", "only to you").await;
    assert_eq!(
        expect_frame(&mut carol_ws, "message").await["message"]["text"],
        "only to you",
        "nothing of the group came first"
    );
}
