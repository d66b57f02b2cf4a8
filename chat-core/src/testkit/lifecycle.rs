//! The message-lifecycle suite: replies, edits and deletes over a store
//! (who may, what the history, the search, the inbox and quotes show, and
//! how the changes reach live streams and resuming clients).

use std::sync::Arc;
use std::time::Duration;

use super::harness::Harness;
use crate::ports::{Clock, ConversationQuery, HistoryQuery, PageLimit, Store};
use crate::{
    Change, ChatConfig, ConversationId, Draft, EventKind, GroupForm, Item, Live, Message, Position,
    Resume, SearchPattern, Session,
};

async fn pair(store: Arc<dyn Store>, config: ChatConfig) -> (Harness, Session, Session) {
    let h = Harness::with(store, super::generous_limits(), config);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    (h, alice, bob)
}

async fn history(h: &Harness, who: &Session, peer: &str) -> Vec<Message> {
    h.chat
        .history(who, peer, &HistoryQuery::default())
        .await
        .unwrap()
        .items
}

async fn search(h: &Harness, who: &Session, peer: &str, term: &str) -> Vec<String> {
    let query = HistoryQuery {
        search: Some(SearchPattern::parse(term).unwrap()),
        ..HistoryQuery::default()
    };
    h.chat
        .history(who, peer, &query)
        .await
        .unwrap()
        .items
        .iter()
        .map(|m| m.text().as_str().to_owned())
        .collect()
}

async fn unread(h: &Harness, who: &Session) -> u64 {
    h.chat
        .conversations(who, &ConversationQuery::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.unread)
        .sum()
}

/// A group `title` made by `owner` with `members` (who have written with
/// them), the default settings otherwise.
async fn group(h: &Harness, owner: &Session, title: &str, members: &[&str]) -> ConversationId {
    h.chat
        .create_group(
            owner,
            GroupForm {
                title: title.into(),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
                ..GroupForm::default()
            },
        )
        .await
        .unwrap()
        .id
}

/// The next change a live stream yields, failing after a bounded wait.
async fn next_change(live: &mut Live) -> EventKind {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("a delivery")
            .expect("the stream goes on")
            .unwrap();
        if let Item::Change { event, .. } = item {
            return event.kind().clone();
        }
    }
}

#[track_caller]
fn assert_code<T: std::fmt::Debug>(result: crate::Result<T>, code: &str) {
    match result {
        Err(error) => assert_eq!(error.code(), code, "{error}"),
        Ok(value) => panic!("expected {code}, got {value:?}"),
    }
}

pub async fn replies_quote_their_parent_as_it_is_now(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    let parent = h.send(&alice, "bob", "shall we have lunch at noon?").await;
    let reply = h
        .chat
        .send_draft(&bob, "alice", Draft::new("yes!").replying_to(parent.id()))
        .await
        .unwrap()
        .message;
    let quote = reply.reply_to().expect("a quote");
    assert_eq!(quote.id, parent.id());
    assert_eq!(quote.sender.username().as_str(), "alice");
    assert_eq!(
        quote.excerpt.as_deref(),
        Some("shall we have lunch at noon?")
    );
    assert_eq!(reply.thread_root(), Some(parent.id()));
    // A reply to the reply stays in the first one's thread.
    let again = h
        .chat
        .send_draft(&alice, "bob", Draft::new("great").replying_to(reply.id()))
        .await
        .unwrap()
        .message;
    assert_eq!(again.thread_root(), Some(parent.id()));
    // Long texts are cut in the quote.
    let long = h.send(&alice, "bob", &"x".repeat(500)).await;
    let to_long = h
        .chat
        .send_draft(&bob, "alice", Draft::new("wow").replying_to(long.id()))
        .await
        .unwrap()
        .message;
    assert_eq!(
        to_long.reply_to().unwrap().excerpt.as_deref().map(str::len),
        Some(crate::Quote::EXCERPT_LEN)
    );
    // The history shows the parent as it is now: edited, then deleted.
    h.chat
        .edit_message(&alice, parent.id(), "lunch at one instead?".into())
        .await
        .unwrap();
    let shown = history(&h, &bob, "alice").await;
    let quoted = shown.iter().find(|m| m.id() == reply.id()).unwrap();
    assert_eq!(
        quoted.reply_to().unwrap().excerpt.as_deref(),
        Some("lunch at one instead?")
    );
    h.chat.delete_message(&alice, parent.id()).await.unwrap();
    let shown = history(&h, &bob, "alice").await;
    let quoted = shown.iter().find(|m| m.id() == reply.id()).unwrap();
    assert_eq!(quoted.reply_to().unwrap().excerpt, None, "deleted");
    // A reply goes to its parent's conversation only.
    let elsewhere = h.send(&alice, "carol", "hi carol").await;
    assert_code(
        h.chat
            .send_draft(&alice, "bob", Draft::new("x").replying_to(elsewhere.id()))
            .await,
        "invalid_input",
    );
    // Carol cannot reply into a conversation she is not in, nor learn of
    // its messages by trying.
    assert_code(
        h.chat
            .send_draft(&carol, "alice", Draft::new("x").replying_to(reply.id()))
            .await,
        "invalid_input",
    );
    assert_code(
        h.chat
            .send_draft(
                &alice,
                "bob",
                Draft::new("x").replying_to(crate::MessageId::new(999_999)),
            )
            .await,
        "invalid_input",
    );
    // Nothing was stored by the refused replies.
    assert_eq!(history(&h, &bob, "alice").await.len(), 5);
}

