//! A batch that fails in the middle of SQLite's write script leaves nothing
//! behind: no message, no position taken from the clock, no open
//! transaction on the writer.

#![allow(clippy::unwrap_used, clippy::panic)] // A test: a failure is a failed test.

use chat_core::ports::{
    Appended, ConversationStore, HistoryQuery, MessageStore, NewUser, PageLimit, UserStore,
};
use chat_core::{
    ConversationId, Email, MessageText, NewMessage, PasswordHash, Timestamp, User, Username,
};
use chat_store_sqlite::SqliteStore;

async fn user(store: &SqliteStore, name: &str) -> User {
    store
        .insert_user(NewUser {
            username: Username::parse(name).unwrap(),
            email: Email::parse(format!("{name}@example.test")).unwrap(),
            password_hash: PasswordHash::from_phc("$argon2id$not-a-real-hash"),
            created_at: Timestamp::from_unix_micros(0),
        })
        .await
        .unwrap()
        .user()
        .clone()
}

fn message(conversation: ConversationId, from: &User, to: &User, text: &str) -> NewMessage {
    NewMessage {
        conversation,
        sender: from.clone(),
        recipient: Some(to.clone()),
        text: MessageText::parse(text).unwrap(),
        sent_at: Timestamp::from_unix_micros(1),
        client_id: None,
        reply: None,
        mentioned: Default::default(),
    }
}

fn id(appended: &Appended) -> i64 {
    match appended {
        Appended::Created(message) | Appended::Existing(message) => message.id().get(),
    }
}

#[tokio::test]
async fn a_batch_failing_mid_script_writes_nothing_and_the_next_one_follows_on() {
    let store = SqliteStore::memory().await.unwrap();
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    let conversation = store
        .direct_conversation(alice.id(), bob.id(), Timestamp::from_unix_micros(0))
        .await
        .unwrap();
    let first = store
        .append_batch(&[message(conversation, &alice, &bob, "first")])
        .await
        .unwrap();
    let first = id(first[0].as_ref().unwrap());

    // The second message names a conversation that does not exist: its
    // insert fails after the clock has moved and the first row is in.
    let nowhere = ConversationId::new(9_999);
    let failed = store
        .append_batch(&[
            message(conversation, &alice, &bob, "lost with its batch"),
            message(nowhere, &alice, &bob, "nowhere"),
        ])
        .await;
    let failed_whole = failed.is_err() || failed.unwrap().iter().all(Result::is_err);
    assert!(failed_whole, "the batch fails as a whole");

    let next = store
        .append_batch(&[message(conversation, &alice, &bob, "next")])
        .await
        .unwrap();
    assert_eq!(
        id(next[0].as_ref().unwrap()),
        first + 1,
        "the failed batch took no position"
    );
    let history = store
        .list_messages(
            conversation,
            &HistoryQuery {
                before: None,
                after: None,
                limit: PageLimit::new(50).unwrap(),
                search: None,
            },
        )
        .await
        .unwrap();
    let texts: Vec<&str> = history.items.iter().map(|m| m.text().as_str()).collect();
    assert_eq!(texts, ["first", "next"]);
}
