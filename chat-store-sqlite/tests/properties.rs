//! Property tests of the core invariants, over random sequences of sends
//! between three users: membership decides visibility, ids only grow, and
//! one client id stores one message.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::needless_range_loop
)]

use std::collections::HashMap;
use std::sync::Arc;

use chat_core::testkit::Harness;
use chat_core::{ChatError, HistoryQuery, PageLimit, Position, Session};
use chat_store_sqlite::SqliteStore;
use proptest::prelude::*;

const NAMES: [&str; 3] = ["ann", "ben", "cat"];

#[derive(Clone, Debug)]
struct Send {
    from: usize,
    to: usize,
    client_id: Option<u8>,
}

fn sends() -> impl Strategy<Value = Vec<Send>> {
    let send =
        (0..3usize, 0..3usize, proptest::option::of(0..4u8)).prop_map(|(from, to, client_id)| {
            Send {
                from,
                to,
                client_id,
            }
        });
    proptest::collection::vec(send, 1..25)
}

async fn all(h: &Harness, who: &Session, peer: &str) -> Vec<(i64, String, String)> {
    let query = HistoryQuery {
        limit: PageLimit::LARGEST,
        ..HistoryQuery::default()
    };
    h.chat
        .history(who, peer, &query)
        .await
        .unwrap()
        .items
        .iter()
        .map(|m| {
            (
                m.id().get(),
                m.sender().username().to_string(),
                m.recipient()
                    .expect("a direct message")
                    .username()
                    .to_string(),
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_sequence_of_sends(sends in sends()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let h = Harness::new(Arc::new(SqliteStore::memory().await.unwrap()));
            let mut sessions = Vec::new();
            for name in NAMES {
                sessions.push(h.user(name).await);
            }
            // The model: what each sender's client id was first used for.
            let mut first_use: HashMap<(usize, u8), (usize, i64)> = HashMap::new();
            let mut stored: Vec<(i64, usize, usize)> = Vec::new();
            let mut last_id = 0;
            for (n, send) in sends.iter().enumerate() {
                let client_id = send.client_id.map(|c| format!("k{c}"));
                let result = h.chat.send(&sessions[send.from], NAMES[send.to], format!("m{n}"), client_id).await;
                if send.from == send.to {
                    assert!(matches!(result, Err(ChatError::InvalidInput { field: "to", .. })));
                    continue;
                }
                match (send.client_id.and_then(|c| first_use.get(&(send.from, c)).copied()), result) {
                    (None, Ok(sent)) => {
                        assert!(sent.created);
                        let id = sent.message.id().get();
                        assert!(id > last_id, "ids only grow: {id} after {last_id}");
                        last_id = id;
                        stored.push((id, send.from, send.to));
                        if let Some(c) = send.client_id {
                            first_use.insert((send.from, c), (send.to, id));
                        }
                    }
                    (Some((to, id)), Ok(sent)) => {
                        assert_eq!(to, send.to);
                        assert!(!sent.created, "a client id stores one message");
                        assert_eq!(sent.message.id().get(), id);
                    }
                    (Some((to, _)), Err(ChatError::InvalidInput { field: "client_id", .. })) => assert_ne!(to, send.to),
                    (expected, other) => panic!("model {expected:?}, service {other:?}"),
                }
            }
            // Membership decides visibility: each pair sees exactly its own
            // messages, in id order, and nothing else.
            for a in 0..3 {
                for b in 0..3 {
                    if a == b {
                        continue;
                    }
                    let expected: Vec<i64> = stored
                        .iter()
                        .filter(|(_, from, to)| (*from == a && *to == b) || (*from == b && *to == a))
                        .map(|(id, _, _)| *id)
                        .collect();
                    let seen = all(&h, &sessions[a], NAMES[b]).await;
                    assert_eq!(seen.iter().map(|(id, _, _)| *id).collect::<Vec<_>>(), expected);
                    for (_, from, to) in &seen {
                        assert!([NAMES[a], NAMES[b]].contains(&from.as_str()) && [NAMES[a], NAMES[b]].contains(&to.as_str()));
                    }
                }
                let mine: Vec<i64> = stored
                    .iter()
                    .filter(|(_, from, to)| *from == a || *to == a)
                    .map(|(id, _, _)| *id)
                    .collect();
                let recovered: Vec<i64> = h
                    .chat
                    .changes(&sessions[a], Position::ZERO, PageLimit::LARGEST)
                    .await
                    .unwrap()
                    .items
                    .iter()
                    .map(|c| c.position().get())
                    .collect();
                assert_eq!(recovered, mine, "since returns exactly the user's messages");
            }
        });
    }
}