pub async fn senders_edit_their_own_messages_within_the_window(store: Arc<dyn Store>) {
    let config = ChatConfig::default().with_edit_window(Some(Duration::from_secs(600)));
    let (h, alice, bob) = pair(store, config).await;
    let carol = h.user("carol").await;
    let message = h.send(&alice, "bob", "see you at the caffe").await;
    h.clock.advance(Duration::from_secs(60));
    let edited = h
        .chat
        .edit_message(&alice, message.id(), "  see you at the café  ".into())
        .await
        .unwrap();
    assert_eq!(edited.text().as_str(), "see you at the café");
    assert_eq!(edited.edited_at(), Some(h.clock.now()));
    assert_eq!(edited.sent_at(), message.sent_at());
    assert_eq!(edited.id(), message.id());
    // Everyone reads the new text; the search finds its words only.
    let shown = history(&h, &bob, "alice").await;
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].text().as_str(), "see you at the café");
    assert_eq!(shown[0].edited_at(), Some(h.clock.now()));
    assert_eq!(search(&h, &bob, "alice", "CAFÉ").await.len(), 1);
    assert!(search(&h, &bob, "alice", "caffe").await.is_empty());
    // Only the sender edits, and only what they may read exists for them.
    assert_code(
        h.chat
            .edit_message(&bob, message.id(), "hijacked".into())
            .await,
        "forbidden",
    );
    assert_code(
        h.chat
            .edit_message(&carol, message.id(), "hijacked".into())
            .await,
        "not_found",
    );
    assert_code(
        h.chat
            .edit_message(&alice, crate::MessageId::new(999_999), "x".into())
            .await,
        "not_found",
    );
    assert_code(
        h.chat
            .edit_message(&alice, message.id(), "   ".into())
            .await,
        "invalid_input",
    );
    // After the window, no more.
    h.clock.advance(Duration::from_secs(600));
    assert_code(
        h.chat
            .edit_message(&alice, message.id(), "too late".into())
            .await,
        "edit_window_closed",
    );
    assert_eq!(
        history(&h, &bob, "alice").await[0].text().as_str(),
        "see you at the café"
    );
    // A group's system messages are no one's to edit.
    h.send(&bob, "alice", "hi").await;
    let group = h
        .chat
        .create_group(
            &alice,
            GroupForm {
                title: "Team".into(),
                members: vec!["bob".into()],
                ..GroupForm::default()
            },
        )
        .await
        .unwrap();
    let created = h
        .chat
        .group_history(&alice, group.id, &HistoryQuery::default())
        .await
        .unwrap()
        .items[0]
        .clone();
    assert!(created.event().is_some());
    assert_code(
        h.chat
            .edit_message(&alice, created.id(), "rewritten".into())
            .await,
        "forbidden",
    );
    assert_code(
        h.chat.delete_message(&alice, created.id()).await,
        "forbidden",
    );
}

pub async fn deletes_leave_a_tombstone_that_nothing_finds_or_counts(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let first = h.send(&alice, "bob", "a secret word: marmalade").await;
    let second = h.send(&alice, "bob", "and another").await;
    assert_eq!(unread(&h, &bob).await, 2);
    assert_code(h.chat.delete_message(&bob, first.id()).await, "forbidden");
    h.clock.advance(Duration::from_secs(5));
    let tombstone = h.chat.delete_message(&alice, first.id()).await.unwrap();
    assert!(tombstone.is_deleted());
    assert_eq!(tombstone.deleted_at(), Some(h.clock.now()));
    assert_eq!(tombstone.text().as_str(), "");
    assert_eq!(
        (tombstone.id(), tombstone.sent_at()),
        (first.id(), first.sent_at())
    );
    // Deleting again is no error and changes nothing.
    let again = h.chat.delete_message(&alice, first.id()).await.unwrap();
    assert_eq!(again, tombstone);
    // The history keeps its place; the search never finds it; the unread
    // count leaves it out; it cannot be edited.
    let shown = history(&h, &bob, "alice").await;
    assert_eq!(
        shown.iter().map(Message::id).collect::<Vec<_>>(),
        [first.id(), second.id()]
    );
    assert!(shown[0].is_deleted());
    assert_eq!(shown[0].text().as_str(), "");
    assert!(search(&h, &bob, "alice", "marmalade").await.is_empty());
    assert!(search(&h, &bob, "alice", "se").await.is_empty());
    assert_eq!(unread(&h, &bob).await, 1);
    assert_code(
        h.chat.edit_message(&alice, first.id(), "back".into()).await,
        "conflict",
    );
    // The newest message deleted: the inbox shows its tombstone.
    h.chat.delete_message(&alice, second.id()).await.unwrap();
    let list = h
        .chat
        .conversations(&bob, &ConversationQuery::default())
        .await
        .unwrap();
    let last = list.items[0].last_message.as_ref().unwrap();
    assert_eq!(last.id(), second.id());
    assert!(last.is_deleted());
    assert_eq!(list.items[0].unread, 0);
}

