//! Group conversations over the wire: `/api/groups` and the WebSocket
//! frames that name a conversation.

use chat_test_support::{Login, TestServer, expect_frame, next_frame, send_frame};
use serde_json::{Value, json};

/// Alice and bob have written to each other (so alice adds bob directly);
/// carol and dave are strangers.
async fn people(server: &TestServer) -> (Login, Login, Login, Login) {
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let dave = server.user("dave").await;
    server.send(&alice, "bob", "hi bob").await;
    server.send(&bob, "alice", "hi alice").await;
    (alice, bob, carol, dave)
}

fn usernames(list: &Value) -> Vec<(&str, &str)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_group_is_made_read_and_written_as_documented() {
    let server = TestServer::start().await;
    let (alice, bob, carol, _dave) = people(&server).await;
    let (status, _, made) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "Team", "members": ["bob", "carol"] }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let group = &made["conversation"];
    assert_eq!(group["kind"], "group");
    assert_eq!(group["title"], "Team");
    assert_eq!(group["role"], "owner");
    assert_eq!(
        usernames(&group["members"]),
        [("alice", "owner"), ("bob", "member")]
    );
    assert_eq!(group["invited"], json!(["carol"]));
    let id = group["id"].as_i64().unwrap();
    let path = format!("/api/groups/{id}");

    // Bob reads it; carol, invited, sees it and joins.
    let (status, _, seen) = server.get_as(&bob, &path).await;
    assert_eq!(
        (status, seen["conversation"]["role"].as_str()),
        (200, Some("member"))
    );
    let (_, _, invitations) = server.get_as(&carol, "/api/invitations").await;
    assert_eq!(
        invitations["invitations"],
        json!([{ "id": id, "title": "Team", "invited_by": "alice" }])
    );
    let (status, _, joined) = server
        .post_as(&carol, &format!("{path}/join"), json!({}))
        .await;
    assert_eq!(
        (status, joined["conversation"]["role"].as_str()),
        (200, Some("member"))
    );

    // Messages: the same shapes as a direct conversation's.
    let (status, _, sent) = server
        .post_as(
            &alice,
            &format!("{path}/messages"),
            json!({ "text": "hello team", "client_id": "g-1" }),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(sent["message"]["conversation_id"], id);
    assert!(sent["message"].get("to").is_none());
    let (status, _, again) = server
        .post_as(
            &alice,
            &format!("{path}/messages"),
            json!({ "text": "hello team", "client_id": "g-1" }),
        )
        .await;
    assert_eq!(
        (status, &again["message"]["id"]),
        (200, &sent["message"]["id"])
    );
    let (_, _, page) = server
        .get_as(&bob, &format!("{path}/messages?limit=10"))
        .await;
    let messages = page["messages"].as_array().unwrap();
    let events: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["event"]["type"].as_str())
        .collect();
    assert_eq!(
        events,
        ["added", "invited", "joined"],
        "bob joined with his add"
    );
    assert_eq!(messages.last().unwrap()["text"], "hello team");
    let (_, _, found) = server
        .get_as(&bob, &format!("{path}/messages?search=TEAM"))
        .await;
    assert_eq!(found["messages"].as_array().unwrap().len(), 1);

    // The inbox lists groups beside direct conversations.
    let (_, _, inbox) = server.get_as(&bob, "/api/conversations").await;
    let first = &inbox["conversations"][0];
    assert_eq!(
        (
            first["kind"].as_str(),
            first["id"].as_i64(),
            first["title"].as_str()
        ),
        (Some("group"), Some(id), Some("Team"))
    );
    assert_eq!(
        first["unread"], 3,
        "carol's invitation, her join, alice's message"
    );
    assert_eq!(inbox["conversations"][1]["kind"], "direct");
    assert_eq!(inbox["conversations"][1]["user"]["username"], "alice");
    let newest = sent["message"]["id"].as_i64().unwrap();
    let (status, _, read) = server
        .post_as(&bob, &format!("{path}/read"), json!({ "up_to": newest }))
        .await;
    assert_eq!((status, read["up_to"].as_i64()), (200, Some(newest)));
    // Alice learns how many have read her message, not who.
    let (_, _, hers) = server
        .get_as(&alice, &format!("{path}/messages?after={}", newest - 1))
        .await;
    assert_eq!(hers["messages"][0]["read_by"], 1, "bob, not carol: {hers}");

    // Roles: a member may not rename; the owner may, and makes bob admin.
    let (status, _, refused) = server
        .patch_as(&bob, &path, json!({ "title": "Bob's" }))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _, renamed) = server
        .patch_as(&alice, &path, json!({ "title": "Team 2" }))
        .await;
    assert_eq!(
        (status, renamed["conversation"]["title"].as_str()),
        (200, Some("Team 2"))
    );
    let (status, _, promoted) = server
        .patch_as(
            &alice,
            &format!("{path}/members/bob"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(usernames(&promoted["conversation"]["members"]).contains(&("bob", "admin")));
    let (status, _, owner) = server
        .delete_as(&bob, &format!("{path}/members/alice"))
        .await;
    assert_eq!(
        (status, owner["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // Removing carol: she keeps what came before, and nothing after.
    let (status, _, _) = server
        .delete_as(&alice, &format!("{path}/members/carol"))
        .await;
    assert_eq!(status, 204);
    server
        .post_as(
            &alice,
            &format!("{path}/messages"),
            json!({ "text": "after carol" }),
        )
        .await;
    let (_, _, hers) = server.get_as(&carol, &format!("{path}/messages")).await;
    let texts: Vec<&str> = hers["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.last(), Some(&"alice removed carol"), "{texts:?}");
    let (status, _, _) = server
        .post_as(
            &carol,
            &format!("{path}/messages"),
            json!({ "text": "still here?" }),
        )
        .await;
    assert_eq!(status, 404);
    // Leaving is removing oneself.
    let (status, _, _) = server.delete_as(&bob, &format!("{path}/members/bob")).await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn strangers_get_the_same_not_found_whether_or_not_a_group_exists() {
    let server = TestServer::start().await;
    let (alice, _bob, _carol, dave) = people(&server).await;
    let id = server.make_group(&alice, "Secret", &["bob"]).await;
    for group in [
        id.to_string(),
        (id + 1000).to_string(),
        "x".into(),
        "0".into(),
    ] {
        let path = format!("/api/groups/{group}");
        let answers = [
            server.get_as(&dave, &path).await,
            server.get_as(&dave, &format!("{path}/messages")).await,
            server
                .post_as(&dave, &format!("{path}/messages"), json!({ "text": "hi" }))
                .await,
            server
                .patch_as(&dave, &path, json!({ "title": "Mine" }))
                .await,
            server
                .post_as(
                    &dave,
                    &format!("{path}/members"),
                    json!({ "username": "dave" }),
                )
                .await,
            server
                .delete_as(&dave, &format!("{path}/members/bob"))
                .await,
            server
                .post_as(&dave, &format!("{path}/join"), json!({}))
                .await,
            server
                .post_as(&dave, &format!("{path}/read"), json!({ "up_to": 1 }))
                .await,
        ];
        for (status, _, body) in answers {
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["error"]["code"], "not_found");
            assert_eq!(body["error"]["message"], "not found");
        }
    }
}

#[tokio::test]
async fn bad_group_input_gets_typed_errors() {
    let server = TestServer::builder()
        .chat_config(chat_core::ChatConfig::default().with_max_group_members(2))
        .start()
        .await;
    let (alice, _bob, _carol, _dave) = people(&server).await;
    for title in ["", "   ", "two\nlines", &"x".repeat(101)] {
        let (status, _, body) = server
            .post_as(&alice, "/api/groups", json!({ "title": title }))
            .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some("title"))
        );
    }
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "T", "history": "forever" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("history"))
    );
    let (status, _, body) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "T", "members": ["nobody"] }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, _, made) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "Pair", "members": ["bob"] }),
        )
        .await;
    let id = made["conversation"]["id"].as_i64().unwrap();
    server.send(&alice, "carol", "hello").await;
    let (status, _, body) = server
        .post_as(
            &alice,
            &format!("/api/groups/{id}/members"),
            json!({ "username": "carol" }),
        )
        .await;
    assert_eq!(status, 200, "an invitation needs no seat: {body}");
    let carol = server.login("carol").await;
    let (status, _, body) = server
        .post_as(&carol, &format!("/api/groups/{id}/join"), json!({}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("too_many_members"))
    );
    let (status, _, body) = server
        .patch_as(
            &alice,
            &format!("/api/groups/{id}/members/bob"),
            json!({ "role": "king" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("role"))
    );
    // The methods a group path answers, and a deletion by cookie needs the
    // CSRF token like any change.
    let (status, headers, _) = server
        .request(
            reqwest::Method::DELETE,
            &format!("/api/groups/{id}"),
            None,
            &[("authorization", &alice.bearer())],
        )
        .await;
    assert_eq!(
        (status, headers["allow"].to_str().unwrap()),
        (405, "GET, HEAD, PATCH")
    );
    let (status, _, body) = server
        .request(
            reqwest::Method::DELETE,
            &format!("/api/groups/{id}/members/bob"),
            None,
            &[("cookie", &alice.cookie)],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("csrf"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_talk_live_and_a_removed_one_hears_nothing_more() {
    let server = TestServer::start().await;
    let (alice, bob, carol, _dave) = people(&server).await;
    server.send(&alice, "carol", "hi carol").await;
    server.send(&carol, "alice", "hi alice").await;
    let id = server.make_group(&alice, "Live", &["bob", "carol"]).await;
    let (mut a, _) = server.ws_ready(&alice, "").await;
    let (mut b, _) = server.ws_ready(&bob, "").await;
    let (mut c, _) = server.ws_ready(&carol, "").await;
    send_frame(
        &mut b,
        json!({ "type": "send", "conversation_id": id, "text": "hi all", "client_id": "b-1" }),
    )
    .await;
    let ack = expect_frame(&mut b, "ack").await;
    assert_eq!(ack["message"]["conversation_id"], id);
    for ws in [&mut a, &mut c] {
        let frame = expect_frame(ws, "message").await;
        assert_eq!(
            (
                frame["message"]["conversation_id"].as_i64(),
                frame["message"]["text"].as_str()
            ),
            (Some(id), Some("hi all"))
        );
        assert_eq!(frame["cursor"], ack["cursor"]);
    }
    // Typing and read marks by conversation id.
    send_frame(&mut c, json!({ "type": "typing", "conversation_id": id })).await;
    for ws in [&mut a, &mut b] {
        let typing = expect_frame(ws, "typing").await;
        assert_eq!(
            (typing["from"].as_str(), typing["conversation_id"].as_i64()),
            (Some("carol"), Some(id))
        );
    }
    let up_to = ack["message"]["id"].clone();
    send_frame(
        &mut c,
        json!({ "type": "read", "conversation_id": id, "up_to": up_to }),
    )
    .await;
    let read = expect_frame(&mut c, "read").await;
    assert_eq!(
        (read["conversation_id"].as_i64(), &read["up_to"]),
        (Some(id), &up_to)
    );
    assert!(read.get("with").is_none());
    // Bob, who sent it, hears how many have read it (not who); nobody
    // else hears of carol's read mark.
    let counted = expect_frame(&mut b, "read_by").await;
    assert_eq!(
        counted,
        json!({ "type": "read_by", "conversation_id": id, "messages": [{ "id": up_to, "read_by": 1 }] })
    );
    // Bob is removed: every member hears it, bob too, then bob nothing more.
    server
        .delete_as(&alice, &format!("/api/groups/{id}/members/bob"))
        .await;
    for ws in [&mut a, &mut b, &mut c] {
        let frame = expect_frame(ws, "message").await;
        assert_eq!(frame["message"]["event"]["type"], "removed");
        assert_eq!(frame["message"]["event"]["user"], "bob");
    }
    send_frame(
        &mut a,
        json!({ "type": "send", "conversation_id": id, "text": "bob is gone", "client_id": "a-1" }),
    )
    .await;
    expect_frame(&mut a, "ack").await;
    assert_eq!(
        expect_frame(&mut c, "message").await["message"]["text"],
        "bob is gone"
    );
    server.send(&alice, "bob", "just you and me").await;
    assert_eq!(
        expect_frame(&mut b, "message").await["message"]["text"],
        "just you and me",
        "nothing of the group came first"
    );
    // And he cannot send there any more.
    send_frame(
        &mut b,
        json!({ "type": "send", "conversation_id": id, "text": "wait", "client_id": "b-2" }),
    )
    .await;
    let error = next_frame(&mut b).await;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("not_found"))
    );
}

#[tokio::test]
async fn an_admin_mutes_and_unmutes_a_member_over_http() {
    let server = TestServer::start().await;
    let (alice, bob, _carol, _dave) = people(&server).await;
    let (_, _, made) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "Quiet", "members": ["bob"] }),
        )
        .await;
    let id = made["conversation"]["id"].as_i64().unwrap();
    let member = format!("/api/groups/{id}/members/bob");
    let messages = format!("/api/groups/{id}/messages");
    let (status, _, muted) = server
        .patch_as(
            &alice,
            &member,
            json!({ "muted": true, "muted_until": "2999-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(status, 200, "{muted}");
    assert!(
        muted["conversation"]["members"][1]["muted"]
            .as_bool()
            .unwrap()
    );
    let (status, _, refused) = server
        .post_as(&bob, &messages, json!({ "text": "hello?" }))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (_, _, page) = server.get_as(&bob, &messages).await;
    let last = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["event"]["type"].as_str(),
            last["event"]["until"].as_str()
        ),
        (Some("muted"), Some("2999-01-01T00:00:00Z"))
    );
    let (status, _, bad) = server
        .patch_as(
            &alice,
            &member,
            json!({ "muted": true, "muted_until": "soon" }),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["field"].as_str()),
        (400, Some("muted_until"))
    );
    let (status, _, _) = server
        .patch_as(&alice, &member, json!({ "muted": false }))
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = server
        .post_as(&bob, &messages, json!({ "text": "thanks" }))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn discoverable_groups_are_listed_and_anyone_joins_them() {
    let server = TestServer::start().await;
    let (alice, _bob, _carol, dave) = people(&server).await;
    let (_, _, made) = server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "Open Book Club", "join_policy": "discoverable" }),
        )
        .await;
    let id = made["conversation"]["id"].as_i64().unwrap();
    server
        .post_as(
            &alice,
            "/api/groups",
            json!({ "title": "Closed book club" }),
        )
        .await;
    let (status, _, found) = server.get_as(&dave, "/api/groups?q=BOOK").await;
    assert_eq!(status, 200);
    assert_eq!(
        found["groups"],
        json!([{ "id": id, "title": "Open Book Club", "member_count": 1 }])
    );
    let (status, _, joined) = server
        .post_as(&dave, &format!("/api/groups/{id}/join"), json!({}))
        .await;
    assert_eq!(
        (status, joined["conversation"]["role"].as_str()),
        (200, Some("member"))
    );
    let (_, _, found) = server.get_as(&dave, "/api/groups").await;
    assert_eq!(found["groups"][0]["member_count"], 2);
}
