//! Any search term: the store's indexed search (FTS5 trigram phrases, or
//! the short-term scan) returns exactly the messages the core's reference
//! matcher says contain the term, whatever `%`, `_`, quotes or Unicode it
//! holds.

#![no_main]

use std::sync::{Arc, OnceLock};

use chat_core::{Chat, HistoryQuery, PageLimit, SearchPattern, Session};
use libfuzzer_sys::fuzz_target;

const CORPUS: [&str; 10] = [
    "100% sure",
    "snake_case and \"quotes\" and 'apostrophes'",
    "back\\slash",
    "Grüße aus MÜNCHEN",
    "ÄPFEL und Birnen",
    "emoji 😀 inside",
    "ΟΔΥΣΣΕΥΣ",
    "NEAR(a b) OR c* AND -d",
    "tab\tand\nnewline",
    "plain words",
];

struct World {
    runtime: tokio::runtime::Runtime,
    chat: Chat,
    alice: Session,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let (chat, alice) = runtime.block_on(async {
            // Through the trigram index (which by default serves only large
            // conversations; small ones are read in full, a plain `instr`).
            let options = chat_store_sqlite::SqliteOptions::new("sqlite::memory:").search_scan_limit(0);
            let store = chat_store_sqlite::SqliteStore::open_with(options).await.expect("store");
            // Limits no input meets: the target searches as fast as it can.
            let limits = chat_core::RateLimits::all(chat_core::Rate::new(u32::MAX, std::time::Duration::from_nanos(1)));
            let chat = Chat::builder(Arc::new(store))
                .hasher(Arc::new(chat_core::Argon2Hasher::with_params(8, 1, 1).expect("params")))
                .limiter(Arc::new(chat_core::GovernorLimiter::new(limits)))
                .build();
            for name in ["alice", "bob"] {
                let form = chat_core::SignupForm {
                    email: format!("{name}@example.test"),
                    username: name.into(),
                    password: "fuzzing password".into(),
                    confirm_password: "fuzzing password".into(),
                };
                chat.signup(form, "fuzz").await.expect("signup");
            }
            let alice = chat.login("alice", "fuzzing password".into(), "fuzz").await.expect("login").session;
            for text in CORPUS {
                chat.send(&alice, "bob", text.into(), None).await.expect("send");
            }
            (chat, alice)
        });
        World { runtime, chat, alice }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(term) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(pattern) = SearchPattern::parse(term) else {
        return;
    };
    let world = world();
    let expected: Vec<&str> = CORPUS.iter().copied().filter(|text| pattern.is_match(text)).collect();
    let query = HistoryQuery {
        search: Some(pattern),
        limit: PageLimit::LARGEST,
        ..HistoryQuery::default()
    };
    let found = world.runtime.block_on(world.chat.history(&world.alice, "bob", &query)).expect("search");
    let found: Vec<&str> = found.items.iter().map(|m| m.text().as_str()).collect();
    assert_eq!(found, expected, "search for {term:?}");
});