pub async fn group_admins_delete_anyones_message_and_members_their_own(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    h.send(&alice, "bob", "hi").await;
    h.send(&bob, "alice", "hi").await;
    h.send(&alice, "carol", "hi").await;
    h.send(&carol, "alice", "hi").await;
    let id = group(&h, &alice, "Team", &["bob", "carol"]).await;
    let send = |who: &Session, text: &str| {
        let (chat, who, text) = (h.chat.clone(), who.clone(), text.to_owned());
        async move {
            chat.send_to_group(&who, id, text, None)
                .await
                .unwrap()
                .message
        }
    };
    let by_bob = send(&bob, "bob's").await;
    let by_carol = send(&carol, "carol's").await;
    let by_alice = send(&alice, "alice's").await;
    // A member deletes their own only.
    assert_code(
        h.chat.delete_message(&bob, by_carol.id()).await,
        "forbidden",
    );
    assert_code(
        h.chat.delete_message(&bob, by_alice.id()).await,
        "forbidden",
    );
    // The owner deletes anyone's; so does an admin.
    assert!(
        h.chat
            .delete_message(&alice, by_carol.id())
            .await
            .unwrap()
            .is_deleted()
    );
    h.chat
        .set_role(&alice, id, "bob", crate::Role::Admin)
        .await
        .unwrap();
    assert!(
        h.chat
            .delete_message(&bob, by_alice.id())
            .await
            .unwrap()
            .is_deleted()
    );
    // A sender who left still deletes their own; an admin who left no
    // longer moderates.
    let by_carol = send(&carol, "carol's second").await;
    h.chat.remove_member(&carol, id, "carol").await.unwrap();
    assert!(
        h.chat
            .delete_message(&carol, by_carol.id())
            .await
            .unwrap()
            .is_deleted()
    );
    let by_alice = send(&alice, "alice's second").await;
    h.chat.remove_member(&bob, id, "bob").await.unwrap();
    assert_code(
        h.chat.delete_message(&bob, by_alice.id()).await,
        "forbidden",
    );
    // Nor may he touch what came after he left.
    let after = send(&alice, "after bob left").await;
    assert_code(h.chat.delete_message(&bob, after.id()).await, "not_found");
    assert!(
        h.chat
            .delete_message(&bob, by_bob.id())
            .await
            .unwrap()
            .is_deleted()
    );
}

pub async fn changes_to_messages_reach_live_streams_and_resuming_clients_once(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    let seen = h.send(&alice, "bob", "message one hundred").await;
    let mut bobs = h.chat.live(&bob, Resume::Now, 1000).await.unwrap();
    let mut carols = h.chat.live(&carol, Resume::Now, 1000).await.unwrap();
    // Live: the edit, then the delete, each once, to both members.
    h.chat
        .edit_message(&alice, seen.id(), "message one hundred, fixed".into())
        .await
        .unwrap();
    let EventKind::Revised { message, position } = next_change(&mut bobs).await else {
        panic!("not a revision")
    };
    assert_eq!(message.text().as_str(), "message one hundred, fixed");
    let edit_position = position;
    h.chat.delete_message(&alice, seen.id()).await.unwrap();
    let EventKind::Revised { message, position } = next_change(&mut bobs).await else {
        panic!("not a revision")
    };
    assert!(message.is_deleted() && position > edit_position);
    // Carol, a stranger, heard nothing of it.
    h.send(&alice, "carol", "for carol").await;
    assert!(matches!(
        next_change(&mut carols).await,
        EventKind::Message { message } if message.text().as_str() == "for carol"
    ));
    // A client that saw the message and resumes after both changes gets
    // the message's newest state once, at the delete's position.
    let later = h.send(&alice, "bob", "after the changes").await;
    let changes = h
        .chat
        .changes(&bob, seen.position(), PageLimit::DEFAULT)
        .await
        .unwrap()
        .items;
    let described: Vec<(Position, String)> = changes
        .iter()
        .map(|c| {
            let what = match c {
                Change::Revised { message, .. } if message.is_deleted() => {
                    format!("deleted {}", message.id())
                }
                Change::Revised { message, .. } => format!("edited {}", message.id()),
                Change::Message(m) => format!("message {}", m.id()),
                Change::Read { .. } => "read".into(),
            };
            (c.position(), what)
        })
        .filter(|(_, what)| what != "read")
        .collect();
    assert_eq!(
        described,
        [
            (position, format!("deleted {}", seen.id())),
            (later.position(), format!("message {}", later.id())),
        ]
    );
    // Resuming between the edit and the delete gives the delete only.
    let after_edit = h
        .chat
        .changes(&bob, edit_position, PageLimit::DEFAULT)
        .await
        .unwrap()
        .items;
    assert_eq!(
        after_edit
            .iter()
            .filter(|c| matches!(c, Change::Revised { .. }))
            .count(),
        1
    );
    // Carol's log holds none of it.
    let carols_log = h
        .chat
        .changes(&carol, Position::ZERO, PageLimit::DEFAULT)
        .await
        .unwrap()
        .items;
    assert!(
        carols_log
            .iter()
            .all(|c| !matches!(c, Change::Revised { .. }))
    );
    // A stream resuming from the message replays the delete, then the
    // newer message.
    let cursor = h.chat.cursor_at(seen.position()).await.unwrap();
    let mut resumed = h
        .chat
        .live(&bob, Resume::Cursor(cursor), 1000)
        .await
        .unwrap();
    assert!(matches!(
        next_change(&mut resumed).await,
        EventKind::Revised { message, .. } if message.is_deleted()
    ));
    // The feed carries the change too.
    let feed = h.chat.feed(None, PageLimit::LARGEST).await.unwrap();
    assert!(feed.changes.iter().any(|(c, _)| matches!(
        c,
        Change::Revised { message, .. } if message.id() == seen.id() && message.is_deleted()
    )));
}

