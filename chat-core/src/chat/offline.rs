//! Members away when a message reaches them (no live connection, or none
//! active within `active_window`): after a delay, if they are still away,
//! have not read it and have not muted the conversation, the host's [`OfflineNotifier`] hears
//! of it, once per burst of a conversation.
//!
//! Only the process that committed the message looks (one process per
//! message, with presence shared between processes), and only when a
//! notifier is set: then each message costs one presence look-up for its
//! recipients (a group's: its member list), and each notice a look at the
//! recipient's read mark and unread counts, at most sixteen at once. A
//! burst is per process: when a conversation's messages are committed by
//! two processes within the delay, each may send its own notice. At most
//! 100 000 members away are waited on at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::warn;

use super::Chat;
use crate::domain::{ConversationId, Message, UserId};
use crate::error::Result;
use crate::ports::{ConversationQuery, OfflineNotice, PageLimit};

/// The most members away a process waits on at once; past it, new ones
/// are not told (and a warning says so).
const MOST_AWAY: usize = 100_000;

/// How many checks of members away run at once when their delays end.
const CHECKS_AT_ONCE: usize = 16;

/// Recipients away, by conversation, waiting for their delay to pass.
pub(super) struct Away {
    pending: Mutex<HashMap<(UserId, ConversationId), Burst>>,
    /// Bounds the store reads of the checks, however many delays end
    /// together (a message to a large group).
    checks: tokio::sync::Semaphore,
}

impl Default for Away {
    fn default() -> Self {
        Self {
            pending: Mutex::default(),
            checks: tokio::sync::Semaphore::new(CHECKS_AT_ONCE),
        }
    }
}

/// The messages of one conversation that reached one member while away
/// (the newest shared by every member it reached).
struct Burst {
    newest: Arc<Message>,
    count: u32,
}

impl Away {
    /// Notes `message` for `user`; `true` when it starts a burst (the
    /// caller schedules its check).
    fn note(&self, user: UserId, message: &Arc<Message>) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= MOST_AWAY && !pending.contains_key(&(user, message.conversation())) {
            warn!(user = %user, "too many members away at once: one is not told");
            return false;
        }
        match pending.get_mut(&(user, message.conversation())) {
            Some(burst) => {
                if message.id() > burst.newest.id() {
                    burst.newest = Arc::clone(message);
                }
                burst.count = burst.count.saturating_add(1);
                false
            }
            None => {
                pending.insert(
                    (user, message.conversation()),
                    Burst {
                        newest: Arc::clone(message),
                        count: 1,
                    },
                );
                true
            }
        }
    }

    fn take(&self, user: UserId, conversation: ConversationId) -> Option<Burst> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(user, conversation))
    }
}

impl Chat {
    /// Looks, in a task of its own, for recipients of `message` who are
    /// away; each starts (or joins) a burst checked after
    /// [`ChatConfig::offline_delay`](super::ChatConfig::offline_delay).
    /// Nothing without a notifier.
    pub(super) fn look_for_the_away(&self, message: &Message) {
        if self.inner.notifier.is_none() || message.event().is_some() {
            return;
        }
        let chat = self.clone();
        let message = message.clone();
        tokio::spawn(async move {
            if let Err(error) = chat.note_the_away(&message).await {
                warn!(%error, "could not look for members away");
            }
        });
    }

    async fn note_the_away(&self, message: &Message) -> Result<()> {
        let recipients: Vec<UserId> = match message.recipient() {
            Some(user) => vec![user.id()],
            None => self
                .inner
                .store
                .members(message.conversation())
                .await?
                .into_iter()
                .map(|m| m.user.id())
                .filter(|id| *id != message.sender().id())
                .collect(),
        };
        if recipients.is_empty() {
            return Ok(());
        }
        // Skipped now only when they will still be present when the delay
        // ends; anyone else is checked again then.
        let ends = self.inner.clock.now().plus(self.inner.config.offline_delay);
        let online = self.present_at(&recipients, ends).await?;
        let shared = Arc::new(message.clone());
        for (user, online) in recipients.into_iter().zip(online) {
            if online || !self.inner.away.note(user, &shared) {
                continue;
            }
            let chat = self.clone();
            let conversation = message.conversation();
            tokio::spawn(async move {
                tokio::time::sleep(chat.inner.config.offline_delay).await;
                if let Err(error) = chat.notify_if_still_away(user, conversation).await {
                    warn!(%error, "could not tell of a member away");
                }
            });
        }
        Ok(())
    }

