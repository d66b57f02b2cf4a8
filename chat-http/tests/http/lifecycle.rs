//! Replies, edits and deletes over the JSON API and the WebSocket: who may,
//! what each answers, and how the changes reach a live socket and one that
//! resumes.

use chat_test_support::{Login, TestServer, expect_frame, send_frame};
use serde_json::{Value, json};

async fn patch(server: &TestServer, who: &Login, id: &Value, text: &str) -> (u16, Value) {
    let (status, _, body) = server
        .patch_as(who, &format!("/api/messages/{id}"), json!({ "text": text }))
        .await;
    (status, body)
}

#[tokio::test]
async fn replies_edits_and_deletes_reach_every_member_live_and_on_resume() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let (mut bobs, _) = server.ws_ready(&bob, "").await;
    let question = server.send(&alice, "bob", "lunch at noon?").await;
    let id = question["id"].clone();
    let seen = expect_frame(&mut bobs, "message").await;
    assert_eq!(seen["message"]["id"], id);

    // A reply quotes its parent and names its thread.
    let (status, _, body) = server
        .post_as(
            &bob,
            "/api/conversations/alice/messages",
            json!({"text": "sounds good", "reply_to": id}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let reply = body["message"].clone();
    assert_eq!(
        reply["reply_to"],
        json!({"id": id, "from": "alice", "text": "lunch at noon?", "deleted": false})
    );
    assert_eq!(reply["thread_root"], id);
    expect_frame(&mut bobs, "message").await;

    // Alice edits: everyone reads the new text, live.
    let (status, body) = patch(&server, &alice, &id, "lunch at one?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"]["text"], "lunch at one?");
    assert!(body["message"]["edited_at"].is_string());
    let edited = expect_frame(&mut bobs, "edited").await;
    assert_eq!(edited["message"]["id"], id);
    assert_eq!(edited["message"]["text"], "lunch at one?");
    assert!(edited["cursor"].is_string());

    // Nobody else edits it; bad input is typed.
    assert_eq!(patch(&server, &bob, &id, "hijacked").await.0, 403);
    assert_eq!(patch(&server, &carol, &id, "hijacked").await.0, 404);
    let (status, body) = patch(&server, &alice, &id, "   ").await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["field"].as_str()
        ),
        (400, Some("invalid_input"), Some("text"))
    );
    for missing in ["999999", "0", "x"] {
        assert_eq!(
            patch(&server, &alice, &json!(missing), "x").await.0,
            404,
            "{missing}"
        );
    }

    // Alice deletes: a tombstone, live; deleting again is the same answer.
    let path = format!("/api/messages/{id}");
    assert_eq!(server.delete_as(&carol, &path).await.0, 404);
    assert_eq!(server.delete_as(&bob, &path).await.0, 403);
    let (status, _, tombstone) = server.delete_as(&alice, &path).await;
    assert_eq!(status, 200, "{tombstone}");
    assert_eq!(tombstone["message"]["text"], "");
    assert!(tombstone["message"]["deleted_at"].is_string());
    let deleted = expect_frame(&mut bobs, "deleted").await;
    assert_eq!(deleted["message"]["id"], id);
    assert_eq!(deleted["message"]["text"], "");
    let (status, _, again) = server.delete_as(&alice, &path).await;
    assert_eq!((status, &again), (200, &tombstone));
    let (status, body) = patch(&server, &alice, &id, "back").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // The history keeps its place; the quote says it is gone; the search
    // finds neither the old words nor the new.
    let (_, _, history) = server
        .get_as(&bob, "/api/conversations/alice/messages")
        .await;
    let items = history["messages"].as_array().unwrap();
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["text"], "");
    assert_eq!(
        items[1]["reply_to"],
        json!({"id": id, "from": "alice", "text": null, "deleted": true})
    );
    for term in ["noon", "one"] {
        let (_, _, found) = server
            .get_as(
                &bob,
                &format!("/api/conversations/alice/messages?search={term}"),
            )
            .await;
        assert_eq!(found["messages"], json!([]), "{term}");
    }

    // A reply goes to its parent's conversation only.
    let elsewhere = server.send(&alice, "carol", "hi carol").await;
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/conversations/bob/messages",
            json!({"text": "x", "reply_to": elsewhere["id"]}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("reply_to"))
    );

    // A socket resuming from the message it saw gets its newest state
    // once: the tombstone, not the edit.
    let cursor = seen["cursor"].as_str().unwrap();
    let (mut resumed, _) = server.ws_ready(&bob, &format!("?cursor={cursor}")).await;
    let first = expect_frame(&mut resumed, "message").await;
    assert_eq!(first["message"]["id"], reply["id"]);
    let replayed = expect_frame(&mut resumed, "deleted").await;
    assert_eq!(replayed["message"]["id"], id);
    assert_eq!(replayed["cursor"], deleted["cursor"]);
}