pub async fn group_members_hear_changes_while_they_may_read(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    h.send(&alice, "bob", "hi").await;
    h.send(&bob, "alice", "hi").await;
    let id = group(&h, &alice, "Team", &["bob"]).await;
    let message = h
        .chat
        .send_to_group(&alice, id, "to the team".into(), None)
        .await
        .unwrap()
        .message;
    let mut bobs = h.chat.live(&bob, Resume::Now, 1000).await.unwrap();
    h.chat
        .edit_message(&alice, message.id(), "to the whole team".into())
        .await
        .unwrap();
    assert!(matches!(
        next_change(&mut bobs).await,
        EventKind::Revised { message, .. } if message.text().as_str() == "to the whole team"
    ));
    let before_leaving = h.chat.head().await.unwrap().position();
    h.chat.remove_member(&alice, id, "bob").await.unwrap();
    // After bob left, a change is not his to hear.
    h.chat.delete_message(&alice, message.id()).await.unwrap();
    let changes = h
        .chat
        .changes(&bob, before_leaving, PageLimit::DEFAULT)
        .await
        .unwrap()
        .items;
    assert!(
        changes.iter().all(|c| !matches!(c, Change::Revised { .. })),
        "{changes:?}"
    );
    // A member reading since before the message gets it in its current
    // state, and its change.
    let changes = h
        .chat
        .changes(&alice, Position::ZERO, PageLimit::LARGEST)
        .await
        .unwrap()
        .items;
    assert!(changes.iter().any(|c| matches!(
        c,
        Change::Message(m) if m.id() == message.id() && m.is_deleted()
    )));
}

pub async fn edits_are_asked_of_the_policy_and_count_as_sends(store: Arc<dyn Store>) {
    let limits = crate::RateLimits {
        send_per_user: crate::Rate::new(2, Duration::from_secs(60)),
        ..super::generous_limits()
    };
    let h = Harness::with(store, limits, ChatConfig::default());
    let alice = h.user("alice").await;
    h.signup("bob").await;
    let message = h.send(&alice, "bob", "one").await;
    h.chat
        .edit_message(&alice, message.id(), "two".into())
        .await
        .unwrap();
    assert_code(
        h.chat
            .edit_message(&alice, message.id(), "three".into())
            .await,
        "rate_limited",
    );
}

pub async fn later_members_never_see_an_older_message_through_a_quote_or_an_edit(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    for (a, b, name) in [(&alice, &bob, "bob"), (&alice, &carol, "carol")] {
        h.send(a, name, "hi").await;
        h.send(b, "alice", "hi").await;
    }
    let id = group(&h, &alice, "From joining", &["bob"]).await;
    let before = h
        .chat
        .send_to_group(&alice, id, "before carol".into(), None)
        .await
        .unwrap()
        .message;
    h.chat.add_member(&alice, id, "carol").await.unwrap();
    let mut carols = h.chat.live(&carol, Resume::Now, 1000).await.unwrap();
    // Carol may not read it: no quote of it, no edit of it reaches her.
    assert_code(
        h.chat
            .send_draft_to_group(&bob, id, Draft::new("re").replying_to(before.id()))
            .await,
        "invalid_input",
    );
    assert_code(
        h.chat
            .edit_message(&alice, before.id(), "changed".into())
            .await,
        "conflict",
    );
    // What she may read takes replies and edits as usual.
    let after = h
        .chat
        .send_to_group(&alice, id, "after carol".into(), None)
        .await
        .unwrap()
        .message;
    assert!(matches!(
        next_change(&mut carols).await,
        EventKind::Message { message } if message.id() == after.id()
    ));
    h.chat
        .send_draft_to_group(&bob, id, Draft::new("re").replying_to(after.id()))
        .await
        .unwrap();
    h.chat
        .edit_message(&alice, after.id(), "after carol, edited".into())
        .await
        .unwrap();
    let kinds = [
        next_change(&mut carols).await,
        next_change(&mut carols).await,
    ];
    assert!(matches!(&kinds[0], EventKind::Message { message } if message.reply_to().is_some()));
    assert!(matches!(&kinds[1], EventKind::Revised { message, .. } if message.id() == after.id()));
    // Where the whole history is shared, every member may read it all.
    let shared = h
        .chat
        .create_group(
            &alice,
            GroupForm {
                title: "Shared".into(),
                members: vec!["bob".into()],
                history: crate::HistoryVisibility::Shared,
                ..GroupForm::default()
            },
        )
        .await
        .unwrap()
        .id;
    let old = h
        .chat
        .send_to_group(&alice, shared, "old news".into(), None)
        .await
        .unwrap()
        .message;
    h.chat.add_member(&alice, shared, "carol").await.unwrap();
    h.chat
        .send_draft_to_group(&bob, shared, Draft::new("re").replying_to(old.id()))
        .await
        .unwrap();
    h.chat
        .edit_message(&alice, old.id(), "old news, edited".into())
        .await
        .unwrap();
}

