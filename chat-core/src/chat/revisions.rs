//! Replies, edits and deletes: changes to messages already stored and
//! delivered. Who may do what is decided here; the store writes the change
//! with its own position in the change log, and it is published like a
//! message, so that it reaches every device, live or on its next resume.

use tracing::instrument;

use super::Chat;
use crate::domain::{
    Change, ConversationId, Emoji, HistoryVisibility, Membership, Message, MessageId, MessageText,
    Position, Reply, UserId,
};
use crate::error::{ChatError, Result};
use crate::event::{Event, EventKind};
use crate::ports::{Action, Proposal, ReactionChange, Revision, RevisionKind, Topic};

/// The most different emoji one message may have.
pub const MAX_REACTIONS: usize = 20;
use crate::session::Session;

/// Where a message lives, as the caller may see it.
struct Reach {
    /// The caller's membership, in a group.
    group: Option<Membership>,
    /// Whose live streams hear of a change to it.
    topics: Vec<Topic>,
}

impl Chat {
    /// Replaces the text of the session user's own message `id`, within
    /// [`ChatConfig::edit_window`](crate::ChatConfig::edit_window) of its
    /// sending; earlier versions are not kept. Every member who may read
    /// it hears of the edit (live, or when they resume), the search finds
    /// the new words and not the old ones, and quotes of it show the new
    /// text. Returns the message as edited.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `text`; [`ChatError::NotFound`] for a
    /// message the user may not read; [`ChatError::Forbidden`] for someone
    /// else's message, a group's system message, or a member who may not
    /// send in the group now; [`ChatError::EditWindowClosed`] after the
    /// window; [`ChatError::Conflict`] for a deleted message, or in a group
    /// whose members read from their joining, a message some member joined
    /// after (the edit would reach them);
    /// [`ChatError::RateLimited`] (edits count as sends); what the host's
    /// policy says of the new text ([`Proposal::Edit`]).
    #[instrument(skip_all, fields(user = %session.user().id(), message = %id))]
    pub async fn edit_message(
        &self,
        session: &Session,
        id: MessageId,
        text: String,
    ) -> Result<Message> {
        let me = session.user();
        let text = MessageText::parse(text)?;
        let message = self.readable_message(session, id).await?;
        let reach = self.reach(session, &message).await?;
        if message.sender().id() != me.id() || message.event().is_some() {
            return Err(ChatError::Forbidden);
        }
        // Between a blocked pair, an edit is a message too.
        self.check_direct_unblocked(me, &message).await?;
        let now = self.inner.clock.now();
        if let Some(group) = &reach.group {
            group.may_send(now).map_err(|_| ChatError::Forbidden)?;
            // The edit is published to the whole group: never to a member
            // who joined after the message and may not read it.
            if !self
                .seen_by_every_member(message.conversation(), message.position())
                .await?
            {
                return Err(ChatError::conflict(
                    "members who joined since may not read this message, so it can no longer be edited",
                ));
            }
        }
        if message.is_deleted() {
            return Err(ChatError::conflict("the message was deleted"));
        }
        if let Some(window) = self.inner.config.edit_window
            && now.unix_micros() - message.sent_at().unix_micros()
                > i64::try_from(window.as_micros()).unwrap_or(i64::MAX)
        {
            return Err(ChatError::EditWindowClosed { window });
        }
        self.inner
            .limiter
            .check(Action::SendPerUser, &me.id().to_string())
            .await?;
        let text = self
            .consult(Proposal::Edit {
                from: me,
                message: &message,
                text: &text,
            })
            .await?
            .unwrap_or(text);
        let mentioned = match (&reach.group, message.recipient()) {
            (Some(group), _) => {
                self.group_mentions(message.conversation(), &text, me.id(), group.role)
                    .await?
            }
            (None, Some(recipient)) => self.direct_mentions(&text, me, recipient),
            (None, None) => Default::default(),
        };
        let revision = Revision {
            message: id,
            at: now,
            kind: RevisionKind::Edit { text, mentioned },
        };
        match self.inner.store.revise_message(&revision).await? {
            Some((position, edited)) => {
                let edited = self.with_details(None, vec![edited]).await?.remove(0);
                self.publish_revision(&reach, position, &edited).await;
                Ok(edited)
            }
            None => Err(ChatError::conflict("the message was deleted")),
        }
    }

