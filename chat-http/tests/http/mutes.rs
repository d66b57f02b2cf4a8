//! `/api/mutes`: a member mutes a conversation for themselves, until a
//! time or until they unmute it; nobody else can, and nobody else's
//! change.

use chat_test_support::TestServer;
use serde_json::json;

#[tokio::test]
async fn members_mute_and_unmute_their_conversations() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let sent = server.send(&alice, "bob", "hi").await;
    let id = sent["conversation_id"].as_i64().unwrap();
    let path = format!("/api/mutes/{id}");
    let bearer = alice.bearer();
    let put = |who: &chat_test_support::Login, body: serde_json::Value| {
        let (who, path, server) = (who.clone(), path.clone(), &server);
        async move { server.put_as(&who, &path, body).await }
    };
    let (status, _, body) = put(&alice, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mute"], json!({"conversation_id": id, "until": null}));
    let (status, _, body) = put(&alice, json!({"until": "2100-01-01T00:00:00Z"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mute"]["until"], "2100-01-01T00:00:00Z");
    let (_, _, listed) = server.get_as(&alice, "/api/mutes").await;
    assert_eq!(listed["mutes"], json!([body["mute"]]));
    let (_, _, theirs) = server.get_as(&bob, "/api/mutes").await;
    assert_eq!(theirs["mutes"], json!([]));

    // Bad input and strangers.
    for (until, field) in [("yesterday", "until"), ("2000-01-01T00:00:00Z", "until")] {
        let (status, _, body) = put(&alice, json!({ "until": until })).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some(field))
        );
    }
    let (status, _, _) = put(&carol, json!({})).await;
    assert_eq!(status, 404, "not a member");
    for missing in ["/api/mutes/999999", "/api/mutes/0", "/api/mutes/x"] {
        let (status, _, _) = server
            .request(
                reqwest::Method::PUT,
                missing,
                Some(json!({})),
                &[("authorization", &bearer)],
            )
            .await;
        assert_eq!(status, 404, "{missing}");
    }

    // Unmuted: gone, and unmuting again is no error.
    for _ in 0..2 {
        let (status, _, _) = server.delete_as(&alice, &path).await;
        assert_eq!(status, 204);
    }
    let (_, _, listed) = server.get_as(&alice, "/api/mutes").await;
    assert_eq!(listed["mutes"], json!([]));
    // Unmuting touches the caller's own mutes only: the same answer for
    // anyone, for any id.
    let (status, _, _) = server.delete_as(&carol, &path).await;
    assert_eq!(status, 204);
}
