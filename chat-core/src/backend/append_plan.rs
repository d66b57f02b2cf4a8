//! The store-independent half of writing a batch of appends (see
//! [`AppendPlan`]).

use std::collections::{HashMap, HashSet};

use crate::domain::{ClientMessageId, ConversationId, Message, MessageId, NewMessage, UserId};
use crate::error::{ChatError, Result};
use crate::ports::Appended;

enum Fate {
    /// Already stored under its idempotency key.
    Existing(Message),
    /// To be inserted: its position among the fresh messages.
    Fresh(usize),
    /// Repeats the idempotency key of an earlier message of the batch.
    SameAs(usize),
    /// From someone who is not a member of the group (any more).
    Refused,
}

/// What becomes of each message of a batch.
///
/// The store-independent half of writing a batch of appends with a few
/// set-based statements instead of several statements per message.
///
/// A store's [`MessageStore::append_batch`](crate::ports::MessageStore::append_batch)
/// may follow four steps:
///
/// 1. look up the messages already stored under the batch's
///    [`idempotency_keys`](AppendPlan::idempotency_keys);
/// 2. build the plan with them ([`AppendPlan::new`]): it decides which
///    messages are new, and which repeat a stored message or an earlier
///    message of the same batch;
/// 3. insert the [`fresh`](AppendPlan::fresh) messages in order, with ids
///    that grow in commit order;
/// 4. hand the ids to [`AppendPlan::written`], update the search index and
///    the members' marks from the [`WrittenBatch`], commit, and answer.
///
/// The result is what appending the messages one at a time, in order,
/// would have produced.
pub struct AppendPlan<'a> {
    batch: &'a [NewMessage],
    fates: Vec<Fate>,
    fresh: Vec<usize>,
}

impl<'a> AppendPlan<'a> {
    /// The distinct `(sender, client id)` pairs of the batch: look up the
    /// messages stored under them before planning.
    pub fn idempotency_keys(batch: &[NewMessage]) -> Vec<(UserId, &ClientMessageId)> {
        let mut seen = HashSet::new();
        batch
            .iter()
            .filter_map(|m| m.client_id.as_ref().map(|c| (m.sender.id(), c)))
            .filter(|key| seen.insert(*key))
            .collect()
    }

    /// Plans `batch`, given the stored messages found under its
    /// idempotency keys.
    pub fn new(batch: &'a [NewMessage], existing: Vec<Message>) -> Self {
        Self::refusing(batch, existing, &[])
    }

    /// The distinct `(group, sender)` pairs of the batch's group messages:
    /// look up which senders are not current members of their group, in
    /// the batch's transaction, before planning.
    pub fn group_senders(batch: &[NewMessage]) -> Vec<(ConversationId, UserId)> {
        let mut seen = HashSet::new();
        batch
            .iter()
            .filter(|m| m.recipient.is_none())
            .map(|m| (m.conversation, m.sender.id()))
            .filter(|key| seen.insert(*key))
            .collect()
    }

    /// Plans `batch` as [`AppendPlan::new`] does, refusing the new messages
    /// of `outsiders` (senders who are not current members of their group:
    /// answered [`ChatError::NotFound`], nothing written). A message
    /// already stored under its key is still answered as it was.
    pub fn refusing(
        batch: &'a [NewMessage],
        existing: Vec<Message>,
        outsiders: &[(ConversationId, UserId)],
    ) -> Self {
        let stored: HashMap<(UserId, &str), &Message> = existing
            .iter()
            .filter_map(|m| Some(((m.sender().id(), m.client_id()?.as_str()), m)))
            .collect();
        let mut first_of_key: HashMap<(UserId, &str), usize> = HashMap::new();
        let mut fates = Vec::with_capacity(batch.len());
        let mut fresh = Vec::with_capacity(batch.len());
        for (index, message) in batch.iter().enumerate() {
            let outsider = outsiders.contains(&(message.conversation, message.sender.id()));
            let key = message
                .client_id
                .as_ref()
                .map(|c| (message.sender.id(), c.as_str()));
            let fate = match key {
                Some(key) => match (stored.get(&key), first_of_key.get(&key)) {
                    (Some(&message), _) => Fate::Existing(message.clone()),
                    (None, _) if outsider => Fate::Refused,
                    (None, Some(&first)) => Fate::SameAs(first),
                    (None, None) => {
                        first_of_key.insert(key, index);
                        fresh.push(index);
                        Fate::Fresh(fresh.len() - 1)
                    }
                },
                None if outsider => Fate::Refused,
                None => {
                    fresh.push(index);
                    Fate::Fresh(fresh.len() - 1)
                }
            };
            fates.push(fate);
        }
        Self {
            batch,
            fates,
            fresh,
        }
    }

