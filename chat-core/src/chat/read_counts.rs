//! "Read by N" in groups: the members' read marks tallied for the senders
//! of what was read.
//!
//! Telling every member of a large group about every other member's read
//! mark is quadratic. Instead, a moved mark is noted here; a while later
//! (coalescing every mark of the group in between) the group's marks are
//! read once and each sender of a message in the range that moved hears,
//! on their own topic, how many members have read it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use tracing::warn;

use super::Chat;
use crate::domain::{ConversationId, Member, Message, MessageId, UserId};
use crate::event::{Event, EventKind, ReadCount};
use crate::ports::{HistoryQuery, PageLimit, Topic};

/// Groups whose read marks moved since their last tally, with the range of
/// messages whose counts may have changed.
///
/// A group listed here has one task tallying it, which runs its tallies
/// one after another (so a stale count is never published after a newer
/// one): `Some` while marks wait for it, `None` while it tallies and
/// nothing new has been noted.
#[derive(Default)]
pub(super) struct PendingTallies {
    groups: Mutex<HashMap<ConversationId, Option<Moved>>>,
}

/// Marks moved from above `from` up to `to`: the messages in `(from, to]`
/// may count a new reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Moved {
    from: MessageId,
    to: MessageId,
}

impl PendingTallies {
    /// Notes that a mark of `group` moved from `from` to `to`. `true` when
    /// the group has no task tallying it: the caller starts one.
    fn note(&self, group: ConversationId, from: MessageId, to: MessageId) -> bool {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        match groups.get_mut(&group) {
            Some(Some(moved)) => {
                moved.from = moved.from.min(from);
                moved.to = moved.to.max(to);
                false
            }
            Some(waiting) => {
                *waiting = Some(Moved { from, to });
                false
            }
            None => {
                groups.insert(group, Some(Moved { from, to }));
                true
            }
        }
    }

    /// What the group's task tallies next; `None` when nothing was noted
    /// since its last tally, and the task ends.
    fn take(&self, group: ConversationId) -> Option<Moved> {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = groups.get_mut(&group).and_then(Option::take);
        if taken.is_none() {
            groups.remove(&group);
        }
        taken
    }
}

/// How many members other than its sender have read each of `messages`,
/// by the members' read marks, in order; `None` for a system message.
pub(super) fn count_reads(members: &[Member], messages: &[Message]) -> Vec<Option<u64>> {
    let mut marks: Vec<MessageId> = members.iter().map(|m| m.read_up_to).collect();
    marks.sort_unstable();
    let mark_of: HashMap<UserId, MessageId> = members
        .iter()
        .map(|m| (m.user.id(), m.read_up_to))
        .collect();
    messages
        .iter()
        .map(|message| {
            if message.event().is_some() {
                return None;
            }
            let read = marks.len() - marks.partition_point(|mark| *mark < message.id());
            let sender_read = mark_of
                .get(&message.sender().id())
                .is_some_and(|mark| *mark >= message.id());
            Some((read - usize::from(sender_read)) as u64)
        })
        .collect()
}

impl Chat {
    /// Notes that the reader's mark in `group` moved from `from` to `to`;
    /// the senders of what it passed hear the new counts after
    /// [`ChatConfig::read_count_delay`](super::ChatConfig::read_count_delay).
    pub(super) fn tally_reads_later(&self, group: ConversationId, from: MessageId, to: MessageId) {
        if !self.inner.tallies.note(group, from, to) {
            return;
        }
        let chat = self.clone();
        let delay = self.inner.config.read_count_delay;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(delay).await;
                let Some(moved) = chat.inner.tallies.take(group) else {
                    return;
                };
                chat.tally_reads(group, moved).await;
            }
        });
    }

    /// Tells each sender of a message whose count may have moved (the
    /// newest [`PageLimit::MAX`] of them) how many members have read it.
    async fn tally_reads(&self, group: ConversationId, moved: Moved) {
        let store = &self.inner.store;
        let query = HistoryQuery {
            before: Some(MessageId::new(moved.to.get().saturating_add(1))),
            limit: PageLimit::LARGEST,
            ..HistoryQuery::default()
        };
        let (members, page) =
            match futures::try_join!(store.members(group), store.list_messages(group, &query)) {
                Ok(found) => found,
                Err(error) => {
                    warn!(%error, %group, "could not tally who read a group's messages");
                    return;
                }
            };
        let mut messages = page.items;
        messages.retain(|m| m.id() > moved.from);
        let counts = count_reads(&members, &messages);
        let mut by_sender: BTreeMap<UserId, Vec<ReadCount>> = BTreeMap::new();
        for (message, read_by) in messages.iter().zip(counts) {
            if let Some(read_by) = read_by {
                by_sender
                    .entry(message.sender().id())
                    .or_default()
                    .push(ReadCount {
                        message: message.id(),
                        read_by,
                    });
            }
        }
        for (sender, counts) in by_sender {
            // Only to those who still belong to the group.
            if !members.iter().any(|m| m.user.id() == sender) {
                continue;
            }
            let event = Event::new(EventKind::ReadBy {
                conversation: group,
                counts,
            });
            self.publish(&[Topic::user(sender)], event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_task_per_group_tallies_the_marks_noted_meanwhile() {
        let pending = PendingTallies::default();
        let group = ConversationId::new(7);
        let moved = |from, to| Moved {
            from: MessageId::new(from),
            to: MessageId::new(to),
        };
        assert!(pending.note(group, MessageId::new(10), MessageId::new(20)));
        assert!(!pending.note(group, MessageId::new(5), MessageId::new(15)));
        assert!(!pending.note(group, MessageId::new(12), MessageId::new(30)));
        assert!(pending.note(ConversationId::new(8), MessageId::new(1), MessageId::new(2)));
        assert_eq!(pending.take(group), Some(moved(5, 30)));
        // Noted while the task tallies: the same task takes it next.
        assert!(!pending.note(group, MessageId::new(30), MessageId::new(31)));
        assert_eq!(pending.take(group), Some(moved(30, 31)));
        // Nothing more: the task ends, and the next mark starts another.
        assert_eq!(pending.take(group), None);
        assert!(pending.note(group, MessageId::new(31), MessageId::new(32)));
    }
}
