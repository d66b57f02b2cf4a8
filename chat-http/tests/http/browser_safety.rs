//! What protects people in a browser: CSRF and Origin rules, escaping, and
//! the security headers of every page.

use chat_test_support::TestServer;
use serde_json::json;

const HOSTILE: [&str; 5] = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "\u{202e}evil.exe",
];

#[tokio::test]
async fn hostile_messages_render_as_text() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    for text in HOSTILE {
        server.send(&alice, "bob", text).await;
    }
    let (status, headers, html) = server
        .get_text("/chat/alice/", &[("cookie", &bob.cookie)])
        .await;
    assert_eq!(status, 200);
    for raw in [
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "<a href=\"javascript",
    ] {
        assert!(!html.contains(raw), "{raw} reached the page unescaped");
    }
    // The templates escape with numeric entities.
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;"));
    assert!(
        html.contains("\u{202e}evil.exe"),
        "bidi characters are kept as text"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP lacks {directive}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers.contains_key("referrer-policy"));
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert!(
        !headers
            .keys()
            .any(|name| name.as_str().starts_with("access-control-")),
        "no CORS"
    );
    // No inline script at all: every <script> is a module with a src.
    assert!(
        html.matches("<script").count() == html.matches("<script type=\"module\" src=").count()
    );

    // JSON carries the text exactly, as JSON, never as HTML.
    let (_, headers, body) = server
        .get(
            "/api/conversations/alice/messages",
            &[("authorization", &bob.bearer())],
        )
        .await;
    assert_eq!(headers["content-type"], "application/json");
    let texts: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, HOSTILE);
}

#[tokio::test]
async fn cookie_requests_need_the_csrf_token_and_bearer_requests_do_not() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let path = "/api/conversations/bob/messages";
    let body = json!({ "text": "hi" });
    let (status, _, error) = server
        .post(path, body.clone(), &[("cookie", &alice.cookie)])
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("csrf"))
    );
    let (status, _, _) = server
        .post(
            path,
            body.clone(),
            &[("cookie", &alice.cookie), ("x-csrf-token", "wrong")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = server
        .post(
            path,
            body.clone(),
            &[("cookie", &alice.cookie), ("x-csrf-token", &alice.csrf)],
        )
        .await;
    assert_eq!(status, 201);
    let (status, _, _) = server
        .post(path, body.clone(), &[("authorization", &alice.bearer())])
        .await;
    assert_eq!(status, 201);
    let (status, _, _) = server
        .post("/api/logout", json!({}), &[("cookie", &alice.cookie)])
        .await;
    assert_eq!(status, 403, "logout by cookie needs the token too");
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let own = format!("http://{}", server.host);
    let path = "/api/conversations/bob/messages";
    let auth = [
        ("cookie", alice.cookie.as_str()),
        ("x-csrf-token", alice.csrf.as_str()),
    ];
    for origin in [
        "http://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let mut headers = auth.to_vec();
        headers.push(("origin", origin));
        let (status, _, body) = server.post(path, json!({ "text": "hi" }), &headers).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{origin}"
        );
    }
    let mut headers = auth.to_vec();
    headers.push(("sec-fetch-site", "cross-site"));
    let (status, _, _) = server.post(path, json!({ "text": "hi" }), &headers).await;
    assert_eq!(status, 403);
    let (status, _, _) = server
        .post(
            "/api/login",
            json!({ "username": "alice", "password": chat_test_support::PASSWORD }),
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(status, 403, "no login CSRF");
    let mut headers = auth.to_vec();
    headers.push(("origin", &own));
    let (status, _, _) = server.post(path, json!({ "text": "hi" }), &headers).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn pages_and_assets() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    server.signup("bob").await;
    let (status, headers, _) = server.get_text("/", &[]).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/login")
    );
    let (status, headers, _) = server.get_text("/", &[("cookie", &alice.cookie)]).await;
    assert_eq!(
        (status, headers["location"].to_str().unwrap()),
        (303, "/chat/")
    );
    // Forms that carry a password (or a message) are posted: a submit
    // before the script runs never puts them in a URL.
    for page in ["/login", "/signup"] {
        let (status, _, html) = server.get_text(page, &[]).await;
        assert_eq!(status, 200);
        let form = &html[html.find("<form").unwrap()..];
        assert!(
            form[..form.find('>').unwrap()].contains(r#"method="post""#),
            "{page}"
        );
    }
    let (_, _, room) = server
        .get_text("/chat/bob/", &[("cookie", &alice.cookie)])
        .await;
    let composer = &room[room.find(r#"<form id="send-form""#).unwrap()..];
    assert!(composer[..composer.find('>').unwrap()].contains(r#"method="post""#));
    let (status, _, html) = server
        .get_text("/chat/nobody/", &[("cookie", &alice.cookie)])
        .await;
    assert_eq!(status, 404);
    assert!(html.contains("no such user"));

    // The script is fingerprinted and cached for good.
    let (_, _, html) = server.get_text("/login", &[]).await;
    let start = html.find("/assets/app-").unwrap();
    let path = &html[start..start + html[start..].find('"').unwrap()];
    let (status, headers, js) = server.get_text(path, &[]).await;
    assert_eq!(status, 200);
    assert!(js.contains("textContent"));
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, _) = server.get_text(path, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);

    // Compressed for clients that take gzip, as a representation of its own.
    let response = reqwest::Client::new()
        .get(server.url(path))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["vary"], "Accept-Encoding");
    let gzip_etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gzip_etag, etag);
    let compressed = response.bytes().await.unwrap();
    assert!(
        compressed.len() < js.len() / 2,
        "{} of {}",
        compressed.len(),
        js.len()
    );
    let mut unpacked = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, js);
    let (status, _, _) = server
        .get_text(
            path,
            &[("if-none-match", &gzip_etag), ("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(status, 304);
    let (_, headers, _) = server
        .get_text(path, &[("accept-encoding", "gzip;q=0")])
        .await;
    assert!(headers.get("content-encoding").is_none());

    let (status, _, _) = server.get_text("/assets/app-0000.js", &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_third_user_reaches_nothing_of_a_conversation() {
    let server = TestServer::start().await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let mut carol_ws = server.ws(&carol, "?since=0").await;
    chat_test_support::expect_frame(&mut carol_ws, "ready").await;
    server.send(&alice, "bob", "secret").await;
    server.send(&bob, "alice", "secret reply").await;
    let auth = carol.bearer();
    for path in [
        "/api/conversations/alice/messages",
        "/api/conversations/bob/messages",
        "/api/conversations/alice/messages?search=secret",
    ] {
        let (status, _, body) = server.get(path, &[("authorization", &auth)]).await;
        assert_eq!(status, 200);
        assert_eq!(body["messages"], json!([]), "{path}");
    }
    let (_, _, list) = server
        .get("/api/conversations", &[("authorization", &auth)])
        .await;
    assert_eq!(list["conversations"], json!([]));
    let (_, _, html) = server
        .get_text("/chat/alice/?search=secret", &[("cookie", &carol.cookie)])
        .await;
    assert!(!html.contains("secret reply"));
    chat_test_support::send_frame(
        &mut carol_ws,
        json!({ "type": "read", "with": "alice", "up_to": 1 }),
    )
    .await;
    assert_eq!(
        chat_test_support::expect_frame(&mut carol_ws, "error").await["code"],
        "not_found"
    );
    // Carol's socket carried nothing of theirs: her next frame is her own.
    server.send(&bob, "carol", "for carol").await;
    let frame = chat_test_support::expect_frame(&mut carol_ws, "message").await;
    assert_eq!(frame["message"]["text"], "for carol");
}
