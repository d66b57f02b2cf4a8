//! Any request a client may send: method, target, headers (cookies, CSRF
//! and Origin headers, content types and lengths included) and body go
//! through the whole adapter (routing, parsing, authentication, validation,
//! the chat service on an in-memory store), each with a session of its own
//! that it may use through `$TOKEN` and `$CSRF` (see
//! `chat_http::fuzzing::request_from_bytes`).
//!
//! Every answer must carry the headers every response carries, a refusal
//! for too many attempts must say when to retry, and a server error other
//! than "unavailable" is a finding; so is a panic.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use chat_core::{Chat, GovernorLimiter, Rate, RateLimits};
use chat_http::fuzzing::{Credentials, request_from_bytes};
use chat_http::{ChatHttp, HttpConfig};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;

const PASSWORD: &str = "fuzzing password";

struct World {
    runtime: tokio::runtime::Runtime,
    chat: Chat,
    http: ChatHttp,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let chat = runtime.block_on(async {
            let store = chat_store_sqlite::SqliteStore::memory().await.expect("store");
            // Limits no input meets, so that every input is judged on its own.
            let limits = RateLimits::all(Rate::new(u32::MAX, Duration::from_nanos(1)));
            let chat = Chat::builder(Arc::new(store))
                .hasher(Arc::new(chat_core::Argon2Hasher::with_params(8, 1, 1).expect("params")))
                .limiter(Arc::new(GovernorLimiter::new(limits)))
                .build();
            for name in ["alice", "bob"] {
                let form = chat_core::SignupForm {
                    email: format!("{name}@example.test"),
                    username: name.into(),
                    password: PASSWORD.into(),
                    confirm_password: PASSWORD.into(),
                };
                chat.signup(form, "fuzz").await.expect("signup");
            }
            chat
        });
        let http = ChatHttp::new(chat.clone(), HttpConfig::default()).expect("config");
        World { runtime, chat, http }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    world.runtime.block_on(async {
        // A fresh session for every input that uses one: what an input does
        // to its session (logging out) changes nothing for the next. Inputs
        // that name no secret reach nothing that a session would change.
        let uses_session = contains(data, b"$TOKEN") || contains(data, b"$CSRF");
        let (token, csrf) = if uses_session {
            let login = world.chat.login("alice", PASSWORD.into(), "fuzz").await.expect("login");
            (login.token.expose().to_owned(), login.token.csrf_token())
        } else {
            (String::new(), String::new())
        };
        let credentials = Credentials { token: &token, csrf: &csrf };
        if let Some(request) = request_from_bytes(data, &credentials) {
            let request = request.map(|body: Bytes| Full::new(body));
            let peer = "127.0.0.1:1".parse().expect("address");
            let response = world.http.handle(request, peer).await;
            let status = response.status().as_u16();
            assert!(status < 500 || status == 503, "server error {status}");
            let headers = response.headers();
            assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]));
            assert!(headers.contains_key("cache-control"), "no Cache-Control");
            if status == 429 {
                assert!(headers.contains_key("retry-after"), "429 without Retry-After");
            }
        }
        if uses_session {
            let _ = world.chat.logout(&token).await;
        }
    });
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
