//! The group conformance suite: every rule of group conversations, over a
//! store (membership, roles, consent, visibility, the inbox, live delivery
//! and races).

use std::sync::Arc;
use std::time::Duration;

use super::harness::Harness;
use crate::ports::{ConversationQuery, HistoryQuery, Store};
use crate::{
    Change, ChatConfig, ChatError, ConversationId, GroupEvent, GroupForm, GroupView,
    HistoryVisibility, Item, Live, Message, MessageId, Position, Resume, Role, SearchPattern,
    Session, SummaryKind,
};

/// A harness with `alice`, `bob` and `carol`, where alice and bob have
/// both written to each other (so alice may add bob directly) and carol
/// is a stranger to both.
async fn three(store: Arc<dyn Store>, config: ChatConfig) -> (Harness, Session, Session, Session) {
    let h = Harness::with(store, super::generous_limits(), config);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.send(&alice, "bob", "hi bob").await;
    h.send(&bob, "alice", "hi alice").await;
    (h, alice, bob, carol)
}

fn form(title: &str, members: &[&str]) -> GroupForm {
    GroupForm {
        title: title.into(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        ..GroupForm::default()
    }
}

fn names(view: &GroupView) -> Vec<(String, Role)> {
    view.members
        .iter()
        .map(|m| (m.user.username().as_str().to_owned(), m.role))
        .collect()
}

async fn history(h: &Harness, who: &Session, id: ConversationId) -> crate::Result<Vec<Message>> {
    h.chat
        .group_history(who, id, &HistoryQuery::default())
        .await
        .map(|page| page.items)
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text().as_str()).collect()
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: crate::Result<T>) {
    assert!(
        matches!(result, Err(ChatError::NotFound)),
        "expected not_found, got {result:?}"
    );
}

/// The next change a live stream yields, within a bounded wait.
async fn next_change(live: &mut Live) -> Message {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("a delivery")
            .expect("the stream goes on")
            .unwrap();
        if let Item::Change { event, .. } = item
            && let crate::EventKind::Message { message } = event.kind()
        {
            return message.clone();
        }
    }
}

pub async fn a_group_is_made_with_its_owner_the_members_who_consent_and_invitations(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob, carol) = three(store, ChatConfig::default()).await;
    let group = h
        .chat
        .create_group(&alice, form("  Team  ", &["bob", "carol", "BOB"]))
        .await
        .unwrap();
    assert_eq!(group.title.as_str(), "Team");
    assert_eq!(group.role, Some(Role::Owner));
    // Bob has written with alice: added. Carol has not: invited.
    assert_eq!(
        names(&group),
        [("alice".into(), Role::Owner), ("bob".into(), Role::Member)]
    );
    assert_eq!(group.invited.len(), 1);
    assert_eq!(group.invited[0].username().as_str(), "carol");
    let said = history(&h, &alice, group.id).await.unwrap();
    assert_eq!(
        texts(&said),
        [
            "alice created the group \"Team\"",
            "alice added bob",
            "alice invited carol"
        ]
    );
    assert!(
        matches!(said[1].event(), Some(GroupEvent::Added { user }) if user.username().as_str() == "bob")
    );
    // Carol sees the group she is invited to, but not what it says, until
    // she joins.
    let seen = h.chat.group(&carol, group.id).await.unwrap();
    assert_eq!((seen.role, seen.title.as_str()), (None, "Team"));
    let invitations = h.chat.invitations(&carol).await.unwrap();
    assert_eq!(invitations.len(), 1);
    assert_eq!(invitations[0].by.username().as_str(), "alice");
    assert_not_found(history(&h, &carol, group.id).await);
    assert_not_found(
        h.chat
            .send_to_group(&carol, group.id, "let me in".into(), None)
            .await,
    );
    let joined = h.chat.join_group(&carol, group.id).await.unwrap();
    assert_eq!(joined.role, Some(Role::Member));
    assert!(h.chat.invitations(&carol).await.unwrap().is_empty());
    assert_eq!(
        texts(&history(&h, &carol, group.id).await.unwrap()),
        ["carol joined"],
        "she sees the group from when she joined"
    );
    let _ = bob;
}

