use serde::{Deserialize, Serialize};

use super::{
    ClientMessageId, ConversationId, GroupEvent, GroupTitle, Mentioned, Mentions, MessageId,
    MessageText, Position, Reaction, Role, Timestamp, User, UserId,
};

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    id: MessageId,
    conversation: ConversationId,
    sender: User,
    recipient: Option<User>,
    text: MessageText,
    sent_at: Timestamp,
    client_id: Option<ClientMessageId>,
    event: Option<Box<GroupEvent>>,
    /// What few messages have (a reply, an edit, a delete), boxed so that
    /// every other message stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lifecycle: Option<Box<Lifecycle>>,
}

/// A message's reply and changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Lifecycle {
    reply_to: Option<Quote>,
    thread_root: Option<MessageId>,
    edited_at: Option<Timestamp>,
    deleted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reactions: Vec<Reaction>,
    #[serde(default, skip_serializing_if = "Mentions::is_empty")]
    mentions: Mentions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thread: Option<ThreadSummary>,
}

/// A thread someone takes part in (they sent its root or a reply, or
/// opened it), as their list of threads shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadActivity {
    /// Its root, with its summary.
    pub root: Message,
    /// Their read mark in it.
    pub read_up_to: MessageId,
    /// Replies from others after the mark (deleted ones left out).
    pub unread: u64,
}

/// A thread's root as a reader sees it: how many replies it has (deleted
/// ones left out) and the newest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    /// How many replies.
    pub replies: u64,
    /// The newest reply.
    pub last_reply: MessageId,
    /// When it was sent.
    pub last_reply_at: Timestamp,
}