    /// The messages to insert, in the order their ids must grow.
    pub fn fresh(&self) -> impl ExactSizeIterator<Item = &'a NewMessage> + '_ {
        self.fresh.iter().map(|&i| &self.batch[i])
    }

    /// The batch once its fresh messages were inserted with `ids` (one per
    /// fresh message, in order).
    ///
    /// # Errors
    /// [`ChatError::Internal`] if the ids do not match the fresh messages:
    /// the store broke the contract, and its transaction must not commit.
    pub fn written(self, ids: &[MessageId]) -> Result<WrittenBatch> {
        if ids.len() != self.fresh.len() {
            return Err(ChatError::internal(format!(
                "{} ids for {} new messages",
                ids.len(),
                self.fresh.len()
            )));
        }
        let created = self
            .fresh()
            .zip(ids)
            .map(|(new, &id)| {
                Message::new(
                    id,
                    new.conversation,
                    new.sender.clone(),
                    new.recipient.clone(),
                    new.text.clone(),
                    new.sent_at,
                    new.client_id.clone(),
                )
                .with_reply(new.reply.clone())
                .with_mentions(new.mentioned.mentions.clone())
            })
            .collect();
        Ok(WrittenBatch {
            fates: self.fates,
            created,
        })
    }
}

/// A batch whose new messages are inserted but not yet committed.
pub struct WrittenBatch {
    fates: Vec<Fate>,
    created: Vec<Message>,
}

impl WrittenBatch {
    /// The messages this batch created, in id order: index their text.
    pub fn created(&self) -> &[Message] {
        &self.created
    }

    /// Each touched direct conversation with its newest message: both
    /// members' `last_message_id`.
    pub fn conversation_heads(&self) -> Vec<(ConversationId, MessageId)> {
        self.heads(true)
    }

    /// Each touched group with its newest message: the group's own head
    /// (a group's members do not each keep it, so that a message writes one
    /// row, not one per member).
    pub fn group_heads(&self) -> Vec<(ConversationId, MessageId)> {
        self.heads(false)
    }

    fn heads(&self, direct: bool) -> Vec<(ConversationId, MessageId)> {
        let mut heads: HashMap<ConversationId, MessageId> = HashMap::new();
        for message in &self.created {
            if message.recipient().is_some() != direct {
                continue;
            }
            let head = heads.entry(message.conversation()).or_insert(message.id());
            *head = (*head).max(message.id());
        }
        heads.into_iter().collect()
    }

    /// Each sender's newest message per direct conversation: a sender has
    /// read everything up to what they sent.
    pub fn sender_read_marks(&self) -> Vec<(ConversationId, UserId, MessageId)> {
        self.marks(true)
    }

    /// The same for groups (their members are kept apart).
    pub fn group_sender_read_marks(&self) -> Vec<(ConversationId, UserId, MessageId)> {
        self.marks(false)
    }

    fn marks(&self, direct: bool) -> Vec<(ConversationId, UserId, MessageId)> {
        let mut marks: HashMap<(ConversationId, UserId), MessageId> = HashMap::new();
        for message in &self.created {
            if message.recipient().is_some() != direct {
                continue;
            }
            let mark = marks
                .entry((message.conversation(), message.sender().id()))
                .or_insert(message.id());
            *mark = (*mark).max(message.id());
        }
        marks
            .into_iter()
            .map(|((conversation, user), id)| (conversation, user, id))
            .collect()
    }