    /// Adds the session user's reaction `emoji` to message `id` (`add`),
    /// or takes it away: at most one of each emoji per user and message.
    /// Every member who may read the message hears of it (a
    /// [`EventKind::Reacted`] event live, the message as it is now on
    /// resume). Adding a reaction that is there, or taking away one that
    /// is not, changes nothing. Returns the message with its reactions as
    /// the user sees them.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `emoji` for anything but one emoji
    /// ([`Emoji::parse`]); [`ChatError::NotFound`] for a message the user
    /// may not read; [`ChatError::Forbidden`] for a group's system message
    /// or a member who may not send in the group now;
    /// [`ChatError::Conflict`] for a deleted message, or a message that
    /// already has [`MAX_REACTIONS`] different emoji;
    /// [`ChatError::RateLimited`] (reactions count as sends).
    #[instrument(skip_all, fields(user = %session.user().id(), message = %id))]
    pub async fn react(
        &self,
        session: &Session,
        id: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<Message> {
        let me = session.user();
        let emoji = Emoji::parse(emoji)?;
        let message = self.readable_message(session, id).await?;
        let reach = self.reach(session, &message).await?;
        if message.event().is_some() {
            return Err(ChatError::Forbidden);
        }
        self.check_direct_unblocked(me, &message).await?;
        let now = self.inner.clock.now();
        if let Some(group) = &reach.group {
            group.may_send(now).map_err(|_| ChatError::Forbidden)?;
        }
        if message.is_deleted() {
            return Err(ChatError::conflict("the message was deleted"));
        }
        self.inner
            .limiter
            .check(Action::SendPerUser, &me.id().to_string())
            .await?;
        let current = self.with_details(None, vec![message.clone()]).await?;
        let kinds = current.first().map_or(0, |m| m.reactions().len());
        let new_kind = current
            .first()
            .is_none_or(|m| m.reactions().iter().all(|r| r.emoji != emoji));
        if add && new_kind && kinds >= MAX_REACTIONS {
            return Err(ChatError::conflict(
                "a message has at most 20 different reactions",
            ));
        }
        let change = ReactionChange {
            message: id,
            user: me.id(),
            emoji: emoji.clone(),
            add,
            at: now,
        };
        let changed = self.inner.store.react(&change).await?;
        if let Some(position) = changed {
            let reactions = self
                .inner
                .store
                .reactions(None, &[id])
                .await?
                .pop()
                .map(|(_, reactions)| reactions)
                .unwrap_or_default();
            let event = Event::new(EventKind::Reacted {
                conversation: message.conversation(),
                message: id,
                reactions,
                position,
                by: me.clone(),
                emoji,
                added: add,
            });
            self.publish(&reach.topics, event).await;
        }
        Ok(self
            .with_details(Some(me.id()), vec![message])
            .await?
            .remove(0))
    }

    /// `messages` with their reactions, `me` as `reader` sees them (`None`:
    /// counts only); deleted messages have none.
    pub(super) async fn with_details(
        &self,
        reader: Option<UserId>,
        mut messages: Vec<Message>,
    ) -> Result<Vec<Message>> {
        self.fill_details(reader, messages.iter_mut().collect())
            .await?;
        Ok(messages)
    }

    /// `changes` with the reactions of their messages as `reader` sees
    /// them.
    pub(super) async fn changes_with_details(
        &self,
        reader: UserId,
        mut changes: Vec<Change>,
    ) -> Result<Vec<Change>> {
        let messages = changes
            .iter_mut()
            .filter_map(|change| match change {
                Change::Message(message) | Change::Revised { message, .. } => Some(message),
                _ => None,
            })
            .collect();
        self.fill_details(Some(reader), messages).await?;
        Ok(changes)
    }

    /// Fills in the reactions of `messages` and the summaries of the
    /// threads they root, in place, with one store call each (none when no
    /// message can have any).
    async fn fill_details(
        &self,
        reader: Option<UserId>,
        mut messages: Vec<&mut Message>,
    ) -> Result<()> {
        let ids: Vec<MessageId> = messages
            .iter()
            .filter(|m| !m.is_deleted() && m.event().is_none())
            .map(|m| m.id())
            .collect();
        if !ids.is_empty() {
            let mut found = self.inner.store.reactions(reader, &ids).await?;
            for message in &mut messages {
                if let Some(at) = found.iter().position(|(id, _)| *id == message.id()) {
                    let (_, reactions) = found.swap_remove(at);
                    message.set_reactions(reactions);
                }
            }
        }
        // A reply belongs to its root's thread and roots none of its own.
        let roots: Vec<MessageId> = messages
            .iter()
            .filter(|m| m.thread_root().is_none() && m.event().is_none())
            .map(|m| m.id())
            .collect();
        if !roots.is_empty() {
            let mut found = self.inner.store.thread_summaries(&roots).await?;
            // A former member of a group does not learn of replies after
            // their leaving: the summaries of its threads are left out.
            if let Some(reader) = reader {
                let mut groups: Vec<ConversationId> = messages
                    .iter()
                    .filter(|m| {
                        m.recipient().is_none() && found.iter().any(|(id, _)| *id == m.id())
                    })
                    .map(|m| m.conversation())
                    .collect();
                groups.sort_unstable();
                groups.dedup();
                for group in groups {
                    let current = self
                        .inner
                        .store
                        .membership(group, reader)
                        .await?
                        .is_some_and(|m| m.is_current());
                    if !current {
                        found.retain(|(id, _)| {
                            !messages
                                .iter()
                                .any(|m| m.id() == *id && m.conversation() == group)
                        });
                    }
                }
            }
            for message in &mut messages {
                if let Some(at) = found.iter().position(|(id, _)| *id == message.id()) {
                    let (_, summary) = found.swap_remove(at);
                    message.set_thread(Some(summary));
                }
            }
        }
        Ok(())
    }

    /// The thread of message `id` (its root, or the root of the thread it
    /// replies in): the root with its summary, and a page of its replies,
    /// chronological, paged as [`Chat::history`] pages (the query's search
    /// is not used), within what the session's user may read.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a message the user may not read (or
    /// none), and for a deleted message without replies they may read: a
    /// thread outlives its deleted root only while it has replies.
    pub async fn thread(
        &self,
        session: &Session,
        id: MessageId,
        query: &crate::ports::HistoryQuery,
    ) -> Result<(Message, crate::ports::Page<Message>)> {
        let thread = self.thread_root(session, id).await?;
        let root = thread.root;
        let mut query = crate::ports::HistoryQuery {
            search: None,
            ..query.clone()
        };
        // A former member of a group reads the replies up to their leaving.
        if let Some(ceiling) = thread.ceiling {
            query.before = Some(query.before.map_or(ceiling, |b| b.min(ceiling)));
        }
        let page = self.inner.store.thread_messages(root.id(), &query).await?;
        let mut root = vec![root];
        let mut replies = page.items;
        let reader = Some(session.user().id());
        self.fill_details(reader, root.iter_mut().chain(replies.iter_mut()).collect())
            .await?;
        let root = root
            .pop()
            .ok_or_else(|| ChatError::internal("a thread without its root"))?;
        Ok((
            root,
            crate::ports::Page {
                items: replies,
                has_more: page.has_more,
            },
        ))
    }

    /// Deletes message `id` for everyone: its text leaves the store and
    /// the search, and a tombstone keeps its id, place, sender and time.
    /// A sender deletes their own messages (also after leaving a group);
    /// a group's admins and owner delete anyone's in it. Deleting a
    /// deleted message changes nothing and answers its tombstone. Returns
    /// the tombstone.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a message the user may not read;
    /// [`ChatError::Forbidden`] for someone else's message (outside a
    /// group the user manages) or a group's system message.
    #[instrument(skip_all, fields(user = %session.user().id(), message = %id))]
    pub async fn delete_message(&self, session: &Session, id: MessageId) -> Result<Message> {
        let me = session.user();
        let message = self.readable_message(session, id).await?;
        let reach = self.reach(session, &message).await?;
        let moderates = reach
            .group
            .as_ref()
            .is_some_and(|m| m.is_current() && m.role.manages_the_group());
        if message.event().is_some() || (message.sender().id() != me.id() && !moderates) {
            return Err(ChatError::Forbidden);
        }
        Ok(self.delete_for_everyone(message, me.id()).await?.0)
    }

    /// Deletes `message` for everyone on `by`'s word (checked by the
    /// caller) and tells every member; returns the tombstone and whether
    /// this call deleted it (`false`: it was deleted already, or meanwhile).
    pub(super) async fn delete_for_everyone(
        &self,
        message: Message,
        by: UserId,
    ) -> Result<(Message, bool)> {
        if message.is_deleted() {
            return Ok((message, false));
        }
        let revision = Revision {
            message: message.id(),
            at: self.inner.clock.now(),
            kind: RevisionKind::Delete { by },
        };
        match self.inner.store.revise_message(&revision).await? {
            Some((position, deleted)) => {
                self.publish_change(position, &deleted).await;
                Ok((deleted, true))
            }
            // Deleted meanwhile: answer the tombstone.
            None => {
                let tombstone = self
                    .inner
                    .store
                    .message(message.id())
                    .await?
                    .ok_or(ChatError::NotFound)?;
                Ok((tombstone, false))
            }
        }
    }

    /// The reply to `parent` of a message to `conversation` (`None`: a
    /// direct conversation not made yet), for a sender who may read it
    /// (`membership`, in a group).
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `reply_to` when `parent` is not a
    /// message of that conversation that the sender may read.
    pub(super) async fn reply_in(
        &self,
        conversation: Option<ConversationId>,
        parent: MessageId,
        membership: Option<&Membership>,
    ) -> Result<Reply> {
        let refused = || {
            ChatError::invalid(
                "reply_to",
                "must be a message of the same conversation that you can read",
            )
        };
        let parent = self
            .inner
            .store
            .message(parent)
            .await?
            .ok_or_else(refused)?;
        if Some(parent.conversation()) != conversation
            || membership.is_some_and(|m| !m.sees(parent.position()))
        {
            return Err(refused());
        }
        // The reply quotes its parent to everyone who reads it: in a group,
        // only a parent every member may read.
        if membership.is_some()
            && !self
                .seen_by_every_member(parent.conversation(), parent.position())
                .await?
        {
            return Err(ChatError::invalid(
                "reply_to",
                "members who joined since may not read that message",
            ));
        }
        let root_sender = match parent.thread_root() {
            None => parent.sender().id(),
            Some(root) => self
                .inner
                .store
                .message(root)
                .await?
                .map_or(parent.sender().id(), |root| root.sender().id()),
        };
        Ok(Reply::to(&parent, root_sender))
    }

    /// Whether every current member of `group` may read what is at
    /// `position`: the whole history is shared, or they all joined before.
    async fn seen_by_every_member(
        &self,
        group: ConversationId,
        position: Position,
    ) -> Result<bool> {
        let Some(group) = self.inner.store.group(group).await? else {
            return Ok(false);
        };
        Ok(group.settings.history == HistoryVisibility::Shared
            || group.members.iter().all(|m| m.joined <= position))
    }

    /// In a direct conversation, refuses `me` a change that would reach a
    /// peer they block or who blocks them (as a send would be).
    async fn check_direct_unblocked(
        &self,
        me: &crate::domain::User,
        message: &Message,
    ) -> Result<()> {
        let Some(recipient) = message.recipient() else {
            return Ok(());
        };
        let peer = if message.sender().id() == me.id() {
            recipient
        } else {
            message.sender()
        };
        self.check_not_blocked(me, peer).await
    }

    /// Message `id`, if the session's user may read it.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] otherwise, whether or not it exists.
    pub(super) async fn readable_message(
        &self,
        session: &Session,
        id: MessageId,
    ) -> Result<Message> {
        let message = self
            .inner
            .store
            .message(id)
            .await?
            .ok_or(ChatError::NotFound)?;
        let me = session.user().id();
        let direct_member = message.sender().id() == me && message.recipient().is_some()
            || message.recipient().is_some_and(|r| r.id() == me);
        if direct_member {
            return Ok(message);
        }
        if message.recipient().is_none()
            && let Some(membership) = self
                .inner
                .store
                .membership(message.conversation(), me)
                .await?
            && membership.sees(message.position())
        {
            return Ok(message);
        }
        Err(ChatError::NotFound)
    }

    /// Where `message` (which the user may read) lives, as they may see it.
    async fn reach(&self, session: &Session, message: &Message) -> Result<Reach> {
        let group = match message.recipient() {
            Some(_) => None,
            None => Some(self.membership(session, message.conversation()).await?),
        };
        Ok(Reach {
            group,
            topics: topics_of(message),
        })
    }

    /// Publishes a change to `message` to every member's live streams.
    pub(super) async fn publish_change(&self, position: Position, message: &Message) {
        let event = Event::new(EventKind::Revised {
            message: message.clone(),
            position,
        });
        self.publish(&topics_of(message), event).await;
    }

    async fn publish_revision(&self, reach: &Reach, position: Position, message: &Message) {
        let event = Event::new(EventKind::Revised {
            message: message.clone(),
            position,
        });
        self.publish(&reach.topics, event).await;
    }
}

/// Whose live streams hear of a change to `message`: both members of a
/// direct conversation, a group's topic.
fn topics_of(message: &Message) -> Vec<Topic> {
    match message.recipient() {
        Some(recipient) => vec![
            Topic::user(message.sender().id()),
            Topic::user(recipient.id()),
        ],
        None => vec![Topic::conversation(message.conversation())],
    }
}

impl Chat {
    /// The threads the session's user takes part in (they sent its root or
    /// a reply, or marked it read) and may still read, the most recently
    /// answered first, at most `limit`: each root with its summary, and
    /// how many replies from others came after the user's mark.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn threads(
        &self,
        session: &Session,
        limit: crate::ports::PageLimit,
    ) -> Result<Vec<crate::domain::ThreadActivity>> {
        let me = session.user().id();
        let threads = self.inner.store.threads_of(me, limit).await?;
        // A group the user left or was removed from is no longer theirs
        // to follow.
        let mut current: Vec<(ConversationId, bool)> = Vec::new();
        let mut kept = Vec::with_capacity(threads.len());
        for thread in threads {
            let conversation = thread.root.conversation();
            if thread.root.recipient().is_none() {
                let member = match current.iter().find(|(c, _)| *c == conversation) {
                    Some((_, member)) => *member,
                    None => {
                        let member = self
                            .inner
                            .store
                            .membership(conversation, me)
                            .await?
                            .is_some_and(|m| m.is_current() && m.sees(thread.root.position()));
                        current.push((conversation, member));
                        member
                    }
                };
                if !member {
                    continue;
                }
            }
            kept.push(thread);
        }
        Ok(kept)
    }