#[tokio::test]
async fn the_websocket_edits_deletes_and_replies() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mine = server.send(&alice, "bob", "typo heer").await;
    let theirs = server.send(&bob, "alice", "a message of bob's").await;
    let (mut ws, _) = server.ws_ready(&alice, "").await;

    send_frame(
        &mut ws,
        json!({"type": "edit", "id": mine["id"], "text": "typo here"}),
    )
    .await;
    let edited = expect_frame(&mut ws, "edited").await;
    assert_eq!(edited["message"]["text"], "typo here");

    send_frame(
        &mut ws,
        json!({"type": "edit", "id": theirs["id"], "text": "mine now"}),
    )
    .await;
    let error = expect_frame(&mut ws, "error").await;
    assert_eq!(error["code"], "forbidden");

    send_frame(
        &mut ws,
        json!({"type": "send", "to": "bob", "text": "answering", "client_id": "r-1",
               "reply_to": theirs["id"]}),
    )
    .await;
    let ack = expect_frame(&mut ws, "ack").await;
    assert_eq!(ack["message"]["reply_to"]["id"], theirs["id"]);
    assert_eq!(ack["message"]["reply_to"]["from"], "bob");

    send_frame(&mut ws, json!({"type": "delete", "id": mine["id"]})).await;
    let deleted = expect_frame(&mut ws, "deleted").await;
    assert_eq!(deleted["message"]["id"], mine["id"]);
    send_frame(&mut ws, json!({"type": "delete", "id": 999_999})).await;
    let error = expect_frame(&mut ws, "error").await;
    assert_eq!(error["code"], "not_found");
}

#[tokio::test]
async fn reactions_over_http_and_websocket() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let message = server.send(&alice, "bob", "we shipped it").await;
    let id = message["id"].as_i64().unwrap();
    let (mut alices, _) = server.ws_ready(&alice, "").await;
    let path = format!("/api/messages/{id}/reactions/%F0%9F%8E%89");
    let put = |who: &Login, path: String| {
        let server = &server;
        let who = who.clone();
        async move { server.put_as(&who, &path, json!({})).await }
    };
    let (status, _, body) = put(&bob, path.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"]["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": true}])
    );
    let frame = expect_frame(&mut alices, "reaction").await;
    assert_eq!(
        (
            frame["user"].as_str(),
            frame["emoji"].as_str(),
            frame["added"].as_bool()
        ),
        (Some("bob"), Some("🎉"), Some(true))
    );
    assert_eq!(frame["message_id"], id);
    assert_eq!(
        frame["reactions"],
        json!([{"emoji": "🎉", "count": 1}]),
        "no `me` in a shared frame"
    );
    assert!(
        frame.get("message").is_none(),
        "no text in a reaction frame"
    );
    assert!(frame["cursor"].is_string());

    // Not an emoji; a stranger; a message that is not there.
    for bad in ["ok", "%F0%9F%8E%89%F0%9F%8E%89", "%FF"] {
        let (status, _, body) = put(&bob, format!("/api/messages/{id}/reactions/{bad}")).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some("emoji")),
            "{bad}"
        );
    }
    assert_eq!(put(&carol, path.clone()).await.0, 404);
    assert_eq!(
        put(&bob, "/api/messages/999999/reactions/%F0%9F%8E%89".into())
            .await
            .0,
        404
    );

    // Over the WebSocket, and taken away over HTTP.
    send_frame(
        &mut alices,
        json!({"type": "react", "id": id, "emoji": "🎉"}),
    )
    .await;
    let frame = expect_frame(&mut alices, "reaction").await;
    assert_eq!(frame["reactions"][0]["count"], 2);
    send_frame(
        &mut alices,
        json!({"type": "react", "id": id, "emoji": "nope"}),
    )
    .await;
    let error = expect_frame(&mut alices, "error").await;
    assert_eq!(error["field"], "emoji");
    let (status, _, body) = server.delete_as(&bob, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"]["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": false}])
    );
    let frame = expect_frame(&mut alices, "reaction").await;
    assert_eq!(frame["added"], false);
    let (_, _, history) = server
        .get_as(&alice, "/api/conversations/bob/messages")
        .await;
    assert_eq!(
        history["messages"][0]["reactions"],
        json!([{"emoji": "🎉", "count": 1, "me": true}])
    );
}

