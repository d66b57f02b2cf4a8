//! The JSON API over real HTTP: the seed flows and every error code.

use std::time::Duration;

use chat_core::{Rate, RateLimits};
use chat_test_support::{PASSWORD, TestServer, generous_limits};
use serde_json::json;

#[tokio::test]
async fn signup_login_chat_search_logout() {
    let server = TestServer::start().await;
    server.signup("alice").await;
    let bob = server.user("bob").await;
    let alice = server.login("alice").await;

    let (status, _, me) = server
        .get("/api/me", &[("authorization", &alice.bearer())])
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["user"]["email"], "alice@example.test");

    for text in ["Lunch at noon?", "or at one", "NOON it is"] {
        server.send(&alice, "bob", text).await;
    }
    let (status, _, page) = server
        .get(
            "/api/conversations/alice/messages?search=noon",
            &[("authorization", &bob.bearer())],
        )
        .await;
    assert_eq!(status, 200);
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Lunch at noon?", "NOON it is"]);
    let first = &page["messages"][0];
    assert_eq!(first["from"], "alice");
    assert_eq!(first["to"], "bob");
    assert!(first["sent_at"].as_str().unwrap().ends_with('Z'));
    assert!(first["conversation_id"].as_i64().unwrap() > 0);

    // Other users never include the caller; emails are private.
    let (_, _, users) = server
        .get("/api/users?q=", &[("authorization", &bob.bearer())])
        .await;
    assert_eq!(users["users"], json!([{ "id": 1, "username": "alice" }]));
    let (_, _, list) = server
        .get("/api/conversations", &[("authorization", &bob.bearer())])
        .await;
    assert_eq!(list["conversations"][0]["user"]["username"], "alice");
    assert_eq!(list["conversations"][0]["unread"], 3);
    assert_eq!(
        list["conversations"][0]["last_message"]["text"],
        "NOON it is"
    );

    // The seed's room page, server-rendered and filtered.
    let (status, _, html) = server
        .get_text("/chat/alice/?search=noon", &[("cookie", &bob.cookie)])
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Lunch at noon?") && html.contains("NOON it is"));
    assert!(!html.contains("or at one"));
    assert!(html.contains("value=\"noon\""));

    let (status, headers, _) = server
        .post(
            "/api/logout",
            json!({}),
            &[("cookie", &alice.cookie), ("x-csrf-token", &alice.csrf)],
        )
        .await;
    assert_eq!(status, 204);
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    for header in [
        ("authorization", alice.bearer()),
        ("cookie", alice.cookie.clone()),
    ] {
        let (status, _, body) = server.get("/api/me", &[(header.0, &header.1)]).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthenticated");
    }
    let (status, headers, _) = server
        .get_text("/chat/", &[("cookie", &alice.cookie)])
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/login");
}

/// Expected status, code and field, then what the server answered.
type Case = (
    u16,
    &'static str,
    Option<&'static str>,
    (u16, serde_json::Value),
);

