//! The server API: the host's back end, with a scoped API key, upserts
//! users and acts as one of them (`Chat-Act-As`, `Chat-Act-As-External`)
//! with that user's rights, and nothing more.

use chat_test_support::{TestServer, expect_frame};
use serde_json::{Value, json};

/// `POST`s `body` to `path` with the key, acting as `act_as` (header, value).
async fn call(
    server: &TestServer,
    key: &str,
    path: &str,
    act_as: &[(&str, &str)],
    body: Value,
) -> (u16, Value) {
    let bearer = format!("Bearer {key}");
    let mut headers = vec![("authorization", bearer.as_str())];
    headers.extend_from_slice(act_as);
    let (status, _, body) = server.post(path, body, &headers).await;
    (status, body)
}

#[tokio::test]
async fn a_users_key_upserts_the_hosts_users_idempotently() {
    let server = TestServer::start().await;
    let (_, users) = server.chat.create_api_key("users", "users").await.unwrap();
    let (_, feed) = server.chat.create_api_key("feed", "feed").await.unwrap();
    let upsert = |key: String, body: Value| {
        let server = &server;
        async move { call(server, &key, "/api/server/users", &[], body).await }
    };
    let key = users.expose().to_owned();
    let (status, made) = upsert(
        key.clone(),
        json!({"external_id": "crm-7", "username": "ada", "display_name": "Ada"}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["user"]["username"], "ada");
    let (status, again) = upsert(
        key.clone(),
        json!({"external_id": "crm-7", "display_name": "Countess"}),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["user"]["id"], made["user"]["id"]);
    assert_eq!(again["user"]["display_name"], "Countess");
    // A new user needs a username; one that is taken is refused.
    let (status, body) = upsert(key.clone(), json!({"external_id": "crm-8"})).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("username"))
    );
    let (status, body) = upsert(
        key.clone(),
        json!({"external_id": "crm-9", "username": "ADA"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("username_taken"))
    );
    // Another scope, no key, a revoked key: refused.
    let (status, _) = upsert(feed.expose().to_owned(), json!({"external_id": "x"})).await;
    assert_eq!(status, 403);
    let (status, _, _) = server
        .post("/api/server/users", json!({"external_id": "x"}), &[])
        .await;
    assert_eq!(status, 401);
    let listed = server.chat.api_keys().await.unwrap();
    server.chat.revoke_api_key(listed[0].id).await.unwrap();
    let (status, _) = upsert(key, json!({"external_id": "crm-7"})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_send_key_sends_as_a_user_with_that_users_rights_only() {
    let server = TestServer::start().await;
    let (_, send) = server.chat.create_api_key("send", "send").await.unwrap();
    let (_, groups) = server
        .chat
        .create_api_key("groups", "groups")
        .await
        .unwrap();
    let bob = server.user("bob").await;
    // A bot is a user the host brings, like any other.
    server
        .chat
        .upsert_user("bot-weather", "weather", Some("Weather"))
        .await
        .unwrap();
    let (mut bob_ws, _) = server.ws_ready(&bob, "").await;
    let as_bot = [("chat-act-as-external", "bot-weather")];
    let (status, sent) = call(
        &server,
        send.expose(),
        "/api/conversations/bob/messages",
        &as_bot,
        json!({"text": "Rain at noon."}),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["message"]["from"], "weather");
    let frame = expect_frame(&mut bob_ws, "message").await;
    assert_eq!(frame["message"]["text"], "Rain at noon.");
    assert_eq!(frame["message"]["from"], "weather");
    // By username too.
    let (status, _) = call(
        &server,
        send.expose(),
        "/api/conversations/bob/messages",
        &[("chat-act-as", "weather")],
        json!({"text": "Sun after."}),
    )
    .await;
    assert_eq!(status, 201);

    // Exactly one acting header, naming somebody.
    for act_as in [
        &[][..],
        &[
            ("chat-act-as", "weather"),
            ("chat-act-as-external", "bot-weather"),
        ][..],
        &[("chat-act-as", "nobody")][..],
        &[("chat-act-as-external", "nobody")][..],
    ] {
        let (status, body) = call(
            &server,
            send.expose(),
            "/api/conversations/bob/messages",
            act_as,
            json!({"text": "x"}),
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (400, Some("chat-act-as")),
            "{act_as:?}"
        );
    }
    // The send scope opens sends, not groups; the groups scope groups, not
    // sends; no key reads anyone's conversations or opens their socket.
    let (status, _) = call(
        &server,
        send.expose(),
        "/api/groups",
        &as_bot,
        json!({"title": "Forecasts", "members": []}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &server,
        groups.expose(),
        "/api/conversations/bob/messages",
        &as_bot,
        json!({"text": "x"}),
    )
    .await;
    assert_eq!(status, 403);
    let bearer = format!("Bearer {}", groups.expose());
    for path in [
        "/api/conversations",
        "/api/conversations/bob/messages",
        "/api/me",
    ] {
        let (status, _, _) = server
            .get(path, &[("authorization", &bearer), ("chat-act-as", "bob")])
            .await;
        assert_eq!(status, 403, "{path}");
    }
    let refused = server
        .ws_with("", &[("authorization", &bearer), ("chat-act-as", "bob")])
        .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401, "a key opens no WebSocket");
        }
        other => panic!("{:?}", other.map(|_| "opened")),
    }
    // A key that is not one is no credential, wherever it goes.
    let forged = format!("Bearer chat_key_{}", "A".repeat(43));
    let (status, _, _) = server
        .get(
            "/api/conversations",
            &[("authorization", &forged), ("chat-act-as", "bob")],
        )
        .await;
    assert_eq!(status, 401);

    // A groups key makes a group as its owner and adds to it.
    let (status, made) = call(
        &server,
        groups.expose(),
        "/api/groups",
        &as_bot,
        json!({"title": "Forecasts", "members": ["bob"]}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["conversation"]["id"].as_i64().unwrap();
    // ...with the owner's rights only: the bot is no member of another's
    // group.
    let (_, _, theirs) = server
        .post_as(
            &bob,
            "/api/groups",
            json!({"title": "Bob's", "members": []}),
        )
        .await;
    let theirs = theirs["conversation"]["id"].as_i64().unwrap();
    let (status, _) = call(
        &server,
        groups.expose(),
        &format!("/api/groups/{theirs}/members"),
        &as_bot,
        json!({"username": "weather"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, sent) = call(
        &server,
        send.expose(),
        &format!("/api/groups/{id}/messages"),
        &as_bot,
        json!({"text": "Forecast: fine."}),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
}