    async fn notify_if_still_away(&self, user: UserId, conversation: ConversationId) -> Result<()> {
        let Some(burst) = self.inner.away.take(user, conversation) else {
            return Ok(());
        };
        let Ok(_check) = self.inner.away.checks.acquire().await else {
            return Ok(());
        };
        let Some(notifier) = self.inner.notifier.clone() else {
            return Ok(());
        };
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        if self.present_at(&[user], now).await?.first() == Some(&true) {
            return Ok(());
        }
        // Read on another device meanwhile, or no longer a member: nothing
        // to tell.
        let read_up_to = match burst.newest.recipient() {
            Some(_) => store
                .members(conversation)
                .await?
                .into_iter()
                .find(|m| m.user.id() == user)
                .map(|m| m.read_up_to),
            None => store
                .membership(conversation, user)
                .await?
                .filter(|m| m.is_current())
                .map(|m| m.read_up_to),
        };
        let Some(read_up_to) = read_up_to else {
            return Ok(());
        };
        if read_up_to >= burst.newest.id() || self.muted(user, conversation).await? {
            return Ok(());
        }
        let Some(recipient) = store.find_account(user).await? else {
            return Ok(());
        };
        let inbox = store
            .list_conversations(
                user,
                &ConversationQuery {
                    before: None,
                    limit: PageLimit::LARGEST,
                },
            )
            .await?;
        let unread_total = inbox.items.iter().map(|c| c.unread).sum();
        // The message as it is now: a delete since takes the notice back
        // (nothing is left to tell of), an edit gives it its new text.
        let Some(message) = store
            .message(burst.newest.id())
            .await?
            .filter(|now| !now.is_deleted())
        else {
            return Ok(());
        };
        let text = self
            .inner
            .config
            .offline_text
            .then(|| message.text().clone());
        let notice = OfflineNotice {
            id: format!("offline-{}-{}-{}", user, conversation, message.id()),
            recipient: recipient.user().clone(),
            recipient_external_id: recipient.external_id().cloned(),
            conversation,
            message: message.id(),
            sender: message.sender().clone(),
            messages: burst.count,
            unread_total,
            text,
            sent_at: message.sent_at(),
        };
        notifier.notify(notice).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::ports::OfflineNotifier;
    use crate::testkit::Harness;
    use crate::{ChatConfig, GroupForm, MemoryStore};

    #[derive(Default)]
    struct Recorded(Mutex<Vec<OfflineNotice>>);

    #[async_trait]
    impl OfflineNotifier for Recorded {
        async fn notify(&self, notice: OfflineNotice) {
            self.0.lock().unwrap().push(notice);
        }
    }

    impl Recorded {
        fn take(&self) -> Vec<OfflineNotice> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    const DELAY: Duration = Duration::from_secs(30);

    /// Lets every delay that started pass (time is paused: it moves at
    /// once, and every task due runs).
    async fn later() {
        tokio::time::sleep(DELAY + Duration::from_secs(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn members_away_hear_once_per_burst_unless_they_come_back_or_read() {
        let recorded = Arc::new(Recorded::default());
        let config = ChatConfig::default().with_offline_notices(DELAY, false);
        let h = Harness::with_notifier(Arc::new(MemoryStore::new()), recorded.clone(), config);
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        let carol = h.user("carol").await;
        let dave = h.user("dave").await;
        // Bob is away: three messages make one notice, about the newest.
        for text in ["one", "two", "three"] {
            h.send(&alice, "bob", text).await;
        }
        let newest = h.send(&alice, "bob", "four").await;
        later().await;
        let notices = recorded.take();
        assert_eq!(notices.len(), 1, "{notices:?}");
        let notice = &notices[0];
        assert_eq!(notice.recipient, *bob.user());
        assert_eq!(notice.sender, *alice.user());
        assert_eq!((notice.message, notice.messages), (newest.id(), 4));
        assert_eq!(notice.unread_total, 4);
        assert_eq!(notice.text, None, "no text unless configured");
        assert_eq!(
            notice.id,
            format!(
                "offline-{}-{}-{}",
                bob.user().id(),
                newest.conversation(),
                newest.id()
            )
        );
        // Carol is connected: nothing. Dave reads before the delay: nothing.
        h.chat.connected(&carol).await.unwrap();
        h.send(&alice, "carol", "you are here").await;
        let to_dave = h.send(&alice, "dave", "read me").await;
        h.chat
            .mark_read(&dave, "alice", to_dave.id())
            .await
            .unwrap();
        later().await;
        assert!(recorded.take().is_empty());
        // In a group, each member away hears of it; the sender does not.
        let hi = h.send(&bob, "alice", "hi").await;
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
        let said = h
            .chat
            .send_to_group(&alice, group.id, "to the team".into(), None)
            .await
            .unwrap()
            .message;
        later().await;
        let mut notices = recorded.take();
        notices.sort_by_key(|n| n.recipient.id());
        // Alice, away too, hears of bob's "hi"; bob of the group's message
        // (his answer read the direct conversation for him).
        let heard: Vec<_> = notices
            .iter()
            .map(|n| (n.recipient.id(), n.conversation, n.message, n.unread_total))
            .collect();
        assert_eq!(
            heard,
            [
                (alice.user().id(), newest.conversation(), hi.id(), 1),
                (bob.user().id(), group.id, said.id(), 1),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_does_not_keep_notices_away() {
        let recorded = Arc::new(Recorded::default());
        let config = ChatConfig::default().with_offline_notices(DELAY, false);
        let h = Harness::with_notifier(Arc::new(MemoryStore::new()), recorded.clone(), config);
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        // Bob's tab is open, and he was there when it opened.
        h.chat.connected(&bob).await.unwrap();
        h.send(&alice, "bob", "one").await;
        later().await;
        assert!(recorded.take().is_empty(), "active: no notice");
        // A minute without a sign of him: the open tab no longer counts,
        // when the message comes or when its delay ends.
        h.clock.advance(Duration::from_secs(61));
        let two = h.send(&alice, "bob", "two").await;
        later().await;
        let notices = recorded.take();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].message, two.id());
        // He shows he is there: nothing again.
        h.chat.mark_active(&bob).await.unwrap();
        h.send(&alice, "bob", "three").await;
        later().await;
        assert!(recorded.take().is_empty());
        // He is active when a message comes, but idle by the time its delay
        // ends: told (whether the message is looked at before or after the
        // clock moves on).
        h.clock.advance(Duration::from_secs(30));
        let four = h.send(&alice, "bob", "four").await;
        h.clock.advance(Duration::from_secs(31));
        later().await;
        let notices = recorded.take();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].message, four.id());
    }

    #[tokio::test(start_paused = true)]
    async fn a_muted_conversation_tells_nobody_until_the_mute_ends() {
        let recorded = Arc::new(Recorded::default());
        let config = ChatConfig::default().with_offline_notices(DELAY, false);
        let h = Harness::with_notifier(Arc::new(MemoryStore::new()), recorded.clone(), config);
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        let first = h.send(&alice, "bob", "one").await;
        later().await;
        assert_eq!(recorded.take().len(), 1, "not muted: told");
        let until = h.chat.clock().now().plus(Duration::from_secs(3600));
        h.chat
            .mute(&bob, first.conversation(), Some(until))
            .await
            .unwrap();
        h.send(&alice, "bob", "two").await;
        later().await;
        assert!(recorded.take().is_empty(), "muted: nobody told");
        h.clock.advance(Duration::from_secs(3601));
        h.send(&alice, "bob", "three").await;
        later().await;
        assert_eq!(recorded.take().len(), 1, "the mute ended: told again");
    }

    #[tokio::test(start_paused = true)]
    async fn without_an_active_window_any_connection_counts() {
        let recorded = Arc::new(Recorded::default());
        let config = ChatConfig::default()
            .with_offline_notices(DELAY, false)
            .with_active_window(None);
        let h = Harness::with_notifier(Arc::new(MemoryStore::new()), recorded.clone(), config);
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        h.chat.connected(&bob).await.unwrap();
        h.clock.advance(Duration::from_secs(3600));
        h.send(&alice, "bob", "one").await;
        later().await;
        assert!(recorded.take().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn notices_carry_the_text_only_when_configured() {
        let recorded = Arc::new(Recorded::default());
        let config = ChatConfig::default().with_offline_notices(DELAY, true);
        let h = Harness::with_notifier(Arc::new(MemoryStore::new()), recorded.clone(), config);
        let alice = h.user("alice").await;
        h.user("bob").await;
        h.send(&alice, "bob", "the text").await;
        later().await;
        let notices = recorded.take();
        assert_eq!(
            notices[0].text.as_ref().map(|t| t.as_str()),
            Some("the text")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn notices_carry_the_text_as_it_is_when_they_go_and_none_for_a_deleted_message() {
        let recorded = Arc::new(Recorded::default());
        let config = ChatConfig::default().with_offline_notices(DELAY, true);
        let h = Harness::with_notifier(Arc::new(MemoryStore::new()), recorded.clone(), config);
        let alice = h.user("alice").await;
        let bob = h.user("bob").await;
        h.user("carol").await;
        let typo = h.send(&alice, "bob", "teh text").await;
        h.chat
            .edit_message(&alice, typo.id(), "the text".into())
            .await
            .unwrap();
        let regret = h.send(&alice, "carol", "something regretted").await;
        h.chat.delete_message(&alice, regret.id()).await.unwrap();
        later().await;
        let mut notices = recorded.take();
        notices.sort_by_key(|n| n.recipient.id());
        let texts: Vec<_> = notices
            .iter()
            .map(|n| {
                (
                    n.recipient.id(),
                    n.text.as_ref().map(|t| t.as_str().to_owned()),
                )
            })
            .collect();
        // Carol is not told of a message that is gone.
        assert_eq!(texts, [(bob.user().id(), Some("the text".to_owned()))]);
    }
}