pub async fn a_stranger_gets_not_found_whether_or_not_the_group_exists(store: Arc<dyn Store>) {
    let (h, alice, bob, carol) = three(store, ChatConfig::default()).await;
    let group = h
        .chat
        .create_group(&alice, form("Private", &["bob"]))
        .await
        .unwrap();
    let missing = ConversationId::new(group.id.get() + 1000);
    // The direct conversation of alice and bob is not a group either.
    let direct = h.send(&alice, "bob", "just us").await.conversation();
    for id in [group.id, missing, direct] {
        assert_not_found(h.chat.group(&carol, id).await);
        assert_not_found(history(&h, &carol, id).await);
        assert_not_found(h.chat.send_to_group(&carol, id, "hi".into(), None).await);
        assert_not_found(h.chat.mark_group_read(&carol, id, MessageId::new(1)).await);
        assert_not_found(h.chat.group_typing(&carol, id).await);
        assert_not_found(h.chat.rename_group(&carol, id, "Mine".into()).await);
        assert_not_found(h.chat.add_member(&carol, id, "carol").await);
        assert_not_found(h.chat.remove_member(&carol, id, "bob").await);
        assert_not_found(h.chat.set_role(&carol, id, "bob", Role::Admin).await);
        assert_not_found(h.chat.join_group(&carol, id).await);
    }
    // Adding someone who does not exist is not found too.
    assert_not_found(h.chat.add_member(&alice, group.id, "nobody").await);
    let _ = bob;
}

pub async fn roles_decide_who_renames_adds_removes_and_hands_over(store: Arc<dyn Store>) {
    let (h, alice, bob, carol) = three(store, ChatConfig::default()).await;
    let dave = h.user("dave").await;
    let id = h
        .chat
        .create_group(&alice, form("Crew", &["bob"]))
        .await
        .unwrap()
        .id;
    h.chat.add_member(&alice, id, "carol").await.unwrap();
    h.chat.join_group(&carol, id).await.unwrap();
    // Members only read, send and leave.
    assert!(matches!(
        h.chat.rename_group(&bob, id, "Bob's".into()).await,
        Err(ChatError::Forbidden)
    ));
    assert!(matches!(
        h.chat.remove_member(&bob, id, "carol").await,
        Err(ChatError::Forbidden)
    ));
    assert!(matches!(
        h.chat.set_role(&bob, id, "carol", Role::Admin).await,
        Err(ChatError::Forbidden)
    ));
    // The owner makes bob an admin: he renames and removes members, not
    // admins and not the owner.
    h.chat
        .set_role(&alice, id, "bob", Role::Admin)
        .await
        .unwrap();
    let renamed = h
        .chat
        .rename_group(&bob, id, "Crew 2".into())
        .await
        .unwrap();
    assert_eq!(renamed.title.as_str(), "Crew 2");
    h.chat
        .set_role(&alice, id, "carol", Role::Admin)
        .await
        .unwrap();
    assert!(matches!(
        h.chat.remove_member(&bob, id, "carol").await,
        Err(ChatError::Forbidden)
    ));
    assert!(matches!(
        h.chat.remove_member(&bob, id, "alice").await,
        Err(ChatError::Conflict { .. })
    ));
    // Nobody demotes the owner, not even the owner.
    assert!(matches!(
        h.chat.set_role(&alice, id, "alice", Role::Member).await,
        Err(ChatError::Conflict { .. })
    ));
    // Handing over: carol owns it, alice becomes an admin.
    let handed = h
        .chat
        .set_role(&alice, id, "carol", Role::Owner)
        .await
        .unwrap();
    assert_eq!(
        names(&handed),
        [
            ("alice".into(), Role::Admin),
            ("bob".into(), Role::Admin),
            ("carol".into(), Role::Owner)
        ]
    );
    // The owner leaving hands the group to the longest-standing admin.
    assert!(
        h.chat
            .remove_member(&carol, id, "carol")
            .await
            .unwrap()
            .is_none()
    );
    let after = h.chat.group(&alice, id).await.unwrap();
    assert_eq!(
        names(&after),
        [("alice".into(), Role::Owner), ("bob".into(), Role::Admin)]
    );
    let said = history(&h, &alice, id).await.unwrap();
    let tail: Vec<&str> = texts(&said).into_iter().rev().take(2).collect();
    assert_eq!(tail, ["carol left", "carol made alice the owner"]);
    // Exactly one owner all along; a non-member cannot be given a role.
    assert_not_found(h.chat.set_role(&alice, id, "dave", Role::Admin).await);
    let _ = dave;
}

