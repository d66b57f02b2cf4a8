//! The moderation suite: administrators made by the operator disable and
//! enable accounts (sessions and live streams end at once) and delete any
//! message; every act is in the audit log.

use std::sync::Arc;
use std::time::Duration;

use super::harness::{Harness, PASSWORD};
use crate::ports::{Clock, PageLimit, Store};
use crate::{AuditAction, ChatError, EventKind, Item, Resume};

#[track_caller]
fn assert_code<T: std::fmt::Debug>(result: crate::Result<T>, code: &str) {
    match result {
        Err(error) => assert_eq!(error.code(), code, "{error}"),
        Ok(value) => panic!("expected {code}, got {value:?}"),
    }
}

pub async fn only_administrators_moderate_and_the_operator_makes_them(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.user("carol").await;
    // Nobody is an administrator until the operator says so.
    assert_code(
        h.chat.disable_account(&alice, "carol", None).await,
        "forbidden",
    );
    assert_code(
        h.chat.audit_log(&alice, None, PageLimit::DEFAULT).await,
        "forbidden",
    );
    assert_code(h.chat.grant_admin("nobody").await, "not_found");
    let granted = h.chat.grant_admin("ALICE").await.unwrap();
    assert!(granted.is_admin());
    h.chat.grant_admin("alice").await.unwrap();
    let admins: Vec<_> = h
        .chat
        .admins()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username().as_str().to_owned())
        .collect();
    assert_eq!(admins, ["alice"]);
    // Still not bob; and an administrator never disables themselves.
    assert_code(
        h.chat.disable_account(&bob, "carol", None).await,
        "forbidden",
    );
    assert_code(
        h.chat
            .moderate_message(&bob, crate::MessageId::new(1), None)
            .await,
        "forbidden",
    );
    assert_code(
        h.chat.disable_account(&alice, "alice", None).await,
        "conflict",
    );
    assert_code(
        h.chat.disable_account(&alice, "nobody", None).await,
        "not_found",
    );
    assert_code(
        h.chat
            .disable_account(&alice, "carol", Some(" ".into()))
            .await,
        "invalid_input",
    );
    // The grant is audited once, with no actor: the operator's.
    let log = h
        .chat
        .audit_log(&alice, None, PageLimit::DEFAULT)
        .await
        .unwrap();
    assert_eq!(log.items.len(), 1);
    assert_eq!(log.items[0].action, AuditAction::GrantAdmin);
    assert_eq!(log.items[0].actor, None);
    assert_eq!(
        log.items[0].user.as_ref().map(|u| u.username().as_str()),
        Some("alice")
    );
    // Administrators answer to the operator, not to each other.
    h.chat.grant_admin("bob").await.unwrap();
    assert_code(
        h.chat.disable_account(&alice, "bob", None).await,
        "forbidden",
    );
    h.chat.revoke_admin("bob").await.unwrap();
    h.chat.disable_account(&alice, "bob", None).await.unwrap();
    let back = h.chat.enable_account_as_operator("bob").await.unwrap();
    assert_eq!(back.disabled_at(), None);
    h.chat.revoke_admin("alice").await.unwrap();
    assert_code(
        h.chat.audit_log(&alice, None, PageLimit::DEFAULT).await,
        "forbidden",
    );
}