fn counts(message: &Message) -> Vec<(String, u64, Option<bool>)> {
    message
        .reactions()
        .iter()
        .map(|r| (r.emoji.as_str().to_owned(), r.count, r.me))
        .collect()
}

fn reaction(emoji: &str, count: u64, me: Option<bool>) -> (String, u64, Option<bool>) {
    (emoji.to_owned(), count, me)
}

pub async fn reactions_are_one_emoji_each_counted_per_reader_and_replayed(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    let message = h.send(&alice, "bob", "good news").await;
    let mut alices = h.chat.live(&alice, Resume::Now, 1000).await.unwrap();
    let reacted = h.chat.react(&bob, message.id(), "👍🏽", true).await.unwrap();
    assert_eq!(counts(&reacted), [reaction("👍🏽", 1, Some(true))]);
    let EventKind::Reacted {
        message: shown,
        reactions,
        by,
        emoji,
        added,
        ..
    } = next_change(&mut alices).await
    else {
        panic!("not a reaction")
    };
    assert_eq!(
        (shown, by.username().as_str(), emoji.as_str(), added),
        (message.id(), "bob", "👍🏽", true)
    );
    assert_eq!(
        counts(&message.clone().with_reactions(reactions)),
        [reaction("👍🏽", 1, None)],
        "live: no `me`"
    );
    h.chat
        .react(&alice, message.id(), "👍🏽", true)
        .await
        .unwrap();
    h.chat
        .react(&alice, message.id(), "🎉", true)
        .await
        .unwrap();
    // Again: nothing changes.
    let again = h.chat.react(&bob, message.id(), "👍🏽", true).await.unwrap();
    assert_eq!(
        counts(&again),
        [
            reaction("👍🏽", 2, Some(true)),
            reaction("🎉", 1, Some(false))
        ]
    );
    // Each reader's history says which are theirs.
    let shown = history(&h, &alice, "bob").await;
    assert_eq!(
        counts(&shown[0]),
        [reaction("👍🏽", 2, Some(true)), reaction("🎉", 1, Some(true))]
    );
    // Bad input, strangers, and what cannot be reacted to.
    for bad in ["", "ok", "👍👍", "👍 "] {
        assert_code(
            h.chat.react(&bob, message.id(), bad, true).await,
            "invalid_input",
        );
    }
    assert_code(
        h.chat.react(&carol, message.id(), "👍", true).await,
        "not_found",
    );
    // Taken away; a client resuming from the message gets its reactions as
    // they are now, as it sees them, once.
    h.chat.react(&bob, message.id(), "👍🏽", false).await.unwrap();
    let changes = h
        .chat
        .changes(&bob, message.position(), PageLimit::DEFAULT)
        .await
        .unwrap()
        .items;
    let revised: Vec<&Message> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Revised { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(revised.len(), 1);
    assert_eq!(
        counts(revised[0]),
        [
            reaction("👍🏽", 1, Some(false)),
            reaction("🎉", 1, Some(false))
        ]
    );
    // At most MAX_REACTIONS different emoji on a message.
    let busy = h.send(&alice, "bob", "react to me").await;
    for n in 0..crate::MAX_REACTIONS {
        let emoji = char::from_u32(0x1F600 + u32::try_from(n).unwrap())
            .unwrap()
            .to_string();
        h.chat.react(&bob, busy.id(), &emoji, true).await.unwrap();
    }
    assert_code(h.chat.react(&bob, busy.id(), "🦀", true).await, "conflict");
    // A deleted message loses its reactions and takes no more.
    h.chat.delete_message(&alice, message.id()).await.unwrap();
    assert_code(
        h.chat.react(&bob, message.id(), "👍", true).await,
        "conflict",
    );
    let shown = history(&h, &bob, "alice").await;
    assert!(shown[0].is_deleted() && shown[0].reactions().is_empty());
}

pub async fn a_block_stops_direct_messages_typing_and_group_adds(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    h.send(&alice, "bob", "hi").await;
    h.send(&bob, "alice", "hi").await;
    // Bad input.
    assert_code(h.chat.block(&alice, "alice").await, "invalid_input");
    assert_code(h.chat.block(&alice, "not a name").await, "invalid_input");
    assert_code(h.chat.block(&alice, "nobody").await, "not_found");
    h.clock.advance(Duration::from_secs(1));
    let block = h.chat.block(&alice, "BOB").await.unwrap();
    assert_eq!(block.user.username().as_str(), "bob");
    assert_eq!(block.since, h.clock.now());
    // Again: the same block.
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.chat.block(&alice, "bob").await.unwrap(), block);
    assert_eq!(
        h.chat.blocks(&alice).await.unwrap(),
        std::slice::from_ref(&block)
    );
    assert!(
        h.chat.blocks(&bob).await.unwrap().is_empty(),
        "his own list"
    );
    // Bob is refused like any refusal, and nothing is stored; Alice is
    // told why.
    let before = history(&h, &alice, "bob").await.len();
    assert_code(
        h.chat.send(&bob, "alice", "let me in".into(), None).await,
        "forbidden",
    );
    assert_code(
        h.chat
            .send(&alice, "bob", "one more thing".into(), None)
            .await,
        "conflict",
    );
    assert_eq!(history(&h, &alice, "bob").await.len(), before);
    // Nor an edit or a reaction in their conversation; a delete still is
    // his to make.
    let his = history(&h, &alice, "bob")
        .await
        .into_iter()
        .find(|m| m.sender().username().as_str() == "bob")
        .unwrap();
    assert_code(
        h.chat.edit_message(&bob, his.id(), "changed".into()).await,
        "forbidden",
    );
    assert_code(h.chat.react(&bob, his.id(), "👍", true).await, "forbidden");
    assert_code(h.chat.react(&alice, his.id(), "👍", true).await, "conflict");
    // His typing does not reach her.
    let mut alices = h.chat.live(&alice, Resume::Now, 1000).await.unwrap();
    h.chat.typing(&bob, "alice").await.unwrap();
    h.send(&carol, "alice", "from carol").await;
    let item = tokio::time::timeout(Duration::from_secs(10), alices.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(&item, Item::Change { event, .. } if matches!(event.kind(), EventKind::Message { .. })),
        "no typing first: {item:?}"
    );
    // He cannot bring her into a group either.
    h.send(&bob, "carol", "hi").await;
    h.send(&carol, "bob", "hi").await;
    assert_code(
        h.chat
            .create_group(
                &bob,
                GroupForm {
                    title: "With alice".into(),
                    members: vec!["alice".into()],
                    ..GroupForm::default()
                },
            )
            .await,
        "forbidden",
    );
    let group = group(&h, &bob, "Without alice", &["carol"]).await;
    assert_code(h.chat.add_member(&bob, group, "alice").await, "forbidden");
    // Unblocked, they talk again.
    h.chat.unblock(&alice, "bob").await.unwrap();
    h.chat.unblock(&alice, "bob").await.unwrap();
    assert!(h.chat.blocks(&alice).await.unwrap().is_empty());
    h.send(&bob, "alice", "hello again").await;
}