pub async fn the_member_cap_and_the_title_are_checked(store: Arc<dyn Store>) {
    let config = ChatConfig::default().with_max_group_members(3);
    let (h, alice, _bob, carol) = three(store, config).await;
    let dave = h.user("dave").await;
    for name in ["carol", "dave"] {
        h.send(&alice, name, "hello").await;
    }
    h.send(&carol, "alice", "hello").await;
    h.send(&dave, "alice", "hello").await;
    assert!(matches!(
        h.chat
            .create_group(&alice, form("Big", &["bob", "carol", "dave"]))
            .await,
        Err(ChatError::TooManyMembers { max: 3 })
    ));
    let id = h
        .chat
        .create_group(&alice, form("Small", &["bob", "carol"]))
        .await
        .unwrap()
        .id;
    assert!(matches!(
        h.chat.add_member(&alice, id, "dave").await,
        Err(ChatError::TooManyMembers { max: 3 })
    ));
    for title in ["", "   ", "two\nlines", "\u{202E}txet"] {
        assert!(matches!(
            h.chat.create_group(&alice, form(title, &[])).await,
            Err(ChatError::InvalidInput { field: "title", .. })
        ));
        assert!(matches!(
            h.chat.rename_group(&alice, id, title.into()).await,
            Err(ChatError::InvalidInput { field: "title", .. })
        ));
    }
    assert!(matches!(
        h.chat.create_group(&alice, form("Me", &["alice"])).await,
        Err(ChatError::InvalidInput {
            field: "members",
            ..
        })
    ));
}

