//! Tokens a host application signs for its users: each algorithm
//! accepted, every forgery refused with a typed 401, users created and
//! updated by the host's id, on HTTP and on the WebSocket.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_http::{HttpConfig, TokenKeys};
use chat_test_support::{TestServer, expect_frame, send_frame};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The HS256 secret of the tests (kid "hs").
pub(crate) const SECRET: &[u8] = b"a test secret of at least thirty-two bytes";
const ISSUER: &str = "https://host.test/";
const AUDIENCE: &str = "chat";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tokens")
        .join(name)
}

/// The keys of the tests: an HS256 secret and one public key of each kind,
/// named by their files ("rsa", "ec", "ed").
pub(crate) fn keys() -> TokenKeys {
    TokenKeys::new()
        .with_secret(Some("hs"), SECRET)
        .unwrap()
        .with_key_file(&fixture("rsa.pem"))
        .unwrap()
        .with_key_file(&fixture("ec.pem"))
        .unwrap()
        .with_key_file(&fixture("ed.pem"))
        .unwrap()
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

/// A server that takes the tests' tokens (and passwords).
pub(crate) async fn server() -> TestServer {
    server_with(keys()).await
}

async fn server_with(keys: TokenKeys) -> TestServer {
    let mut config = HttpConfig::default();
    config.tokens = Some(Arc::new(keys));
    TestServer::builder().http(config).start().await
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims for `sub`, valid for five minutes.
pub(crate) fn claims(sub: &str, username: &str) -> Value {
    json!({
        "sub": sub,
        "preferred_username": username,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 300,
    })
}

/// `claims` signed with `algorithm`, under the key of that kind.
pub(crate) fn sign(algorithm: Algorithm, claims: &Value) -> String {
    let (kid, key) = match algorithm {
        Algorithm::HS256 => ("hs", EncodingKey::from_secret(SECRET)),
        Algorithm::RS256 => (
            "rsa",
            EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa-private.pem")).unwrap()).unwrap(),
        ),
        Algorithm::ES256 => (
            "ec",
            EncodingKey::from_ec_pem(&std::fs::read(fixture("ec-private.pem")).unwrap()).unwrap(),
        ),
        Algorithm::EdDSA => (
            "ed",
            EncodingKey::from_ed_pem(&std::fs::read(fixture("ed-private.pem")).unwrap()).unwrap(),
        ),
        other => panic!("no test key for {other:?}"),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn me(server: &TestServer, token: &str) -> (u16, Value) {
    let (status, _, body) = server
        .get("/api/me", &[("authorization", &bearer(token))])
        .await;
    (status, body)
}

#[tokio::test]
async fn every_algorithm_signs_in_the_same_user_by_the_hosts_id() {
    let server = server().await;
    let mut ids = Vec::new();
    for algorithm in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let mut claims = claims("host|ada", "ada");
        claims["name"] = json!(format!("Ada ({algorithm:?})"));
        let (status, body) = me(&server, &sign(algorithm, &claims)).await;
        assert_eq!(status, 200, "{algorithm:?}: {body}");
        assert_eq!(body["user"]["username"], "ada");
        // The display name follows the newest token; there is no email.
        assert_eq!(body["user"]["display_name"], format!("Ada ({algorithm:?})"));
        assert!(body["user"].get("email").is_none(), "{body}");
        ids.push(body["user"]["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    // A later username in the token does not rename anyone.
    let (_, body) = me(
        &server,
        &sign(Algorithm::HS256, &claims("host|ada", "ada2")),
    )
    .await;
    assert_eq!(body["user"]["username"], "ada");
}

#[tokio::test]
async fn a_token_user_chats_with_password_users_over_http_and_websocket() {
    let server = server().await;
    let alice = server.user("alice").await;
    let token = sign(Algorithm::ES256, &claims("host|grace", "grace"));
    let auth = bearer(&token);
    let mut ws = server
        .ws_with("", &[("authorization", &auth)])
        .await
        .expect("the upgrade is taken with a token");
    let ready = expect_frame(&mut ws, "ready").await;
    assert_eq!(ready["user"]["username"], "grace");
    server.send(&alice, "grace", "hello grace").await;
    let frame = expect_frame(&mut ws, "message").await;
    assert_eq!(frame["message"]["text"], "hello grace");
    send_frame(
        &mut ws,
        json!({ "type": "send", "to": "alice", "text": "hi alice", "client_id": "g-1" }),
    )
    .await;
    assert_eq!(expect_frame(&mut ws, "ack").await["client_id"], "g-1");
    let (status, _, list) = server
        .get("/api/conversations", &[("authorization", &auth)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["conversations"][0]["user"]["username"], "alice");
    // The name of a password account is not the host's to take.
    let (status, body) = me(&server, &sign(Algorithm::HS256, &claims("host|x", "Alice"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("username_taken"))
    );
    // Nothing to log out: the token ends when it expires.
    let (status, _, body) = server
        .post("/api/logout", json!({}), &[("authorization", &auth)])
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
}

/// A token with `header` and `claims` as given, and `signature`.
fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.{signature}", part(header), part(claims))
}

#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_get_a_typed_401_and_create_nobody() {
    let server = server().await;
    let good = claims("host|eve", "eve");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        claims
    };
    let signed = sign(Algorithm::HS256, &good);
    let (head, rest) = signed.split_once('.').unwrap();
    let (body, signature) = rest.split_once('.').unwrap();
    let mut flipped = signature.to_owned();
    let last = if flipped.ends_with('A') { "B" } else { "A" };
    flipped.replace_range(flipped.len() - 1.., last);
    // An HMAC "signed" with the RSA public key, claiming its kid: the key
    // takes RS256 only.
    let rsa_public = std::fs::read(fixture("rsa.pem")).unwrap();
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = Some("rsa".into());
    let confused =
        jsonwebtoken::encode(&confused, &good, &EncodingKey::from_secret(&rsa_public)).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            forged(&json!({ "alg": "none", "typ": "JWT" }), &good, ""),
            "invalid_token",
        ),
        (
            "alg none, kid",
            forged(&json!({ "alg": "none", "kid": "hs" }), &good, ""),
            "invalid_token",
        ),
        ("algorithm confusion", confused, "invalid_token"),
        (
            "bad signature",
            format!("{head}.{body}.{flipped}"),
            "invalid_token",
        ),
        (
            "unknown kid",
            {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some("other".into());
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(SECRET)).unwrap()
            },
            "invalid_token",
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::RS256,
                &with(&|c| c["iss"] = json!("https://evil.test/")),
            ),
            "invalid_token",
        ),
        (
            "wrong audience",
            sign(Algorithm::EdDSA, &with(&|c| c["aud"] = json!("other"))),
            "invalid_token",
        ),
        (
            "no subject",
            sign(
                Algorithm::HS256,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
            ),
            "invalid_token",
        ),
        (
            "no expiry",
            sign(
                Algorithm::HS256,
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
            "invalid_token",
        ),
        (
            "not yet valid",
            sign(Algorithm::HS256, &with(&|c| c["nbf"] = json!(now() + 600))),
            "invalid_token",
        ),
        (
            "expired",
            sign(Algorithm::ES256, &with(&|c| c["exp"] = json!(now() - 120))),
            "token_expired",
        ),
        (
            "oversized",
            sign(
                Algorithm::HS256,
                &with(&|c| c["pad"] = json!("x".repeat(9000))),
            ),
            "invalid_token",
        ),
        ("garbage", "a.b.c".to_owned(), "invalid_token"),
    ];
    for (case, token, code) in cases {
        let (status, body) = me(&server, &token).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some(code)),
            "{case}: {body}"
        );
        let refused = server
            .ws_with("", &[("authorization", &bearer(&token))])
            .await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 401, "{case}");
            }
            other => panic!("{case}: the upgrade was not refused: {:?}", other.is_ok()),
        }
    }
    // None of the refused ones made a user.
    let alice = server.user("alice").await;
    let eves = || async {
        let (_, _, users) = server.get_as(&alice, "/api/users?q=eve").await;
        users["users"].as_array().map(Vec::len)
    };
    assert_eq!(eves().await, Some(0));
    // Within the leeway, a token just past its expiry is taken, and opens
    // a WebSocket that lives (its session ends with the leeway, not
    // before it starts).
    let late = bearer(&sign(
        Algorithm::HS256,
        &with(&|c| c["exp"] = json!(now() - 5)),
    ));
    let mut ws = server
        .ws_with("", &[("authorization", &late)])
        .await
        .unwrap();
    expect_frame(&mut ws, "ready").await;
    assert_eq!(eves().await, Some(1));
    server.send(&alice, "eve", "still open?").await;
    assert_eq!(
        expect_frame(&mut ws, "message").await["message"]["text"],
        "still open?"
    );
}

