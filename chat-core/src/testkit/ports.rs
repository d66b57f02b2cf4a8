//! The store-port suite: each case calls the store's ports directly, with
//! no service in between, so that a store is held to its contract itself
//! (the service suite then checks the use cases on top).

use std::collections::HashSet;
use std::sync::Arc;

use crate::ports::{
    Appended, ConversationQuery, HistoryQuery, NewUser, PageLimit, ReadMark, Store,
};
use crate::{
    Change, ChatError, ClientMessageId, ConversationId, Email, MessageId, MessageText, NewMessage,
    PasswordHash, Position, SearchPattern, SessionId, Timestamp, TokenHash, User, UserId, Username,
};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_micros(1_767_225_600_000_000 + seconds * 1_000_000)
}

fn limit(n: u32) -> PageLimit {
    PageLimit::new(n).unwrap()
}

async fn user(store: &dyn Store, name: &str) -> User {
    store
        .insert_user(NewUser {
            username: Username::parse(name).unwrap(),
            email: Email::parse(format!("{name}@example.test")).unwrap(),
            password_hash: PasswordHash::from_phc("$argon2id$not-a-real-hash"),
            created_at: at(0),
        })
        .await
        .unwrap()
        .user()
        .clone()
}

/// A message from `from` to `to` in their direct conversation.
fn new(conversation: ConversationId, from: &User, to: &User, text: &str) -> NewMessage {
    NewMessage {
        conversation,
        sender: from.clone(),
        recipient: Some(to.clone()),
        text: MessageText::parse(text).unwrap(),
        sent_at: at(1),
        client_id: None,
        reply: None,
        mentioned: Default::default(),
    }
}

fn with_client_id(mut message: NewMessage, client_id: &str) -> NewMessage {
    message.client_id = Some(ClientMessageId::parse(client_id).unwrap());
    message
}

/// Appends one batch, which must succeed message by message.
async fn append(store: &dyn Store, batch: &[NewMessage]) -> Vec<Appended> {
    store
        .append_batch(batch)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

async fn conversation(store: &dyn Store, a: &User, b: &User) -> ConversationId {
    store
        .direct_conversation(a.id(), b.id(), at(0))
        .await
        .unwrap()
}

fn texts(messages: &[crate::Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text().as_str()).collect()
}

pub async fn users_are_unique_by_name_and_email_and_found_by_either(store: Arc<dyn Store>) {
    let alice = user(&*store, "Alice").await;
    let insert = |name: &str, email: &str| {
        let store = Arc::clone(&store);
        let (name, email) = (name.to_owned(), email.to_owned());
        async move {
            store
                .insert_user(NewUser {
                    username: Username::parse(name).unwrap(),
                    email: Email::parse(email).unwrap(),
                    password_hash: PasswordHash::from_phc("$argon2id$x"),
                    created_at: at(0),
                })
                .await
        }
    };
    assert!(matches!(
        insert("ALICE", "other@example.test").await,
        Err(ChatError::UsernameTaken)
    ));
    assert!(matches!(
        insert("alice2", "ALICE@Example.test").await,
        Err(ChatError::EmailTaken)
    ));
    let found = store
        .find_user_by_username(&Username::parse("aLiCe").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.user(), &alice);
    assert_eq!(
        found.account.user().username().as_str(),
        "Alice",
        "as typed"
    );
    assert_eq!(
        found.password_hash.as_ref().unwrap().as_str(),
        "$argon2id$not-a-real-hash"
    );
    assert_eq!(
        store
            .find_account(alice.id())
            .await
            .unwrap()
            .unwrap()
            .user(),
        &alice
    );
    assert!(
        store
            .find_account(UserId::new(1 << 40))
            .await
            .unwrap()
            .is_none()
    );
    let email = Email::parse("alice@EXAMPLE.test").unwrap();
    assert!(store.email_exists(&email).await.unwrap());
    let look_alike = Username::parse("a1ice").unwrap();
    assert!(store.look_alike_exists(&look_alike).await.unwrap());
    assert!(
        !store
            .look_alike_exists(&Username::parse("bob").unwrap())
            .await
            .unwrap()
    );
    for name in ["alfred", "albert", "bob", "al.x"] {
        user(&*store, name).await;
    }
    let listed: Vec<String> = store
        .list_users("al", alice.id(), limit(2))
        .await
        .unwrap()
        .iter()
        .map(|u| u.username().as_str().to_owned())
        .collect();
    assert_eq!(
        listed,
        ["al.x", "albert"],
        "by canonical name, without alice, at most two"
    );
}

pub async fn sessions_are_found_by_their_hash_and_expire_by_idleness_or_age(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let token = TokenHash::from_bytes([7; 32]);
    let old = TokenHash::from_bytes([8; 32]);
    let id = store
        .insert_session(&token, alice.id(), at(100))
        .await
        .unwrap();
    let old_id = store.insert_session(&old, alice.id(), at(0)).await.unwrap();
    assert_ne!(id, old_id);
    let found = store.find_session(&token).await.unwrap().unwrap();
    assert_eq!((found.id, &found.user), (id, &alice));
    assert_eq!((found.created_at, found.last_seen_at), (at(100), at(100)));
    store.touch_session(id, at(200)).await.unwrap();
    store.touch_session(id, at(150)).await.unwrap();
    let touched = store.find_session(&token).await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, at(200), "activity never moves back");
    assert!(
        store
            .find_session(&TokenHash::from_bytes([9; 32]))
            .await
            .unwrap()
            .is_none()
    );
    // Idle before 50 (the old one), or created before 0 (none).
    assert_eq!(
        store.delete_expired_sessions(at(50), at(0)).await.unwrap(),
        1
    );
    assert!(store.find_session(&old).await.unwrap().is_none());
    assert_eq!(
        store.delete_expired_sessions(at(0), at(101)).await.unwrap(),
        1
    );
    assert!(store.find_session(&token).await.unwrap().is_none());
    store.delete_session(SessionId::new(1 << 40)).await.unwrap();
}

