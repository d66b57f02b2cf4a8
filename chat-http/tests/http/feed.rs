//! `GET /api/feed`: every change of the chat after a cursor, in commit
//! order, shaped like the WebSocket's frames, for a key with the `feed`
//! scope only.

use chat_test_support::TestServer;
use serde_json::{Value, json};

async fn read(server: &TestServer, key: &str, query: &str) -> (u16, Value) {
    let bearer = format!("Bearer {key}");
    let (status, _, body) = server
        .get(&format!("/api/feed{query}"), &[("authorization", &bearer)])
        .await;
    (status, body)
}

#[tokio::test]
async fn the_feed_pages_every_change_in_order_for_a_feed_key_only() {
    let server = TestServer::start().await;
    let (_, feed_key) = server.chat.create_api_key("feed", "feed").await.unwrap();
    let (_, send_key) = server.chat.create_api_key("send", "send").await.unwrap();
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    server.send(&alice, "bob", "one").await;
    server.send(&bob, "alice", "two").await;
    let group = server.make_group(&alice, "Team", &["bob"]).await;
    let (_, _, sent) = server
        .post_as(
            &bob,
            &format!("/api/groups/{group}/messages"),
            json!({ "text": "three" }),
        )
        .await;
    server
        .post_as(
            &alice,
            &format!("/api/groups/{group}/read"),
            json!({ "up_to": sent["message"]["id"] }),
        )
        .await;
    // Paged by two, from the start.
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let (status, page) = read(&server, feed_key.expose(), &query).await;
        assert_eq!(status, 200, "{page}");
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 2);
        for event in events {
            seen.push(match event["type"].as_str() {
                Some("message") => {
                    format!("message {}", event["message"]["text"].as_str().unwrap())
                }
                Some("read") => format!(
                    "read {} {}",
                    event["by"].as_str().unwrap(),
                    event["conversation_id"]
                ),
                other => panic!("{other:?}"),
            });
            assert!(event["cursor"].is_string());
        }
        query = format!("?limit=2&cursor={}", page["cursor"].as_str().unwrap());
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "message one".to_owned(),
            "message two".to_owned(),
            "message alice created the group \"Team\"".to_owned(),
            "message alice added bob".to_owned(),
            "message three".to_owned(),
            format!("read alice {group}"),
        ]
    );
    // The key's scope, the credential and the cursor are checked.
    let (status, body) = read(&server, send_key.expose(), "").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = read(&server, &alice.token, "").await;
    assert_eq!(status, 401);
    let (status, _, _) = server.get("/api/feed", &[("cookie", &alice.cookie)]).await;
    assert_eq!(status, 401, "a session cookie is no key");
    let (status, body) = read(&server, feed_key.expose(), "?cursor=nonsense").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("cursor"))
    );
    let (status, body) = read(&server, feed_key.expose(), "?limit=0").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("limit"))
    );
}
