//! Chat inside your own program: no server, the memory store, the
//! in-process bus. Two users sign up, talk, listen live, search, and make a
//! group.
//!
//! Run with `cargo run --release -p examples --bin embedded`.

#![allow(clippy::print_stdout)]

use std::sync::Arc;

use chat_core::{
    Chat, Delivery, EventKind, GroupForm, HistoryQuery, MemoryStore, SearchPattern, SignupForm,
    SummaryKind,
};
use futures::StreamExt;

const PASSWORD: &str = "correct horse battery";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Any store works: `chat_store_sqlite::SqliteStore::open("sqlite://chat.db")`
    // keeps a file; the memory store keeps nothing.
    let chat = Chat::builder(Arc::new(MemoryStore::new())).build();

    for name in ["alice", "bob"] {
        let account = chat
            .signup(
                SignupForm {
                    email: format!("{name}@example.com"),
                    username: name.into(),
                    password: PASSWORD.into(),
                    confirm_password: PASSWORD.into(),
                },
                "example",
            )
            .await?;
        println!(
            "signed up {} (id {})",
            account.user().username(),
            account.user().id()
        );
    }
    let alice = chat
        .login("alice", PASSWORD.into(), "example")
        .await?
        .session;
    let bob = chat.login("bob", PASSWORD.into(), "example").await?.session;

    // Bob listens before Alice writes: live delivery, no polling.
    let mut bob_events = chat.subscribe(&bob).await?;
    for text in ["Hi Bob!", "Lunch at noon?", "The NOON train, I mean."] {
        chat.send(&alice, "bob", text.into(), None).await?;
    }
    for _ in 0..3 {
        if let Some(Delivery::Event(event)) = bob_events.next().await
            && let EventKind::Message { message } = event.kind()
        {
            let from = message.sender().username();
            println!(
                "bob received #{} from {from}: {}",
                message.id(),
                message.text().as_str()
            );
        }
    }

    // A retry with the same client id stores nothing new.
    let reply = || chat.send(&bob, "alice", "Noon works.".into(), Some("reply-1".into()));
    let (first, retry) = (reply().await?, reply().await?);
    println!(
        "bob replied #{}; the retry returned #{} (created: {})",
        first.message.id(),
        retry.message.id(),
        retry.created
    );

    // Case-insensitive substring search over the conversation.
    let query = HistoryQuery {
        search: Some(SearchPattern::parse("noon")?),
        ..HistoryQuery::default()
    };
    let found = chat.history(&alice, "bob", &query).await?;
    println!(
        "alice searched for \"noon\": {} messages",
        found.items.len()
    );
    for m in &found.items {
        let (id, from, text) = (m.id(), m.sender().username(), m.text().as_str());
        println!("  #{id} {from}: {text}");
    }

    // Conversation list with unread counts, then a read mark.
    let alices = chat.conversations(&alice, &Default::default()).await?;
    for summary in &alices.items {
        let unread = summary.unread;
        match &summary.kind {
            SummaryKind::Direct { peer, .. } => {
                println!(
                    "alice's conversation with {}: {unread} unread",
                    peer.username()
                );
            }
            SummaryKind::Group { title, .. } => {
                println!("alice's group {title}: {unread} unread");
            }
        }
    }
    let mark = chat.mark_read(&alice, "bob", first.message.id()).await?;
    println!("alice read up to #{mark}");

    // A group. Bob has written with alice, so she adds him at once (anyone
    // else would be invited, and join by accepting).
    let lunch = chat
        .create_group(
            &alice,
            GroupForm {
                title: "Lunch".into(),
                members: vec!["bob".into()],
                ..GroupForm::default()
            },
        )
        .await?;
    println!(
        "alice made the group {} with {} members",
        lunch.title,
        lunch.members.len()
    );
    chat.send_to_group(&bob, lunch.id, "Table for two at noon.".into(), None)
        .await?;
    let said = chat
        .group_history(&alice, lunch.id, &HistoryQuery::default())
        .await?;
    for m in &said.items {
        println!(
            "  {} in {}: {}",
            m.sender().username(),
            lunch.title,
            m.text().as_str()
        );
    }
    Ok(())
}