    /// The batch with every created message's id moved up by `offset`: for
    /// a store that writes a batch with ordinals for ids (`written` with 1,
    /// 2, …, its heads and marks relative to them) and learns where its
    /// positions start only as it commits.
    #[must_use]
    pub fn offset_ids(self, offset: i64) -> Self {
        let created = self
            .created
            .into_iter()
            .map(|m| {
                let id = MessageId::new(m.id().get() + offset);
                m.renumbered(id)
            })
            .collect();
        Self {
            fates: self.fates,
            created,
        }
    }

    /// One answer per message of the batch, in order.
    pub fn into_results(self) -> Vec<Result<Appended>> {
        let created = self.created;
        let mut answers: Vec<Result<Appended>> = Vec::with_capacity(self.fates.len());
        for fate in self.fates {
            let answer = match fate {
                Fate::Existing(message) => Ok(Appended::Existing(message)),
                Fate::Fresh(position) => Ok(Appended::Created(created[position].clone())),
                Fate::SameAs(first) => match &answers[first] {
                    Ok(earlier) => Ok(Appended::Existing(earlier.message().clone())),
                    Err(_) => Err(ChatError::NotFound),
                },
                Fate::Refused => Err(ChatError::NotFound),
            };
            answers.push(answer);
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MessageText, Timestamp, User, Username};

    fn user(id: i64) -> User {
        User::new(
            UserId::new(id),
            Username::parse(format!("user{id}")).unwrap(),
        )
    }

    /// A message from `from` in the direct conversation `conversation`.
    fn new(conversation: i64, from: i64, to: i64, client: Option<&str>) -> NewMessage {
        NewMessage {
            conversation: ConversationId::new(conversation),
            sender: user(from),
            recipient: Some(user(to)),
            text: MessageText::parse("hi").unwrap(),
            sent_at: Timestamp::from_unix_micros(1),
            client_id: client.map(|c| ClientMessageId::parse(c).unwrap()),
            reply: None,
            mentioned: Default::default(),
        }
    }

    #[test]
    fn repeats_within_a_batch_and_stored_keys_are_not_inserted() {
        let stored = Message::new(
            MessageId::new(7),
            ConversationId::new(1),
            user(1),
            Some(user(2)),
            MessageText::parse("old").unwrap(),
            Timestamp::from_unix_micros(0),
            Some(ClientMessageId::parse("old").unwrap()),
        );
        let batch = [
            new(1, 1, 2, Some("a")),
            new(1, 2, 1, None),
            new(1, 1, 2, Some("a")),
            new(1, 1, 2, Some("old")),
            new(2, 3, 1, Some("a")),
        ];
        let keys = AppendPlan::idempotency_keys(&batch);
        assert_eq!(keys.len(), 3, "(1,a), (1,old), (3,a)");
        let plan = AppendPlan::new(&batch, vec![stored.clone()]);
        assert_eq!(plan.fresh().len(), 3);
        let ids = [MessageId::new(8), MessageId::new(9), MessageId::new(10)];
        let written = plan.written(&ids).unwrap();
        let mut heads = written.conversation_heads();
        heads.sort();
        assert_eq!(
            heads,
            vec![
                (ConversationId::new(1), MessageId::new(9)),
                (ConversationId::new(2), MessageId::new(10))
            ]
        );
        let mut marks = written.sender_read_marks();
        marks.sort();
        assert_eq!(
            marks,
            vec![
                (ConversationId::new(1), UserId::new(1), MessageId::new(8)),
                (ConversationId::new(1), UserId::new(2), MessageId::new(9)),
                (ConversationId::new(2), UserId::new(3), MessageId::new(10)),
            ]
        );
        let results: Vec<_> = written
            .into_results()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let ids: Vec<_> = results.iter().map(|a| a.message().id().get()).collect();
        assert_eq!(ids, [8, 9, 8, 7, 10]);
        assert!(matches!(results[0], Appended::Created(_)));
        assert!(matches!(results[2], Appended::Existing(_)));
        assert!(matches!(results[3], Appended::Existing(_)));
        assert!(matches!(results[4], Appended::Created(_)));
    }

    #[test]
    fn a_missing_id_is_an_error_not_a_panic() {
        let batch = [new(1, 1, 2, None), new(1, 1, 2, None)];
        let plan = AppendPlan::new(&batch, Vec::new());
        assert!(plan.written(&[MessageId::new(1)]).is_err());
    }
}
