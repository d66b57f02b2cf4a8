//! HTTPS: the server over rustls with a self-signed certificate, secure
//! cookies, HSTS, and the plain-HTTP redirect.

use std::sync::Arc;

use chat_http::{ChatHttp, HttpConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends a raw HTTP/1.1 request and returns the whole response as text.
async fn raw<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(chat_test_support::WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn serves_https_with_secure_cookies_and_hsts_and_redirects_plain_http() {
    let key_pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(key_pair.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        key_pair.signing_key.serialize_der(),
    ));
    let acceptor = chat_http::tls_acceptor(vec![cert.clone()], key).unwrap();

    let store = chat_store_sqlite::SqliteStore::memory().await.unwrap();
    let chat = chat_core::Chat::builder(Arc::new(store))
        .hasher(Arc::new(
            chat_core::Argon2Hasher::with_params(8, 1, 1).unwrap(),
        ))
        .build();
    let mut config = HttpConfig::default();
    config.tls = true;
    let http = ChatHttp::new(chat, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(chat_http::serve_tls(
        listener,
        http,
        acceptor,
        std::future::pending(),
    ));
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain_port = plain.local_addr().unwrap().port();
    tokio::spawn(chat_http::redirect_to_https(
        plain,
        port,
        std::future::pending(),
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let connect = || async {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    };

    let page = raw(
        connect().await,
        "GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000")
    );

    let body = format!(
        r#"{{"email":"a@example.test","username":"alice","password":"{0}","confirm_password":"{0}"}}"#,
        chat_test_support::PASSWORD
    );
    let signup = format!(
        "POST /api/signup HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert!(
        raw(connect().await, &signup)
            .await
            .starts_with("HTTP/1.1 201")
    );
    let body = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        chat_test_support::PASSWORD
    );
    let login = format!(
        "POST /api/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = raw(connect().await, &login).await;
    let cookie = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(cookie.contains("__Host-chat_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/")
    );

    let plain = TcpStream::connect(("127.0.0.1", plain_port)).await.unwrap();
    let redirect = raw(
        plain,
        "GET /chat/bob/?search=x HTTP/1.1\r\nHost: localhost:8080\r\nConnection: close\r\n\r\n",
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