pub async fn a_disabled_account_loses_its_sessions_and_streams_until_enabled(
    store: Arc<dyn Store>,
) {
    let h = Harness::new(Arc::clone(&store));
    let alice = h.user("alice").await;
    h.user("carol").await;
    let (carol, token) = h.login("carol").await;
    h.chat.grant_admin("alice").await.unwrap();
    let mut live = h.chat.live(&carol, Resume::Now, 100).await.unwrap();
    let disabled = h
        .chat
        .disable_account(&alice, "carol", Some("spam".into()))
        .await
        .unwrap();
    assert!(disabled.disabled_at().is_some());
    // The stream ends at once; the token opens nothing.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while live.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream of a disabled account ends");
    assert_code(h.chat.authenticate(&token).await, "unauthenticated");
    // The right password hears why; a wrong one hears nothing more.
    assert_code(
        h.chat
            .login("carol", PASSWORD.to_owned(), "test-client")
            .await,
        "account_disabled",
    );
    assert_code(
        h.chat
            .login("carol", "not the password at all".to_owned(), "test-client")
            .await,
        "invalid_credentials",
    );
    assert_code(h.chat.check_enabled(carol.user()).await, "account_disabled");
    // A session a login racing the disable inserts is never found.
    let raced = crate::SessionToken::generate().unwrap();
    store
        .insert_session(&raced.hash(), carol.user().id(), h.clock.now())
        .await
        .unwrap();
    assert_code(h.chat.authenticate(raced.expose()).await, "unauthenticated");
    // Disabling again changes and records nothing.
    h.chat.disable_account(&alice, "carol", None).await.unwrap();
    // Enabled again: a new login works, the old token stays dead.
    let enabled = h.chat.enable_account(&alice, "carol", None).await.unwrap();
    assert_eq!(enabled.disabled_at(), None);
    h.chat.check_enabled(carol.user()).await.unwrap();
    let (again, _) = h.login("carol").await;
    assert_code(h.chat.authenticate(&token).await, "unauthenticated");
    h.chat
        .send(&again, "alice", "back".into(), None)
        .await
        .unwrap();
    let actions: Vec<_> = h
        .chat
        .audit_log(&alice, None, PageLimit::DEFAULT)
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| (e.action, e.reason.as_ref().map(|r| r.as_str().to_owned())))
        .collect();
    assert_eq!(
        actions,
        [
            (AuditAction::EnableAccount, None),
            (AuditAction::DisableAccount, Some("spam".to_owned())),
            (AuditAction::GrantAdmin, None),
        ]
    );
}

pub async fn administrators_delete_any_message_and_the_log_pages(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.user("admin").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.chat.grant_admin("admin").await.unwrap();
    let mut bobs = h.chat.live(&bob, Resume::Now, 100).await.unwrap();
    let abuse = h.send(&carol, "bob", "something abusive").await;
    // The administrator is no member of their conversation, and deletes it.
    let tombstone = h
        .chat
        .moderate_message(&admin, abuse.id(), Some("abuse".into()))
        .await
        .unwrap();
    assert!(tombstone.is_deleted());
    assert_code(
        h.chat
            .moderate_message(&admin, crate::MessageId::new(999_999), None)
            .await,
        "not_found",
    );
    // Bob hears of it live, as of any delete.
    let deleted = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(Ok(Item::Change { event, .. })) = bobs.next().await
                && let EventKind::Revised { message, .. } = event.kind()
            {
                return message.clone();
            }
        }
    })
    .await
    .expect("the delete reaches bob");
    assert!(deleted.is_deleted() && deleted.id() == abuse.id());
    // Again: the same tombstone, nothing more recorded.
    h.chat
        .moderate_message(&admin, abuse.id(), None)
        .await
        .unwrap();
    let entries = h
        .chat
        .audit_log(&admin, None, PageLimit::new(1).unwrap())
        .await
        .unwrap();
    assert!(entries.has_more);
    let newest = &entries.items[0];
    assert_eq!(newest.action, AuditAction::DeleteMessage);
    assert_eq!(newest.message, Some(abuse.id()));
    assert_eq!(
        newest.actor.as_ref().map(|u| u.username().as_str()),
        Some("admin")
    );
    assert_eq!(
        newest.user.as_ref().map(|u| u.username().as_str()),
        Some("carol")
    );
    let older = h
        .chat
        .audit_log(&admin, Some(newest.id), PageLimit::DEFAULT)
        .await
        .unwrap();
    assert_eq!(older.items.len(), 1);
    assert_eq!(older.items[0].action, AuditAction::GrantAdmin);
    assert!(!older.has_more);
    assert!(matches!(
        h.chat.moderate_message(&bob, abuse.id(), None).await,
        Err(ChatError::Forbidden)
    ));
}

