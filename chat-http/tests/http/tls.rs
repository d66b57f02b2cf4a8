//! HTTPS: the server over rustls with a self-signed certificate, secure
//! cookies, HSTS, and the plain-HTTP redirect; the plain-HTTP cookie.

use std::sync::Arc;

use chat_http::{ChatHttp, HttpConfig};
use chat_test_support::client::cookie_attributes;
use chat_test_support::tls::{SelfSigned, json_request, signup_request};
use chat_test_support::{PASSWORD, TestServer, raw};
use tokio::net::TcpListener;

#[tokio::test]
async fn serves_https_with_secure_cookies_and_hsts_and_redirects_plain_http() {
    let certificate = SelfSigned::new();
    let acceptor =
        chat_http::tls_acceptor(vec![certificate.cert.clone()], certificate.key.clone_key())
            .unwrap();
    let store = chat_store_sqlite::SqliteStore::memory().await.unwrap();
    let chat = chat_core::Chat::builder(Arc::new(store))
        .hasher(Arc::new(
            chat_core::Argon2Hasher::with_params(8, 1, 1).unwrap(),
        ))
        .build();
    let mut config = HttpConfig::default();
    config.tls = true;
    let http = ChatHttp::new(chat, config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(chat_http::serve_tls(
        listener,
        http,
        acceptor,
        std::future::pending(),
    ));
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_address = plain.local_addr().unwrap().to_string();
    tokio::spawn(chat_http::redirect_to_https(
        plain,
        port,
        std::future::pending(),
    ));

    let page = certificate
        .raw(
            port,
            "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000")
    );

    let signup = certificate.raw(port, &signup_request("alice")).await;
    assert!(signup.starts_with("HTTP/1.1 201"), "{signup}");
    let body = format!(r#"{{"username":"alice","password":"{PASSWORD}"}}"#);
    let login = certificate
        .raw(port, &json_request("POST", "/api/login", &body))
        .await;
    let cookie = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:") && l.contains("chat_session"))
        .expect("a session cookie");
    let device = login
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:") && l.contains("chat_device"))
        .expect("a device cookie");
    assert_eq!(
        cookie_attributes(device),
        [
            "HttpOnly",
            "Max-Age",
            "Path=/api/login",
            "SameSite=Strict",
            "Secure",
            "__Secure-chat_device"
        ]
    );
    assert_eq!(
        cookie_attributes(cookie),
        [
            "HttpOnly",
            "Max-Age",
            "Path=/",
            "SameSite=Lax",
            "Secure",
            "__Host-chat_session"
        ]
    );

    let redirect = raw(
        &plain_address,
        b"GET /chat/bob/?search=x HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(redirect.starts_with("HTTP/1.1 308"), "{redirect}");
    assert!(
        redirect.contains(&format!(
            "location: https://localhost:{port}/chat/bob/?search=x"
        )),
        "{redirect}"
    );
}

#[tokio::test]
async fn on_plain_http_the_session_cookie_is_http_only_and_same_site_but_not_secure() {
    let server = TestServer::start().await;
    server.signup("alice").await;
    let (status, headers, _) = server.try_login("alice", PASSWORD).await;
    assert_eq!(status, 200);
    let cookies: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let cookie = cookies.iter().find(|c| c.contains("chat_session")).unwrap();
    assert_eq!(
        cookie_attributes(cookie),
        [
            "HttpOnly",
            "Max-Age",
            "Path=/",
            "SameSite=Lax",
            "chat_session"
        ]
    );
    let device = cookies.iter().find(|c| c.contains("chat_device")).unwrap();
    assert_eq!(
        cookie_attributes(device),
        [
            "HttpOnly",
            "Max-Age",
            "Path=/api/login",
            "SameSite=Strict",
            "chat_device"
        ]
    );
    assert!(!headers.contains_key("strict-transport-security"));
}