/// The group "Team" of alice (its owner), bob and carol, who have each
/// written with alice first.
async fn team(h: &Harness, alice: &Session, bob: &Session, carol: &Session) -> ConversationId {
    for (other, name) in [(bob, "bob"), (carol, "carol")] {
        h.send(alice, name, "hi").await;
        h.send(other, "alice", "hi").await;
    }
    group(h, alice, "Team", &["bob", "carol"]).await
}

/// Each conversation's mention count for `who`, by conversation.
async fn mention_counts(h: &Harness, who: &Session) -> Vec<(ConversationId, u64)> {
    let mut counts: Vec<_> = h
        .chat
        .conversations(who, &ConversationQuery::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| (c.conversation, c.mentions))
        .collect();
    counts.sort();
    counts
}

async fn mentions_in(h: &Harness, who: &Session, id: ConversationId) -> u64 {
    mention_counts(h, who)
        .await
        .into_iter()
        .find(|(c, _)| *c == id)
        .map_or(0, |(_, n)| n)
}

pub async fn mentions_name_members_only_and_count_until_read(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    let _mallory = h.user("mallory").await;
    // A direct message mentions at most the other member.
    let direct = h.send(&alice, "bob", "hi @Bob, ask @carol").await;
    let names: Vec<_> = direct
        .mentions()
        .users
        .iter()
        .map(|u| u.username().as_str().to_owned())
        .collect();
    assert_eq!(names, ["bob"]);
    assert_eq!(mentions_in(&h, &bob, direct.conversation()).await, 1);
    assert_eq!(mentions_in(&h, &alice, direct.conversation()).await, 0);
    // In a group, only members are mentioned; a stranger is never told.
    let id = team(&h, &alice, &bob, &carol).await;
    let sent = h
        .chat
        .send_draft_to_group(&bob, id, Draft::new("@carol @mallory @bob look"))
        .await
        .unwrap()
        .message;
    let names: Vec<_> = sent
        .mentions()
        .users
        .iter()
        .map(|u| u.username().as_str().to_owned())
        .collect();
    assert_eq!(names, ["carol", "bob"]);
    assert_eq!(mentions_in(&h, &carol, id).await, 1);
    assert_eq!(mentions_in(&h, &bob, id).await, 0, "never the sender");
    assert_eq!(mentions_in(&h, &alice, id).await, 0);
    // The history shows them.
    let page = h
        .chat
        .group_history(&carol, id, &HistoryQuery::default())
        .await
        .unwrap();
    let stored = page.items.iter().find(|m| m.id() == sent.id()).unwrap();
    assert_eq!(stored.mentions(), sent.mentions());
    // Reading clears the count.
    h.chat.mark_group_read(&carol, id, sent.id()).await.unwrap();
    assert_eq!(mentions_in(&h, &carol, id).await, 0);
    // An edit replaces the mentions and their counts; a delete removes them.
    let named = h
        .chat
        .send_draft_to_group(&bob, id, Draft::new("@alice please"))
        .await
        .unwrap()
        .message;
    assert_eq!(mentions_in(&h, &alice, id).await, 1);
    let edited = h
        .chat
        .edit_message(&bob, named.id(), "@carol please".into())
        .await
        .unwrap();
    assert_eq!(edited.mentions().users.len(), 1);
    assert_eq!(mentions_in(&h, &alice, id).await, 0);
    assert_eq!(mentions_in(&h, &carol, id).await, 1);
    h.chat.delete_message(&bob, named.id()).await.unwrap();
    assert_eq!(mentions_in(&h, &carol, id).await, 0);
    let page = h
        .chat
        .group_history(&carol, id, &HistoryQuery::default())
        .await
        .unwrap();
    let tombstone = page.items.iter().find(|m| m.id() == named.id()).unwrap();
    assert!(tombstone.mentions().is_empty());
}