    /// Marks the thread of message `id` (its root, or the root of the
    /// thread it replies in) read up to `up_to` for the session's user, who
    /// takes part in it from then on; the mark never moves back. Returns
    /// the mark.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a message the user may not read, or a
    /// deleted one without replies they may read;
    /// [`ChatError::Conflict`] for one with no thread (no replies they may
    /// read);
    /// [`ChatError::RateLimited`] (marks count as sends).
    pub async fn mark_thread_read(
        &self,
        session: &Session,
        id: MessageId,
        up_to: MessageId,
    ) -> Result<MessageId> {
        self.inner
            .limiter
            .check(Action::SendPerUser, &session.user().id().to_string())
            .await?;
        let thread = self.thread_root(session, id).await?;
        if !thread.has_replies {
            return Err(ChatError::conflict("this message has no replies yet"));
        }
        self.inner
            .store
            .mark_thread_read(session.user().id(), thread.root.id(), up_to)
            .await
    }

    /// The thread of message `id` (the message itself, or the root of the
    /// thread it replies in) as the session's user may read it. A deleted
    /// root without replies they may read has no thread: it answers
    /// [`ChatError::NotFound`], as the deleted message is gone.
    async fn thread_root(&self, session: &Session, id: MessageId) -> Result<ThreadRoot> {
        let message = self.readable_message(session, id).await?;
        let root = match message.thread_root() {
            Some(root) => self.readable_message(session, root).await?,
            None => message,
        };
        let ceiling = if root.recipient().is_none() {
            self.inner
                .store
                .membership(root.conversation(), session.user().id())
                .await?
                .and_then(|m| m.left_at)
                .map(|left| MessageId::new(left.get().saturating_add(1)))
        } else {
            None
        };
        let has_replies = self.has_replies_below(root.id(), ceiling).await?;
        if root.is_deleted() && !has_replies {
            return Err(ChatError::NotFound);
        }
        Ok(ThreadRoot {
            root,
            has_replies,
            ceiling,
        })
    }