pub async fn a_shared_secret_is_the_first_candidate_for_good(store: Arc<dyn Store>) {
    let first = store.shared_secret("key", b"first").await.unwrap();
    let second = store.shared_secret("key", b"second").await.unwrap();
    assert_eq!(
        (first.as_slice(), second.as_slice()),
        (&b"first"[..], &b"first"[..])
    );
    let other = store.shared_secret("other", b"x").await.unwrap();
    assert_eq!(other, b"x");
}

pub async fn a_pair_has_one_direct_conversation_whoever_asks_and_however_often(
    store: Arc<dyn Store>,
) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    assert!(
        store
            .find_direct_conversation(alice.id(), bob.id())
            .await
            .unwrap()
            .is_none()
    );
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(&store);
            let (a, b) = if n % 2 == 0 {
                (alice.id(), bob.id())
            } else {
                (bob.id(), alice.id())
            };
            tokio::spawn(async move { store.direct_conversation(a, b, at(0)).await.unwrap() })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "racing creations agree: {ids:?}");
    let id = ids.into_iter().next().unwrap();
    assert_eq!(
        store
            .find_direct_conversation(bob.id(), alice.id())
            .await
            .unwrap(),
        Some(id)
    );
    let members = store.members(id).await.unwrap();
    let names: Vec<(&str, bool, MessageId)> = members
        .iter()
        .map(|m| (m.user.username().as_str(), m.has_spoken, m.read_up_to))
        .collect();
    assert_eq!(
        names,
        [
            ("alice", false, MessageId::ZERO),
            ("bob", false, MessageId::ZERO)
        ]
    );
    assert!(
        store
            .members(ConversationId::new(1 << 40))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_conversations(alice.id(), &ConversationQuery::default())
            .await
            .unwrap()
            .items
            .is_empty(),
        "a conversation is listed once it has a message"
    );
}

