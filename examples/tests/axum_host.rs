//! The axum example: an application with its own login mounts the chat
//! under `/chat`, and its users chat there, over real HTTP and WebSocket,
//! without ever holding a chat password.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_test_support::client::{expect_frame, next_frame};
use chat_test_support::process::ServerProcess;
use chat_test_support::{Client, WAIT};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_axum-host");

/// Logs `name` in with the application's own form; its session cookie.
async fn app_login(app: &Client, name: &str) -> String {
    let response = app
        .http
        .post(app.url("/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={name}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303, "the login redirects");
    assert_eq!(response.headers()["location"], "/chat/");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_applications_users_chat_under_its_mount_path() {
    let server = ServerProcess::spawn(BINARY, None, &["127.0.0.1:0"]).await;
    let app = server.client.clone();
    let mut chat = app.clone();
    chat.base = format!("{}/chat", app.base);
    let origin = app.base.clone();

    // Strangers: no session, the application's login page, no passwords.
    assert_eq!(chat.get("/api/me", &[]).await.0, 401);
    let (status, headers, _) = chat.get("/chat/", &[]).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/"));
    let (status, _, body) = chat
        .post(
            "/api/login",
            json!({"username": "alice", "password": "x"}),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("password_accounts_off"))
    );

    let alice = app_login(&app, "alice").await;
    let bob = app_login(&app, "bob").await;
    let (status, _, me) = chat.get("/api/me", &[("cookie", &alice)]).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["username"], "alice");

    // The page links to its assets, its API and its WebSocket under /chat.
    let (status, _, page) = chat.get_text("/chat/", &[("cookie", &alice)]).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"data-base="/chat""#), "{page}");
    assert!(page.contains(r#"data-login="/""#), "{page}");
    let script = page
        .split('"')
        .find(|part| part.starts_with("/chat/assets/app-"))
        .expect("the page loads its script under /chat");
    let (status, _, js) = app.get_text(script, &[]).await;
    assert_eq!(status, 200);
    assert!(
        js.contains("from \"./api-"),
        "modules import each other relatively"
    );

    // Bob listens on the WebSocket; alice writes through the API.
    let mut bob_ws = chat
        .ws_with("", &[("cookie", &bob), ("origin", &origin)])
        .await
        .unwrap();
    expect_frame(&mut bob_ws, "ready").await;
    let send = |headers: Vec<(&'static str, String)>| {
        let chat = chat.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            chat.post(
                "/api/conversations/bob/messages",
                json!({"text": "hi bob"}),
                &headers,
            )
            .await
        }
    };
    // The application's cookie is ambient: a change without the site's
    // Origin is refused as a forged cross-site request would be.
    let (status, _, body) = send(vec![("cookie", alice.clone())]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("csrf"))
    );
    let foreign = send(vec![
        ("cookie", alice.clone()),
        ("origin", "http://evil.example".into()),
    ]);
    assert_eq!(foreign.await.0, 403);
    let (status, _, sent) = send(vec![("cookie", alice.clone()), ("origin", origin.clone())]).await;
    assert_eq!(status, 201, "{sent}");
    let frame = tokio::time::timeout(WAIT, async {
        loop {
            let frame = next_frame(&mut bob_ws).await;
            if frame["type"] == "message" {
                return frame;
            }
        }
    })
    .await
    .expect("bob hears alice");
    assert_eq!(frame["message"]["text"], "hi bob");
    assert_eq!(frame["message"]["from"], "alice");

    // The application's own routes are untouched by the chat's.
    assert_eq!(app.get("/chatter", &[]).await.0, 404);
    let (status, _, home) = app.get_text("/", &[("cookie", &bob)]).await;
    assert_eq!(status, 200);
    assert!(home.contains("You are logged in"));
}
