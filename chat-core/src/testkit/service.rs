//! The store conformance suite: every rule of the service, over a store.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::harness::{
    CountingHasher, Harness, PASSWORD, generous_limits, next_delivery, next_event,
};
use crate::ports::{Appended, ConversationQuery, Delivery, HistoryQuery, PageLimit, Store};
use crate::{
    Change, ChatConfig, ChatError, ClientMessageId, ConversationSummary, EventKind, Message,
    MessageId, MessageText, NewMessage, Position, Rate, RateLimits, SearchPattern, Session,
    SignupForm, User, UserId, Username,
};

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: crate::Result<T>, field: &str) {
    match result {
        Err(ChatError::InvalidInput { field: got, .. }) if got == field => {}
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

fn form(email: &str, username: &str, password: &str, confirm: &str) -> SignupForm {
    SignupForm {
        email: email.into(),
        username: username.into(),
        password: password.into(),
        confirm_password: confirm.into(),
    }
}

fn limit(n: u32) -> PageLimit {
    PageLimit::new(n).unwrap()
}

fn ids(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| m.id().get()).collect()
}

/// The ids of the messages among `changes`; a read change is a failure.
fn message_ids(changes: &[Change]) -> Vec<i64> {
    changes
        .iter()
        .map(|change| match change {
            Change::Message(message) => message.id().get(),
            other => panic!("expected only messages, got {other:?}"),
        })
        .collect()
}

/// Whether `a` and `b` have a direct conversation in which both have spoken.
async fn both_spoke(store: &dyn Store, a: UserId, b: UserId) -> bool {
    let Some(conversation) = store.find_direct_conversation(a, b).await.unwrap() else {
        return false;
    };
    let members = store.members(conversation).await.unwrap();
    members.len() == 2 && members.iter().all(|m| m.has_spoken)
}

/// Every change of `session`'s user after `after`, read in pages of `page`.
async fn all_changes(
    chat: &crate::Chat,
    session: &Session,
    after: Position,
    page: u32,
) -> Vec<Change> {
    let mut all = Vec::new();
    let mut after = after;
    loop {
        let got = chat.changes(session, after, limit(page)).await.unwrap();
        all.extend(got.items.iter().cloned());
        if !got.has_more {
            return all;
        }
        after = got.items.last().unwrap().position();
    }
}

/// Each conversation as (peer, unread count, last message id).
fn summarize(list: &[ConversationSummary]) -> Vec<(&str, u64, i64)> {
    list.iter()
        .map(|c| {
            let last = c.last_message.as_ref().map_or(0, |m| m.id().get());
            (c.peer().unwrap().username().as_str(), c.unread, last)
        })
        .collect()
}

fn texts(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.text().as_str()).collect()
}

pub async fn signup_validates_every_field(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let chat = &h.chat;
    let ok = "a.good@example.test";
    assert_invalid(
        chat.signup(form(ok, "ab", PASSWORD, PASSWORD), "test-client")
            .await,
        "username",
    );
    assert_invalid(
        chat.signup(form(ok, "bad name", PASSWORD, PASSWORD), "test-client")
            .await,
        "username",
    );
    assert_invalid(
        chat.signup(
            form("not-an-email", "alice", PASSWORD, PASSWORD),
            "test-client",
        )
        .await,
        "email",
    );
    assert_invalid(
        chat.signup(form(ok, "alice", "short", "short"), "test-client")
            .await,
        "password",
    );
    let huge = "x".repeat(1 << 20);
    assert_invalid(
        chat.signup(form(ok, "alice", &huge, &huge), "test-client")
            .await,
        "password",
    );
    assert_invalid(
        chat.signup(form(ok, "alice", PASSWORD, "something else"), "test-client")
            .await,
        "confirm_password",
    );
    assert_invalid(
        chat.signup(form(ok, "alice", "iloveyou", "iloveyou"), "test-client")
            .await,
        "password",
    );
    assert_invalid(
        chat.signup(form(ok, "alice", "PassWord1", "PassWord1"), "test-client")
            .await,
        "password",
    );
    // Nothing was half-written: the name and the email are still free.
    assert!(matches!(
        chat.login("alice", PASSWORD.into(), "c").await,
        Err(ChatError::InvalidCredentials)
    ));
    let account = chat
        .signup(
            form(
                " A.Good@Example.test ",
                "Alice",
                "  spaces and ünïcode  ",
                "  spaces and ünïcode  ",
            ),
            "test-client",
        )
        .await
        .unwrap();
    assert_eq!(account.user().username().as_str(), "Alice");
    assert_eq!(account.email().unwrap().as_str(), "A.Good@Example.test");
    // The password was kept exactly, spaces included.
    assert!(
        chat.login("alice", "  spaces and ünïcode  ".into(), "c")
            .await
            .is_ok()
    );
    assert!(matches!(
        chat.login("alice", "spaces and ünïcode".into(), "c").await,
        Err(ChatError::InvalidCredentials)
    ));
}

pub async fn duplicate_username_and_email_are_rejected_case_insensitively(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let chat = &h.chat;
    chat.signup(
        form("alice@example.test", "Alice", PASSWORD, PASSWORD),
        "test-client",
    )
    .await
    .unwrap();
    assert!(matches!(
        chat.signup(
            form("other@example.test", "ALICE", PASSWORD, PASSWORD),
            "test-client"
        )
        .await,
        Err(ChatError::UsernameTaken)
    ));
    assert!(matches!(
        chat.signup(
            form("ALICE@Example.TEST", "bob", PASSWORD, PASSWORD),
            "test-client"
        )
        .await,
        Err(ChatError::EmailTaken)
    ));
    chat.signup(
        form("bob@example.test", "bob", PASSWORD, PASSWORD),
        "test-client",
    )
    .await
    .unwrap();
}

/// Names that read the same (`alice`, `a1ice`, `aIice`; `mom`, `rnom`)
/// cannot both be taken: the second is refused as taken.
pub async fn look_alike_usernames_are_taken(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.signup("alice").await;
    h.signup("mom").await;
    for (n, look_alike) in ["a1ice", "AIice", "aIIce", "rnom", "m0m"]
        .into_iter()
        .enumerate()
    {
        let email = format!("look{n}@example.test");
        let taken = h
            .chat
            .signup(form(&email, look_alike, PASSWORD, PASSWORD), "test-client")
            .await;
        assert!(
            matches!(taken, Err(ChatError::UsernameTaken)),
            "{look_alike}: {taken:?}"
        );
    }
    for (n, different) in ["alice2", "alicia", "mum"].into_iter().enumerate() {
        let email = format!("different{n}@example.test");
        h.chat
            .signup(form(&email, different, PASSWORD, PASSWORD), "test-client")
            .await
            .unwrap_or_else(|e| panic!("{different}: {e}"));
    }
}

pub async fn login_succeeds_and_fails_alike(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let chat = &h.chat;
    h.signup("alice").await;
    let login = chat.login("ALICE", PASSWORD.into(), "c").await.unwrap();
    assert_eq!(login.account.user().username().as_str(), "alice");
    let session = chat.authenticate(login.token.expose()).await.unwrap();
    assert_eq!(session.user(), login.account.user());
    assert_eq!(
        chat.account(&session)
            .await
            .unwrap()
            .email()
            .unwrap()
            .as_str(),
        "alice@example.test"
    );

    let wrong_password = chat
        .login("alice", "not the password".into(), "c")
        .await
        .unwrap_err();
    let unknown_user = chat
        .login("nobody", PASSWORD.into(), "c")
        .await
        .unwrap_err();
    let malformed_user = chat.login("x", PASSWORD.into(), "c").await.unwrap_err();
    let short_password = chat.login("alice", "short".into(), "c").await.unwrap_err();
    for err in [
        &wrong_password,
        &unknown_user,
        &malformed_user,
        &short_password,
    ] {
        assert!(matches!(err, ChatError::InvalidCredentials), "{err:?}");
        assert_eq!(err.to_string(), wrong_password.to_string());
    }

    // Every login is a new session with a new token.
    let again = chat.login("alice", PASSWORD.into(), "c").await.unwrap();
    assert_ne!(again.token.expose(), login.token.expose());
    assert_ne!(again.session.id(), login.session.id());
    assert!(chat.authenticate(login.token.expose()).await.is_ok());
}