pub async fn a_removed_member_keeps_what_came_before_and_hears_nothing_after(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob, _carol) = three(store, ChatConfig::default()).await;
    let id = h
        .chat
        .create_group(&alice, form("Team", &["bob"]))
        .await
        .unwrap()
        .id;
    h.chat
        .send_to_group(&bob, id, "bob was here".into(), None)
        .await
        .unwrap();
    let before_removal = h.chat.head().await.unwrap().position();
    h.chat.remove_member(&alice, id, "bob").await.unwrap();
    h.chat
        .send_to_group(&alice, id, "after bob".into(), None)
        .await
        .unwrap();
    // Bob reads up to his removal, including it, and nothing after.
    let seen = history(&h, &bob, id).await.unwrap();
    assert_eq!(
        texts(&seen).last().copied(),
        Some("alice removed bob"),
        "{:?}",
        texts(&seen)
    );
    assert!(!texts(&seen).contains(&"after bob"));
    let search = HistoryQuery {
        search: Some(SearchPattern::parse("after").unwrap()),
        ..HistoryQuery::default()
    };
    assert!(
        h.chat
            .group_history(&bob, id, &search)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Nor does recovery give him anything after it.
    let changes = h
        .chat
        .changes(&bob, before_removal, crate::ports::PageLimit::LARGEST)
        .await
        .unwrap();
    let recovered: Vec<&str> = changes
        .items
        .iter()
        .filter_map(|c| match c {
            Change::Message(m) => Some(m.text().as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(recovered, ["alice removed bob"]);
    // He may not send, and is not re-added without his consent.
    assert_not_found(
        h.chat
            .send_to_group(&bob, id, "still me".into(), None)
            .await,
    );
    let view = h.chat.add_member(&alice, id, "bob").await.unwrap();
    assert!(view.members.iter().all(|m| m.user.id() != bob.user().id()));
    assert_eq!(view.invited.len(), 1, "invited, not added");
    h.chat.join_group(&bob, id).await.unwrap();
    let back = history(&h, &bob, id).await.unwrap();
    assert!(
        texts(&back).contains(&"bob was here") && texts(&back).contains(&"after bob"),
        "back by consent, a member sees again from when they first joined: {:?}",
        texts(&back)
    );
}

pub async fn history_is_visible_from_joining_or_whole_as_the_group_chose(store: Arc<dyn Store>) {
    let (h, alice, bob, _carol) = three(store, ChatConfig::default()).await;
    for (history_rule, sees_earlier) in [
        (HistoryVisibility::Joined, false),
        (HistoryVisibility::Shared, true),
    ] {
        let id = h
            .chat
            .create_group(
                &alice,
                GroupForm {
                    history: history_rule,
                    ..form("Rules", &[])
                },
            )
            .await
            .unwrap()
            .id;
        h.chat
            .send_to_group(&alice, id, "before bob".into(), None)
            .await
            .unwrap();
        h.chat.add_member(&alice, id, "bob").await.unwrap();
        let seen = history(&h, &bob, id).await.unwrap();
        assert_eq!(
            texts(&seen).contains(&"before bob"),
            sees_earlier,
            "{history_rule:?}: {:?}",
            texts(&seen)
        );
    }
}

pub async fn group_messages_are_idempotent_and_in_the_inbox_with_unread_counts(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob, _carol) = three(store, ChatConfig::default()).await;
    let id = h
        .chat
        .create_group(&alice, form("Inbox", &["bob"]))
        .await
        .unwrap()
        .id;
    let first = h
        .chat
        .send_to_group(&alice, id, "one".into(), Some("c-1".into()))
        .await
        .unwrap();
    let again = h
        .chat
        .send_to_group(&alice, id, "one".into(), Some("c-1".into()))
        .await
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.message.id(), again.message.id());
    h.chat
        .send_to_group(&alice, id, "two".into(), None)
        .await
        .unwrap();
    // A client id used in a group names that message, not one elsewhere.
    assert!(matches!(
        h.chat
            .send(&alice, "bob", "one".into(), Some("c-1".into()))
            .await,
        Err(ChatError::InvalidInput {
            field: "client_id",
            ..
        })
    ));
    let inbox = h
        .chat
        .conversations(&bob, &ConversationQuery::default())
        .await
        .unwrap();
    let top = &inbox.items[0];
    assert_eq!(top.conversation, id, "the group is the most recent");
    assert_eq!(top.last_message.as_ref().unwrap().text().as_str(), "two");
    assert_eq!(top.unread, 2);
    assert!(matches!(
        &top.kind,
        SummaryKind::Group { title, members: 2, role: Some(Role::Member) } if title.as_str() == "Inbox"
    ));
    assert!(matches!(inbox.items[1].kind, SummaryKind::Direct { .. }));
    let two = top.last_message.as_ref().unwrap().id();
    let mark = h
        .chat
        .mark_group_read(&bob, id, MessageId::new(i64::MAX))
        .await
        .unwrap();
    assert_eq!(mark, two, "clamped to the newest message");
    let inbox = h
        .chat
        .conversations(&bob, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(inbox.items[0].unread, 0);
    // Announcement-only groups: only admins and the owner send.
    let news = h
        .chat
        .create_group(
            &alice,
            GroupForm {
                announcement: true,
                ..form("News", &["bob"])
            },
        )
        .await
        .unwrap()
        .id;
    assert!(matches!(
        h.chat
            .send_to_group(&bob, news, "me too".into(), None)
            .await,
        Err(ChatError::Forbidden)
    ));
    h.chat
        .send_to_group(&alice, news, "news".into(), None)
        .await
        .unwrap();
}

pub async fn members_hear_the_group_live_until_they_leave(store: Arc<dyn Store>) {
    let (h, alice, bob, carol) = three(store, ChatConfig::default()).await;
    let id = h
        .chat
        .create_group(&alice, form("Live", &["bob"]))
        .await
        .unwrap()
        .id;
    let mut bobs = h.chat.live(&bob, Resume::Now, 1000).await.unwrap();
    let mut carols = h.chat.live(&carol, Resume::Now, 1000).await.unwrap();
    h.chat
        .send_to_group(&alice, id, "to everyone".into(), None)
        .await
        .unwrap();
    assert_eq!(next_change(&mut bobs).await.text().as_str(), "to everyone");
    // Carol, invited and joining, hears the group from then on.
    h.chat.add_member(&alice, id, "carol").await.unwrap();
    assert_eq!(
        next_change(&mut carols).await.text().as_str(),
        "alice invited carol"
    );
    h.chat.join_group(&carol, id).await.unwrap();
    assert_eq!(
        next_change(&mut carols).await.text().as_str(),
        "carol joined"
    );
    h.chat
        .send_to_group(&alice, id, "welcome".into(), None)
        .await
        .unwrap();
    assert_eq!(next_change(&mut carols).await.text().as_str(), "welcome");
    // Bob is removed: he hears that, then nothing more of the group.
    assert_eq!(
        next_change(&mut bobs).await.text().as_str(),
        "alice invited carol"
    );
    assert_eq!(next_change(&mut bobs).await.text().as_str(), "carol joined");
    assert_eq!(next_change(&mut bobs).await.text().as_str(), "welcome");
    h.chat.remove_member(&alice, id, "bob").await.unwrap();
    assert_eq!(
        next_change(&mut bobs).await.text().as_str(),
        "alice removed bob"
    );
    h.chat
        .send_to_group(&alice, id, "without bob".into(), None)
        .await
        .unwrap();
    h.send(&alice, "bob", "a direct one").await;
    assert_eq!(
        next_change(&mut bobs).await.text().as_str(),
        "a direct one",
        "nothing of the group came before it"
    );
}

pub async fn concurrent_adds_removes_and_sends_end_consistent(store: Arc<dyn Store>) {
    let (h, alice, bob, _carol) = three(store, ChatConfig::default()).await;
    let mut others = Vec::new();
    for n in 0..6 {
        let name = format!("user{n}");
        let session = h.user(&name).await;
        h.send(&alice, &name, "hello").await;
        h.send(&session, "alice", "hello").await;
        others.push((name, session));
    }
    let id = h
        .chat
        .create_group(&alice, form("Race", &["bob"]))
        .await
        .unwrap()
        .id;
    // Adds, a removal of bob and bob's sends, all at once.
    let mut tasks = Vec::new();
    for (name, _) in &others {
        let (chat, alice, name) = (h.chat.clone(), alice.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            chat.add_member(&alice, id, &name).await.map(|_| ())
        }));
    }
    {
        let (chat, alice) = (h.chat.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            chat.remove_member(&alice, id, "bob").await.map(|_| ())
        }));
    }
    for n in 0..10 {
        let (chat, bob) = (h.chat.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            match chat.send_to_group(&bob, id, format!("bob {n}"), None).await {
                Ok(_) | Err(ChatError::NotFound) => Ok(()),
                Err(other) => Err(other),
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let view = h.chat.group(&alice, id).await.unwrap();
    let mut members: Vec<String> = names(&view).into_iter().map(|(n, _)| n).collect();
    members.sort();
    let mut expected: Vec<String> = others.iter().map(|(n, _)| n.clone()).collect();
    expected.push("alice".into());
    expected.sort();
    assert_eq!(members, expected, "every add, and bob removed");
    // Nothing from bob after the change that removed him.
    let all = history(&h, &alice, id).await.unwrap();
    let removal = all
        .iter()
        .find(|m| matches!(m.event(), Some(GroupEvent::Removed { .. })))
        .unwrap()
        .position();
    assert!(
        all.iter()
            .filter(|m| m.sender().id() == bob.user().id())
            .all(|m| m.position() < removal),
        "{:?}",
        texts(&all)
    );
    let owners = view
        .members
        .iter()
        .filter(|m| m.role == Role::Owner)
        .count();
    assert_eq!(owners, 1);
    let _: Position = removal;
}

pub async fn a_muted_member_reads_but_does_not_send_until_the_mute_ends(store: Arc<dyn Store>) {
    let (h, alice, bob, _carol) = three(store, ChatConfig::default()).await;
    let id = h
        .chat
        .create_group(&alice, form("Quiet", &["bob"]))
        .await
        .unwrap()
        .id;
    assert!(matches!(
        h.chat.mute_member(&bob, id, "alice", None).await,
        Err(ChatError::Forbidden)
    ));
    let in_an_hour = h.chat.clock().now().plus(Duration::from_secs(3600));
    let view = h
        .chat
        .mute_member(&alice, id, "bob", Some(in_an_hour))
        .await
        .unwrap();
    assert!(
        view.members
            .iter()
            .any(|m| m.user.id() == bob.user().id() && m.muted)
    );
    assert!(matches!(
        h.chat
            .send_to_group(&bob, id, "let me speak".into(), None)
            .await,
        Err(ChatError::Forbidden)
    ));
    // He still reads, and sees that he is muted.
    let said = history(&h, &bob, id).await.unwrap();
    assert!(
        texts(&said)
            .last()
            .unwrap()
            .starts_with("alice muted bob until ")
    );
    let seen = h.chat.group(&bob, id).await.unwrap();
    assert!(
        seen.members
            .iter()
            .any(|m| m.user.id() == bob.user().id() && m.muted)
    );
    // The mute ends by itself.
    h.clock.advance(Duration::from_secs(3601));
    h.chat
        .send_to_group(&bob, id, "back".into(), None)
        .await
        .unwrap();
    // With no end, until unmuted.
    h.chat.mute_member(&alice, id, "bob", None).await.unwrap();
    h.clock.advance(Duration::from_secs(365 * 24 * 3600));
    assert!(matches!(
        h.chat.send_to_group(&bob, id, "still?".into(), None).await,
        Err(ChatError::Forbidden)
    ));
    h.chat.unmute_member(&alice, id, "bob").await.unwrap();
    h.chat
        .send_to_group(&bob, id, "free".into(), None)
        .await
        .unwrap();
    // A mute that ends in the past is no mute; nobody mutes the owner.
    let past = h.chat.clock().now().minus(Duration::from_secs(1));
    assert!(matches!(
        h.chat.mute_member(&alice, id, "bob", Some(past)).await,
        Err(ChatError::InvalidInput {
            field: "muted_until",
            ..
        })
    ));
    h.chat
        .set_role(&alice, id, "bob", Role::Admin)
        .await
        .unwrap();
    assert!(matches!(
        h.chat.mute_member(&bob, id, "alice", None).await,
        Err(ChatError::Forbidden)
    ));
}

pub async fn discoverable_groups_are_found_by_title_and_joined_by_anyone(store: Arc<dyn Store>) {
    let (h, alice, bob, carol) = three(store, ChatConfig::default()).await;
    let open = |title: &str| GroupForm {
        join_policy: crate::JoinPolicy::Discoverable,
        ..form(title, &[])
    };
    let rust = h
        .chat
        .create_group(&alice, open("Rust Ünïcode club"))
        .await
        .unwrap()
        .id;
    let go = h
        .chat
        .create_group(&alice, open("Go 100% club"))
        .await
        .unwrap()
        .id;
    h.chat
        .create_group(&alice, form("Secret club", &[]))
        .await
        .unwrap();
    let limit = crate::ports::PageLimit::DEFAULT;
    let found = |term: &'static str| {
        let chat = h.chat.clone();
        let carol = carol.clone();
        async move {
            chat.group_directory(&carol, term, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|g| g.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("ÜNÏCODE").await,
        [rust],
        "case-folded, anywhere in the title"
    );
    assert_eq!(found("100%").await, [go], "% is literal");
    assert!(found("_").await.is_empty(), "_ is literal");
    assert!(
        found("secret").await.is_empty(),
        "private groups are not listed"
    );
    // Anyone joins a discoverable group, and the larger comes first.
    h.chat.join_group(&bob, go).await.unwrap();
    assert_eq!(found("club").await, [go, rust]);
    assert!(matches!(
        h.chat
            .group_directory(&carol, &"x".repeat(101), limit)
            .await,
        Err(ChatError::InvalidInput { field: "q", .. })
    ));
    // A rename is found under its new title.
    h.chat
        .rename_group(&alice, rust, "Ferris fans".into())
        .await
        .unwrap();
    assert_eq!(found("ferris").await, [rust]);
}

/// The counts of the next `read_by` notice a live stream yields, within a
/// bounded wait, skipping everything else.
async fn next_read_counts(live: &mut Live) -> Vec<(MessageId, u64)> {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("a read count")
            .expect("the stream goes on")
            .unwrap();
        if let Item::Notice(event) = item
            && let crate::EventKind::ReadBy { counts, .. } = event.kind()
        {
            return counts.iter().map(|c| (c.message, c.read_by)).collect();
        }
    }
}

pub async fn a_sender_learns_how_many_have_read_not_who(store: Arc<dyn Store>) {
    let config = ChatConfig::default().with_read_count_delay(Duration::from_millis(20));
    let (h, alice, bob, carol) = three(store, config).await;
    h.send(&alice, "carol", "hi carol").await;
    h.send(&carol, "alice", "hi alice").await;
    let id = h
        .chat
        .create_group(&alice, form("Receipts", &["bob", "carol"]))
        .await
        .unwrap()
        .id;
    let mut alices = h.chat.live(&alice, Resume::Now, 1000).await.unwrap();
    let mut carols = h.chat.live(&carol, Resume::Now, 1000).await.unwrap();
    let mut bobs = h.chat.live(&bob, Resume::Now, 1000).await.unwrap();
    let first = h
        .chat
        .send_to_group(&alice, id, "one".into(), None)
        .await
        .unwrap()
        .message;
    let second = h
        .chat
        .send_to_group(&alice, id, "two".into(), None)
        .await
        .unwrap()
        .message;
    let counts = || async {
        h.chat
            .read_by(&alice, id, &[first.clone(), second.clone()])
            .await
            .unwrap()
    };
    assert_eq!(counts().await, [Some(0), Some(0)]);
    h.chat.mark_group_read(&bob, id, first.id()).await.unwrap();
    assert_eq!(counts().await, [Some(1), Some(0)]);
    h.chat
        .mark_group_read(&carol, id, second.id())
        .await
        .unwrap();
    assert_eq!(counts().await, [Some(2), Some(1)]);
    let said = history(&h, &alice, id).await.unwrap();
    let system = said.iter().find(|m| m.event().is_some()).unwrap().clone();
    assert_eq!(h.chat.read_by(&alice, id, &[system]).await.unwrap(), [None]);
    let dave = h.user("dave").await;
    assert_not_found(
        h.chat
            .read_by(&dave, id, std::slice::from_ref(&first))
            .await,
    );

    // Live, the sender hears the counts of their own messages, the marks
    // gathered in tallies: by the last one, both reads are counted.
    // (A tally that came between the reads told less; a wrong count
    // never matches and the wait runs out.)
    let both = vec![(first.id(), 2), (second.id(), 1)];
    while next_read_counts(&mut alices).await != both {}
    // Bob reads on past alice's second message to carol's: each sender
    // hears of their own.
    let third = h
        .chat
        .send_to_group(&carol, id, "three".into(), None)
        .await
        .unwrap()
        .message;
    h.chat.mark_group_read(&bob, id, third.id()).await.unwrap();
    assert_eq!(next_read_counts(&mut carols).await, [(third.id(), 1)]);
    assert_eq!(next_read_counts(&mut alices).await, [(second.id(), 2)]);
    // Alice hears nothing of a message that is not hers: the next notice
    // she gets is about her own, after a read of it.
    let fourth = h
        .chat
        .send_to_group(&alice, id, "four".into(), None)
        .await
        .unwrap()
        .message;
    h.chat.mark_group_read(&bob, id, fourth.id()).await.unwrap();
    assert_eq!(next_read_counts(&mut alices).await, [(fourth.id(), 1)]);
    // Bob, a reader who sent nothing, was never told counts: the first
    // notice he hears is about his own message.
    let fifth = h
        .chat
        .send_to_group(&bob, id, "five".into(), None)
        .await
        .unwrap()
        .message;
    h.chat
        .mark_group_read(&carol, id, fifth.id())
        .await
        .unwrap();
    assert_eq!(next_read_counts(&mut bobs).await, [(fifth.id(), 1)]);
}

pub async fn group_history_pages_from_the_newest_within_what_a_member_may_read(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob, _carol) = three(store, ChatConfig::default()).await;
    let id = h
        .chat
        .create_group(&alice, form("Pages", &[]))
        .await
        .unwrap()
        .id;
    for n in 0..3 {
        h.chat
            .send_to_group(&alice, id, format!("before bob {n}"), None)
            .await
            .unwrap();
    }
    h.chat.add_member(&alice, id, "bob").await.unwrap();
    for n in 0..5 {
        h.chat
            .send_to_group(&alice, id, format!("m{n}"), None)
            .await
            .unwrap();
    }
    let page = |before: Option<MessageId>| HistoryQuery {
        before,
        limit: crate::ports::PageLimit::new(2).unwrap(),
        ..HistoryQuery::default()
    };
    // The newest page first, older ones on request, never below his join.
    let newest = h.chat.group_history(&bob, id, &page(None)).await.unwrap();
    assert_eq!(texts(&newest.items), ["m3", "m4"]);
    assert!(newest.has_more);
    let mut seen = texts(&newest.items)
        .iter()
        .map(|t| (*t).to_owned())
        .collect::<Vec<_>>();
    let mut before = newest.items.first().map(Message::id);
    loop {
        let older = h.chat.group_history(&bob, id, &page(before)).await.unwrap();
        for m in older.items.iter().rev() {
            seen.insert(0, m.text().as_str().to_owned());
        }
        if !older.has_more || older.items.is_empty() {
            break;
        }
        before = older.items.first().map(Message::id);
    }
    assert_eq!(seen, ["alice added bob", "m0", "m1", "m2", "m3", "m4"]);
    // The owner, who sees it all, pages the same way.
    let hers = h.chat.group_history(&alice, id, &page(None)).await.unwrap();
    assert_eq!(texts(&hers.items), ["m3", "m4"]);
}

pub async fn invitations_are_declined_removal_sticks_and_the_last_to_leave_ends_the_group(
    store: Arc<dyn Store>,
) {
    let (h, alice, bob, carol) = three(store, ChatConfig::default()).await;
    let dave = h.user("dave").await;
    let id = h
        .chat
        .create_group(
            &alice,
            GroupForm {
                join_policy: crate::JoinPolicy::Discoverable,
                ..form("Open", &["carol"])
            },
        )
        .await
        .unwrap()
        .id;
    // Carol, invited, turns it down.
    assert!(
        h.chat
            .remove_member(&carol, id, "carol")
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.chat.invitations(&carol).await.unwrap().is_empty());
    assert!(
        texts(&history(&h, &alice, id).await.unwrap()).contains(&"carol declined the invitation")
    );
    // Bob joins an open group; removed, he cannot let himself back in.
    h.chat.join_group(&bob, id).await.unwrap();
    h.chat.remove_member(&alice, id, "bob").await.unwrap();
    assert_not_found(h.chat.join_group(&bob, id).await);
    // Invited back (an add turns into an invitation), he may.
    let view = h.chat.add_member(&alice, id, "bob").await.unwrap();
    assert_eq!(view.invited.len(), 1);
    // An invitee sees who is in the group, but not who is online.
    let seen = h.chat.group(&bob, id).await.unwrap();
    assert!(seen.members.iter().all(|m| !m.online));
    h.chat.join_group(&bob, id).await.unwrap();
    // Everyone leaves: the group ends, its invitations with it, and it is
    // no longer listed nor open.
    h.chat.add_member(&alice, id, "dave").await.unwrap();
    h.chat.remove_member(&bob, id, "bob").await.unwrap();
    h.chat.remove_member(&alice, id, "alice").await.unwrap();
    assert!(h.chat.invitations(&dave).await.unwrap().is_empty());
    let listed = h
        .chat
        .group_directory(&dave, "open", crate::ports::PageLimit::DEFAULT)
        .await
        .unwrap();
    assert!(listed.is_empty());
    assert_not_found(h.chat.join_group(&dave, id).await);
}

pub async fn adds_and_joins_count_as_sends(store: Arc<dyn Store>) {
    let limits = crate::RateLimits {
        send_per_user: crate::Rate::new(3, Duration::from_secs(3600)),
        ..super::generous_limits()
    };
    let h = Harness::with(store, limits, ChatConfig::default());
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    for name in ["carol", "dave", "erin"] {
        h.signup(name).await;
    }
    let open = GroupForm {
        join_policy: crate::JoinPolicy::Discoverable,
        ..form("Open", &[])
    };
    // Making the group is one send; two invitations, then the limit.
    let id = h.chat.create_group(&alice, open).await.unwrap().id;
    h.chat.add_member(&alice, id, "carol").await.unwrap();
    h.chat.add_member(&alice, id, "dave").await.unwrap();
    assert!(matches!(
        h.chat.add_member(&alice, id, "erin").await,
        Err(ChatError::RateLimited { .. })
    ));
    for _ in 0..3 {
        // A join that changes nothing still counts: it is asked for.
        h.chat.join_group(&bob, id).await.unwrap();
    }
    assert!(matches!(
        h.chat.join_group(&bob, id).await,
        Err(ChatError::RateLimited { .. })
    ));
}