pub async fn everyone_is_called_by_admins_only_and_here_reaches_those_online(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    let id = team(&h, &alice, &bob, &carol).await;
    // From a member, @all is plain text.
    let plain = h
        .chat
        .send_draft_to_group(&bob, id, Draft::new("@all lunch?"))
        .await
        .unwrap()
        .message;
    assert!(plain.mentions().is_empty());
    assert_eq!(mentions_in(&h, &carol, id).await, 0);
    // From the owner, it reaches every member but the sender.
    let all = h
        .chat
        .send_draft_to_group(&alice, id, Draft::new("@all meeting now"))
        .await
        .unwrap()
        .message;
    assert_eq!(all.mentions().everyone, Some(crate::Everyone::All));
    assert_eq!(mentions_in(&h, &bob, id).await, 1);
    assert_eq!(mentions_in(&h, &carol, id).await, 1);
    assert_eq!(mentions_in(&h, &alice, id).await, 0);
    // @here reaches those online only.
    h.chat.connected(&carol).await.unwrap();
    let here = h
        .chat
        .send_draft_to_group(&alice, id, Draft::new("@here anyone?"))
        .await
        .unwrap()
        .message;
    assert_eq!(here.mentions().everyone, Some(crate::Everyone::Here));
    assert_eq!(mentions_in(&h, &carol, id).await, 2);
    assert_eq!(mentions_in(&h, &bob, id).await, 1);
    // Direct conversations have no everyone.
    let direct = h.send(&alice, "bob", "@all @here").await;
    assert!(direct.mentions().is_empty());
}