pub async fn a_host_brings_its_users_by_its_own_id(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let chat = &h.chat;
    h.signup("alice").await;
    // First sight: created with the name the host gives, no email.
    let ada = chat
        .upsert_user("auth0|ada", "ada", Some(" Ada Lovelace "))
        .await
        .unwrap();
    assert_eq!(ada.user().username().as_str(), "ada");
    assert_eq!(ada.email(), None);
    assert_eq!(ada.external_id().map(|id| id.as_str()), Some("auth0|ada"));
    assert_eq!(ada.display_name().unwrap().as_str(), "Ada Lovelace");
    // Again: the same user; the display name may change, the username
    // never does, and no display name keeps the one stored.
    let again = chat
        .upsert_user("auth0|ada", "someone-else", Some("Countess"))
        .await
        .unwrap();
    assert_eq!(again.user(), ada.user());
    assert_eq!(again.display_name().unwrap().as_str(), "Countess");
    let kept = chat.upsert_user("auth0|ada", "ada", None).await.unwrap();
    assert_eq!(kept.display_name().unwrap().as_str(), "Countess");
    // Ids are exact: another case is another user, whose name is checked.
    assert!(matches!(
        chat.upsert_user("AUTH0|ADA", "ADA", None).await,
        Err(ChatError::UsernameTaken)
    ));
    assert!(matches!(
        chat.upsert_user("auth0|x", "Alice", None).await,
        Err(ChatError::UsernameTaken)
    ));
    for (id, name, display, field) in [
        ("", "bob", None, "external_id"),
        ("b", "b", None, "username"),
        ("b", "bob", Some("\u{202E}"), "display_name"),
    ] {
        let refused = chat.upsert_user(id, name, display).await;
        assert!(
            matches!(&refused, Err(ChatError::InvalidInput { field: f, .. }) if *f == field),
            "{refused:?}"
        );
    }
    // Racing first sights of one id, from many tasks: one user.
    let users: Vec<_> =
        futures::future::join_all((0..8).map(|_| chat.upsert_user("auth0|grace", "grace", None)))
            .await;
    let first = users[0].as_ref().unwrap().user().clone();
    assert!(users.iter().all(|u| u.as_ref().unwrap().user() == &first));
    // The host's back end finds its users by its id or by their name;
    // strangers and names that could not be are not found.
    let by_id = chat
        .lookup_user(crate::UserRef::External("auth0|ada"))
        .await
        .unwrap();
    assert_eq!(by_id.user(), ada.user());
    assert_eq!(by_id.display_name().unwrap().as_str(), "Countess");
    let by_name = chat
        .lookup_user(crate::UserRef::Username("ADA"))
        .await
        .unwrap();
    assert_eq!(by_name.user(), ada.user());
    assert_eq!(by_name.external_id(), by_id.external_id());
    let alice = chat
        .lookup_user(crate::UserRef::Username("alice"))
        .await
        .unwrap();
    assert_eq!(alice.external_id(), None, "a password account has none");
    for stranger in [
        crate::UserRef::External("auth0|nobody"),
        crate::UserRef::External(""),
        crate::UserRef::Username("nobody"),
        crate::UserRef::Username("no such name"),
    ] {
        assert!(
            matches!(chat.lookup_user(stranger).await, Err(ChatError::NotFound)),
            "{stranger:?}"
        );
    }
    // No password opens it, not even an empty one.
    assert!(matches!(
        chat.login("ada", PASSWORD.into(), "c").await,
        Err(ChatError::InvalidCredentials)
    ));
    // The host opens stored sessions for it, or sessions no store holds.
    let login = chat.open_session(ada.clone()).await.unwrap();
    let session = chat.authenticate(login.token.expose()).await.unwrap();
    assert_eq!(session.user(), ada.user());
    let account = chat.account(&session).await.unwrap();
    assert_eq!(
        (account.email(), account.display_name().map(|n| n.as_str())),
        (None, Some("Countess"))
    );
    let expires = chat.clock().now().plus(std::time::Duration::from_secs(60));
    let unstored = chat.session_for(ada.user().clone(), expires);
    assert_eq!(unstored.id(), crate::SessionId::UNSTORED);
    assert_eq!(unstored.expires_at(), expires);
    // Such a user writes and is written to like anyone.
    h.send(&h.login("alice").await.0, "ada", "hello ada").await;
    let page = chat
        .history(&unstored, "alice", &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(texts(&page.items), ["hello ada"]);
}

pub async fn the_feed_carries_every_change_of_the_chat_in_commit_order(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let chat = &h.chat;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let empty = chat.feed(None, limit(10)).await.unwrap();
    let mut expected: Vec<String> = Vec::new();
    // Whatever came before (the harness's users write nothing) is skipped
    // by starting from the feed's first page.
    assert!(empty.changes.is_empty() && !empty.has_more);
    h.send(&alice, "bob", "hi bob").await;
    expected.push("message alice: hi bob".into());
    h.send(&bob, "alice", "hi alice").await;
    expected.push("message bob: hi alice".into());
    h.send(&carol, "alice", "psst").await;
    expected.push("message carol: psst".into());
    let last = h.send(&alice, "bob", "lunch?").await;
    expected.push("message alice: lunch?".into());
    chat.mark_read(&bob, "alice", last.id()).await.unwrap();
    expected.push("read bob with alice".into());
    let group = chat
        .create_group(
            &alice,
            crate::GroupForm {
                title: "Team".into(),
                members: vec!["bob".into()],
                ..crate::GroupForm::default()
            },
        )
        .await
        .unwrap();
    expected.push("message alice: alice created the group \"Team\"".into());
    expected.push("message alice: alice added bob".into());
    let said = chat
        .send_to_group(&bob, group.id, "in the group".into(), None)
        .await
        .unwrap();
    expected.push("message bob: in the group".into());
    chat.mark_group_read(&alice, group.id, said.message.id())
        .await
        .unwrap();
    expected.push("read alice in a group".into());
    let describe = |change: &Change| match change {
        Change::Message(m) => format!("message {}: {}", m.sender().username(), m.text().as_str()),
        Change::Read {
            by, with: Some(w), ..
        } => format!("read {} with {}", by.username(), w.username()),
        Change::Read { by, with: None, .. } => format!("read {} in a group", by.username()),
        Change::Revised { message, .. } => format!("revised {}", message.id()),
    };
    // Paged by three, from the start, then from each page's cursor.
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut positions = Vec::new();
    loop {
        let page = chat.feed(cursor, limit(3)).await.unwrap();
        assert!(page.changes.len() <= 3);
        for (change, at) in &page.changes {
            assert_eq!(at.position(), change.position());
            positions.push(change.position());
            seen.push(describe(change));
        }
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen, expected);
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    // At the end: nothing more, and the cursor stays where it is.
    let end = chat.feed(cursor, limit(3)).await.unwrap();
    assert!(end.changes.is_empty() && !end.has_more);
    assert_eq!(Some(end.cursor), cursor);
    // A cursor of another store, or beyond the newest change, is refused.
    let head = chat.head().await.unwrap();
    for bad in [
        crate::Cursor::new(head.position(), head.epoch().wrapping_add(1)),
        crate::Cursor::new(Position::new(head.position().get() + 1_000), head.epoch()),
    ] {
        assert!(matches!(
            chat.feed(Some(bad), limit(3)).await,
            Err(ChatError::InvalidInput {
                field: "cursor",
                ..
            })
        ));
    }
}

pub async fn api_keys_are_made_scoped_listed_and_revoked(store: Arc<dyn Store>) {
    use crate::{ApiScope, ChatError};
    let h = Harness::new(store);
    let chat = &h.chat;
    let (feed, secret) = chat.create_api_key(" analytics ", "feed").await.unwrap();
    assert_eq!(
        (feed.name.as_str(), feed.scopes.to_list().as_str()),
        ("analytics", "feed")
    );
    let (both, other) = chat.create_api_key("bot", "send, feed").await.unwrap();
    assert_eq!(
        chat.api_key(secret.expose(), ApiScope::Feed).await.unwrap(),
        feed
    );
    assert_eq!(
        chat.api_key(other.expose(), ApiScope::Send).await.unwrap(),
        both
    );
    assert!(matches!(
        chat.api_key(secret.expose(), ApiScope::Send).await,
        Err(ChatError::Forbidden)
    ));
    let exposed = secret.expose();
    let other_last = if exposed.ends_with('A') { "B" } else { "A" };
    let forged = format!("{}{other_last}", &exposed[..exposed.len() - 1]);
    for bad in [
        forged.as_str(),
        "chat_key_short",
        "",
        secret.expose().trim_start_matches("chat_key_"),
    ] {
        assert!(
            matches!(
                chat.api_key(bad, ApiScope::Feed).await,
                Err(ChatError::Unauthenticated)
            ),
            "{bad:?}"
        );
    }
    for (name, scopes, field) in [
        ("", "feed", "name"),
        ("x", "", "scope"),
        ("x", "feed,root", "scope"),
    ] {
        assert!(matches!(
            chat.create_api_key(name, scopes).await,
            Err(ChatError::InvalidInput { field: f, .. }) if f == field
        ));
    }
    chat.revoke_api_key(feed.id).await.unwrap();
    assert!(matches!(
        chat.api_key(secret.expose(), ApiScope::Feed).await,
        Err(ChatError::Unauthenticated)
    ));
    assert!(matches!(
        chat.revoke_api_key(feed.id).await,
        Err(ChatError::NotFound)
    ));
    assert!(matches!(
        chat.revoke_api_key(999).await,
        Err(ChatError::NotFound)
    ));
    let listed = chat.api_keys().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].id, listed[1].id), (feed.id, both.id));
    assert!(listed[0].revoked_at.is_some() && listed[1].revoked_at.is_none());
    assert!(
        chat.api_key(other.expose(), ApiScope::Feed).await.is_ok(),
        "the other key lives on"
    );
}

