//! chat-client against the real reference server: typed events live, and
//! across a server restart the connection comes back by itself, resumes
//! from its cursor without missing or repeating a message, and sends what
//! its outbox held while the server was down, once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chat_client::{Client, Live, LiveEvent, LiveOptions, ServerEvent, To};
use chat_test_support::WAIT;
use chat_test_support::process::{GENEROUS, ServerProcess};

const BINARY: &str = env!("CARGO_BIN_EXE_chat-server");
const PASSWORD: &str = "correct horse battery staple";

/// The server on `listen`, its database in `dir`.
async fn server(dir: &std::path::Path, listen: &str) -> ServerProcess {
    let database = format!("sqlite://{}", dir.join("chat.db").display());
    let mut args = vec!["--listen", listen, "--database-url", &database];
    args.extend(GENEROUS);
    ServerProcess::spawn(BINARY, None, &args).await
}

/// The next event that `keep` picks out, waiting (bounded) past others.
async fn next_where<T>(live: &mut Live, mut keep: impl FnMut(LiveEvent) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let event = live.next().await.expect("the connection goes on");
            if let Some(found) = keep(event) {
                return found;
            }
        }
    })
    .await
    .expect("the event in time")
}

/// The text of the next message delivered.
async fn next_message(live: &mut Live) -> String {
    next_where(live, |event| match event {
        LiveEvent::Event(ServerEvent::Message { message, .. }) => Some(message.text),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_connection_survives_a_restart_resumes_and_resends_its_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let first = server(dir.path(), "127.0.0.1:0").await;
    let address = first.client.host.clone();
    let client = Client::new(&first.client.base).unwrap();
    for name in ["alice", "bob"] {
        let user = client
            .signup(name, &format!("{name}@example.test"), PASSWORD)
            .await
            .unwrap();
        assert_eq!(user.username, name);
    }
    let alice = client.login("alice", PASSWORD).await.unwrap();
    let bob = client.login("bob", PASSWORD).await.unwrap();
    assert_eq!(bob.me().await.unwrap().username, "bob");

    // Quick reconnections: the server is back within a second or two.
    let mut options = LiveOptions::default();
    options.max_retry = std::time::Duration::from_millis(500);
    let mut bob_live = Live::connect(bob.clone(), options.clone()).await.unwrap();
    let mut alice_live = Live::connect(alice.clone(), options).await.unwrap();
    alice_live
        .send(To::User("bob".into()), "one")
        .await
        .unwrap();
    assert_eq!(next_message(&mut bob_live).await, "one");
    next_where(&mut alice_live, |event| match event {
        LiveEvent::Event(ServerEvent::Ack { message, .. }) => Some(message.text),
        _ => None,
    })
    .await;
    assert_eq!(alice_live.pending(), 0);

    // The server goes away: both connections notice; what alice sends
    // meanwhile waits in her outbox.
    first.terminate().await;
    for live in [&mut alice_live, &mut bob_live] {
        next_where(live, |event| {
            matches!(event, LiveEvent::Disconnected { .. }).then_some(())
        })
        .await;
    }
    let client_id = alice_live
        .send(To::User("bob".into()), "two")
        .await
        .unwrap();
    assert!(client_id.starts_with("rc-"));

    // Back on the same address and database: alice's outbox goes out
    // under its client id, bob resumes from his cursor, and "two" arrives
    // once ("one" is not replayed).
    let _second = server(dir.path(), &address).await;
    let acked = next_where(&mut alice_live, |event| match event {
        LiveEvent::Event(ServerEvent::Ack {
            client_id, message, ..
        }) => Some((client_id, message.text)),
        _ => None,
    })
    .await;
    assert_eq!(acked, (Some(client_id), "two".to_owned()));
    assert_eq!(alice_live.pending(), 0);
    assert_eq!(next_message(&mut bob_live).await, "two");
    let history: Vec<String> = bob
        .history("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(history, ["one", "two"], "stored once each");

    // A session that is no longer one is refused at once.
    let stranger = client.session("not a token");
    match stranger.live().await {
        Err(chat_client::Error::Api(refused)) => assert_eq!(refused.status, 401),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_edits_and_deletes_arrive_typed() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path(), "127.0.0.1:0").await;
    let client = Client::new(&server.client.base).unwrap();
    for name in ["alice", "bob"] {
        client
            .signup(name, &format!("{name}@example.test"), PASSWORD)
            .await
            .unwrap();
    }
    let alice = client.login("alice", PASSWORD).await.unwrap();
    let bob = client.login("bob", PASSWORD).await.unwrap();
    let mut bobs = bob.live().await.unwrap();
    let question = alice.send("bob", "lunch at noon?").await.unwrap();
    assert_eq!(next_message(&mut bobs).await, "lunch at noon?");
    let reply = bob.reply("alice", question.id, "yes").await.unwrap();
    let quote = reply.reply_to.expect("a quote");
    assert_eq!(
        (quote.id, quote.text.as_deref()),
        (question.id, Some("lunch at noon?"))
    );
    assert_eq!(reply.thread_root, Some(question.id));
    alice.edit(question.id, "lunch at one?").await.unwrap();
    let edited = next_where(&mut bobs, |event| match event {
        LiveEvent::Event(ServerEvent::Edited { message, .. }) => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(edited.text, "lunch at one?");
    assert!(edited.edited_at.is_some());
    let refused = bob.edit(question.id, "mine").await.unwrap_err();
    assert!(
        matches!(refused, chat_client::Error::Api(ref e) if e.code == "forbidden"),
        "{refused:?}"
    );
    let reacted = alice.react(question.id, "👍🏽", true).await.unwrap();
    assert_eq!(reacted.reactions.len(), 1);
    assert_eq!(reacted.reactions[0].me, Some(true));
    let (user, emoji) = next_where(&mut bobs, |event| match event {
        LiveEvent::Event(ServerEvent::Reaction { user, emoji, .. }) => Some((user, emoji)),
        _ => None,
    })
    .await;
    assert_eq!((user.as_str(), emoji.as_str()), ("alice", "👍🏽"));
    let tombstone = alice.delete(question.id).await.unwrap();
    assert!(tombstone.deleted_at.is_some() && tombstone.text.is_empty());
    let deleted = next_where(&mut bobs, |event| match event {
        LiveEvent::Event(ServerEvent::Deleted { message, .. }) => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(deleted.id, question.id);
}
