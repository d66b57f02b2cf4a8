//! Any request a client may send: method, path and query, headers and body
//! go through the whole adapter (routing, parsing, validation, the chat
//! service on an in-memory store). It answers with a status and never
//! panics; a server error is a finding.

#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use chat_http::{ChatHttp, HttpConfig};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;

struct World {
    runtime: tokio::runtime::Runtime,
    http: ChatHttp,
    token: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (http, token) = runtime.block_on(async {
            let store = chat_store_sqlite::SqliteStore::memory().await.expect("store");
            let chat = chat_core::Chat::builder(Arc::new(store))
                .hasher(Arc::new(chat_core::Argon2Hasher::with_params(8, 1, 1).expect("params")))
                .build();
            for name in ["alice", "bob"] {
                let form = chat_core::SignupForm {
                    email: format!("{name}@example.test"),
                    username: name.into(),
                    password: "fuzzing password".into(),
                    confirm_password: "fuzzing password".into(),
                };
                chat.signup(form).await.expect("signup");
            }
            let login = chat.login("alice", "fuzzing password".into(), "fuzz").await.expect("login");
            (ChatHttp::new(chat, HttpConfig::default()), login.token.expose().to_owned())
        });
        World { runtime, http, token }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let Some(request) = chat_http::fuzzing::request_from_bytes(data, &world.token) else {
        return;
    };
    let request = request.map(|body: Bytes| Full::new(body));
    let response = world.runtime.block_on(world.http.handle(request, "127.0.0.1:1".parse().expect("address")));
    assert!(response.status().as_u16() < 500 || response.status().as_u16() == 503, "server error {}", response.status());
});