pub async fn threads_have_a_timeline_and_a_summary_on_their_root(store: Arc<dyn Store>) {
    let (h, alice, bob) = pair(store, ChatConfig::default()).await;
    let carol = h.user("carol").await;
    let root = h.send(&alice, "bob", "plans for friday?").await;
    let mut replies = Vec::new();
    for (who, to, text) in [
        (&bob, "alice", "dinner"),
        (&alice, "bob", "where?"),
        (&bob, "alice", "the usual"),
    ] {
        // Each answers the previous message: all in the root's thread.
        let parent = replies.last().map_or(root.id(), |m: &Message| m.id());
        let reply = h
            .chat
            .send_draft(who, to, Draft::new(text).replying_to(parent))
            .await
            .unwrap()
            .message;
        assert_eq!(reply.thread_root(), Some(root.id()));
        replies.push(reply);
    }
    h.send(&alice, "bob", "unrelated").await;
    // Who takes part, and what is new to each: alice (the root's sender)
    // has read up to her reply, so bob's last one is new to her.
    let unread = |who: &Session| {
        let (h, who) = (&h, who.clone());
        async move {
            h.chat
                .threads(&who, PageLimit::DEFAULT)
                .await
                .unwrap()
                .iter()
                .map(|t| (t.root.id(), t.root.thread().map(|s| s.replies), t.unread))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(unread(&alice).await, [(root.id(), Some(3), 1)]);
    assert_eq!(unread(&bob).await, [(root.id(), Some(3), 0)]);
    assert_eq!(unread(&carol).await, []);
    let mark = h
        .chat
        .mark_thread_read(&alice, replies[0].id(), replies[2].id())
        .await
        .unwrap();
    assert_eq!(mark, replies[2].id());
    assert_eq!(unread(&alice).await, [(root.id(), Some(3), 0)]);
    // Never back.
    let mark = h
        .chat
        .mark_thread_read(&alice, root.id(), root.id())
        .await
        .unwrap();
    assert_eq!(mark, replies[2].id());
    assert_code(
        h.chat.mark_thread_read(&carol, root.id(), root.id()).await,
        "not_found",
    );
    // The history shows the summary on the root, not on replies.
    let page = history(&h, &bob, "alice").await;
    let on_root = page.iter().find(|m| m.id() == root.id()).unwrap();
    let summary = on_root.thread().expect("a summary on the root");
    assert_eq!(summary.replies, 3);
    assert_eq!(summary.last_reply, replies[2].id());
    assert!(
        page.iter()
            .filter(|m| m.id() != root.id())
            .all(|m| m.thread().is_none())
    );
    // The thread pages like a conversation, from any of its messages.
    let (found, first) = h
        .chat
        .thread(
            &bob,
            replies[1].id(),
            &HistoryQuery {
                limit: PageLimit::new(2).unwrap(),
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.id(), root.id());
    assert_eq!(found.thread().map(|t| t.replies), Some(3));
    assert_eq!(
        first.items.iter().map(Message::id).collect::<Vec<_>>(),
        [replies[1].id(), replies[2].id()]
    );
    assert!(first.has_more);
    let (_, older) = h
        .chat
        .thread(
            &bob,
            root.id(),
            &HistoryQuery {
                before: Some(replies[1].id()),
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        older.items.iter().map(Message::id).collect::<Vec<_>>(),
        [replies[0].id()]
    );
    assert!(!older.has_more);
    // A deleted reply leaves the count; a stranger reads nothing.
    h.chat.delete_message(&bob, replies[2].id()).await.unwrap();
    let (found, _) = h
        .chat
        .thread(&alice, root.id(), &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(
        found.thread().map(|t| (t.replies, t.last_reply)),
        Some((2, replies[1].id()))
    );
    assert_code(
        h.chat
            .thread(&carol, root.id(), &HistoryQuery::default())
            .await,
        "not_found",
    );
    // A message with no replies has no thread to mark.
    let lonely = h.send(&alice, "bob", "anyone?").await;
    assert_code(
        h.chat
            .mark_thread_read(&bob, lonely.id(), lonely.id())
            .await,
        "conflict",
    );
    // A deleted root keeps its thread while it has replies; a deleted
    // message without replies has none, as it is gone.
    h.chat.delete_message(&alice, root.id()).await.unwrap();
    let (found, page) = h
        .chat
        .thread(&bob, root.id(), &HistoryQuery::default())
        .await
        .unwrap();
    assert!(found.is_deleted());
    assert_eq!(
        page.items
            .iter()
            .map(|m| (m.id(), m.is_deleted()))
            .collect::<Vec<_>>(),
        [
            (replies[0].id(), false),
            (replies[1].id(), false),
            (replies[2].id(), true)
        ]
    );
    h.chat.delete_message(&alice, lonely.id()).await.unwrap();
    assert_code(
        h.chat
            .thread(&bob, lonely.id(), &HistoryQuery::default())
            .await,
        "not_found",
    );
    assert_code(
        h.chat
            .mark_thread_read(&bob, lonely.id(), lonely.id())
            .await,
        "not_found",
    );

    // In a group, a member who leaves keeps what they saw but no longer
    // learns of replies: no summaries, no thread in their list.
    h.send(&alice, "carol", "hi").await;
    h.send(&carol, "alice", "hi").await;
    let id = group(&h, &alice, "Team", &["bob", "carol"]).await;
    let asked = h
        .chat
        .send_draft_to_group(&carol, id, Draft::new("who is in?"))
        .await
        .unwrap()
        .message
        .id();
    h.chat
        .send_draft_to_group(&bob, id, Draft::new("me").replying_to(asked))
        .await
        .unwrap();
    let summary_for = |who: &Session| {
        let (h, who) = (&h, who.clone());
        async move {
            h.chat
                .group_history(&who, id, &HistoryQuery::default())
                .await
                .unwrap()
                .items
                .iter()
                .find(|m| m.id() == asked)
                .and_then(|m| m.thread().map(|t| t.replies))
        }
    };
    assert_eq!(summary_for(&carol).await, Some(1));
    assert_eq!(unread(&carol).await, [(asked, Some(1), 1)]);
    let later = h
        .chat
        .send_draft_to_group(&alice, id, Draft::new("next topic"))
        .await
        .unwrap()
        .message
        .id();
    h.chat.remove_member(&carol, id, "carol").await.unwrap();
    assert_eq!(summary_for(&carol).await, None);
    assert_eq!(summary_for(&bob).await, Some(1));
    assert_eq!(unread(&carol).await, []);
    // Nor through whether a deleted root still has a thread: replies that
    // came after she left are not hers to learn of.
    h.chat
        .send_draft_to_group(&bob, id, Draft::new("on it").replying_to(later))
        .await
        .unwrap();
    h.chat.delete_message(&alice, later).await.unwrap();
    assert!(
        h.chat
            .thread(&bob, later, &HistoryQuery::default())
            .await
            .is_ok()
    );
    assert_code(
        h.chat.thread(&carol, later, &HistoryQuery::default()).await,
        "not_found",
    );
    assert_code(
        h.chat.mark_thread_read(&carol, later, later).await,
        "not_found",
    );
    // What she saw before leaving stays hers, deleted root or not, and
    // later replies do not reach her.
    h.chat
        .send_draft_to_group(&bob, id, Draft::new("and me").replying_to(asked))
        .await
        .unwrap();
    h.chat.delete_message(&carol, asked).await.unwrap();
    let (_, page) = h
        .chat
        .thread(&carol, asked, &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
}
