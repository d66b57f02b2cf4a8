//! What every response carries, and what no response that holds a secret
//! is: compressed.

use std::time::Duration;

use chat_core::{Rate, RateLimits};
use chat_test_support::{PASSWORD, TestServer, generous_limits};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_api_response_carries_nosniff_no_referrer_and_no_store() {
    let limits = RateLimits {
        login_per_username: Rate::new(3, Duration::from_secs(3600)),
        ..generous_limits()
    };
    let server = TestServer::builder().limits(limits).start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let bearer = alice.bearer();
    let signup = json!({ "email": "c@example.test", "username": "carol", "password": PASSWORD, "confirm_password": PASSWORD });
    let wrong = json!({ "username": "bob", "password": "wrong password" });
    let cases: Vec<(Method, &str, Option<serde_json::Value>, bool, u16)> = vec![
        (
            Method::POST,
            "/api/signup",
            Some(signup.clone()),
            false,
            201,
        ),
        (Method::POST, "/api/signup", Some(signup), false, 409),
        (Method::POST, "/api/login", Some(wrong.clone()), false, 401),
        (Method::GET, "/api/me", None, true, 200),
        (Method::GET, "/api/me", None, false, 401),
        (Method::GET, "/api/conversations", None, true, 200),
        (Method::GET, "/api/users?q=b", None, true, 200),
        (
            Method::POST,
            "/api/conversations/bob/messages",
            Some(json!({ "text": "hi" })),
            true,
            201,
        ),
        (
            Method::POST,
            "/api/conversations/bob/messages",
            Some(json!({ "text": "" })),
            true,
            400,
        ),
        (
            Method::GET,
            "/api/conversations/bob/messages",
            None,
            true,
            200,
        ),
        (
            Method::GET,
            "/api/conversations/nobody/messages",
            None,
            true,
            404,
        ),
        (Method::DELETE, "/api/me", None, true, 405),
        (
            Method::POST,
            "/api/login",
            Some(json!({ "password": "x".repeat(70_000) })),
            false,
            413,
        ),
        (Method::GET, "/api/nothing", None, false, 404),
        (Method::GET, "/healthz", None, false, 200),
        (Method::GET, "/readyz", None, false, 200),
        (Method::POST, "/api/login", Some(wrong.clone()), false, 401),
        (Method::POST, "/api/login", Some(wrong.clone()), false, 401),
        (Method::POST, "/api/login", Some(wrong), false, 429),
        (Method::POST, "/api/logout", Some(json!({})), true, 204),
    ];
    for (method, path, body, authenticated, status) in cases {
        let mut request = server.client.http.request(method.clone(), server.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if authenticated {
            request = request.header("authorization", &bearer);
        }
        let response = request.send().await.unwrap();
        let what = format!("{method} {path}");
        assert_eq!(response.status().as_u16(), status, "{what}");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert_eq!(headers["x-frame-options"], "DENY", "{what}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{what}: plain HTTP"
        );
    }
}

#[tokio::test]
async fn pages_and_api_responses_are_never_compressed() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    server.send(&alice, "bob", "a secret between us").await;
    let gzip = ("accept-encoding", "gzip, deflate, br");
    let cookie = ("cookie", alice.cookie.as_str());
    let bearer = alice.bearer();
    let auth = ("authorization", bearer.as_str());
    // Pages (the room page carries the CSRF token) and API answers (tokens,
    // messages) are sent as they are, so that a compression side channel
    // has nothing to read.
    let requests: [(&str, Vec<(&str, &str)>); 7] = [
        ("/login", vec![gzip]),
        ("/signup", vec![gzip]),
        ("/chat/", vec![gzip, cookie]),
        ("/chat/bob/", vec![gzip, cookie]),
        ("/api/me", vec![gzip, auth]),
        ("/api/conversations", vec![gzip, auth]),
        ("/api/conversations/bob/messages", vec![gzip, auth]),
    ];
    for (path, headers) in requests {
        let (status, headers, body) = server.get_text(path, &headers).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            headers.get("content-encoding").is_none(),
            "{path} compressed"
        );
        assert!(
            body.starts_with('<') || body.starts_with('{'),
            "{path}: {body}"
        );
    }
    let (status, headers, body) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": PASSWORD }),
            &[gzip],
        )
        .await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none());
    assert!(body["token"].is_string());
    // The same request header does get the script compressed: it reached the
    // server.
    let (_, _, page) = server.get_text("/login", &[]).await;
    let start = page.find("/assets/app-").unwrap();
    let script = &page[start..start + page[start..].find('"').unwrap()];
    let (status, headers, _) = server.get_text(script, &[gzip]).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "gzip");
}