#[tokio::test]
async fn a_server_without_keys_takes_no_token() {
    let server = TestServer::start().await;
    let (status, body) = me(&server, &sign(Algorithm::HS256, &claims("host|ada", "ada"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
}

#[tokio::test]
async fn password_accounts_can_be_switched_off() {
    let mut config = HttpConfig::default();
    config.tokens = Some(Arc::new(keys()));
    config.password_accounts = false;
    let server = TestServer::builder().http(config).start().await;
    let (status, _, body) = server.try_signup("mallory").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("password_accounts_off"))
    );
    let (status, _, body) = server
        .post(
            "/api/login",
            json!({ "username": "mallory", "password": "whatever it is" }),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("password_accounts_off"))
    );
    let (status, _) = me(&server, &sign(Algorithm::RS256, &claims("host|ada", "ada"))).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_websocket_takes_a_fresh_token_and_outlives_the_first() {
    // No leeway: a socket's session ends at its token's `exp`.
    let server = server_with(keys().leeway(std::time::Duration::ZERO)).await;
    let alice = server.user("alice").await;
    // Two sockets on one short token: one is renewed, the other is not.
    let mut short = claims("host|ada", "ada");
    short["exp"] = json!(now() + 2);
    let short = bearer(&sign(Algorithm::HS256, &short));
    let mut kept = server
        .ws_with("", &[("authorization", &short)])
        .await
        .unwrap();
    let mut lapsing = server
        .ws_with("", &[("authorization", &short)])
        .await
        .unwrap();
    for ws in [&mut kept, &mut lapsing] {
        expect_frame(ws, "ready").await;
    }
    // A token for someone else, or an expired one, changes nothing.
    let other = sign(Algorithm::HS256, &claims("host|eve", "eve"));
    let mut expired = claims("host|ada", "ada");
    expired["exp"] = json!(now() - 120);
    let expired = sign(Algorithm::HS256, &expired);
    for (token, code) in [
        (other, "invalid_token"),
        (expired, "token_expired"),
        ("x.y.z".to_owned(), "invalid_token"),
    ] {
        send_frame(&mut kept, json!({ "type": "auth", "token": token })).await;
        let error = expect_frame(&mut kept, "error").await;
        assert_eq!(
            (error["code"].as_str(), error["field"].as_str()),
            (Some(code), Some("token"))
        );
    }
    let fresh = claims("host|ada", "ada");
    send_frame(
        &mut kept,
        json!({ "type": "auth", "token": sign(Algorithm::EdDSA, &fresh) }),
    )
    .await;
    let renewed = expect_frame(&mut kept, "auth").await;
    assert!(
        renewed["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{renewed}"
    );
    // The other socket closes when the first token expires; the renewed
    // one, past that moment, still hears what is sent.
    let close = chat_test_support::expect_close(&mut lapsing)
        .await
        .expect("a close frame");
    assert_eq!(close.reason.as_str(), "session expired");
    server.send(&alice, "ada", "still there?").await;
    assert_eq!(
        expect_frame(&mut kept, "message").await["message"]["text"],
        "still there?"
    );
    // A socket opened with a session takes no token.
    let mut session = server.ws(&alice, "").await;
    expect_frame(&mut session, "ready").await;
    send_frame(
        &mut session,
        json!({ "type": "auth", "token": sign(Algorithm::HS256, &fresh) }),
    )
    .await;
    let error = expect_frame(&mut session, "error").await;
    assert_eq!(error["code"], "invalid_input");
}

/// The Ed25519 test key as a JWK named `kid`: its raw public key is the
/// last 32 bytes of the PEM's DER.
fn ed_jwk(kid: &str) -> Value {
    use base64::engine::general_purpose::STANDARD;
    let pem = std::fs::read_to_string(fixture("ed.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).unwrap();
    let x = URL_SAFE_NO_PAD.encode(&der[der.len() - 32..]);
    json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": kid, "x": x})
}

/// `claims` signed with the Ed25519 test key, naming `kid`.
fn sign_ed(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_ed_pem(&std::fs::read(fixture("ed-private.pem")).unwrap()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// An identity provider's JWKS endpoint on loopback: answers what
/// `document` holds now (a status and a body); its URL, and how many
/// requests it answered.
async fn jwks_endpoint(
    document: tokio::sync::watch::Receiver<(u16, String)>,
) -> (String, tokio::sync::watch::Receiver<usize>) {
    use http_body_util::Full;
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let (count, served) = tokio::sync::watch::channel(0_usize);
    let count = Arc::new(count);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let document = document.clone();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let (status, body) = document.borrow().clone();
                    count.send_modify(|n| *n += 1);
                    async move {
                        let mut response =
                            hyper::Response::new(Full::new(bytes::Bytes::from(body)));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, served)
}

/// Waits (bounded) until the endpoint answered two more requests: the
/// first after now has then been taken in (fetches come one at a time).
async fn two_more_fetches(served: &mut tokio::sync::watch::Receiver<usize>) {
    let now = *served.borrow();
    tokio::time::timeout(chat_test_support::WAIT, served.wait_for(|n| *n >= now + 2))
        .await
        .expect("the key set is fetched again")
        .unwrap();
}

/// Waits (bounded) until `token` opens `/api/me`.
async fn until_accepted(server: &TestServer, token: &str) {
    tokio::time::timeout(chat_test_support::WAIT, async {
        while me(server, token).await.0 != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the token is taken once the key set is fetched again");
}

#[tokio::test]
async fn keys_from_a_jwks_url_are_taken_and_followed_through_a_rotation() {
    let set = |kids: &[&str]| {
        json!({ "keys": kids.iter().map(|k| ed_jwk(k)).collect::<Vec<_>>() }).to_string()
    };
    let (publish, document) = tokio::sync::watch::channel((200, set(&["ed-1"])));
    let (url, mut served) = jwks_endpoint(document).await;
    let jwks = chat_http::Jwks::start(&url, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(jwks.len(), 1, "fetched before serving");
    let keys = TokenKeys::new()
        .with_jwks(jwks)
        .issuer(ISSUER)
        .audience(AUDIENCE);
    let server = server_with(keys).await;
    let claims = claims("idp|7", "grace");
    let (status, body) = me(&server, &sign_ed("ed-1", &claims)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "grace");
    // A token of another algorithm under a JWKS kid, or an unknown kid:
    // refused.
    let (status, _) = me(&server, &sign_ed("ed-9", &claims)).await;
    assert_eq!(status, 401);

    // The provider rotates: the new kid is taken without a restart, and
    // the old one, gone from the set, no longer is.
    publish.send_replace((200, set(&["ed-2"])));
    until_accepted(&server, &sign_ed("ed-2", &claims)).await;
    let (status, _) = me(&server, &sign_ed("ed-1", &claims)).await;
    assert_eq!(status, 401);

    // The provider fails, or serves nothing usable: the keys held stay.
    publish.send_replace((500, "oops".into()));
    two_more_fetches(&mut served).await;
    let (status, _) = me(&server, &sign_ed("ed-2", &claims)).await;
    assert_eq!(status, 200, "the keys held are kept");
    publish.send_replace((
        200,
        json!({"keys": [{"kty": "oct", "kid": "ed-3", "k": "c2VjcmV0"}]}).to_string(),
    ));
    two_more_fetches(&mut served).await;
    let (status, _) = me(&server, &sign_ed("ed-2", &claims)).await;
    assert_eq!(status, 200, "the keys held are kept");
}

#[tokio::test]
async fn before_the_key_set_loads_tokens_are_told_to_wait_not_refused() {
    let (publish, document) = tokio::sync::watch::channel((500, "down".to_owned()));
    let (url, mut served) = jwks_endpoint(document).await;
    let jwks = chat_http::Jwks::start(&url, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert!(jwks.is_empty());
    let server = server_with(
        TokenKeys::new()
            .with_jwks(jwks)
            .issuer(ISSUER)
            .audience(AUDIENCE),
    )
    .await;
    let token = sign_ed("ed-1", &claims("idp|8", "hopper"));
    let (status, body) = me(&server, &token).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    // The provider comes back: the next fetch brings the key.
    publish.send_replace((200, json!({ "keys": [ed_jwk("ed-1")] }).to_string()));
    two_more_fetches(&mut served).await;
    let (status, _) = me(&server, &token).await;
    assert_eq!(status, 200);
    // Keys in the clear from another host are refused at set-up.
    assert!(
        chat_http::Jwks::start(
            "http://idp.example/jwks",
            std::time::Duration::from_secs(60)
        )
        .await
        .is_err()
    );
}