pub async fn login_failures_do_the_same_hashing_work(store: Arc<dyn Store>) {
    use std::sync::atomic::Ordering;

    let hasher = Arc::new(CountingHasher::default());
    let chat = crate::Chat::builder(store)
        .hasher(hasher.clone())
        .limiter(Arc::new(crate::GovernorLimiter::new(generous_limits())))
        .build();
    chat.signup(
        form("alice@example.test", "alice", PASSWORD, PASSWORD),
        "test-client",
    )
    .await
    .unwrap();
    let verified = || hasher.verified.load(Ordering::SeqCst);
    let before = verified();
    assert!(
        chat.login("alice", "wrong password".into(), "c")
            .await
            .is_err()
    );
    assert_eq!(verified() - before, 1, "a wrong password is verified once");
    assert!(
        chat.login("nobody", "wrong password".into(), "c")
            .await
            .is_err()
    );
    assert_eq!(
        verified() - before,
        2,
        "an unknown user costs one verification too"
    );
    let huge = "x".repeat(10_000);
    assert!(chat.login("alice", huge.clone(), "c").await.is_err());
    assert!(chat.login("nobody", huge, "c").await.is_err());
    assert_eq!(
        verified() - before,
        2,
        "an impossible password is never hashed"
    );
}

pub async fn authenticate_rejects_unknown_and_malformed_tokens(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.user("alice").await;
    let unknown = crate::SessionToken::generate().unwrap();
    for token in [
        "",
        "garbage",
        &"a".repeat(43),
        unknown.expose(),
        &"é".repeat(30),
    ] {
        assert!(
            matches!(
                h.chat.authenticate(token).await,
                Err(ChatError::Unauthenticated)
            ),
            "{token:?}"
        );
    }
}

pub async fn sessions_expire_after_idle_and_absolute_timeouts(store: Arc<dyn Store>) {
    let hour = Duration::from_secs(3600);
    let config = ChatConfig::default()
        .with_session_idle_timeout(hour)
        .with_session_absolute_timeout(3 * hour);
    let h = Harness::with(store, generous_limits(), config);
    h.signup("alice").await;

    // Active use keeps a session alive until the absolute timeout.
    let (_, token) = h.login("alice").await;
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(35 * 60));
        h.chat.authenticate(&token).await.unwrap();
    }
    h.clock.advance(Duration::from_secs(6 * 60));
    assert!(matches!(
        h.chat.authenticate(&token).await,
        Err(ChatError::Unauthenticated)
    ));

    // An idle session ends after the idle timeout.
    let (_, token) = h.login("alice").await;
    h.clock.advance(hour - Duration::from_secs(1));
    h.chat.authenticate(&token).await.unwrap();
    h.clock.advance(hour);
    assert!(matches!(
        h.chat.authenticate(&token).await,
        Err(ChatError::Unauthenticated)
    ));

    // Purging removes expired sessions and keeps live ones.
    let (_, stale) = h.login("alice").await;
    h.clock.advance(2 * hour);
    let (_, fresh) = h.login("alice").await;
    assert!(h.chat.purge_expired_sessions().await.unwrap() >= 1);
    assert!(h.chat.authenticate(&fresh).await.is_ok());
    assert!(matches!(
        h.chat.authenticate(&stale).await,
        Err(ChatError::Unauthenticated)
    ));
}

pub async fn logout_ends_the_session_and_its_subscriptions(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.signup("alice").await;
    let bob = h.user("bob").await;
    let (laptop, laptop_token) = h.login("alice").await;
    let (phone, phone_token) = h.login("alice").await;
    let mut laptop_events = h.chat.subscribe(&laptop).await.unwrap();
    let mut phone_events = h.chat.subscribe(&phone).await.unwrap();

    h.chat.logout(&laptop_token).await.unwrap();
    assert!(matches!(
        h.chat.authenticate(&laptop_token).await,
        Err(ChatError::Unauthenticated)
    ));
    assert!(matches!(
        h.chat.logout(&laptop_token).await,
        Err(ChatError::Unauthenticated)
    ));
    assert!(
        next_delivery(&mut laptop_events).await.is_none(),
        "the laptop's stream must end"
    );

    // The other session is untouched and still live.
    h.chat.authenticate(&phone_token).await.unwrap();
    let sent = h.send(&bob, "alice", "still there?").await;
    match next_event(&mut phone_events).await.kind() {
        EventKind::Message { message } => assert_eq!(message.id(), sent.id()),
        other => panic!("expected the message, got {other:?}"),
    }
}

pub async fn login_is_rate_limited_per_username_and_per_client(store: Arc<dyn Store>) {
    let limits = RateLimits {
        login_per_username: Rate::new(3, Duration::from_secs(3600)),
        login_per_client: Rate::new(5, Duration::from_secs(3600)),
        ..generous_limits()
    };
    let h = Harness::with(store, limits, ChatConfig::default());
    h.signup("alice").await;
    h.signup("bob").await;
    for client in ["c1", "c2", "c3"] {
        assert!(matches!(
            h.chat.login("alice", "wrong password".into(), client).await,
            Err(ChatError::InvalidCredentials)
        ));
    }
    match h.chat.login("alice", PASSWORD.into(), "c4").await {
        Err(ChatError::RateLimited { retry_after }) => assert!(retry_after > Duration::ZERO),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Another account is not affected.
    h.chat.login("bob", PASSWORD.into(), "c5").await.unwrap();

    // One client trying many names is limited too.
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        let _ = h.chat.login(name, PASSWORD.into(), "scanner").await;
    }
    assert!(matches!(
        h.chat.login("bob", PASSWORD.into(), "scanner").await,
        Err(ChatError::RateLimited { .. })
    ));
}

