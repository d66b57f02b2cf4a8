//! Upgrades in place, proven: a database written by a release, and what
//! that release answered, kept in `fixtures/upgrade/<release>/<store>/`.
//!
//! `scripts/upgrade-fixture.sh <git ref> <release>` builds them with the
//! release's own code (this module and the `upgrade-fixture` program as
//! they were at that release): [`populate`] writes a fixed scenario through
//! the public API on a manual clock, [`answers`] records what every read
//! returns, and the rows of every table are recorded as they were written.
//!
//! Each store's `tests/upgrade.rs` opens every fixture with the current
//! code (which migrates it) and checks that every recorded row is still
//! there and that every read answers as the release did; then that the
//! upgraded database takes new writes. A schema change that moves data
//! adds its step to those tests (how an old row is found in the new
//! tables), never a new fixture in place of an old one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chat_core::{
    Argon2Hasher, Change, Chat, ConversationQuery, GovernorLimiter, HistoryQuery, Message,
    MessageId, PageLimit, Position, SearchPattern, Session, SignupForm, Store, Timestamp,
};
use serde_json::{Value, json};

use crate::{EPOCH_MICROS, ManualClock};

/// The password of every fixture user.
pub const PASSWORD: &str = "an upgrade passphrase";

/// The fixture users: name, email.
pub const USERS: [(&str, &str); 5] = [
    ("alice", "alice@example.test"),
    ("Bob", "Bob@Example.test"),
    ("carol", "carol@example.test"),
    ("dave.d", "dave@example.test"),
    ("erin_e", "erin@example.test"),
];

/// Search terms every fixture is asked about: words, case, accents, a
/// term too short for a trigram, and wildcard characters.
pub const SEARCHES: [&str; 8] = [
    "lunch",
    "LUNCH",
    "café",
    "ü",
    "100%",
    "under_score",
    "zz",
    "quote's",
];

/// Where the fixtures of `release` for `store` (`sqlite`, `postgres`) live.
pub fn fixture_dir(release: &str, store: &str) -> PathBuf {
    fixtures_root().join(release).join(store)
}

/// Every release that has fixtures, oldest first.
pub fn releases() -> Vec<String> {
    let mut releases: Vec<String> = std::fs::read_dir(fixtures_root())
        .map(|dir| {
            dir.filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    releases.sort();
    releases
}

fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("upgrade")
}

/// The manual clock the scenario runs on, at 2026-01-01T00:00:00Z.
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_micros(EPOCH_MICROS)))
}