pub async fn concurrent_batches_take_positions_in_commit_order(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let id = conversation(&*store, &alice, &bob).await;
    let start = store.head().await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let store = Arc::clone(&store);
            let (alice, bob) = (alice.clone(), bob.clone());
            tokio::spawn(async move {
                let batch: Vec<NewMessage> = (0..=n % 4)
                    .map(|k| new(id, &alice, &bob, &format!("{n}.{k}")))
                    .collect();
                append(&*store, &batch)
                    .await
                    .iter()
                    .map(|a| a.message().id())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let ids = task.await.unwrap();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "a batch in order: {ids:?}"
        );
        all.extend(ids);
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no id given twice");
    assert!(all.iter().all(|id| Position::from(*id) > start));
    let head = store.head().await.unwrap();
    assert_eq!(head, Position::from(*all.iter().max().unwrap()));
    let history = store
        .list_messages(
            id,
            &HistoryQuery {
                limit: PageLimit::LARGEST,
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(history.items.len(), all.len());
    assert_eq!(
        store.last_message_id(bob.id()).await.unwrap(),
        *all.iter().max().unwrap()
    );
}

pub async fn a_client_id_names_one_message_of_its_sender(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let id = conversation(&*store, &alice, &bob).await;
    let first = with_client_id(new(id, &alice, &bob, "once"), "k-1");
    let appended = append(
        &*store,
        &[
            first.clone(),
            with_client_id(new(id, &alice, &bob, "twice in a batch"), "k-1"),
            with_client_id(new(id, &bob, &alice, "another sender's k-1"), "k-1"),
        ],
    )
    .await;
    assert!(matches!(appended[0], Appended::Created(_)));
    assert!(matches!(&appended[1], Appended::Existing(m) if m == appended[0].message()));
    assert!(
        matches!(appended[2], Appended::Created(_)),
        "keys are per sender"
    );
    let again = append(
        &*store,
        &[with_client_id(new(id, &alice, &bob, "later"), "k-1")],
    )
    .await;
    assert!(matches!(&again[0], Appended::Existing(m) if m == appended[0].message()));
    assert_eq!(appended[0].message().text().as_str(), "once");
    let history = store
        .list_messages(id, &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(texts(&history.items), ["once", "another sender's k-1"]);
}

pub async fn history_pages_are_keyset_and_chronological(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let id = conversation(&*store, &alice, &bob).await;
    let other = conversation(&*store, &alice, &carol).await;
    let mut ids = Vec::new();
    for n in 0..7 {
        let appended = append(
            &*store,
            &[
                new(id, &alice, &bob, &format!("m{n}")),
                new(other, &carol, &alice, "elsewhere"),
            ],
        )
        .await;
        ids.push(appended[0].message().id());
    }
    let page = |before: Option<MessageId>, after: Option<MessageId>, n: u32| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_messages(
                    id,
                    &HistoryQuery {
                        before,
                        after,
                        limit: limit(n),
                        search: None,
                    },
                )
                .await
                .unwrap()
        }
    };
    let newest = page(None, None, 3).await;
    assert_eq!(texts(&newest.items), ["m4", "m5", "m6"]);
    assert!(newest.has_more);
    let older = page(Some(ids[4]), None, 3).await;
    assert_eq!(texts(&older.items), ["m1", "m2", "m3"]);
    let oldest = page(Some(ids[1]), None, 3).await;
    assert_eq!((texts(&oldest.items), oldest.has_more), (vec!["m0"], false));
    let forward = page(None, Some(ids[1]), 2).await;
    assert_eq!(
        (texts(&forward.items), forward.has_more),
        (vec!["m2", "m3"], true)
    );
    let between = page(Some(ids[5]), Some(ids[2]), 10).await;
    assert_eq!(
        (texts(&between.items), between.has_more),
        (vec!["m3", "m4"], false)
    );
    let empty = page(Some(ids[3]), Some(ids[3]), 10).await;
    assert!(empty.items.is_empty() && !empty.has_more);
}

pub async fn search_is_literal_case_folded_and_within_the_conversation(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let id = conversation(&*store, &alice, &bob).await;
    let other = conversation(&*store, &alice, &carol).await;
    append(
        &*store,
        &[
            new(id, &alice, &bob, "Lunch at the CAFÉ?"),
            new(id, &bob, &alice, "100% yes, under_score and quote's"),
            new(id, &alice, &bob, "100 percent, underscore"),
            new(id, &bob, &alice, "Straße"),
            new(other, &carol, &alice, "lunch elsewhere"),
        ],
    )
    .await;
    let search = |term: &str| {
        let store = Arc::clone(&store);
        let term = SearchPattern::parse(term).unwrap();
        async move {
            let page = store
                .list_messages(
                    id,
                    &HistoryQuery {
                        search: Some(term),
                        ..HistoryQuery::default()
                    },
                )
                .await
                .unwrap();
            page.items
                .iter()
                .map(|m| m.text().as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("lunch").await, ["Lunch at the CAFÉ?"], "not carol's");
    assert_eq!(search("café").await, ["Lunch at the CAFÉ?"]);
    assert_eq!(search("100%").await, ["100% yes, under_score and quote's"]);
    assert_eq!(search("r_s").await, ["100% yes, under_score and quote's"]);
    assert_eq!(search("e's").await, ["100% yes, under_score and quote's"]);
    assert_eq!(
        search("STRASSE").await.len(),
        0,
        "folding is lower-casing, not ß to ss"
    );
    assert_eq!(search("straße").await, ["Straße"]);
    assert_eq!(search("zz").await.len(), 0);
    assert_eq!(
        search("%").await.len(),
        1,
        "a wildcard character is literal"
    );
}

pub async fn the_conversation_list_counts_unread_and_shows_marks_by_recency(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let with_bob = conversation(&*store, &alice, &bob).await;
    let with_carol = conversation(&*store, &alice, &carol).await;
    let b1 = append(&*store, &[new(with_bob, &bob, &alice, "b1")]).await;
    append(&*store, &[new(with_carol, &carol, &alice, "c1")]).await;
    let b2 = append(&*store, &[new(with_bob, &bob, &alice, "b2")]).await;
    let summaries = |user: UserId, before: Option<MessageId>| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_conversations(
                    user,
                    &ConversationQuery {
                        before,
                        limit: limit(1),
                    },
                )
                .await
                .unwrap()
        }
    };
    let first = summaries(alice.id(), None).await;
    let top = &first.items[0];
    assert!(first.has_more);
    assert_eq!(
        (
            top.peer().unwrap().username().as_str(),
            top.unread,
            top.mutual()
        ),
        ("bob", 2, false)
    );
    assert_eq!(top.last_message.as_ref().unwrap(), b2[0].message());
    let next = summaries(alice.id(), Some(b2[0].message().id())).await;
    assert_eq!(next.items[0].peer().unwrap().username().as_str(), "carol");
    assert!(!next.has_more);
    // Alice reads the first and answers: bob's unread and mark follow.
    let mark = store
        .mark_read(with_bob, alice.id(), b1[0].message().id())
        .await
        .unwrap();
    assert_eq!(mark.up_to, b1[0].message().id());
    assert_eq!(summaries(alice.id(), None).await.items[0].unread, 1);
    let a1 = append(&*store, &[new(with_bob, &alice, &bob, "a1")]).await;
    let alices = summaries(alice.id(), None).await;
    assert_eq!(
        (alices.items[0].unread, alices.items[0].mutual()),
        (0, true)
    );
    let bobs = summaries(bob.id(), None).await;
    assert_eq!(bobs.items[0].unread, 1);
    assert_eq!(
        bobs.items[0].peer_read_up_to(),
        a1[0].message().id(),
        "a sender has read up to their own message"
    );
    let mut peers = store.conversation_peers(alice.id()).await.unwrap();
    peers.sort();
    assert_eq!(peers, [bob.id()], "mutual conversations only");
}

pub async fn read_marks_move_forward_and_keep_one_change_per_member(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let id = conversation(&*store, &alice, &bob).await;
    let sent = append(
        &*store,
        &[
            new(id, &alice, &bob, "one"),
            new(id, &bob, &alice, "two"),
            new(id, &alice, &bob, "three"),
        ],
    )
    .await;
    let (one, three) = (sent[0].message().id(), sent[2].message().id());
    let before = store.head().await.unwrap();
    let stays = store.mark_read(id, bob.id(), one).await.unwrap();
    assert_eq!(
        stays,
        ReadMark {
            up_to: sent[1].message().id(),
            moved: None
        },
        "bob has read his own message"
    );
    assert_eq!(
        store.head().await.unwrap(),
        before,
        "no change, no position"
    );
    let moved = store
        .mark_read(id, bob.id(), MessageId::new(i64::MAX))
        .await
        .unwrap();
    assert_eq!(moved.up_to, three, "clamped to the last message");
    let first = moved.moved.unwrap();
    assert!(first > before);
    assert_eq!(store.head().await.unwrap(), first);
    let four = append(&*store, &[new(id, &alice, &bob, "four")]).await;
    let again = store
        .mark_read(id, bob.id(), four[0].message().id())
        .await
        .unwrap();
    let second = again.moved.unwrap();
    assert!(second > four[0].message().position());
    let changes = store
        .changes_since(alice.id(), before, limit(50))
        .await
        .unwrap();
    let reads: Vec<(Position, MessageId)> = changes
        .items
        .iter()
        .filter_map(|c| match c {
            Change::Read {
                position,
                up_to,
                by,
                ..
            } if by == &bob => Some((*position, *up_to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reads,
        [(second, four[0].message().id())],
        "only bob's newest read change"
    );
    assert!(matches!(
        store.mark_read(id, carol.id(), three).await,
        Err(ChatError::NotFound)
    ));
}

pub async fn the_change_log_merges_messages_and_reads_and_pages_by_position(store: Arc<dyn Store>) {
    let alice = user(&*store, "alice").await;
    let bob = user(&*store, "bob").await;
    let carol = user(&*store, "carol").await;
    let id = conversation(&*store, &alice, &bob).await;
    let stranger = conversation(&*store, &carol, &alice).await;
    append(
        &*store,
        &[new(id, &alice, &bob, "hi"), new(id, &bob, &alice, "hey")],
    )
    .await;
    let mut expected = Vec::new();
    for n in 0..4 {
        let sent = append(&*store, &[new(id, &alice, &bob, &format!("m{n}"))]).await;
        expected.push(sent[0].message().position());
        let read = store
            .mark_read(id, bob.id(), sent[0].message().id())
            .await
            .unwrap();
        expected.push(read.moved.unwrap());
    }
    // Carol writes; alice reads without answering: carol must not see it.
    let unsolicited = append(&*store, &[new(stranger, &carol, &alice, "psst")]).await;
    expected.push(unsolicited[0].message().position());
    let alices_read = store
        .mark_read(stranger, alice.id(), unsolicited[0].message().id())
        .await
        .unwrap()
        .moved
        .unwrap();
    // Bob's read changes were replaced as he went: only the last is kept.
    let last_read = expected[7];
    let replaced = [expected[1], expected[3], expected[5]];
    expected.retain(|p| !replaced.contains(p));
    expected.push(alices_read);
    let start = expected[0].get() - 1;
    let mut seen = Vec::new();
    let mut after = Position::new(start);
    loop {
        let page = store
            .changes_since(alice.id(), after, limit(2))
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(Change::position));
        match page.items.last() {
            Some(last) if page.has_more => after = last.position(),
            _ => break,
        }
    }
    assert_eq!(seen, expected, "alice's changes in order, paged by two");
    assert!(seen.contains(&last_read));
    let carols: Vec<Position> = store
        .changes_since(carol.id(), Position::ZERO, limit(50))
        .await
        .unwrap()
        .items
        .iter()
        .map(Change::position)
        .collect();
    assert_eq!(
        carols,
        [unsolicited[0].message().position()],
        "not alice's reading: she never wrote to carol"
    );
}