    /// Whether the thread rooted at `root` has a reply not deleted, below
    /// `ceiling` if one is given (a former member's view: what came after
    /// they left is not theirs to learn of).
    async fn has_replies_below(&self, root: MessageId, ceiling: Option<MessageId>) -> Result<bool> {
        let store = &self.inner.store;
        let Some((_, summary)) = store.thread_summaries(&[root]).await?.pop() else {
            return Ok(false);
        };
        let Some(ceiling) = ceiling else {
            return Ok(true);
        };
        if summary.last_reply < ceiling {
            return Ok(true);
        }
        // Newer replies than the ceiling exist: look below it, newest
        // first, past deleted ones.
        let mut query = crate::ports::HistoryQuery {
            before: Some(ceiling),
            limit: crate::ports::PageLimit::LARGEST,
            ..Default::default()
        };
        loop {
            let page = store.thread_messages(root, &query).await?;
            if page.items.iter().any(|m| !m.is_deleted()) {
                return Ok(true);
            }
            match page.items.iter().map(Message::id).min() {
                Some(oldest) if page.has_more => query.before = Some(oldest),
                _ => return Ok(false),
            }
        }
    }
}

/// A thread as one user may read it.
struct ThreadRoot {
    /// Its root (a tombstone if deleted).
    root: Message,
    /// Whether it has replies, not deleted, that the user may read.
    has_replies: bool,
    /// For a former member of the group: only replies below this.
    ceiling: Option<MessageId>,
}