/// A service on `store` and `clock` with the real hasher (the passwords
/// are hashed at full cost, as in production) and limits the scenario and
/// its many reads never meet.
pub fn chat(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> Chat {
    let limits = crate::generous_limits();
    Chat::builder(store)
        .hasher(Arc::new(Argon2Hasher::new()))
        .limiter(Arc::new(GovernorLimiter::with_clock(limits, clock.clone())))
        .clock(clock)
        .build()
}

/// The sessions of a scenario: a label, the user, the bearer token.
pub type Sessions = Vec<(String, String, String)>;

/// Writes the scenario: five users, six sessions (two on one account, one
/// logged out), direct conversations with messages that contain the search
/// terms (some with client ids), read marks, a second of clock between
/// every step. Returns the sessions still open.
pub async fn populate(chat: &Chat, clock: &ManualClock) -> Sessions {
    let tick = || clock.advance(Duration::from_secs(1));
    for (name, email) in USERS {
        chat.signup(
            SignupForm {
                email: email.to_owned(),
                username: name.to_owned(),
                password: PASSWORD.to_owned(),
                confirm_password: PASSWORD.to_owned(),
            },
            "fixture",
        )
        .await
        .unwrap();
        tick();
    }
    let mut open = Sessions::new();
    let mut login = async |label: &str, name: &str| {
        let login = chat.login(name, PASSWORD.to_owned(), label).await.unwrap();
        let token = login.token.expose().to_owned();
        open.push((label.to_owned(), name.to_owned(), token));
        login.session
    };
    let alice = login("alice-laptop", "alice").await;
    let alice_phone = login("alice-phone", "alice").await;
    let bob = login("bob", "bob").await;
    let carol = login("carol", "carol").await;
    let dave = login("dave", "DAVE.D").await;
    let gone = chat
        .login("erin_e", PASSWORD.to_owned(), "erin")
        .await
        .unwrap();
    chat.logout(gone.token.expose()).await.unwrap();
    tick();

    let lines: [(&Session, &str, &str, Option<&str>); 16] = [
        (&alice, "Bob", "Lunch at noon?", Some("a-1")),
        (&bob, "alice", "lunch works. Café on the corner?", None),
        (&alice, "bob", "The café, yes — Straße 5", Some("a-2")),
        (&alice_phone, "bob", "I'm 100% sure", Some("p-1")),
        (&bob, "alice", "naïve question: under_score or dash?", None),
        (&alice, "carol", "Hi carol, lunch tomorrow?", None),
        (&carol, "alice", "Sure! Über-lunch", Some("c-1")),
        (&carol, "bob", "quote's test: 'single' \"double\"", None),
        (&bob, "carol", "zz top", None),
        (&alice, "bob", "LUNCH moved to 1pm", None),
        (&dave, "alice", "who is this? 😀", None),
        (&bob, "alice", "see you at lunch", Some("b-1")),
        (&alice, "bob", "line one\nline two\ttabbed", None),
        (&carol, "alice", "ü", None),
        (&alice, "dave.d", "it's alice", None),
        (&bob, "alice", "last word", None),
    ];
    let mut sent: Vec<Message> = Vec::new();
    for (session, to, text, client_id) in lines {
        let sent_now = chat
            .send(session, to, text.to_owned(), client_id.map(str::to_owned))
            .await
            .unwrap();
        sent.push(sent_now.message);
        tick();
    }
    // A retry: the original comes back, nothing is stored.
    chat.send(&alice, "bob", "Lunch at noon?".into(), Some("a-1".into()))
        .await
        .unwrap();
    // Read marks: bob read up to the fourth message, carol everything,
    // alice her conversation with dave.
    chat.mark_read(&bob, "alice", sent[3].id()).await.unwrap();
    chat.mark_read(&carol, "alice", MessageId::new(i64::MAX))
        .await
        .unwrap();
    chat.mark_read(&alice, "dave.d", sent[14].id())
        .await
        .unwrap();
    tick();
    open
}

/// What the service answers for every open session, as JSON: the account,
/// every conversation page, every history page with each user, every search,
/// recovery from the start and from the middle, the newest id, the
/// directory, and whom each token authenticates.
pub async fn answers(chat: &Chat, sessions: &Sessions) -> Value {
    let mut by_session = BTreeMap::new();
    for (label, _, token) in sessions {
        let session = chat.authenticate(token).await.unwrap();
        by_session.insert(label.clone(), answers_of(chat, &session).await);
    }
    json!({ "sessions": by_session })
}

async fn answers_of(chat: &Chat, session: &Session) -> Value {
    let small = PageLimit::new(3).unwrap();
    let account = chat.account(session).await.unwrap();
    let mut conversations = Vec::new();
    let mut before = None;
    loop {
        let query = ConversationQuery {
            before,
            limit: small,
        };
        let page = chat.conversations(session, &query).await.unwrap();
        for summary in &page.items {
            conversations.push(json!({
                "conversation": summary.conversation.get(),
                "peer": summary.peer().map(|p| p.username().as_str()),
                "last_message": summary.last_message.as_ref().map(message),
                "unread": summary.unread,
                "peer_read_up_to": summary.peer_read_up_to().get(),
            }));
        }
        before = page
            .items
            .last()
            .and_then(|s| s.last_message.as_ref())
            .map(Message::id);
        if !page.has_more {
            break;
        }
    }
    let mut histories = BTreeMap::new();
    let mut searches = BTreeMap::new();
    for (peer, _) in USERS {
        if peer.eq_ignore_ascii_case(session.user().username().as_str()) {
            continue;
        }
        histories.insert(peer, history(chat, session, peer, None).await);
        let mut found = BTreeMap::new();
        for term in SEARCHES {
            let pattern = SearchPattern::parse(term).unwrap();
            found.insert(term, history(chat, session, peer, Some(pattern)).await);
        }
        searches.insert(peer, found);
    }
    let last = chat.last_message_id(session).await.unwrap();
    let since_start = since(chat, session, MessageId::ZERO).await;
    let middle = MessageId::new(last.get() / 2);
    let since_middle = since(chat, session, middle).await;
    let directory: Vec<String> = chat
        .directory(session, "", PageLimit::LARGEST)
        .await
        .unwrap()
        .iter()
        .map(|u| u.username().as_str().to_owned())
        .collect();
    json!({
        "user": {
            "id": account.user().id().get(),
            "username": account.user().username().as_str(),
            "email": account.email().map(|e| e.as_str()),
            "created_at": account.created_at().unix_micros(),
        },
        "conversations": conversations,
        "histories": histories,
        "searches": searches,
        "last_message_id": last.get(),
        "since_start": since_start,
        "since_middle": { "after": middle.get(), "messages": since_middle },
        "directory": directory,
    })
}

/// Every page of a history (newest page first, as a client scrolls up).
async fn history(
    chat: &Chat,
    session: &Session,
    peer: &str,
    search: Option<SearchPattern>,
) -> Value {
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let query = HistoryQuery {
            before,
            after: None,
            limit: PageLimit::new(4).unwrap(),
            search: search.clone(),
        };
        let page = chat.history(session, peer, &query).await.unwrap();
        before = page.items.first().map(Message::id);
        let items: Vec<Value> = page.items.iter().map(message).collect();
        pages.push(json!({ "messages": items, "has_more": page.has_more }));
        if !page.has_more {
            break;
        }
    }
    Value::Array(pages)
}