pub async fn reports_queue_for_administrators_who_resolve_them(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let admin = h.user("admin").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    h.chat.grant_admin("admin").await.unwrap();
    let abuse = h.send(&carol, "bob", "something abusive").await;
    // Only who may read a message reports it; never their own, never with
    // no reason.
    assert_code(
        h.chat
            .report_message(&dave, abuse.id(), "spam".into())
            .await,
        "not_found",
    );
    assert_code(
        h.chat
            .report_message(&carol, abuse.id(), "mine".into())
            .await,
        "invalid_input",
    );
    assert_code(
        h.chat.report_message(&bob, abuse.id(), "  ".into()).await,
        "invalid_input",
    );
    assert_code(
        h.chat.report_user(&bob, "bob", "me".into()).await,
        "invalid_input",
    );
    assert_code(
        h.chat.report_user(&bob, "nobody", "x".into()).await,
        "not_found",
    );
    let report = h
        .chat
        .report_message(&bob, abuse.id(), "harassment".into())
        .await
        .unwrap();
    assert_eq!(report.target.message(), Some(abuse.id()));
    assert_eq!(report.target.user().username().as_str(), "carol");
    assert_eq!(report.reason.as_str(), "harassment");
    // Again while open: the same report.
    let again = h
        .chat
        .report_message(&bob, abuse.id(), "again".into())
        .await
        .unwrap();
    assert_eq!(again, report);
    let of_user = h
        .chat
        .report_user(&dave, "CAROL", "fake account".into())
        .await
        .unwrap();
    assert_eq!(of_user.target.message(), None);
    // The message's text is kept with the report after a delete.
    h.chat.delete_message(&carol, abuse.id()).await.unwrap();
    // Only administrators read the queue.
    assert_code(
        h.chat.reports(&bob, true, None, PageLimit::DEFAULT).await,
        "forbidden",
    );
    assert_code(
        h.chat.resolve_report(&bob, report.id, None).await,
        "forbidden",
    );
    let queue = h
        .chat
        .reports(&admin, true, None, PageLimit::DEFAULT)
        .await
        .unwrap();
    assert_eq!(
        queue.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [of_user.id, report.id]
    );
    match &queue.items[1].target {
        crate::ReportTarget::Message { excerpt, .. } => assert_eq!(excerpt, "something abusive"),
        other => panic!("a message report, got {other:?}"),
    }
    // Resolved: out of the open queue, in the audit log; once.
    let resolved = h
        .chat
        .resolve_report(&admin, report.id, Some("deleted by its sender".into()))
        .await
        .unwrap();
    let resolution = resolved.resolution.clone().expect("resolved");
    assert_eq!(resolution.by.username().as_str(), "admin");
    let twice = h
        .chat
        .resolve_report(&admin, report.id, Some("other".into()))
        .await
        .unwrap();
    assert_eq!(twice.resolution, Some(resolution));
    assert_code(
        h.chat.resolve_report(&admin, 999_999, None).await,
        "not_found",
    );
    let open = h
        .chat
        .reports(&admin, true, None, PageLimit::DEFAULT)
        .await
        .unwrap();
    assert_eq!(open.items.len(), 1);
    let all = h
        .chat
        .reports(&admin, false, None, PageLimit::new(1).unwrap())
        .await
        .unwrap();
    assert!(all.has_more);
    let older = h
        .chat
        .reports(&admin, false, Some(all.items[0].id), PageLimit::DEFAULT)
        .await
        .unwrap();
    assert_eq!(older.items[0].id, report.id);
    let log = h
        .chat
        .audit_log(&admin, None, PageLimit::DEFAULT)
        .await
        .unwrap();
    let resolutions: Vec<_> = log
        .items
        .iter()
        .filter(|e| e.action == AuditAction::ResolveReport)
        .collect();
    assert_eq!(resolutions.len(), 1);
    assert_eq!(resolutions[0].report, Some(report.id));
    assert_eq!(resolutions[0].message, Some(abuse.id()));
    // A resolved report no longer stands in the way of a new one.
    let anew = h
        .chat
        .report_message(&bob, abuse.id(), "still there".into())
        .await;
    assert!(anew.is_ok_and(|r| r.id != report.id));
}

/// A discoverable group "Team" of alice (its owner) and `others`, who have
/// each written with alice first.
async fn team(
    h: &Harness,
    alice: &crate::Session,
    others: &[(&crate::Session, &str)],
) -> crate::ConversationId {
    for (other, name) in others {
        h.send(alice, name, "hi").await;
        h.send(other, "alice", "hi").await;
    }
    h.chat
        .create_group(
            alice,
            crate::GroupForm {
                title: "Team".into(),
                members: others.iter().map(|(_, n)| (*n).to_owned()).collect(),
                join_policy: crate::JoinPolicy::Discoverable,
                ..crate::GroupForm::default()
            },
        )
        .await
        .unwrap()
        .id
}