impl Message {
    /// Assembles a message from stored parts.
    pub fn new(
        id: MessageId,
        conversation: ConversationId,
        sender: User,
        recipient: Option<User>,
        text: MessageText,
        sent_at: Timestamp,
        client_id: Option<ClientMessageId>,
    ) -> Self {
        Self {
            id,
            conversation,
            sender,
            recipient,
            text,
            sent_at,
            client_id,
            event: None,
            lifecycle: None,
        }
    }

    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        self.lifecycle.get_or_insert_default()
    }

    /// The message as a reply to `reply`'s parent, in its thread.
    #[must_use]
    pub fn with_reply(self, reply: Option<Reply>) -> Self {
        let (quote, root) = match reply {
            Some(reply) => (Some(reply.quote), Some(reply.thread_root)),
            None => (None, None),
        };
        self.with_stored_reply(quote, root)
    }

    /// The message as a reply, from stored parts: the parent's quote (if
    /// the parent is still stored) and the thread's root.
    #[must_use]
    pub fn with_stored_reply(
        mut self,
        reply_to: Option<Quote>,
        thread_root: Option<MessageId>,
    ) -> Self {
        if reply_to.is_some() || thread_root.is_some() || self.lifecycle.is_some() {
            let lifecycle = self.lifecycle_mut();
            lifecycle.reply_to = reply_to;
            lifecycle.thread_root = thread_root;
        }
        self
    }

    /// The message as its sender last edited it, at `at`.
    #[must_use]
    pub fn edited(mut self, text: MessageText, at: Timestamp) -> Self {
        self.text = text;
        self.lifecycle_mut().edited_at = Some(at);
        self
    }

    /// The message as last edited at `at` (`None`: never), its text as
    /// stored: how a store reads an edited message back.
    #[must_use]
    pub fn with_edited_at(mut self, at: Option<Timestamp>) -> Self {
        if at.is_some() {
            self.lifecycle_mut().edited_at = at;
        }
        self
    }

    /// The message's tombstone, deleted at `at`: the text and the
    /// reactions are gone, the id, place, sender and time stay.
    #[must_use]
    pub fn deleted(mut self, at: Timestamp) -> Self {
        self.text = MessageText::removed();
        let lifecycle = self.lifecycle_mut();
        lifecycle.deleted_at = Some(at);
        lifecycle.reactions.clear();
        lifecycle.mentions = Mentions::default();
        self
    }

    /// The message with its reactions, in the order their emoji were
    /// first used (empty: none).
    #[must_use]
    pub fn with_reactions(mut self, reactions: Vec<Reaction>) -> Self {
        self.set_reactions(reactions);
        self
    }

    /// Fills in the reactions of a message read for someone.
    pub(crate) fn set_reactions(&mut self, reactions: Vec<Reaction>) {
        if !reactions.is_empty() || self.lifecycle.is_some() {
            self.lifecycle_mut().reactions = reactions;
        }
    }

    /// Its reactions, one per emoji, in the order the emoji were first
    /// used; filled in where the service reads messages for someone
    /// (history, recovery) and on changes, empty on a new message.
    pub fn reactions(&self) -> &[Reaction] {
        self.lifecycle
            .as_ref()
            .map_or(&[], |lifecycle| lifecycle.reactions.as_slice())
    }

    /// The message mentioning `mentions` (empty: nobody).
    #[must_use]
    pub fn with_mentions(mut self, mentions: Mentions) -> Self {
        if !mentions.is_empty() {
            self.lifecycle_mut().mentions = mentions;
        } else if let Some(lifecycle) = self.lifecycle.as_mut() {
            lifecycle.mentions = Mentions::default();
        }
        self
    }

    /// Whom it mentions: members named with `@username`, and `@all` or
    /// `@here` where its sender may call everyone.
    pub fn mentions(&self) -> &Mentions {
        static NOBODY: Mentions = Mentions {
            users: Vec::new(),
            everyone: None,
        };
        self.lifecycle
            .as_ref()
            .map_or(&NOBODY, |lifecycle| &lifecycle.mentions)
    }

    /// Gives it the summary of the thread it is the root of: how a store
    /// reads a thread's root back.
    pub fn set_thread_summary(&mut self, thread: ThreadSummary) {
        self.set_thread(Some(thread));
    }

    /// Fills in the summary of the thread it is the root of.
    pub(crate) fn set_thread(&mut self, thread: Option<ThreadSummary>) {
        if thread.is_some() || self.lifecycle.is_some() {
            self.lifecycle_mut().thread = thread;
        }
    }

    /// For the root of a thread with replies: how many and the newest;
    /// filled in where the service reads messages for someone (history,
    /// recovery, threads), `None` on a live message.
    pub fn thread(&self) -> Option<&ThreadSummary> {
        self.lifecycle.as_ref()?.thread.as_ref()
    }

    /// The same message under another id (a batch written with ids
    /// shifted).
    #[must_use]
    pub fn renumbered(mut self, id: MessageId) -> Self {
        self.id = id;
        self
    }

    /// The message it replies to: a short quote of it as it is now.
    pub fn reply_to(&self) -> Option<&Quote> {
        self.lifecycle.as_ref()?.reply_to.as_ref()
    }

    /// The first message of the thread it belongs to, for a reply (the
    /// root itself has none).
    pub fn thread_root(&self) -> Option<MessageId> {
        self.lifecycle.as_ref()?.thread_root
    }

    /// When its sender last edited it, if ever.
    pub fn edited_at(&self) -> Option<Timestamp> {
        self.lifecycle.as_ref()?.edited_at
    }

    /// When it was deleted, for a tombstone (its text is then empty).
    pub fn deleted_at(&self) -> Option<Timestamp> {
        self.lifecycle.as_ref()?.deleted_at
    }

    /// Whether it was deleted: a tombstone.
    pub fn is_deleted(&self) -> bool {
        self.deleted_at().is_some()
    }

    /// The message as the system message of a group's `event`.
    #[must_use]
    pub fn with_event(mut self, event: Option<GroupEvent>) -> Self {
        self.event = event.map(Box::new);
        self
    }

    /// For a system message, the change to the group it reports (its text
    /// describes it for clients that show text only).
    pub fn event(&self) -> Option<&GroupEvent> {
        self.event.as_deref()
    }

    /// The message's id.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// The conversation it belongs to.
    pub fn conversation(&self) -> ConversationId {
        self.conversation
    }

    /// Who sent it.
    pub fn sender(&self) -> &User {
        &self.sender
    }

    /// The other member of a direct conversation (`None` in a group).
    pub fn recipient(&self) -> Option<&User> {
        self.recipient.as_ref()
    }

    /// Its place in the change log: its id.
    pub fn position(&self) -> Position {
        self.id.into()
    }

    /// The text.
    pub fn text(&self) -> &MessageText {
        &self.text
    }

    /// When the store accepted it.
    pub fn sent_at(&self) -> Timestamp {
        self.sent_at
    }

    /// The sender's idempotency key, if one was given.
    pub fn client_id(&self) -> Option<&ClientMessageId> {
        self.client_id.as_ref()
    }
}

/// A message to be appended: validated and authorized, not yet stored.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The conversation it goes to; the sender is a member.
    pub conversation: ConversationId,
    /// Who sends it.
    pub sender: User,
    /// The other member, in a direct conversation.
    pub recipient: Option<User>,
    /// What it says.
    pub text: MessageText,
    /// When it was sent.
    pub sent_at: Timestamp,
    /// The sender's idempotency key.
    pub client_id: Option<ClientMessageId>,
    /// The message it replies to, in the same conversation.
    pub reply: Option<Reply>,
    /// Whom it mentions, and whose mention count it adds to.
    pub mentioned: Mentioned,
}

/// What a reply refers to: its parent, quoted, and the thread both are in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The parent, quoted.
    pub quote: Quote,
    /// The thread's first message: the parent's root, or the parent itself.
    pub thread_root: MessageId,
    /// Who sent the thread's first message: they take part in the thread
    /// (and so does the reply's sender).
    pub root_sender: UserId,
}

impl Reply {
    /// A reply to `parent`, in a thread whose first message `root_sender`
    /// sent (the parent's sender when the parent is the root).
    pub fn to(parent: &Message, root_sender: UserId) -> Self {
        Self {
            quote: Quote::of(parent),
            root_sender,
            thread_root: parent.thread_root().unwrap_or_else(|| parent.id()),
        }
    }
}