/// The messages after `after` (a message id, which is a position in the
/// change log), as recovery finds them.
async fn since(chat: &Chat, session: &Session, after: MessageId) -> Value {
    let mut messages = Vec::new();
    let mut cursor = Position::from(after);
    loop {
        let page = chat
            .changes(session, cursor, PageLimit::new(5).unwrap())
            .await
            .unwrap();
        messages.extend(page.items.iter().filter_map(|change| match change {
            Change::Message(m) => Some(message(m)),
            _ => None,
        }));
        match page.items.last() {
            Some(last) if page.has_more => cursor = last.position(),
            _ => break,
        }
    }
    Value::Array(messages)
}

/// A message as the fixtures record it.
pub fn message(message: &Message) -> Value {
    json!({
        "id": message.id().get(),
        "conversation": message.conversation().get(),
        "from": message.sender().username().as_str(),
        "to": message.recipient().map(|r| r.username().as_str()),
        "text": message.text().as_str(),
        "sent_at": message.sent_at().unix_micros(),
        "client_id": message.client_id().map(|c| c.as_str()),
    })
}

/// The tables whose rows a fixture records, with the columns that order
/// them.
pub const TABLES: [(&str, &str); 5] = [
    ("users", "id"),
    ("sessions", "id"),
    ("conversations", "id"),
    ("members", "conversation_id, user_id"),
    ("messages", "id"),
];

/// Every row of [`TABLES`] in a SQLite database, each column as SQL's
/// `quote()` gives it (a literal: `'text'`, `42`, `X'00ff'`, `NULL`).
pub async fn sqlite_rows(pool: &sqlx::SqlitePool) -> Value {
    use sqlx::Row;
    let mut tables = BTreeMap::new();
    for (table, order) in TABLES {
        let columns: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
        tables.insert(table, sqlite_table(pool, table, order, &columns).await);
    }
    json!(tables)
}