pub async fn group_admins_ban_for_a_time_and_set_slow_mode(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.user("dave").await;
    let id = team(&h, &alice, &[(&bob, "bob"), (&carol, "carol")]).await;
    let hour = Duration::from_secs(3600);
    let in_an_hour = h.clock.now().plus(hour);
    // Members ban nobody; nobody bans themselves, the owner, or into the past.
    assert_code(
        h.chat.ban_member(&carol, id, "bob", None).await,
        "forbidden",
    );
    assert_code(
        h.chat.ban_member(&alice, id, "alice", None).await,
        "invalid_input",
    );
    assert_code(
        h.chat
            .ban_member(&alice, id, "bob", Some(h.clock.now()))
            .await,
        "invalid_input",
    );
    h.chat
        .set_role(&alice, id, "carol", crate::Role::Admin)
        .await
        .unwrap();
    assert_code(
        h.chat.ban_member(&carol, id, "alice", None).await,
        "forbidden",
    );
    // Bob is banned for an hour: out at once, kept out.
    let view = h
        .chat
        .ban_member(&carol, id, "bob", Some(in_an_hour))
        .await
        .unwrap();
    assert!(
        view.members
            .iter()
            .all(|m| m.user.username().as_str() != "bob")
    );
    assert_eq!(view.bans.len(), 1);
    assert_eq!(view.bans[0].until, Some(in_an_hour));
    assert_code(
        h.chat
            .send_to_group(&bob, id, "still here?".into(), None)
            .await,
        "not_found",
    );
    assert_code(h.chat.join_group(&bob, id).await, "not_found");
    assert_code(h.chat.add_member(&alice, id, "bob").await, "conflict");
    // Someone who never was a member is banned too, and the ban lifted.
    h.chat.ban_member(&alice, id, "dave", None).await.unwrap();
    assert_code(
        h.chat.join_group(&h.login("dave").await.0, id).await,
        "not_found",
    );
    let view = h.chat.unban_member(&alice, id, "dave").await.unwrap();
    assert_eq!(view.bans.len(), 1);
    h.chat
        .join_group(&h.login("dave").await.0, id)
        .await
        .unwrap();
    // The hour passes: bob may be brought back (by invitation: he was
    // removed), not rejoin by himself.
    h.clock.advance(hour + Duration::from_secs(1));
    assert_code(h.chat.join_group(&bob, id).await, "not_found");
    let view = h.chat.add_member(&alice, id, "bob").await.unwrap();
    assert!(view.invited.iter().any(|u| u.username().as_str() == "bob"));
    assert!(view.bans.is_empty(), "an ended ban is not shown");

    // Slow mode binds members, not admins or the owner.
    assert_code(
        h.chat
            .set_slow_mode(&h.login("dave").await.0, id, None)
            .await,
        "forbidden",
    );
    let thirty = crate::SlowMode::from_secs(30).unwrap();
    let view = h
        .chat
        .set_slow_mode(&alice, id, Some(thirty))
        .await
        .unwrap();
    assert_eq!(view.settings.slow_mode, Some(thirty));
    let (dave, _) = h.login("dave").await;
    let one = h
        .chat
        .send_to_group(&dave, id, "one".into(), Some("c-one".into()))
        .await
        .unwrap()
        .message;
    // A retry of the same message is answered with it, not refused.
    let again = h
        .chat
        .send_to_group(&dave, id, "one".into(), Some("c-one".into()))
        .await
        .unwrap()
        .message;
    assert_eq!(again.id(), one.id());
    match h
        .chat
        .send_to_group(&dave, id, "two".into(), Some("c-two".into()))
        .await
    {
        Err(ChatError::RateLimited { retry_after }) => {
            assert!(retry_after <= Duration::from_secs(30), "{retry_after:?}");
        }
        other => panic!("slow mode: {other:?}"),
    }
    for text in ["owner one", "owner two"] {
        h.chat
            .send_to_group(&alice, id, text.into(), None)
            .await
            .unwrap();
    }
    h.clock.advance(Duration::from_secs(31));
    // A late retry spends no turn either.
    let late = h
        .chat
        .send_to_group(&dave, id, "one".into(), Some("c-one".into()))
        .await
        .unwrap()
        .message;
    assert_eq!(late.id(), one.id());
    h.chat
        .send_to_group(&dave, id, "three".into(), None)
        .await
        .unwrap();
    h.chat.set_slow_mode(&alice, id, None).await.unwrap();
    for text in ["four", "five"] {
        h.chat
            .send_to_group(&dave, id, text.into(), None)
            .await
            .unwrap();
    }
    // Every change is a system message members see.
    let history = h
        .chat
        .group_history(&alice, id, &crate::ports::HistoryQuery::default())
        .await
        .unwrap();
    let texts: Vec<_> = history
        .items
        .iter()
        .filter(|m| m.event().is_some())
        .map(|m| m.text().as_str().to_owned())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("carol banned bob until")),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"alice lifted the ban on dave".to_owned()),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"alice turned on slow mode: one message every 30 s".to_owned()),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"alice turned off slow mode".to_owned()),
        "{texts:?}"
    );
}
