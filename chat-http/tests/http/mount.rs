//! The chat mounted below a path, and users the host's own authenticator
//! vouches for.

use std::sync::Arc;

use chat_http::{Authenticator, AuthenticatorError, HostUser, HttpConfig};
use chat_test_support::{TestServer, expect_frame};
use hyper::HeaderMap;
use serde_json::json;

/// The host's users by an `x-host-user: id[:display name]` header (a
/// header no browser sends by itself); `down` when its session store is.
struct HeaderUsers;

#[async_trait::async_trait]
impl Authenticator for HeaderUsers {
    async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<HostUser>, AuthenticatorError> {
        let Some(value) = headers.get("x-host-user").and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        if value == "down" {
            return Err("the session store is down".into());
        }
        let (id, name) = value.split_once(':').unwrap_or((value, ""));
        let mut user = HostUser::new(format!("h-{id}")).username(id).explicit();
        if !name.is_empty() {
            user = user.display_name(name);
        }
        Ok(Some(user))
    }
}

fn config() -> HttpConfig {
    let mut config = HttpConfig::default();
    config.mount_path = "/chat".into();
    config.authenticator = Some(Arc::new(HeaderUsers));
    config
}

async fn server() -> TestServer {
    let mut server = TestServer::builder().http(config()).start().await;
    server.client.base = format!("{}/chat", server.client.base);
    server
}

#[tokio::test]
async fn the_authenticators_users_are_the_chats_users_by_the_hosts_id() {
    let server = server().await;
    let (status, _, me) = server.get("/api/me", &[("x-host-user", "alice")]).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["username"], "alice");
    // The display name follows the host's; the username stays.
    let (_, _, me) = server
        .get("/api/me", &[("x-host-user", "alice:Alice Liddell")])
        .await;
    assert_eq!(me["user"]["display_name"], "Alice Liddell");
    assert_eq!(me["user"]["username"], "alice");
    let account = server
        .chat
        .upsert_user("h-alice", "ignored", None)
        .await
        .unwrap();
    assert_eq!(account.display_name().unwrap().as_str(), "Alice Liddell");

    // Explicit credentials: changes need no Origin or CSRF token.
    server.get("/api/me", &[("x-host-user", "bob")]).await;
    let (status, _, sent) = server
        .post(
            "/api/conversations/bob/messages",
            json!({"text": "hi"}),
            &[("x-host-user", "alice")],
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let mut ws = server.ws_with("", &[("x-host-user", "bob")]).await.unwrap();
    expect_frame(&mut ws, "ready").await;

    // No host credentials: the chat's own session still works, and
    // nothing is a 401.
    let carol = server.user("carol").await;
    let (status, _, me) = server.get_as(&carol, "/api/me").await;
    assert_eq!(
        (status, me["user"]["username"].as_str()),
        (200, Some("carol"))
    );
    assert_eq!(server.get("/api/me", &[]).await.0, 401);
}

#[tokio::test]
async fn an_authenticator_that_cannot_tell_is_unavailable_not_a_refusal() {
    let server = server().await;
    let (status, _, body) = server.get("/api/me", &[("x-host-user", "down")]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    // A name the chat cannot take is the host's bug, named as such.
    let (status, _, body) = server.get("/api/me", &[("x-host-user", "no spaces")]).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("username"))
    );
}

#[tokio::test]
async fn mounted_below_a_path_everything_is_there_and_nothing_outside() {
    let server = server().await;
    let alice = server.user("alice").await;
    let root = server.base.trim_end_matches("/chat").to_owned();
    let outside = reqwest::get(format!("{root}/api/me")).await.unwrap();
    assert_eq!(outside.status(), 404);
    let outside = reqwest::get(format!("{root}/chatter")).await.unwrap();
    assert_eq!(outside.status(), 404);

    // Redirects and links stay below the mount path.
    let (status, headers, _) = server.get("/", &[]).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/chat/login")
    );
    let cookie = ("cookie", alice.cookie.as_str());
    let (status, _, page) = server.get_text("/chat/", &[cookie]).await;
    assert_eq!(status, 200);
    for link in [
        r#"href="/chat/chat/""#,
        r#"data-base="/chat""#,
        r#"data-login="/chat/login""#,
    ] {
        assert!(page.contains(link), "{link} missing");
    }
    let css = page
        .split('"')
        .find(|part| part.starts_with("/chat/assets/style-"))
        .expect("the style under /chat");
    let (status, _, _) = server.get_text(css.trim_start_matches("/chat"), &[]).await;
    assert_eq!(status, 200);

    // The device cookie goes to the login endpoint where it is.
    let (_, headers, _) = server.try_login("alice", chat_test_support::PASSWORD).await;
    let device = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("chat_device="))
        .unwrap();
    assert!(device.contains("Path=/chat/api/login;"), "{device}");

    // The WebSocket too.
    let (_ws, ready) = server.ws_ready(&alice, "").await;
    assert_eq!(ready["type"], "ready");
}

#[tokio::test]
async fn a_configured_login_page_is_where_strangers_go() {
    let mut config = HttpConfig::default();
    config.login_url = Some("https://id.example.com/login".into());
    let server = TestServer::builder().http(config).start().await;
    for path in ["/", "/chat/", "/groups/1/"] {
        let (status, headers, _) = server.get(path, &[]).await;
        assert_eq!(status, 303);
        assert_eq!(
            headers["location"], "https://id.example.com/login",
            "{path}"
        );
    }
}