/// The rows of `table` in SQLite, only `columns` of them.
pub async fn sqlite_table(
    pool: &sqlx::SqlitePool,
    table: &str,
    order: &str,
    columns: &[String],
) -> Value {
    use sqlx::Row;
    let select: Vec<String> = columns.iter().map(|c| format!("quote({c})")).collect();
    let sql = format!("SELECT {} FROM {table} ORDER BY {order}", select.join(", "));
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .unwrap();
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let object: serde_json::Map<String, Value> = columns
                .iter()
                .enumerate()
                .map(|(i, column)| (column.clone(), json!(row.get::<String, _>(i))))
                .collect();
            Value::Object(object)
        })
        .collect();
    Value::Array(rows)
}

/// Every row of [`TABLES`] in a PostgreSQL database (the current schema),
/// each as `to_jsonb` gives it.
pub async fn pg_rows(pool: &sqlx::PgPool) -> Value {
    let mut tables = BTreeMap::new();
    for (table, order) in TABLES {
        let sql = format!("SELECT to_jsonb(t) FROM {table} t ORDER BY {order}");
        let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        tables.insert(table, Value::Array(rows));
    }
    json!(tables)
}

/// Checks that every row of `before` is in `after`, each recorded column
/// with its recorded value (later releases may add columns and rows).
///
/// # Panics
/// Naming the first row that is missing or changed.
pub fn assert_rows_kept(before: &Value, after: &Value) {
    let before = before.as_object().expect("tables");
    for (table, rows) in before {
        let kept = after[table]
            .as_array()
            .unwrap_or_else(|| panic!("table {table} is gone"));
        for (n, row) in rows.as_array().unwrap().iter().enumerate() {
            let Some(now) = kept.get(n) else {
                panic!("{table}: row {n} is gone: {row}");
            };
            for (column, value) in row.as_object().unwrap() {
                assert_eq!(
                    &now[column], value,
                    "{table}: row {n}, column {column} changed (was {row}, is {now})"
                );
            }
        }
    }
}

/// Checks that `now` answers exactly as `then` did, naming the first
/// difference.
///
/// # Panics
/// On a difference.
pub fn assert_same_answers(then: &Value, now: &Value) {
    if then != now {
        let path = first_difference(then, now, String::new());
        panic!("the upgraded database answers differently at {path}");
    }
}

fn first_difference(then: &Value, now: &Value, path: String) -> String {
    match (then, now) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let here = format!("{path}.{key}");
                match b.get(key) {
                    Some(other) if other != value => return first_difference(value, other, here),
                    None => return format!("{here} (missing)"),
                    _ => {}
                }
            }
            format!(
                "{path} (new keys: {:?})",
                b.keys().filter(|k| !a.contains_key(*k)).collect::<Vec<_>>()
            )
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (n, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    return first_difference(x, y, format!("{path}[{n}]"));
                }
            }
            path
        }
        _ => format!("{path}: was {then}, is {now}"),
    }
}

/// Whether both `me` and `peer` sent a message in the recorded history of
/// their conversation.
fn both_spoke_in(history: &Value, me: &str, peer: &str) -> bool {
    let senders: Vec<&str> = history
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|page| page["messages"].as_array().into_iter().flatten())
        .filter_map(|m| m["from"].as_str())
        .collect();
    let spoke = |name: &str| senders.iter().any(|s| s.eq_ignore_ascii_case(name));
    spoke(me) && spoke(peer)
}

/// A release's recorded fixture: its `answers.json` and `rows.json`.
pub struct Recorded {
    /// The release's version.
    pub version: String,
    /// The scenario's time when it ended.
    pub now: Timestamp,
    /// The sessions open at the end.
    pub sessions: Sessions,
    /// What every read answered.
    pub answers: Value,
    /// Every row written, by table.
    pub rows: Value,
}