/// A short quote of the message a reply answers, as that message is now:
/// who sent it and the start of its text, or nothing when it was deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The parent's id.
    pub id: MessageId,
    /// Who sent it.
    pub sender: User,
    /// Its first [`Quote::EXCERPT_LEN`] characters; `None` when it was
    /// deleted.
    pub excerpt: Option<String>,
}

impl Quote {
    /// How many characters of the parent a quote keeps.
    pub const EXCERPT_LEN: usize = 100;

    /// The quote of `parent`.
    pub fn of(parent: &Message) -> Self {
        Self::stored(
            parent.id(),
            parent.sender().clone(),
            parent.text().as_str(),
            parent.is_deleted(),
        )
    }

    /// The quote of a stored parent: its text cut to
    /// [`Quote::EXCERPT_LEN`] characters, or none if it was deleted.
    pub fn stored(id: MessageId, sender: User, text: &str, deleted: bool) -> Self {
        let excerpt = (!deleted).then(|| match text.char_indices().nth(Self::EXCERPT_LEN) {
            Some((end, _)) => text[..end].to_owned(),
            None => text.to_owned(),
        });
        Self {
            id,
            sender,
            excerpt,
        }
    }
}

/// A system message to be appended: a change to a group, by `actor`.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// What changed.
    pub event: GroupEvent,
    /// Who changed it: the system message's sender.
    pub actor: User,
}

impl NewEvent {
    /// The text the system message stores.
    ///
    /// # Errors
    /// Never in practice: descriptions are short and printable.
    pub fn text(&self) -> crate::error::Result<MessageText> {
        MessageText::parse(self.event.describe(&self.actor))
    }
}

/// One line of a user's conversation list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: ConversationId,
    /// The newest message the user may read, if any.
    pub last_message: Option<Message>,
    /// Messages from others after the user's read mark.
    pub unread: u64,
    /// How many of those mention the user (by name, or with `@all` or
    /// `@here` where that reached them).
    pub mentions: u64,
    /// What kind of conversation, with what the list shows of it.
    pub kind: SummaryKind,
}

/// What a conversation list shows of each kind of conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SummaryKind {
    /// A direct conversation.
    Direct {
        /// The other member.
        peer: User,
        /// The peer's read mark: they have read everything up to this
        /// message (0 if nothing yet), so the user's messages up to it
        /// show as read.
        peer_read_up_to: MessageId,
        /// Whether both members have sent a message in the conversation:
        /// only then does either see the other's presence and typing.
        mutual: bool,
        /// Whether the peer is online (filled in by the service, for
        /// mutual conversations only; stores leave it `false`).
        online: bool,
    },
    /// A group.
    Group {
        /// Its title.
        title: GroupTitle,
        /// How many members it has.
        members: u64,
        /// The user's role; `None` for a former member.
        role: Option<Role>,
    },
}

impl ConversationSummary {
    /// The other member of a direct conversation.
    pub fn peer(&self) -> Option<&User> {
        match &self.kind {
            SummaryKind::Direct { peer, .. } => Some(peer),
            SummaryKind::Group { .. } => None,
        }
    }

    /// For a direct conversation, whether both members have spoken.
    pub fn mutual(&self) -> bool {
        matches!(self.kind, SummaryKind::Direct { mutual: true, .. })
    }

    /// For a direct conversation, the peer's read mark as the user may see
    /// it (zero otherwise).
    pub fn peer_read_up_to(&self) -> MessageId {
        match self.kind {
            SummaryKind::Direct {
                peer_read_up_to, ..
            } => peer_read_up_to,
            SummaryKind::Group { .. } => MessageId::ZERO,
        }
    }

    /// For a direct conversation, whether the peer is online (as the user
    /// may see it).
    pub fn online(&self) -> bool {
        matches!(self.kind, SummaryKind::Direct { online: true, .. })
    }

    /// The id of the newest message, the list's order and paging key.
    pub fn last_message_id(&self) -> MessageId {
        self.last_message
            .as_ref()
            .map_or(MessageId::ZERO, Message::id)
    }
}

/// A member of a conversation, as the store keeps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Who.
    pub user: User,
    /// Whether they have sent a message in the conversation.
    pub has_spoken: bool,
    /// Their read mark.
    pub read_up_to: MessageId,
}

/// A committed change a member's clients must learn about, with its place
/// in the change log: what a reconnecting client replays.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A message was committed; its position is its id.
    Message(Message),
    /// `by` read the conversation up to `up_to`.
    Read {
        /// The change's position.
        position: Position,
        /// The conversation.
        conversation: ConversationId,
        /// Who read.
        by: User,
        /// The other member of a direct conversation (`None` in a group).
        with: Option<User>,
        /// Their read mark.
        up_to: MessageId,
    },
    /// A message was edited or deleted: `message` is how it is now (a
    /// tombstone once deleted). Only a message's newest change is kept in
    /// the log, so it stands for the earlier ones.
    Revised {
        /// The change's position.
        position: Position,
        /// The message as it is now.
        message: Message,
    },
}

impl Change {
    /// The change's place in the change log.
    pub fn position(&self) -> Position {
        match self {
            Self::Message(message) => message.position(),
            Self::Read { position, .. } | Self::Revised { position, .. } => *position,
        }
    }
}