/// The limits and timeouts a service gets without configuration are the
/// documented ones: login attempts 10 per username (then one per 30 s) and
/// 30 per client (then one per 2 s), 30 messages (then 10 per second), 20
/// typing notices (then 4 per second), sessions idle 7 days, at most 30.
pub async fn default_limits_are_the_documented_ones(store: Arc<dyn Store>) {
    let h = Harness::with_defaults(store);
    let day = Duration::from_secs(24 * 3600);
    assert_eq!(h.chat.config().session_idle_timeout, 7 * day);
    assert_eq!(h.chat.config().session_absolute_timeout, 30 * day);
    h.signup("alice").await;
    h.signup("bob").await;
    h.signup("carol").await;
    let (alice, _) = h.login("alice").await;
    h.login("bob").await;
    let limited = |result: crate::Result<crate::Login>| match result {
        Err(ChatError::RateLimited { retry_after }) => retry_after,
        other => panic!("expected a rate limit, got {other:?}"),
    };

    // Per username: ten attempts from anywhere, then one every 30 s.
    for n in 0..10 {
        let client = format!("client-{n}");
        assert!(matches!(
            h.chat
                .login("carol", "wrong password".into(), &client)
                .await,
            Err(ChatError::InvalidCredentials)
        ));
    }
    let wait = limited(h.chat.login("carol", PASSWORD.into(), "fresh-1").await);
    assert_eq!(wait, Duration::from_secs(30));
    h.clock.advance(Duration::from_secs(29));
    limited(h.chat.login("carol", PASSWORD.into(), "fresh-2").await);
    h.clock.advance(Duration::from_secs(1));
    h.chat
        .login("carol", PASSWORD.into(), "fresh-3")
        .await
        .unwrap();
    limited(h.chat.login("carol", PASSWORD.into(), "fresh-4").await);

    // Per client: thirty attempts at any names, then one every 2 s.
    for n in 0..30 {
        let name = format!("nobody{n}");
        assert!(matches!(
            h.chat.login(&name, PASSWORD.into(), "scanner").await,
            Err(ChatError::InvalidCredentials)
        ));
    }
    let wait = limited(h.chat.login("bob", PASSWORD.into(), "scanner").await);
    assert_eq!(wait, Duration::from_secs(2));
    h.clock.advance(Duration::from_secs(2));
    h.chat
        .login("bob", PASSWORD.into(), "scanner")
        .await
        .unwrap();
    limited(h.chat.login("bob", PASSWORD.into(), "scanner").await);

    // Messages: thirty at once, then ten a second.
    for n in 0..30 {
        h.send(&alice, "bob", &format!("burst {n}")).await;
    }
    let over = h
        .chat
        .send(&alice, "bob", "one too many".into(), None)
        .await;
    match over {
        Err(ChatError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_millis(100));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    h.clock.advance(Duration::from_millis(100));
    h.send(&alice, "bob", "earned back").await;
    assert!(matches!(
        h.chat.send(&alice, "bob", "again".into(), None).await,
        Err(ChatError::RateLimited { .. })
    ));

    // Typing notices: twenty at once, then four a second.
    for _ in 0..20 {
        h.chat.typing(&alice, "bob").await.unwrap();
    }
    match h.chat.typing(&alice, "bob").await {
        Err(ChatError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_millis(250));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    h.clock.advance(Duration::from_millis(250));
    h.chat.typing(&alice, "bob").await.unwrap();

    // Sessions: used within every 7 days, one lasts 30 days; unused for 7
    // days, it ends.
    let (_, token) = h.login("bob").await;
    for _ in 0..4 {
        h.clock.advance(7 * day - Duration::from_secs(1));
        h.chat.authenticate(&token).await.unwrap();
    }
    h.clock.advance(2 * day + Duration::from_secs(4));
    assert!(matches!(
        h.chat.authenticate(&token).await,
        Err(ChatError::Unauthenticated)
    ));
    let (_, token) = h.login("bob").await;
    h.clock.advance(7 * day);
    assert!(matches!(
        h.chat.authenticate(&token).await,
        Err(ChatError::Unauthenticated)
    ));
}

/// Limits small enough for a case to meet them in a few attempts.
fn small_limits() -> RateLimits {
    let hour = Duration::from_secs(3600);
    RateLimits {
        login_per_username: Rate::new(5, hour),
        login_per_device: Rate::new(3, hour),
        login_per_network: Rate::new(6, hour),
        signup_per_client: Rate::new(3, hour),
        signup_per_network: Rate::new(5, hour),
        ..generous_limits()
    }
}

pub async fn known_devices_log_in_while_their_account_is_under_attack(store: Arc<dyn Store>) {
    let limits = small_limits();
    let h = Harness::with(store, limits, ChatConfig::default());
    super::limits::a_known_device_logs_in_while_its_account_is_under_attack(&h, &limits).await;
}

pub async fn login_attempts_count_per_client_network(store: Arc<dyn Store>) {
    let limits = small_limits();
    let h = Harness::with(store, limits, ChatConfig::default());
    super::limits::login_attempts_count_per_network(&h, &limits).await;
}

/// Signups count per client address and per network, and what can be
/// refused without hashing the password is: a taken name or email is
/// answered as such, with no hash computed.
pub async fn signup_is_limited_per_client_and_network_and_refused_before_hashing(
    store: Arc<dyn Store>,
) {
    use std::sync::atomic::Ordering;

    let hasher = Arc::new(CountingHasher::default());
    let chat = crate::Chat::builder(store)
        .hasher(hasher.clone())
        .limiter(Arc::new(crate::GovernorLimiter::new(small_limits())))
        .build();
    let hashed = || hasher.hashed.load(Ordering::SeqCst);
    chat.signup(
        form("alice@example.test", "alice", PASSWORD, PASSWORD),
        "192.0.2.1",
    )
    .await
    .unwrap();
    assert_eq!(hashed(), 1);
    let taken_name = chat
        .signup(
            form("new@example.test", "ALICE", PASSWORD, PASSWORD),
            "192.0.2.2",
        )
        .await;
    assert!(
        matches!(taken_name, Err(ChatError::UsernameTaken)),
        "{taken_name:?}"
    );
    let taken_email = chat
        .signup(
            form("Alice@Example.TEST", "alice2", PASSWORD, PASSWORD),
            "192.0.2.3",
        )
        .await;
    assert!(
        matches!(taken_email, Err(ChatError::EmailTaken)),
        "{taken_email:?}"
    );
    assert_eq!(hashed(), 1, "a taken name or email costs no hashing");
    // Three signups per address: the fourth is refused before any look-up.
    let one = "198.51.100.7";
    for n in 0..3 {
        let name = format!("user{n}");
        chat.signup(
            form(&format!("{name}@example.test"), &name, PASSWORD, PASSWORD),
            one,
        )
        .await
        .unwrap();
    }
    let fourth = chat
        .signup(form("user9@example.test", "user9", PASSWORD, PASSWORD), one)
        .await;
    assert!(
        matches!(fourth, Err(ChatError::RateLimited { .. })),
        "{fourth:?}"
    );
    // Five per network (here an IPv4 /24): neighbours share it.
    for n in 10..12 {
        let name = format!("user{n}");
        let neighbour = format!("198.51.100.{n}");
        chat.signup(
            form(&format!("{name}@example.test"), &name, PASSWORD, PASSWORD),
            neighbour.as_str(),
        )
        .await
        .unwrap();
    }
    let over = chat
        .signup(
            form("user20@example.test", "user20", PASSWORD, PASSWORD),
            "198.51.100.20",
        )
        .await;
    assert!(
        matches!(over, Err(ChatError::RateLimited { .. })),
        "{over:?}"
    );
    chat.signup(
        form("user21@example.test", "user21", PASSWORD, PASSWORD),
        "198.51.101.20",
    )
    .await
    .unwrap();
}

pub async fn send_validates_and_stores_nothing_on_error(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    h.signup("bob").await;
    let chat = &h.chat;
    assert_invalid(chat.send(&alice, "bob", "   ".into(), None).await, "text");
    assert_invalid(
        chat.send(&alice, "bob", "a\u{0}b".into(), None).await,
        "text",
    );
    assert_invalid(
        chat.send(&alice, "bob", "x".repeat(4001), None).await,
        "text",
    );
    assert_invalid(chat.send(&alice, "b", "hi".into(), None).await, "to");
    assert_invalid(chat.send(&alice, "ALICE", "hi".into(), None).await, "to");
    assert_invalid(
        chat.send(&alice, "bob", "hi".into(), Some(String::new()))
            .await,
        "client_id",
    );
    assert_invalid(
        chat.send(&alice, "bob", "hi".into(), Some("has space".into()))
            .await,
        "client_id",
    );
    assert!(matches!(
        chat.send(&alice, "nobody", "hi".into(), None).await,
        Err(ChatError::NotFound)
    ));
    let history = chat
        .history(&alice, "bob", &HistoryQuery::default())
        .await
        .unwrap();
    assert!(history.items.is_empty());
    assert_eq!(chat.last_message_id(&alice).await.unwrap(), MessageId::ZERO);
    assert!(
        chat.conversations(&alice, &ConversationQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // A valid message is trimmed and stored whole.
    let text = format!("  {}\n\tend  ", "é".repeat(3990));
    let sent = chat.send(&alice, "BOB", text, None).await.unwrap();
    assert!(sent.created);
    assert_eq!(sent.message.recipient().unwrap().username().as_str(), "bob");
    assert_eq!(
        sent.message.text().as_str(),
        format!("{}\n\tend", "é".repeat(3990))
    );
}

pub async fn send_is_idempotent_per_client_id(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.signup("carol").await;
    let mut bob_events = h.chat.subscribe(&bob).await.unwrap();
    let chat = &h.chat;

    let first = chat
        .send(&alice, "bob", "hello".into(), Some("c-1".into()))
        .await
        .unwrap();
    let retry = chat
        .send(&alice, "bob", "hello".into(), Some("c-1".into()))
        .await
        .unwrap();
    assert!(first.created);
    assert!(!retry.created);
    assert_eq!(retry.message, first.message);
    assert_eq!(first.message.client_id().map(|c| c.as_str()), Some("c-1"));
    assert_invalid(
        chat.send(&alice, "carol", "hello".into(), Some("c-1".into()))
            .await,
        "client_id",
    );
    // Keys belong to their sender.
    let bobs = chat
        .send(&bob, "alice", "hi".into(), Some("c-1".into()))
        .await
        .unwrap();
    assert!(bobs.created);

    let history = chat
        .history(&alice, "bob", &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(
        ids(&history.items),
        vec![first.message.id().get(), bobs.message.id().get()]
    );
    // The retry published nothing: bob's next events are the two messages.
    for expected in [first.message.id(), bobs.message.id()] {
        match next_event(&mut bob_events).await.kind() {
            EventKind::Message { message } => assert_eq!(message.id(), expected),
            other => panic!("unexpected {other:?}"),
        }
    }
}

pub async fn send_commits_then_publishes_to_every_device(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    h.signup("alice").await;
    let (laptop, _) = h.login("alice").await;
    let (phone, _) = h.login("alice").await;
    let bob = h.user("bob").await;
    let mut streams = Vec::new();
    for session in [&laptop, &phone, &bob] {
        streams.push(h.chat.subscribe(session).await.unwrap());
    }
    let sent = h.send(&laptop, "bob", "hello everywhere").await;
    for stream in &mut streams {
        let event = next_event(stream).await;
        let EventKind::Message { message } = event.kind() else {
            panic!("expected a message, got {event:?}");
        };
        assert_eq!(message, &sent);
        // Published only after commit: readable by the time it arrives.
        let history = h
            .chat
            .history(&bob, "alice", &HistoryQuery::default())
            .await
            .unwrap();
        assert!(history.items.iter().any(|m| m.id() == message.id()));
    }
}

pub async fn history_pages_are_chronological_with_exact_boundaries(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    // The clock stands still: every message has the same timestamp, and
    // paging must still be exact.
    let mut all = Vec::new();
    for n in 0..25 {
        let (from, to) = if n % 2 == 0 {
            (&alice, "bob")
        } else {
            (&bob, "alice")
        };
        all.push(h.send(from, to, &format!("message {n}")).await.id().get());
    }
    let q = |before: Option<i64>, after: Option<i64>| HistoryQuery {
        before: before.map(MessageId::new),
        after: after.map(MessageId::new),
        limit: limit(10),
        search: None,
    };
    let latest = h.chat.history(&alice, "bob", &q(None, None)).await.unwrap();
    assert_eq!(ids(&latest.items), all[15..].to_vec());
    assert!(latest.has_more);
    let older = h
        .chat
        .history(&alice, "bob", &q(Some(all[15]), None))
        .await
        .unwrap();
    assert_eq!(ids(&older.items), all[5..15].to_vec());
    assert!(older.has_more);
    let oldest = h
        .chat
        .history(&alice, "bob", &q(Some(all[5]), None))
        .await
        .unwrap();
    assert_eq!(ids(&oldest.items), all[..5].to_vec());
    assert!(!oldest.has_more);

    let first = h
        .chat
        .history(&bob, "alice", &q(None, Some(0)))
        .await
        .unwrap();
    assert_eq!(ids(&first.items), all[..10].to_vec());
    assert!(first.has_more);
    let next = h
        .chat
        .history(&bob, "alice", &q(None, Some(all[9])))
        .await
        .unwrap();
    assert_eq!(ids(&next.items), all[10..20].to_vec());
    let last = h
        .chat
        .history(&bob, "alice", &q(None, Some(all[19])))
        .await
        .unwrap();
    assert_eq!(ids(&last.items), all[20..].to_vec());
    assert!(!last.has_more);
    let window = h
        .chat
        .history(&bob, "alice", &q(Some(all[8]), Some(all[3])))
        .await
        .unwrap();
    assert_eq!(ids(&window.items), all[4..8].to_vec());
    assert!(!window.has_more);
    let exact = HistoryQuery {
        limit: limit(25),
        ..HistoryQuery::default()
    };
    let everything = h.chat.history(&alice, "bob", &exact).await.unwrap();
    assert_eq!(ids(&everything.items), all);
    assert!(!everything.has_more);

    assert_invalid(PageLimit::new(0), "limit");
    assert_invalid(PageLimit::new(201), "limit");
    assert!(matches!(
        h.chat
            .history(&alice, "nobody", &HistoryQuery::default())
            .await,
        Err(ChatError::NotFound)
    ));
    assert!(matches!(
        h.chat
            .history(&alice, "alice", &HistoryQuery::default())
            .await,
        Err(ChatError::NotFound)
    ));
}

pub async fn search_is_literal_case_insensitive_and_unicode(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    h.signup("bob").await;
    let corpus = [
        "100% sure",
        "100 percent",
        "snake_case name",
        "snakeXcase name",
        "it's \"quoted\"",
        "Grüße aus MÜNCHEN",
        "back\\slash and more",
        "ÄPFEL und Birnen",
        "plain words",
        "Mixed CASE Words",
        "emoji 😀 inside",
        "ΟΔΥΣΣΕΥΣ sailed",
    ];
    for text in corpus {
        h.send(&alice, "bob", text).await;
    }
    let terms = [
        "%",
        "100%",
        "_",
        "e_c",
        "'",
        "\"quoted\"",
        "it's \"",
        "münchen",
        "äpfel",
        "\\",
        "k\\s",
        "PLAIN",
        "mixed case",
        "zzz",
        "a",
        "😀",
        "οδυσσευσ",
        "ee",
        "%%",
        "*",
        "NEAR(",
        "\"",
    ];
    for term in terms {
        let pattern = SearchPattern::parse(term).unwrap();
        let expected: Vec<&str> = corpus
            .iter()
            .copied()
            .filter(|t| pattern.is_match(t))
            .collect();
        let query = HistoryQuery {
            search: Some(pattern),
            ..HistoryQuery::default()
        };
        let found = h.chat.history(&alice, "bob", &query).await.unwrap();
        assert_eq!(texts(&found.items), expected, "search {term:?}");
        assert!(!found.has_more);
    }
    // Sanity: the reference is not trivially empty.
    let pattern = SearchPattern::parse("ÄPFEL").unwrap();
    assert!(pattern.is_match("ÄPFEL und Birnen") && pattern.is_match("äpfel"));
}

pub async fn search_results_paginate(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    h.signup("bob").await;
    let mut needles = Vec::new();
    for n in 0..30 {
        h.send(&alice, "bob", &format!("hay {n}")).await;
        if n % 2 == 0 {
            needles.push(
                h.send(&alice, "bob", &format!("a Needle {n}"))
                    .await
                    .id()
                    .get(),
            );
        }
    }
    let search = |before: Option<MessageId>| HistoryQuery {
        before,
        search: Some(SearchPattern::parse("needle").unwrap()),
        limit: limit(10),
        ..HistoryQuery::default()
    };
    let first = h.chat.history(&alice, "bob", &search(None)).await.unwrap();
    assert_eq!(ids(&first.items), needles[5..].to_vec());
    assert!(first.has_more);
    let second = h
        .chat
        .history(&alice, "bob", &search(Some(first.items[0].id())))
        .await
        .unwrap();
    assert_eq!(ids(&second.items), needles[..5].to_vec());
    assert!(!second.has_more);
}

pub async fn third_user_sees_nothing_of_a_conversation(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let mut carol_events = h.chat.subscribe(&carol).await.unwrap();
    let secret = h.send(&alice, "bob", "secret plans").await;
    h.send(&bob, "alice", "secret reply").await;
    h.chat.mark_read(&bob, "alice", secret.id()).await.unwrap();
    h.chat.typing(&alice, "bob").await.unwrap();

    let all = HistoryQuery::default();
    let search = HistoryQuery {
        search: Some(SearchPattern::parse("secret").unwrap()),
        ..HistoryQuery::default()
    };
    for peer in ["alice", "bob"] {
        assert!(
            h.chat
                .history(&carol, peer, &all)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(
            h.chat
                .history(&carol, peer, &search)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(matches!(
            h.chat.mark_read(&carol, peer, secret.id()).await,
            Err(ChatError::NotFound)
        ));
    }
    assert!(
        h.chat
            .conversations(&carol, &ConversationQuery::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        h.chat
            .changes(&carol, Position::ZERO, PageLimit::LARGEST)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        h.chat.last_message_id(&carol).await.unwrap(),
        MessageId::ZERO
    );

    // Carol's stream carried none of it: her first event is her own.
    let hers = h.send(&bob, "carol", "hi carol").await;
    match next_event(&mut carol_events).await.kind() {
        EventKind::Message { message } => assert_eq!(message.id(), hers.id()),
        other => panic!("carol saw {other:?}"),
    }
}

pub async fn conversations_are_sorted_by_recency_with_unread_counts(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.signup("dave").await;
    h.send(&bob, "alice", "b1").await;
    let b2 = h.send(&bob, "alice", "b2").await;
    h.send(&carol, "alice", "c1").await;
    let d1 = h.send(&alice, "dave", "d1").await;

    let list = h
        .chat
        .conversations(&alice, &ConversationQuery::default())
        .await
        .unwrap();
    let summary = summarize(&list.items);
    assert_eq!(summary[0], ("dave", 0, d1.id().get()));
    assert_eq!(summary[1].0, "carol");
    assert_eq!(summary[1].1, 1);
    assert_eq!(summary[2], ("bob", 2, b2.id().get()));
    assert_eq!(list.items.len(), 3);
    assert!(!list.has_more);
    // The sender has read their own messages.
    let bobs = h
        .chat
        .conversations(&bob, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(bobs.items[0].unread, 0);

    h.chat.mark_read(&alice, "bob", b2.id()).await.unwrap();
    h.send(&bob, "alice", "b3").await;
    let list = h
        .chat
        .conversations(&alice, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(list.items[0].peer().unwrap().username().as_str(), "bob");
    assert_eq!(list.items[0].unread, 1);

    // Keyset pages by last message id.
    let first = ConversationQuery {
        before: None,
        limit: limit(2),
    };
    let page = h.chat.conversations(&alice, &first).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.has_more);
    let cursor = page.items[1].last_message.as_ref().unwrap().id();
    let rest = h
        .chat
        .conversations(
            &alice,
            &ConversationQuery {
                before: Some(cursor),
                limit: limit(2),
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].peer().unwrap().username().as_str(), "carol");
    assert!(!rest.has_more);
}

pub async fn read_marks_only_move_forward_and_are_announced(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    // Both have written (read marks pass only then).
    let m0 = h.send(&alice, "bob", "0").await;
    let m1 = h.send(&bob, "alice", "1").await;
    let m2 = h.send(&bob, "alice", "2").await;
    let m3 = h.send(&bob, "alice", "3").await;
    let mut bob_events = h.chat.subscribe(&bob).await.unwrap();
    let bobs = h
        .chat
        .conversations(&bob, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(
        bobs.items[0].peer_read_up_to(),
        m0.id(),
        "alice has read nothing of bob's yet"
    );

    assert_eq!(
        h.chat.mark_read(&alice, "bob", m2.id()).await.unwrap(),
        m2.id()
    );
    assert_eq!(
        h.chat.mark_read(&alice, "bob", m1.id()).await.unwrap(),
        m2.id()
    );
    assert_eq!(
        h.chat
            .mark_read(&alice, "bob", MessageId::new(i64::MAX))
            .await
            .unwrap(),
        m3.id()
    );
    for expected in [m2.id(), m3.id()] {
        match next_event(&mut bob_events).await.kind() {
            EventKind::Read {
                by, with, up_to, ..
            } => {
                assert_eq!(by.username().as_str(), "alice");
                assert_eq!(with.as_ref().unwrap().username().as_str(), "bob");
                assert_eq!(*up_to, expected);
            }
            other => panic!("expected a read mark, got {other:?}"),
        }
    }
    let list = h
        .chat
        .conversations(&alice, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(list.items[0].unread, 0);
    assert_eq!(
        list.items[0].peer_read_up_to(),
        m3.id(),
        "a sender has read the conversation up to their own message"
    );
    // Bob's list shows how far alice has read his messages.
    let list = h
        .chat
        .conversations(&bob, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(list.items[0].peer_read_up_to(), m3.id());
}

pub async fn since_recovers_everything_after_an_id(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let mut expected = Vec::new();
    for n in 0..10 {
        let message = match n % 3 {
            0 => h.send(&bob, "alice", "from bob").await,
            1 => h.send(&carol, "alice", "from carol").await,
            _ => h.send(&alice, "carol", "to carol").await,
        };
        expected.push(message.id().get());
    }
    h.send(&bob, "carol", "not alice's").await;

    let got = all_changes(&h.chat, &alice, Position::ZERO, 4).await;
    assert_eq!(message_ids(&got), expected);
    // A message id is a position.
    let from_middle = h
        .chat
        .changes(&alice, Position::new(expected[6]), limit(50))
        .await
        .unwrap();
    assert_eq!(message_ids(&from_middle.items), expected[7..].to_vec());
    let at_end = h
        .chat
        .changes(&alice, Position::new(expected[9]), limit(50))
        .await
        .unwrap();
    assert!(at_end.items.is_empty() && !at_end.has_more);
    assert_eq!(
        h.chat.last_message_id(&alice).await.unwrap().get(),
        expected[9]
    );
}

pub async fn directory_lists_other_users_by_prefix(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    for name in ["Alfred", "al.x", "bob", "albert_2"] {
        h.signup(name).await;
    }
    let names = |users: Vec<crate::User>| -> Vec<String> {
        users
            .iter()
            .map(|u| u.username().as_str().to_owned())
            .collect()
    };
    let found = h.chat.directory(&alice, "AL", limit(10)).await.unwrap();
    assert_eq!(names(found), ["al.x", "albert_2", "Alfred"]);
    let everyone = h.chat.directory(&alice, "", limit(10)).await.unwrap();
    assert_eq!(names(everyone), ["al.x", "albert_2", "Alfred", "bob"]);
    let one = h.chat.directory(&alice, "", limit(1)).await.unwrap();
    assert_eq!(names(one), ["al.x"]);
    assert!(
        h.chat
            .directory(&alice, "zz", limit(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_invalid(h.chat.directory(&alice, "%", limit(10)).await, "q");
    assert_invalid(
        h.chat.directory(&alice, &"a".repeat(33), limit(10)).await,
        "q",
    );
}

pub async fn concurrent_sends_get_unique_increasing_ids(store: Arc<dyn Store>) {
    let h = Arc::new(Harness::new(store));
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let h = Arc::clone(&h);
            let (from, to) = match task % 3 {
                0 => (alice.clone(), "bob"),
                1 => (bob.clone(), "alice"),
                _ => (carol.clone(), "alice"),
            };
            tokio::spawn(async move {
                let mut mine = Vec::new();
                for n in 0..25 {
                    let sent = h
                        .chat
                        .send(
                            &from,
                            to,
                            format!("task {task} message {n}"),
                            Some(format!("t{task}-{n}")),
                        )
                        .await
                        .unwrap();
                    mine.push(sent.message.id().get());
                }
                mine
            })
        })
        .collect();
    let mut all = HashSet::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "one sender's ids grow"
        );
        for id in mine {
            assert!(all.insert(id), "id {id} given twice");
        }
    }
    assert_eq!(all.len(), 400);

    // Reading alice's conversations back finds every row, in id order.
    let seen = message_ids(&all_changes(&h.chat, &alice, Position::ZERO, PageLimit::MAX).await);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), all);
}

/// Presence and typing pass only between users who have both sent a
/// message in their conversation: one unsolicited message shows its sender
/// nothing of the recipient.
pub async fn conversation_peers_are_those_who_both_spoke(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store));
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let dave = h.user("dave").await;
    h.send(&alice, "bob", "hi bob").await;
    h.send(&bob, "alice", "hi alice").await;
    h.send(&carol, "alice", "hi from carol").await;
    let peers = |session: &crate::Session| {
        let store = Arc::clone(&store);
        let id = session.user().id();
        async move { store.conversation_peers(id).await.unwrap() }
    };
    let (a, b, c, d) = (
        alice.user().id(),
        bob.user().id(),
        carol.user().id(),
        dave.user().id(),
    );
    assert_eq!(
        peers(&alice).await,
        vec![b],
        "not carol: alice never answered"
    );
    assert_eq!(peers(&bob).await, vec![a]);
    assert_eq!(
        peers(&carol).await,
        Vec::new(),
        "alice never answered carol"
    );
    assert_eq!(peers(&dave).await, Vec::new(), "no conversation, no peers");
    for (x, y, both) in [
        (a, b, true),
        (b, a, true),
        (a, c, false),
        (c, a, false),
        (a, d, false),
    ] {
        assert_eq!(both_spoke(&*store, x, y).await, both, "{x} {y}");
    }
    let mutual = |session: crate::Session| {
        let chat = h.chat.clone();
        async move {
            let page = chat
                .conversations(&session, &ConversationQuery::default())
                .await
                .unwrap();
            page.items
                .iter()
                .map(|s| (s.peer().unwrap().username().as_str().to_owned(), s.mutual()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        mutual(alice.clone()).await,
        [("carol".to_owned(), false), ("bob".to_owned(), true)]
    );
    // Answering makes it mutual, for both.
    h.send(&alice, "carol", "hello carol").await;
    assert!(both_spoke(&*store, c, a).await);
    assert_eq!(mutual(carol).await, [("alice".to_owned(), true)]);
    let mut all = peers(&alice).await;
    all.sort();
    assert_eq!(all, {
        let mut both = vec![b, c];
        both.sort();
        both
    });
}

/// Presence changes reach the conversation peers who both spoke, and
/// nobody else; the conversation list shows presence only to them.
pub async fn presence_reaches_only_peers_who_both_spoke(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    h.send(&alice, "bob", "hi bob").await;
    h.send(&bob, "alice", "hi alice").await;
    h.send(&carol, "alice", "unsolicited").await;
    let mut bob_events = h.chat.subscribe(&bob).await.unwrap();
    let mut carol_events = h.chat.subscribe(&carol).await.unwrap();
    h.chat.connected(&alice).await.unwrap();
    match next_event(&mut bob_events).await.kind() {
        EventKind::Presence { user, online } => {
            assert_eq!((user.username().as_str(), *online), ("alice", true));
        }
        other => panic!("expected presence, got {other:?}"),
    }
    assert!(
        next_delivery_now(&mut carol_events).is_none(),
        "carol learns nothing"
    );
    let listed = |session: crate::Session| {
        let chat = h.chat.clone();
        async move {
            let page = chat
                .conversations(&session, &ConversationQuery::default())
                .await
                .unwrap();
            page.items[0].online()
        }
    };
    assert!(listed(bob.clone()).await, "bob sees alice online");
    assert!(!listed(carol.clone()).await, "carol does not");
    h.chat.disconnected(&alice).await.unwrap();
    match next_event(&mut bob_events).await.kind() {
        EventKind::Presence { online, .. } => assert!(!online),
        other => panic!("expected presence, got {other:?}"),
    }
    assert!(next_delivery_now(&mut carol_events).is_none());
}

/// A read mark says when the reader was here: it reaches the peer (live,
/// and in the conversation list) only where both have spoken.
pub async fn read_marks_reach_the_peer_only_where_both_spoke(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let stranger = h.user("stranger").await;
    let bob = h.user("bob").await;
    let first = h.send(&stranger, "bob", "unsolicited").await;
    let mut stranger_events = h.chat.subscribe(&stranger).await.unwrap();
    let mut bob_events = h.chat.subscribe(&bob).await.unwrap();
    h.chat
        .mark_read(&bob, "stranger", first.id())
        .await
        .unwrap();
    match next_event(&mut bob_events).await.kind() {
        EventKind::Read { up_to, .. } => assert_eq!(*up_to, first.id(), "bob's own devices hear"),
        other => panic!("expected bob's read mark, got {other:?}"),
    }
    let listed = |session: crate::Session| {
        let chat = h.chat.clone();
        async move {
            chat.conversations(&session, &ConversationQuery::default())
                .await
                .unwrap()
                .items[0]
                .peer_read_up_to()
        }
    };
    assert_eq!(listed(stranger.clone()).await, MessageId::ZERO);
    // Once bob answers, his read marks reach the other side.
    let reply = h.send(&bob, "stranger", "who are you?").await;
    let next = h.send(&stranger, "bob", "a friend").await;
    h.chat.mark_read(&bob, "stranger", next.id()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match next_event(&mut stranger_events).await.kind() {
            EventKind::Message { message } => kinds.push(format!("message {}", message.id())),
            EventKind::Read { up_to, .. } => kinds.push(format!("read {up_to}")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        kinds,
        [
            format!("message {}", reply.id()),
            format!("message {}", next.id()),
            format!("read {}", next.id())
        ],
        "the first read mark never reached the stranger"
    );
    assert_eq!(listed(stranger).await, next.id());
}

pub async fn typing_reaches_the_peer_and_is_not_stored(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let mut bob_events = h.chat.subscribe(&bob).await.unwrap();
    // Typing to someone who has not answered (or not been written to) is
    // dropped without a word to the sender.
    h.chat.typing(&alice, "Bob").await.unwrap();
    h.send(&alice, "bob", "hi").await;
    h.chat.typing(&alice, "bob").await.unwrap();
    h.send(&bob, "alice", "hi back").await;
    for expected in ["hi", "hi back"] {
        match next_event(&mut bob_events).await.kind() {
            EventKind::Message { message } => assert_eq!(message.text().as_str(), expected),
            other => panic!("expected the message {expected:?}, got {other:?}"),
        }
    }
    // Now both have spoken.
    h.chat.typing(&alice, "Bob").await.unwrap();
    match next_event(&mut bob_events).await.kind() {
        EventKind::Typing { from, to } => {
            assert_eq!(from.username().as_str(), "alice");
            assert_eq!(to.username().as_str(), "bob");
        }
        other => panic!("expected typing, got {other:?}"),
    }
    assert!(matches!(
        h.chat.typing(&alice, "alice").await,
        Err(ChatError::NotFound)
    ));
    assert!(matches!(
        h.chat.typing(&alice, "nobody").await,
        Err(ChatError::NotFound)
    ));
    let stored = h
        .chat
        .history(&alice, "bob", &HistoryQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(stored.len(), 2, "typing stores nothing");
    assert!(next_delivery_now(&mut bob_events).is_none());
}

/// A delivery that is already waiting, without waiting.
fn next_delivery_now<S: futures::Stream<Item = Delivery> + Unpin>(
    stream: &mut S,
) -> Option<Delivery> {
    use futures::FutureExt;
    futures::StreamExt::next(stream).now_or_never().flatten()
}

/// Appends issued together (which a group-committing store takes as one
/// batch) end as if appended one at a time, in order: a repeated client id
/// stores one message, a new conversation is created once, marks and
/// unread counts follow the last message, and a message the store refuses
/// (an unknown sender) fails alone.
pub async fn concurrent_appends_behave_like_appends_in_order(store: Arc<dyn Store>) {
    let h = Harness::new(Arc::clone(&store));
    let alice = h.user("alice").await.user().clone();
    let bob = h.user("bob").await.user().clone();
    let carol = h.user("carol").await.user().clone();
    let ghost = User::new(UserId::new(1 << 40), Username::parse("ghost").unwrap());
    let now = crate::ports::Clock::now(&*h.clock);
    let alice_bob = store
        .direct_conversation(alice.id(), bob.id(), now)
        .await
        .unwrap();
    let carol_bob = store
        .direct_conversation(bob.id(), carol.id(), now)
        .await
        .unwrap();
    assert_eq!(
        store
            .direct_conversation(bob.id(), alice.id(), now)
            .await
            .unwrap(),
        alice_bob,
        "a pair has one conversation"
    );
    let conversation_of = |from: &User, to: &User| {
        if from.id() == carol.id() || to.id() == carol.id() {
            carol_bob
        } else {
            alice_bob
        }
    };
    let new = |from: &User, to: &User, text: &str, client: Option<&str>| NewMessage {
        conversation: conversation_of(from, to),
        sender: from.clone(),
        recipient: Some(to.clone()),
        text: MessageText::parse(text).unwrap(),
        sent_at: now,
        client_id: client.map(|c| ClientMessageId::parse(c).unwrap()),
        reply: None,
        mentioned: Default::default(),
    };
    let batch = vec![
        new(&alice, &bob, "a1", Some("k")),
        new(&alice, &bob, "a1 again", Some("k")),
        new(&bob, &alice, "b1", None),
        new(&carol, &bob, "c1", Some("k")),
        new(&alice, &bob, "a2", None),
    ];
    let results = store.append_batch(&batch).await.unwrap();
    assert_eq!(results.len(), batch.len());
    let appended: Vec<_> = results
        .iter()
        .enumerate()
        .map(|(i, r)| r.as_ref().unwrap_or_else(|e| panic!("append {i}: {e}")))
        .collect();
    let created: Vec<bool> = appended
        .iter()
        .map(|a| matches!(a, Appended::Created(_)))
        .collect();
    assert_eq!(created, [true, false, true, true, true]);
    assert_eq!(appended[1].message(), appended[0].message());
    let [a1, _, b1, c1, a2] = appended.as_slice() else {
        unreachable!()
    };
    let (a1, b1, c1, a2) = (a1.message(), b1.message(), c1.message(), a2.message());
    assert!(a1.id() < b1.id() && b1.id() < c1.id() && c1.id() < a2.id());
    assert_eq!(a1.conversation(), a2.conversation());
    assert_ne!(a1.conversation(), c1.conversation());
    // The same key again, in a batch of its own: the stored message.
    let again = store
        .append_batch(&[new(&alice, &bob, "a1 once more", Some("k"))])
        .await
        .unwrap();
    assert!(matches!(&again[..], [Ok(Appended::Existing(m))] if m == a1));

    // A batch the store refuses commits nothing.
    let refused = [
        new(&carol, &bob, "c2", None),
        new(&ghost, &alice, "from nobody", None),
    ];
    assert!(
        store.append_batch(&refused).await.is_err(),
        "an unknown sender is refused"
    );
    let c2 = store
        .append_batch(&refused[..1])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let c2 = c2.message();
    assert!(c2.id() > a2.id());

    let history = h
        .chat
        .history(&h.login("bob").await.0, "alice", &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(texts(&history.items), ["a1", "b1", "a2"]);
    let bobs = h
        .chat
        .conversations(&h.login("bob").await.0, &ConversationQuery::default())
        .await
        .unwrap();
    let summary = summarize(&bobs.items);
    assert_eq!(
        summary,
        [("carol", 2, c2.id().get()), ("alice", 1, a2.id().get())],
        "bob read up to his own b1; a2, c1 and c2 are new to him"
    );
    let alices = h
        .chat
        .conversations(&h.login("alice").await.0, &ConversationQuery::default())
        .await
        .unwrap();
    assert_eq!(alices.items.len(), 1);
    assert_eq!(alices.items[0].unread, 0, "alice sent the last message");
    let found = h
        .chat
        .history(
            &h.login("alice").await.0,
            "bob",
            &HistoryQuery {
                search: Some(SearchPattern::parse("again").unwrap()),
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(found.items.is_empty(), "the repeat was never stored");
}

/// A read mark made while a client was away is in the change log after
/// the client's last position, once, and only the newest of a member's
/// read marks is kept.
pub async fn read_marks_made_while_away_are_in_the_change_log(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.send(&alice, "bob", "one").await;
    h.send(&bob, "alice", "two").await;
    let m3 = h.send(&alice, "bob", "three").await;
    let m4 = h.send(&alice, "bob", "four").await;
    // Alice's client goes away here, having seen everything.
    let away = h.chat.head().await.unwrap().position();
    assert_eq!(away, m4.position(), "the head is the newest change");
    assert!(
        h.chat
            .changes(&alice, away, limit(50))
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing after the head"
    );
    h.chat.mark_read(&bob, "alice", m3.id()).await.unwrap();
    h.chat.mark_read(&bob, "alice", m4.id()).await.unwrap();
    let changes = h.chat.changes(&alice, away, limit(50)).await.unwrap();
    let [
        Change::Read {
            position,
            by,
            with,
            up_to,
            ..
        },
    ] = changes.items.as_slice()
    else {
        panic!(
            "expected bob's newest read mark only, got {:?}",
            changes.items
        );
    };
    assert_eq!(
        (
            by.username().as_str(),
            with.as_ref().unwrap().username().as_str(),
            *up_to
        ),
        ("bob", "alice", m4.id())
    );
    assert!(*position > m4.position());
    assert_eq!(h.chat.head().await.unwrap().position(), *position);
    // Bob's own devices recover it too; after it, nothing.
    let bobs = h.chat.changes(&bob, away, limit(50)).await.unwrap();
    assert_eq!(bobs.items, changes.items);
    assert!(
        h.chat
            .changes(&alice, *position, limit(50))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A new message comes after the read mark, and everything is recovered
    // in order from the start, in pages.
    let m5 = h.send(&bob, "alice", "five").await;
    assert!(m5.position() > *position);
    let all = all_changes(&h.chat, &alice, Position::ZERO, 2).await;
    let positions: Vec<i64> = all.iter().map(|c| c.position().get()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(all.len(), 6, "five messages and one read mark: {all:?}");
    assert!(matches!(&all[4], Change::Read { .. }));
}

/// A read mark says when the reader was here: the change log keeps the
/// reader's from a peer who has not written back (the reader's own devices
/// still recover it).
pub async fn the_change_log_keeps_a_strangers_reading_from_the_sender(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let stranger = h.user("stranger").await;
    let bob = h.user("bob").await;
    let first = h.send(&stranger, "bob", "unsolicited").await;
    h.chat
        .mark_read(&bob, "stranger", first.id())
        .await
        .unwrap();
    let strangers = h
        .chat
        .changes(&stranger, first.position(), limit(50))
        .await
        .unwrap();
    assert!(strangers.items.is_empty(), "{:?}", strangers.items);
    let bobs = h
        .chat
        .changes(&bob, first.position(), limit(50))
        .await
        .unwrap();
    assert!(matches!(bobs.items.as_slice(), [Change::Read { .. }]));
    // Once bob has written, his reading shows.
    let reply = h.send(&bob, "stranger", "who are you?").await;
    let next = h.send(&stranger, "bob", "a friend").await;
    h.chat.mark_read(&bob, "stranger", next.id()).await.unwrap();
    let strangers = h
        .chat
        .changes(&stranger, first.position(), limit(50))
        .await
        .unwrap();
    let kinds: Vec<String> = strangers
        .items
        .iter()
        .map(|c| match c {
            Change::Message(m) => format!("message {}", m.id()),
            Change::Read { up_to, .. } => format!("read {up_to}"),
            Change::Revised { message, .. } => format!("revised {}", message.id()),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            format!("message {}", reply.id()),
            format!("message {}", next.id()),
            format!("read {}", next.id())
        ]
    );
}

/// Positions grow in commit order across messages and read marks, from
/// concurrent writers; a cursor names its store, and one from another
/// store is recognised as foreign.
pub async fn positions_grow_in_commit_order_and_cursors_name_their_store(store: Arc<dyn Store>) {
    let h = Harness::new(store);
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    h.send(&bob, "alice", "hi").await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let chat = h.chat.clone();
        let (alice, bob) = (alice.clone(), bob.clone());
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                let sent = chat
                    .send(&alice, "bob", format!("m{n}"), None)
                    .await
                    .unwrap();
                sent.message.position()
            } else {
                chat.mark_read(&bob, "alice", MessageId::new(i64::MAX))
                    .await
                    .unwrap();
                Position::ZERO
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = all_changes(&h.chat, &bob, Position::ZERO, 7).await;
    let positions: Vec<i64> = all.iter().map(|c| c.position().get()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(
        all.iter()
            .filter(|c| matches!(c, Change::Message(_)))
            .count(),
        11
    );
    let head = h.chat.head().await.unwrap();
    assert_eq!(head.position().get(), *positions.last().unwrap());
    assert_eq!(
        h.chat.position_of(head).await.unwrap(),
        Some(head.position()),
        "a cursor of this store"
    );
    let foreign = crate::Cursor::new(head.position(), head.epoch().wrapping_add(1));
    assert_eq!(h.chat.position_of(foreign).await.unwrap(), None);
    assert_eq!(
        crate::Cursor::parse(&head.to_string()).unwrap(),
        head,
        "a cursor reads back"
    );
}

/// A member mutes a direct conversation or a group for themselves, until a
/// time or until they unmute it; nobody else's mutes change, and nobody
/// who is not a member (now) can mute it.
pub async fn members_mute_their_conversations_for_themselves(store: Arc<dyn Store>) {
    use crate::{ChatError, ConversationId, GroupForm, Mute};
    let h = Harness::new(store);
    let chat = &h.chat;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let direct = h.send(&alice, "bob", "hi").await.conversation();
    h.send(&bob, "alice", "hello").await;
    assert_eq!(
        chat.mute(&alice, direct, None).await.unwrap(),
        Mute {
            conversation: direct,
            until: None
        }
    );
    assert_eq!(
        chat.mutes(&alice).await.unwrap(),
        [Mute {
            conversation: direct,
            until: None
        }]
    );
    assert!(chat.mutes(&bob).await.unwrap().is_empty(), "hers alone");
    // Not a member, no such conversation, a time already past: refused.
    for id in [direct, ConversationId::new(9_999)] {
        assert!(matches!(
            chat.mute(&carol, id, None).await,
            Err(ChatError::NotFound)
        ));
        // Unmuting touches her own mutes only, so it answers alike.
        chat.unmute(&carol, id).await.unwrap();
    }
    assert_eq!(chat.mutes(&alice).await.unwrap().len(), 1, "hers untouched");
    let now = chat.clock().now();
    assert!(matches!(
        chat.mute(&alice, direct, Some(now)).await,
        Err(ChatError::InvalidInput { field: "until", .. })
    ));
    // A mute until a time replaces the one before, and ends then.
    let hour = now.plus(Duration::from_secs(3600));
    chat.mute(&alice, direct, Some(hour)).await.unwrap();
    assert_eq!(chat.mutes(&alice).await.unwrap()[0].until, Some(hour));
    h.clock.advance(Duration::from_secs(3601));
    assert!(chat.mutes(&alice).await.unwrap().is_empty(), "ended");
    // Unmuting: gone (and unmuting again is harmless).
    chat.mute(&alice, direct, None).await.unwrap();
    chat.unmute(&alice, direct).await.unwrap();
    chat.unmute(&alice, direct).await.unwrap();
    assert!(chat.mutes(&alice).await.unwrap().is_empty());
    // A group, by a member now; not by one who left.
    let group = chat
        .create_group(
            &alice,
            GroupForm {
                title: "Team".into(),
                members: vec!["bob".into()],
                ..GroupForm::default()
            },
        )
        .await
        .unwrap()
        .id;
    chat.mute(&bob, group, None).await.unwrap();
    assert_eq!(chat.mutes(&bob).await.unwrap().len(), 1);
    chat.remove_member(&bob, group, "bob").await.unwrap();
    assert!(matches!(
        chat.mute(&bob, group, None).await,
        Err(ChatError::NotFound)
    ));
    // The mute he left behind he may still clear.
    chat.unmute(&bob, group).await.unwrap();
    assert!(chat.mutes(&bob).await.unwrap().is_empty());
}