#[tokio::test]
async fn a_block_refuses_direct_messages_both_ways_until_lifted() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    server.send(&bob, "alice", "hi").await;
    let put = |who: &Login, name: &str| {
        let server = &server;
        let (who, path) = (who.clone(), format!("/api/blocks/{name}"));
        async move { server.put_as(&who, &path, json!({})).await }
    };
    let (status, _, body) = put(&alice, "bob").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["block"]["username"], "bob");
    let (_, _, listed) = server.get_as(&alice, "/api/blocks").await;
    assert_eq!(listed["blocks"], json!([body["block"]]));
    let (_, _, theirs) = server.get_as(&bob, "/api/blocks").await;
    assert_eq!(theirs["blocks"], json!([]));
    assert_eq!(put(&alice, "alice").await.0, 400);
    assert_eq!(put(&alice, "nobody").await.0, 404);

    let (status, _, body) = server
        .post_as(
            &bob,
            "/api/conversations/alice/messages",
            json!({"text": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/conversations/bob/messages",
            json!({"text": "x"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    for _ in 0..2 {
        assert_eq!(server.delete_as(&alice, "/api/blocks/bob").await.0, 204);
    }
    server.send(&bob, "alice", "again").await;
}

#[tokio::test]
async fn mentions_name_members_and_are_counted_for_them_only() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let mallory = server.user("mallory").await;
    server.acquaint(&alice, "alice", &bob, "bob").await;
    let group = server.make_group(&alice, "Team", &["bob"]).await;
    let (mut bobs, _) = server.ws_ready(&bob, "").await;
    let (mut mallorys, _) = server.ws_ready(&mallory, "").await;
    // Bob is a member: named, counted, told live. Mallory is not: the
    // message names nobody by her name, and she hears nothing.
    let (status, _, sent) = server
        .post_as(
            &alice,
            &format!("/api/groups/{group}/messages"),
            json!({ "text": "@bob @mallory @all standup" }),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["message"]["mentions"], json!(["bob"]));
    assert_eq!(sent["message"]["mention_everyone"], "all");
    let live = expect_frame(&mut bobs, "message").await;
    assert_eq!(live["message"]["mentions"], json!(["bob"]));
    let (_, _, inbox) = server.get_as(&bob, "/api/conversations").await;
    let line = inbox["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == group)
        .unwrap()
        .clone();
    assert_eq!(
        (line["unread"].clone(), line["mentions"].clone()),
        (json!(1), json!(1))
    );
    let (_, _, inbox) = server.get_as(&mallory, "/api/conversations").await;
    assert_eq!(inbox["conversations"], json!([]));
    // A member's @all is plain text: no everyone, no count.
    let (_, _, plain) = server
        .post_as(
            &bob,
            &format!("/api/groups/{group}/messages"),
            json!({ "text": "@all me too" }),
        )
        .await;
    assert!(
        plain["message"].get("mention_everyone").is_none(),
        "{plain}"
    );
    assert!(plain["message"].get("mentions").is_none(), "{plain}");
    // The history carries them too.
    let (_, _, page) = server
        .get_as(&bob, &format!("/api/groups/{group}/messages"))
        .await;
    let first = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == sent["message"]["id"])
        .unwrap()
        .clone();
    assert_eq!(first["mentions"], json!(["bob"]));
    // Mallory's socket carried nothing of the group: the next thing she
    // hears is her own direct message.
    server.send(&bob, "mallory", "ping").await;
    let next = expect_frame(&mut mallorys, "message").await;
    assert_eq!(next["message"]["text"], "ping");
}

#[tokio::test]
async fn threads_page_their_replies_and_count_what_is_new_to_each_participant() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let root = server.send(&alice, "bob", "plans for friday?").await;
    let reply = |who: &Login, to: &str, text: &str, parent: &Value| {
        let (server, who) = (&server, who.clone());
        let body = json!({ "text": text, "reply_to": parent });
        let path = format!("/api/conversations/{to}/messages");
        async move {
            let (status, _, body) = server.post_as(&who, &path, body).await;
            assert_eq!(status, 201, "{body}");
            body["message"].clone()
        }
    };
    let first = reply(&bob, "alice", "dinner", &root["id"]).await;
    let second = reply(&bob, "alice", "at eight", &first["id"]).await;
    assert_eq!(second["thread_root"], root["id"]);
    // The history shows the root's summary.
    let (_, _, page) = server
        .get_as(&alice, "/api/conversations/bob/messages")
        .await;
    let on_root = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == root["id"])
        .unwrap()
        .clone();
    assert_eq!(on_root["thread"]["replies"], 2);
    assert_eq!(on_root["thread"]["last_reply_id"], second["id"]);
    // The thread pages, from any of its messages.
    let (status, _, thread) = server
        .get_as(
            &alice,
            &format!("/api/messages/{}/thread?limit=1", second["id"]),
        )
        .await;
    assert_eq!(status, 200, "{thread}");
    assert_eq!(thread["root"]["id"], root["id"]);
    assert_eq!(thread["messages"][0]["id"], second["id"]);
    assert_eq!(thread["has_more"], true);
    assert_eq!(
        server
            .get_as(&carol, &format!("/api/messages/{}/thread", root["id"]))
            .await
            .0,
        404
    );
    // What is new to alice, until she marks it read.
    let (_, _, threads) = server.get_as(&alice, "/api/threads").await;
    assert_eq!(threads["threads"][0]["root"]["id"], root["id"]);
    assert_eq!(threads["threads"][0]["unread"], 2);
    let (status, _, read) = server
        .post_as(
            &alice,
            &format!("/api/messages/{}/thread/read", root["id"]),
            json!({ "up_to": second["id"] }),
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["up_to"], second["id"]);
    let (_, _, threads) = server.get_as(&alice, "/api/threads").await;
    assert_eq!(threads["threads"][0]["unread"], 0);
    let (_, _, none) = server.get_as(&carol, "/api/threads").await;
    assert_eq!(none["threads"], json!([]));
}