#[tokio::test]
async fn every_error_has_its_code_and_status() {
    let limits = RateLimits {
        login_per_username: Rate::new(3, Duration::from_secs(3600)),
        ..generous_limits()
    };
    let server = TestServer::builder().limits(limits).start().await;
    let alice = server.user("alice").await;
    let auth = alice.bearer();
    let auth = [("authorization", auth.as_str())];

    let cases: Vec<Case> = vec![
        (400, "invalid_input", Some("username"), {
            let (s, _, b) = server.post("/api/signup", json!({ "email": "x@example.test", "username": "a", "password": PASSWORD, "confirm_password": PASSWORD }), &[]).await;
            (s, b)
        }),
        (400, "invalid_input", Some("email"), {
            let (s, _, b) = server
                .post("/api/signup", json!({ "username": "someone" }), &[])
                .await;
            (s, b)
        }),
        (409, "username_taken", Some("username"), {
            let (s, _, b) = server.post("/api/signup", json!({ "email": "new@example.test", "username": "ALICE", "password": PASSWORD, "confirm_password": PASSWORD }), &[]).await;
            (s, b)
        }),
        (409, "username_taken", Some("username"), {
            // Reads like "alice": taken too.
            let (s, _, b) = server.post("/api/signup", json!({ "email": "new@example.test", "username": "a1ice", "password": PASSWORD, "confirm_password": PASSWORD }), &[]).await;
            (s, b)
        }),
        (409, "email_taken", Some("email"), {
            let (s, _, b) = server.post("/api/signup", json!({ "email": "Alice@Example.test", "username": "alice2", "password": PASSWORD, "confirm_password": PASSWORD }), &[]).await;
            (s, b)
        }),
        (401, "invalid_credentials", None, {
            let (s, _, b) = server
                .post(
                    "/api/login",
                    json!({ "username": "alice", "password": "wrong password" }),
                    &[],
                )
                .await;
            (s, b)
        }),
        (401, "unauthenticated", None, {
            let (s, _, b) = server.get("/api/me", &[]).await;
            (s, b)
        }),
        (404, "not_found", None, {
            let (s, _, b) = server
                .get("/api/conversations/nobody/messages", &auth)
                .await;
            (s, b)
        }),
        (400, "invalid_input", Some("limit"), {
            let (s, _, b) = server.get("/api/conversations?limit=500", &auth).await;
            (s, b)
        }),
        (400, "invalid_input", Some("before"), {
            let (s, _, b) = server
                .get("/api/conversations/alice/messages?before=abc", &auth)
                .await;
            (s, b)
        }),
        (400, "invalid_input", Some("text"), {
            let (s, _, b) = server
                .post(
                    "/api/conversations/alice2/messages",
                    json!({ "text": "" }),
                    &auth,
                )
                .await;
            (s, b)
        }),
        (404, "not_found", None, {
            let (s, _, b) = server.get("/no/such/page", &[]).await;
            (s, b)
        }),
    ];
    for (status, code, field, (got_status, body)) in cases {
        assert_eq!(got_status, status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["field"].as_str(), field, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }

    // 413: the body is refused before it is read.
    let big = "x".repeat(100 * 1024);
    let (status, _, body) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": big }),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large"))
    );

    // 415: state changes need JSON.
    let response = server
        .client
        .http
        .post(server.url("/api/login"))
        .body("username=alice")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_media_type");

    // 400: malformed JSON.
    let response = server
        .client
        .http
        .post(server.url("/api/login"))
        .body("{nope")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // 405 with Allow.
    let response = server
        .client
        .http
        .get(server.url("/api/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let response = server
        .client
        .http
        .delete(server.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);

    // 429 with Retry-After, after the per-username budget of three attempts
    // (the first login and the wrong password above spent two).
    let (status, _, _) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": PASSWORD }),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let (status, headers, body) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": PASSWORD }),
            &[],
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn the_same_client_id_stores_one_message() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let auth = [("authorization", alice.bearer())];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = json!({ "text": "once", "client_id": "c-1" });
    let (first, _, one) = server
        .post("/api/conversations/bob/messages", body.clone(), &auth)
        .await;
    let (second, _, two) = server
        .post("/api/conversations/bob/messages", body, &auth)
        .await;
    assert_eq!((first, second), (201, 200));
    assert_eq!(one["message"]["id"], two["message"]["id"]);
    assert_eq!(one["message"]["client_id"], "c-1");
    let (_, _, history) = server
        .get(
            "/api/conversations/alice/messages",
            &[("authorization", &bob.bearer())],
        )
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn history_pages_by_before_and_after() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(
            server.send(&alice, "bob", &format!("m{n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let auth = alice.bearer();
    let page = |query: String| {
        let server = &server;
        let auth = auth.clone();
        async move {
            let (status, _, body) = server
                .get(
                    &format!("/api/conversations/bob/messages?{query}"),
                    &[("authorization", &auth)],
                )
                .await;
            assert_eq!(status, 200, "{body}");
            let got: Vec<i64> = body["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap())
                .collect();
            (got, body["has_more"].as_bool().unwrap())
        }
    };
    assert_eq!(page("limit=3".into()).await, (ids[4..].to_vec(), true));
    assert_eq!(
        page(format!("limit=3&before={}", ids[4])).await,
        (ids[1..4].to_vec(), true)
    );
    assert_eq!(
        page(format!("limit=3&before={}", ids[1])).await,
        (ids[..1].to_vec(), false)
    );
    assert_eq!(
        page(format!("limit=3&after={}", ids[0])).await,
        (ids[1..4].to_vec(), true)
    );
    assert_eq!(
        page(format!("limit=3&after={}", ids[3])).await,
        (ids[4..].to_vec(), false)
    );
}

#[tokio::test]
async fn tokens_are_never_taken_from_the_url() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let (status, _, _) = server
        .get(&format!("/api/me?token={}", alice.token), &[])
        .await;
    assert_eq!(status, 401);
    let refused = server
        .ws_with(&format!("?token={}", alice.token), &[])
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    let (status, _, body) = server.get("/healthz", &[]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, _, body) = server.get("/readyz", &[]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
}

#[tokio::test]
async fn a_dead_database_is_503_unavailable_over_http_and_an_error_frame_over_websocket() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let mut ws = server.ws(&alice, "").await;
    chat_test_support::expect_frame(&mut ws, "ready").await;
    server.store.close().await;
    let (status, _, body) = server
        .get("/api/conversations", &[("authorization", &alice.bearer())])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert_eq!(body["error"]["message"], "service temporarily unavailable");
    let (status, _, _) = server.get("/readyz", &[]).await;
    assert_eq!(status, 503);
    chat_test_support::send_frame(
        &mut ws,
        json!({ "type": "send", "to": "bob", "text": "hi", "client_id": "x" }),
    )
    .await;
    let error = chat_test_support::expect_frame(&mut ws, "error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_id"].as_str()),
        (Some("unavailable"), Some("x"))
    );
}

#[tokio::test]
async fn conversation_pages_follow_the_last_message_of_the_previous_page() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    for peer in ["bob", "carol", "dave"] {
        server.signup(peer).await;
        server.send(&alice, peer, &format!("hi {peer}")).await;
    }
    let peers = |page: &serde_json::Value| -> Vec<String> {
        page["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["user"]["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, _, first) = server.get_as(&alice, "/api/conversations?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(
        (peers(&first), first["has_more"].as_bool()),
        (vec!["dave".to_owned(), "carol".to_owned()], Some(true))
    );
    let cursor = first["conversations"][1]["last_message"]["id"]
        .as_i64()
        .unwrap();
    let (_, _, next) = server
        .get_as(
            &alice,
            &format!("/api/conversations?limit=2&before={cursor}"),
        )
        .await;
    assert_eq!(
        (peers(&next), next["has_more"].as_bool()),
        (vec!["bob".to_owned()], Some(false))
    );
    let (status, _, body) = server.get_as(&alice, "/api/conversations?before=x").await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("before"))
    );
}