impl Recorded {
    /// Reads the fixture in `dir`.
    pub fn read(dir: &std::path::Path) -> Self {
        let read = |name: &str| -> Value {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).unwrap()
        };
        let file = read("answers.json");
        Self {
            version: file["version"].as_str().unwrap().to_owned(),
            now: Timestamp::from_unix_micros(file["now"].as_i64().unwrap()),
            sessions: serde_json::from_value(file["sessions"].clone()).unwrap(),
            answers: file["answers"].clone(),
            rows: read("rows.json"),
        }
    }

    /// Since 0.2 (`members.has_spoken`): the upgrade marks the members who
    /// had sent a message, so that a conversation is mutual (presence and
    /// typing pass) exactly when its recorded history holds messages from
    /// both.
    async fn check_members_who_have_spoken(&self, chat: &Chat) {
        for (label, name, token) in &self.sessions {
            let session = chat.authenticate(token).await.unwrap();
            let query = ConversationQuery {
                before: None,
                limit: PageLimit::LARGEST,
            };
            let page = chat.conversations(&session, &query).await.unwrap();
            for summary in &page.items {
                let Some(peer) = summary.peer().map(|p| p.username().as_str()) else {
                    continue;
                };
                let recorded = USERS
                    .iter()
                    .map(|(user, _)| *user)
                    .find(|user| user.eq_ignore_ascii_case(peer))
                    .unwrap();
                let history = &self.answers["sessions"][label]["histories"][recorded];
                assert_eq!(
                    summary.mutual(),
                    both_spoke_in(history, name, peer),
                    "{label}: the conversation with {peer}"
                );
            }
        }
    }

    /// Since 0.2 (`users.username_skeleton`): the upgrade records what each
    /// stored name looks like, so that a look-alike of any of them is
    /// refused as taken.
    async fn check_look_alikes_are_taken(chat: &Chat) {
        for (n, look_alike) in ["a1ice", "B0b", "car0l", "clave.d", "er1n_e"]
            .into_iter()
            .enumerate()
        {
            let form = SignupForm {
                email: format!("look-alike-{n}@example.test"),
                username: look_alike.to_owned(),
                password: PASSWORD.to_owned(),
                confirm_password: PASSWORD.to_owned(),
            };
            let taken = chat.signup(form, "after-upgrade").await;
            assert!(
                matches!(taken, Err(chat_core::ChatError::UsernameTaken)),
                "{look_alike} after the upgrade: {taken:?}"
            );
        }
    }

    /// Checks that `store`, upgraded from this fixture, answers every read
    /// as the release did (its sessions still open, on a clock where the
    /// release left off), that the passwords still log in, and that it
    /// takes new messages, finds them and recovers them from the release's
    /// last cursor.
    ///
    /// # Panics
    /// Naming the first difference.
    pub async fn check_upgraded(&self, store: Arc<dyn Store>) {
        let clock = Arc::new(ManualClock::new(self.now));
        let chat = chat(store, clock.clone());
        let now = answers(&chat, &self.sessions).await;
        assert_same_answers(&self.answers, &now);
        self.check_members_who_have_spoken(&chat).await;
        Self::check_look_alikes_are_taken(&chat).await;

        for (name, _) in USERS {
            chat.login(name, PASSWORD.to_owned(), "after-upgrade")
                .await
                .unwrap_or_else(|e| panic!("{name} cannot log in after the upgrade: {e}"));
        }
        let (_, _, token) = &self.sessions[0];
        let alice = chat.authenticate(token).await.unwrap();
        let last = MessageId::new(
            self.answers["sessions"]["alice-laptop"]["last_message_id"]
                .as_i64()
                .unwrap(),
        );
        clock.advance(Duration::from_secs(1));
        let sent = chat
            .send(
                &alice,
                "carol",
                "after the upgrade: lunch again?".into(),
                Some("up-1".into()),
            )
            .await
            .unwrap();
        assert!(sent.created && sent.message.id() > last);
        let search = HistoryQuery {
            search: Some(SearchPattern::parse("LUNCH AGAIN").unwrap()),
            ..HistoryQuery::default()
        };
        let found = chat.history(&alice, "carol", &search).await.unwrap();
        assert_eq!(found.items, std::slice::from_ref(&sent.message));
        let recovered = chat
            .changes(&alice, last.into(), PageLimit::DEFAULT)
            .await
            .unwrap();
        assert_eq!(recovered.items, [Change::Message(sent.message.clone())]);
        // The change log works on an upgraded store: a read mark made now
        // is recovered after the newest message (the release's read marks
        // are state, not changes: none is replayed).
        let carol = chat
            .login("carol", PASSWORD.to_owned(), "after-upgrade")
            .await
            .unwrap()
            .session;
        chat.mark_read(&carol, "alice", sent.message.id())
            .await
            .unwrap();
        let read = chat
            .changes(&carol, sent.message.position(), PageLimit::DEFAULT)
            .await
            .unwrap();
        assert!(
            matches!(read.items.as_slice(), [Change::Read { up_to, .. }] if *up_to == sent.message.id()),
            "{:?}",
            read.items
        );
        let head = chat.head().await.unwrap().position();
        assert!(head > sent.message.position(), "the clock went on");
        Self::check_groups_on_an_upgraded_store(&chat, &alice, &carol).await;
        Self::check_host_users_on_an_upgraded_store(&chat, &alice).await;
        Self::check_lifecycle_on_an_upgraded_store(&chat, &alice).await;
        Self::check_moderation_on_an_upgraded_store(&chat, &alice).await;
    }

    /// The release's accounts are neither administrators nor disabled; an
    /// administrator made now disables one (its sessions end) and enables
    /// it again, each act in the audit log.
    async fn check_moderation_on_an_upgraded_store(chat: &Chat, alice: &Session) {
        let account = chat.account(alice).await.unwrap();
        assert!(!account.is_admin() && account.disabled_at().is_none());
        chat.grant_admin("alice").await.unwrap();
        let bob = chat
            .login("Bob", PASSWORD.to_owned(), "before-disable")
            .await
            .unwrap();
        chat.disable_account(alice, "bob", Some("upgrade check".into()))
            .await
            .unwrap();
        assert!(matches!(
            chat.authenticate(bob.token.expose()).await,
            Err(chat_core::ChatError::Unauthenticated)
        ));
        assert!(matches!(
            chat.login("Bob", PASSWORD.to_owned(), "while-disabled")
                .await,
            Err(chat_core::ChatError::AccountDisabled)
        ));
        chat.enable_account(alice, "bob", None).await.unwrap();
        // A group on the upgraded store (made by the group checks) takes
        // slow mode and a ban.
        let conversations = chat
            .conversations(alice, &chat_core::ports::ConversationQuery::default())
            .await
            .unwrap();
        let group = conversations
            .items
            .iter()
            .find(|c| {
                matches!(
                    c.kind,
                    chat_core::SummaryKind::Group {
                        role: Some(chat_core::Role::Owner),
                        ..
                    }
                )
            })
            .expect("a group alice owns");
        let slow = chat_core::SlowMode::from_secs(5).ok();
        let view = chat
            .set_slow_mode(alice, group.conversation, slow)
            .await
            .unwrap();
        assert_eq!(view.settings.slow_mode, slow);
        let view = chat
            .ban_member(alice, group.conversation, "Bob", None)
            .await
            .unwrap();
        assert_eq!(view.bans.len(), 1);
        chat.login("Bob", PASSWORD.to_owned(), "after-enable")
            .await
            .unwrap();
        let log = chat
            .audit_log(alice, None, PageLimit::DEFAULT)
            .await
            .unwrap();
        let actions: Vec<_> = log.items.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                chat_core::AuditAction::EnableAccount,
                chat_core::AuditAction::DisableAccount,
                chat_core::AuditAction::GrantAdmin,
            ]
        );
    }

    /// The release's messages take replies, deletes and the change log's
    /// record of them on an upgraded store; new messages are edited.
    async fn check_lifecycle_on_an_upgraded_store(chat: &Chat, alice: &Session) {
        let history = chat
            .history(alice, "bob", &HistoryQuery::default())
            .await
            .unwrap()
            .items;
        let from_bob = history
            .iter()
            .find(|m| m.sender().username().as_str() == "Bob")
            .expect("a release message from bob");
        let from_alice = history
            .iter()
            .find(|m| {
                m.sender().username().as_str() == "alice" && m.text().as_str().contains("Straße")
            })
            .expect("a release message from alice");
        let head = chat.head().await.unwrap().position();
        let reply = chat
            .send_draft(
                alice,
                "Bob",
                chat_core::Draft::new("replying after the upgrade").replying_to(from_bob.id()),
            )
            .await
            .unwrap()
            .message;
        let quote = reply.reply_to().expect("a quote of a release message");
        assert_eq!(quote.excerpt.as_deref(), Some(from_bob.text().as_str()));
        chat.block(alice, "Bob").await.unwrap();
        assert_eq!(chat.blocks(alice).await.unwrap().len(), 1);
        chat.unblock(alice, "Bob").await.unwrap();
        let reacted = chat.react(alice, from_bob.id(), "👍", true).await.unwrap();
        assert_eq!(
            reacted.reactions().len(),
            1,
            "a release message takes a reaction"
        );
        let deleted = chat.delete_message(alice, from_alice.id()).await.unwrap();
        assert!(deleted.is_deleted());
        let search = HistoryQuery {
            search: Some(SearchPattern::parse("straße").unwrap()),
            ..HistoryQuery::default()
        };
        assert!(
            chat.history(alice, "bob", &search)
                .await
                .unwrap()
                .items
                .is_empty(),
            "a deleted release message is not found"
        );
        let edited = chat
            .edit_message(alice, reply.id(), "edited after the upgrade, @Bob".into())
            .await
            .unwrap();
        assert!(edited.edited_at().is_some());
        // Release messages mention nobody; new ones name members, counted
        // in the inbox of whom they mention.
        assert!(from_bob.mentions().is_empty());
        assert_eq!(edited.mentions().users.len(), 1);
        let bob = chat
            .login("Bob", PASSWORD.to_owned(), "after-upgrade")
            .await
            .unwrap()
            .session;
        let inbox = chat
            .conversations(&bob, &chat_core::ports::ConversationQuery::default())
            .await
            .unwrap();
        let with_alice = inbox
            .items
            .iter()
            .find(|c| c.conversation == reply.conversation())
            .expect("bob's conversation with alice");
        assert_eq!(with_alice.mentions, 1);
        let changes = chat.changes(alice, head, PageLimit::DEFAULT).await.unwrap();
        let revised: Vec<_> = changes
            .items
            .iter()
            .filter_map(|c| match c {
                Change::Revised { message, .. } => Some(message.id()),
                _ => None,
            })
            .collect();
        assert_eq!(revised, [from_bob.id(), from_alice.id(), reply.id()]);
    }

    /// Users a host brings live beside the release's password accounts on
    /// an upgraded store: created by their id (a taken name refused), with
    /// no email, talking with a password account; the accounts keep their
    /// emails and passwords.
    async fn check_host_users_on_an_upgraded_store(chat: &Chat, alice: &Session) {
        assert!(matches!(
            chat.upsert_user("host|1", "ALICE", None).await,
            Err(chat_core::ChatError::UsernameTaken)
        ));
        let ada = chat
            .upsert_user("host|1", "ada_after_upgrade", Some("Ada"))
            .await
            .unwrap();
        assert_eq!(ada.email(), None);
        let again = chat.upsert_user("host|1", "ignored", None).await.unwrap();
        assert_eq!(again.user(), ada.user());
        assert_eq!(again.display_name().map(|n| n.as_str()), Some("Ada"));
        let sent = chat
            .send(alice, "ada_after_upgrade", "hello ada".into(), None)
            .await
            .unwrap();
        let session = chat.open_session(ada).await.unwrap().session;
        let page = chat
            .history(&session, "alice", &HistoryQuery::default())
            .await
            .unwrap();
        assert_eq!(page.items, [sent.message]);
        let account = chat.account(alice).await.unwrap();
        assert!(account.email().is_some(), "alice keeps her email");
        // And keys of the server API are kept on it.
        let (key, secret) = chat
            .create_api_key("after the upgrade", "feed")
            .await
            .unwrap();
        let found = chat
            .api_key(secret.expose(), chat_core::ApiScope::Feed)
            .await
            .unwrap();
        assert_eq!(found, key);
        let feed = chat.feed(None, PageLimit::LARGEST).await.unwrap();
        assert!(
            !feed.changes.is_empty(),
            "the feed reads the release's messages"
        );
        // Conversations are muted and unmuted on it.
        let conversation = page.items[0].conversation();
        chat.mute(alice, conversation, None).await.unwrap();
        assert_eq!(chat.mutes(alice).await.unwrap().len(), 1);
        chat.unmute(alice, conversation).await.unwrap();
        assert!(chat.mutes(alice).await.unwrap().is_empty());
    }

    /// Groups work on an upgraded store, beside the release's direct
    /// conversations: alice and carol have both written, so alice adds
    /// carol at once; the group is in both inboxes with the direct
    /// conversations, and its messages in both histories and change logs.
    async fn check_groups_on_an_upgraded_store(chat: &Chat, alice: &Session, carol: &Session) {
        let before = chat
            .conversations(carol, &ConversationQuery::default())
            .await
            .unwrap();
        let group = chat
            .create_group(
                alice,
                chat_core::GroupForm {
                    title: "after the upgrade".into(),
                    members: vec!["carol".into()],
                    ..chat_core::GroupForm::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(group.members.len(), 2, "carol was added at once");
        let head = chat.head().await.unwrap().position();
        let sent = chat
            .send_to_group(alice, group.id, "a group, on an old database".into(), None)
            .await
            .unwrap();
        let history = chat
            .group_history(carol, group.id, &HistoryQuery::default())
            .await
            .unwrap();
        assert_eq!(history.items.last(), Some(&sent.message));
        let recovered = chat.changes(carol, head, PageLimit::DEFAULT).await.unwrap();
        assert_eq!(recovered.items, [Change::Message(sent.message.clone())]);
        let after = chat
            .conversations(carol, &ConversationQuery::default())
            .await
            .unwrap();
        assert_eq!(after.items[0].conversation, group.id);
        assert_eq!(
            &after.items[1..],
            &before.items[..],
            "the direct conversations answer as before, after the group"
        );
    }
}

/// Checks that no migration a release shipped was edited: each line of
/// `<crate>/released-migrations.sha256` (as `sha256sum` writes it, by
/// `scripts/upgrade-fixture.sh`) names a file of `<crate>/migrations/` and
/// its SHA-256. A new migration goes in a new file.
///
/// # Panics
/// Naming the migration that changed or is gone.
pub fn assert_released_migrations_unchanged(crate_dir: &str) {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(crate_dir);
    let list = std::fs::read_to_string(dir.join("released-migrations.sha256")).unwrap();
    let mut checked = 0;
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, file) = line.split_once("  ").expect("`<sha256>  <file>` lines");
        let path = dir.join("migrations").join(file);
        let text = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("released migration {file} is gone: {e}"));
        let now: String = Sha256::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            now, hash,
            "released migration {file} was edited: add a new migration instead"
        );
        checked += 1;
    }
    assert!(checked > 0, "no released migrations listed");
}
