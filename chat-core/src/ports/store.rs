use async_trait::async_trait;

use crate::domain::{
    Account, ApiKey, ApiScopes, AuditEntry, Block, Change, ClientMessageId, ConversationId,
    ConversationSummary, DisplayName, Email, Emoji, ExternalId, Group, GroupEvent, GroupSettings,
    GroupTitle, Invitation, Member, Membership, Mentioned, Message, MessageId, MessageText, Mute,
    NewAuditEntry, NewEvent, NewMessage, NewReport, PasswordHash, Position, Reaction, Report,
    Resolution, SearchPattern, SessionId, ThreadActivity, ThreadSummary, Timestamp, User, UserId,
    Username,
};
use crate::error::{ChatError, Result};
use crate::session::TokenHash;

/// A user to be inserted.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The name, as typed.
    pub username: Username,
    /// The email, as typed.
    pub email: Email,
    /// The argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// When the account is created.
    pub created_at: Timestamp,
}

/// A user a host application brings, to create or update
/// ([`UserStore::upsert_external_user`]).
#[derive(Clone, Debug)]
pub struct ExternalUser {
    /// The host's id of the user: the key.
    pub external_id: ExternalId,
    /// The username, taken when the user is created (never changed after);
    /// `None` when the host gave none that is valid, which only a known
    /// user can do without.
    pub username: Option<Username>,
    /// The display name: set when given, kept when `None`.
    pub display_name: Option<DisplayName>,
    /// When, should the user be created.
    pub at: Timestamp,
}

/// A user with the secret needed to log in.
#[derive(Clone, Debug)]
pub struct StoredUser {
    /// The account.
    pub account: Account,
    /// The stored password hash; `None` for a user a host brings, who has
    /// no password.
    pub password_hash: Option<PasswordHash>,
}

/// A stored session.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    /// The session's id.
    pub id: SessionId,
    /// Whose session it is.
    pub user: User,
    /// When it was created (login).
    pub created_at: Timestamp,
    /// When it was last used, to a granularity the service chooses.
    pub last_seen_at: Timestamp,
}

/// How many items a page holds: 1 to [`PageLimit::MAX`], by default
/// [`PageLimit::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The default page size.
    pub const DEFAULT: Self = Self(50);
    /// The largest page size.
    pub const MAX: u32 = 200;
    /// The largest page.
    pub const LARGEST: Self = Self(Self::MAX);

    /// Validates a page size.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `limit` outside `1..=200`.
    pub fn new(limit: u32) -> Result<Self> {
        if (1..=Self::MAX).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(ChatError::invalid(
                "limit",
                format!("must be between 1 and {}", Self::MAX),
            ))
        }
    }

    /// The size.
    pub fn get(self) -> u32 {
        self.0
    }

    /// One more than the size: what a store fetches to learn whether
    /// another page exists (see [`Page::from_overfetch`]).
    pub fn overfetch(self) -> i64 {
        i64::from(self.0) + 1
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which messages of a conversation to read.
///
/// With neither bound: the newest `limit`. With `before`: the newest `limit`
/// older than it. With `after`: the oldest `limit` newer than it (and older
/// than `before` if both are given). Results are always chronological.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    /// Only messages with a smaller id.
    pub before: Option<MessageId>,
    /// Only messages with a larger id.
    pub after: Option<MessageId>,
    /// Page size.
    pub limit: PageLimit,
    /// Only messages whose text contains this term.
    pub search: Option<SearchPattern>,
}

impl HistoryQuery {
    /// Whether the page is taken from the old end (`after` given): then
    /// `has_more` means "newer messages exist", else "older ones exist".
    pub fn reads_forward(&self) -> bool {
        self.after.is_some()
    }
}

/// Which conversations of a user to list, most recent first.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConversationQuery {
    /// Only conversations whose last message is older than this (the cursor
    /// is the last message id of the previous page's last item).
    pub before: Option<MessageId>,
    /// Page size.
    pub limit: PageLimit,
}

/// A page of results and whether more lie beyond it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the order the call documents.
    pub items: Vec<T>,
    /// Whether another page exists in the direction of reading.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// A page from `items` fetched with [`PageLimit::overfetch`]: an item
    /// beyond `limit` means more exist, and is dropped.
    pub fn from_overfetch(mut items: Vec<T>, limit: PageLimit) -> Self {
        let limit = limit.get() as usize;
        let has_more = items.len() > limit;
        items.truncate(limit);
        Self { items, has_more }
    }
}

/// The result of appending a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The message was stored now.
    Created(Message),
    /// The sender had already stored a message with this client id; it is
    /// returned and nothing was written.
    Existing(Message),
}

impl Appended {
    /// The message, new or existing.
    pub fn message(&self) -> &Message {
        match self {
            Self::Created(m) | Self::Existing(m) => m,
        }
    }
}

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Checks that the store answers (for readiness probes).
    async fn ping(&self) -> Result<()>;

    /// Inserts a user.
    ///
    /// # Errors
    /// [`ChatError::UsernameTaken`] or [`ChatError::EmailTaken`] when the
    /// username or email exists, compared case-insensitively (by
    /// `canonical()`); nothing is written then.
    async fn insert_user(&self, user: NewUser) -> Result<Account>;

    /// The user the host knows as `user.external_id`: created with
    /// `user.username` (and no email or password) on first sight, else
    /// given `user.display_name` when one is given. Calls racing for the
    /// same id, from any process, get the same user.
    ///
    /// # Errors
    /// [`ChatError::UsernameTaken`] when the user is new and the username
    /// belongs to another account (compared by `canonical()`);
    /// [`ChatError::InvalidInput`] on `username` when the user is new and
    /// has none.
    async fn upsert_external_user(&self, user: ExternalUser) -> Result<Account>;

    /// Finds a user by username, case-insensitively.
    async fn find_user_by_username(&self, username: &Username) -> Result<Option<StoredUser>>;

    /// Finds an account by id.
    async fn find_account(&self, id: UserId) -> Result<Option<Account>>;

    /// The account of the host's user `id`, if it was ever brought
    /// ([`upsert_external_user`](Self::upsert_external_user)).
    async fn find_user_by_external_id(&self, id: &ExternalId) -> Result<Option<Account>>;

    /// Whether an account has a name that reads like `username` (the same
    /// [`Username::skeleton`], so the same name in any case too); served by
    /// an index.
    async fn look_alike_exists(&self, username: &Username) -> Result<bool>;

    /// Whether an account has this email, compared case-insensitively (by
    /// `canonical()`); served by an index.
    async fn email_exists(&self, email: &Email) -> Result<bool>;

    /// The secret stored under `name`, storing `candidate` first if there
    /// is none: every process on the same store gets the same bytes, and
    /// they survive restarts. For keys the service derives (the key that
    /// signs device tokens).
    async fn shared_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>>;

    /// Users whose canonical name starts with `prefix` (already lower case
    /// and made of username characters), excluding `except`, by canonical
    /// name, at most `limit`; served by an index.
    async fn list_users(&self, prefix: &str, except: UserId, limit: PageLimit)
    -> Result<Vec<User>>;
}

/// Login sessions, keyed by the SHA-256 of their token.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session and returns its id.
    async fn insert_session(
        &self,
        token: &TokenHash,
        user: UserId,
        at: Timestamp,
    ) -> Result<SessionId>;

    /// Finds a session by token hash.
    async fn find_session(&self, token: &TokenHash) -> Result<Option<SessionRecord>>;

    /// Records activity on a session.
    async fn touch_session(&self, id: SessionId, at: Timestamp) -> Result<()>;

    /// Deletes a session; deleting a missing one is not an error.
    async fn delete_session(&self, id: SessionId) -> Result<()>;

    /// Deletes sessions last seen before `idle_before` or created before
    /// `created_before`; returns how many.
    async fn delete_expired_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> Result<u64>;
}

/// The outcome of [`MessageStore::mark_read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadMark {
    /// The read mark after the call.
    pub up_to: MessageId,
    /// The change's position when the mark moved; `None` when it stayed.
    pub moved: Option<Position>,
}

/// Conversations and their members.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// The direct conversation of `a` and `b`, created with both as members
    /// (at `at`) if they have none. Calls racing for the same pair, from
    /// any process, get the same conversation.
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        at: Timestamp,
    ) -> Result<ConversationId>;

    /// The direct conversation of two users, if they have one.
    async fn find_direct_conversation(
        &self,
        a: UserId,
        b: UserId,
    ) -> Result<Option<ConversationId>>;

    /// The members of a conversation, by user id; empty for a conversation
    /// that does not exist.
    async fn members(&self, conversation: ConversationId) -> Result<Vec<Member>>;

    /// The user's conversations with at least one message, most recent last
    /// message first, with the unread count (messages from others after
    /// the user's read mark).
    async fn list_conversations(
        &self,
        user: UserId,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>>;

    /// Everyone the user has a conversation with in which both have sent a
    /// message, in no particular order: whom to tell when the user comes
    /// online or goes offline. Served by an index; no counts, no messages.
    async fn conversation_peers(&self, user: UserId) -> Result<Vec<UserId>>;

    /// Mutes a conversation for `user` (replacing a mute of it they had).
    /// The caller has checked they are a member.
    async fn set_mute(&self, user: UserId, mute: Mute) -> Result<()>;

    /// Unmutes `conversation` for `user`; whether it was muted (in force or
    /// not).
    async fn clear_mute(&self, user: UserId, conversation: ConversationId) -> Result<bool>;

    /// The user's mutes, ended ones included, in conversation order.
    async fn mutes(&self, user: UserId) -> Result<Vec<Mute>>;

    /// `blocker` blocks `blocked` from `at` (kept as it was if they did
    /// already); whether it is new.
    async fn set_block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool>;

    /// `blocker` no longer blocks `blocked`; whether they did.
    async fn clear_block(&self, blocker: UserId, blocked: UserId) -> Result<bool>;

    /// Whom `blocker` blocks, oldest first.
    async fn blocks(&self, blocker: UserId) -> Result<Vec<Block>>;

    /// Whether `a` blocks `b`, and whether `b` blocks `a`: two lookups by
    /// primary key.
    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<(bool, bool)>;
}

/// Messages, read marks and the change log.
///
/// Every committed change that a member's clients must learn about (a
/// message, a read mark that moved) takes a [`Position`] in one sequence
/// per store, growing in commit order across every process: a change with
/// a larger position committed after every change with a smaller one. A
/// message's position is its id.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Appends a batch of messages in one transaction and returns one
    /// result per message, in order.
    ///
    /// Contract, for each message: its id is larger than every position
    /// committed before it (so ids grow in commit order, within a
    /// conversation and across the store); it is committed before this
    /// returns; if its sender already stored a message with the same client
    /// id (or an earlier message of the batch has it), that message is
    /// answered as [`Appended::Existing`] and nothing is written for it. The
    /// sender's read mark moves to the new message, and they count as having
    /// spoken in the conversation. A reply makes its sender take part in
    /// its thread, read up to the reply, and its root's sender take part
    /// ([`backend::thread_reads`](crate::backend::thread_reads)). The batch
    /// ends as if its messages had been appended one at a time, in order.
    ///
    /// `Err` means nothing was committed: [`ChatError::Unavailable`] fails
    /// every message of the batch; any other error makes the service try
    /// each message alone, so that a message the store refuses fails by
    /// itself. [`AppendPlan`](crate::backend::AppendPlan) does the
    /// store-independent half.
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>>;

    /// How many appends one batch should hold at most (the service's group
    /// commit takes up to this many at once). Default: 256.
    fn max_batch(&self) -> usize {
        256
    }

    /// A page of one conversation's messages, chronological (see
    /// [`HistoryQuery`]); the search is served by an index.
    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>>;

    /// Moves the user's read mark in a conversation forward to `up_to`,
    /// clamped to the conversation's last message; it never moves back.
    /// When it moves, the change takes a position (the user's earlier read
    /// changes in the conversation may leave the log: only the newest
    /// matters).
    ///
    /// # Errors
    /// [`ChatError::NotFound`] if the user is not a member.
    async fn mark_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        up_to: MessageId,
    ) -> Result<ReadMark>;

    /// The changes of all the user's conversations with a position above
    /// `after`, by position, at most `limit`; `has_more` if more exist.
    /// Only the newest read change of each member is kept, so an older one
    /// may be missing: its successor stands for it.
    async fn changes_since(
        &self,
        user: UserId,
        after: Position,
        limit: PageLimit,
    ) -> Result<Page<Change>>;

    /// Every change of the store, whoever it concerns (every message,
    /// group system messages included, and every read change), with a
    /// position above `after`, by position, at most `limit`; `has_more` if
    /// more exist: the host application's durable feed. As in
    /// [`MessageStore::changes_since`], only the newest read change of each
    /// member is kept.
    async fn feed_since(&self, after: Position, limit: PageLimit) -> Result<Page<Change>>;

    /// The newest committed position of the whole store (zero when empty):
    /// every change at or below it is committed.
    async fn head(&self) -> Result<Position>;

    /// The newest message id in any of the user's conversations, or
    /// [`MessageId::ZERO`].
    async fn last_message_id(&self, user: UserId) -> Result<MessageId>;

    /// The message `id` as it is now (a tombstone once deleted), whoever
    /// it concerns; `None` if no message has this id.
    async fn message(&self, id: MessageId) -> Result<Option<Message>>;

    /// The message `sender` sent under `client_id`, as it is now; `None`
    /// if they sent none under it. Served by the idempotency index.
    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: &ClientMessageId,
    ) -> Result<Option<Message>>;

    /// Edits or deletes a message, in one transaction, and returns the
    /// change's position with the message as it is now; `None` when
    /// nothing changed: no such message, a group's system message, or one
    /// deleted already.
    ///
    /// Contract: the change takes a position from the change log's clock
    /// and becomes the message's one kept change (its newest stands for
    /// the earlier ones), replayed by [`changes_since`](Self::changes_since)
    /// to the members who may read the message (for a former member of a
    /// group, only changes made before they left) and by
    /// [`feed_since`](Self::feed_since). An edit replaces the text (the old
    /// one is not kept) and the search finds the new words only; a delete
    /// removes the text from storage and from the search, keeping the
    /// message's id, place, sender and time as a tombstone. Unread counts
    /// leave deleted messages out.
    async fn revise_message(&self, revision: &Revision) -> Result<Option<(Position, Message)>>;

    /// Adds `change.user`'s reaction `change.emoji` to a message (or takes
    /// it away), in one transaction, and returns the change's position;
    /// `None` when nothing changed (the reaction was there already, or was
    /// not; no such message, a system message or a deleted one).
    ///
    /// Contract: as [`revise_message`](Self::revise_message), the change
    /// takes a position and becomes the message's one kept change,
    /// replayed by [`changes_since`](Self::changes_since) and
    /// [`feed_since`](Self::feed_since) as the message as it is now. A
    /// user has at most one reaction of each emoji on a message. Deleting
    /// a message deletes its reactions.
    async fn react(&self, change: &ReactionChange) -> Result<Option<Position>>;

    /// Moves `user`'s read mark in the thread rooted at `root` forward to
    /// `up_to` (never back), making them take part in it; returns the mark.
    /// Appends do the same for a reply's sender (up to the reply) and
    /// make the root's sender take part.
    async fn mark_thread_read(
        &self,
        user: UserId,
        root: MessageId,
        up_to: MessageId,
    ) -> Result<MessageId>;

    /// The threads `user` takes part in that have replies, in their direct
    /// conversations and the groups they are a member of now, the most
    /// recently answered first, at most `limit`, each with its root (and
    /// its summary) and the replies from others after the user's mark.
    async fn threads_of(&self, user: UserId, limit: PageLimit) -> Result<Vec<ThreadActivity>>;

    /// For each of `roots` that has replies not deleted, its thread's
    /// summary (how many, the newest). Served by an index.
    async fn thread_summaries(
        &self,
        roots: &[MessageId],
    ) -> Result<Vec<(MessageId, ThreadSummary)>>;

    /// A page of the replies of the thread rooted at `root`, chronological,
    /// as [`list_messages`](Self::list_messages) pages (its `search` is not
    /// used). Served by an index.
    async fn thread_messages(&self, root: MessageId, query: &HistoryQuery)
    -> Result<Page<Message>>;

    /// The reactions to `messages`: for each message that has any, one per
    /// emoji, in the order the emoji were first used, with whether `reader`
    /// is among those who reacted (`None`: `me` left unknown). Served by an
    /// index.
    async fn reactions(
        &self,
        reader: Option<UserId>,
        messages: &[MessageId],
    ) -> Result<Vec<(MessageId, Vec<Reaction>)>>;
}

/// A reaction added or taken away ([`MessageStore::react`]).
#[derive(Clone, Debug)]
pub struct ReactionChange {
    /// The message.
    pub message: MessageId,
    /// Who reacts.
    pub user: UserId,
    /// With what.
    pub emoji: Emoji,
    /// `true` to add it, `false` to take it away.
    pub add: bool,
    /// When.
    pub at: Timestamp,
}

/// An edit or a delete of a stored message, decided by the service
/// ([`MessageStore::revise_message`]).
#[derive(Clone, Debug)]
pub struct Revision {
    /// The message.
    pub message: MessageId,
    /// When.
    pub at: Timestamp,
    /// What changes.
    pub kind: RevisionKind,
}

/// What a [`Revision`] does.
#[derive(Clone, Debug)]
pub enum RevisionKind {
    /// The sender replaces the text, and with it whom it mentions.
    Edit {
        /// The new text.
        text: MessageText,
        /// Whom the new text mentions: replaces the old mentions, and the
        /// old text's mention counts.
        mentioned: Mentioned,
    },
    /// `by` deletes the message (its sender, or someone who moderates).
    Delete {
        /// Who.
        by: UserId,
    },
}

/// A group to be made, decided by the service.
#[derive(Clone, Debug)]
pub struct NewGroup {
    /// Its title.
    pub title: GroupTitle,
    /// Who makes it: its owner.
    pub creator: User,
    /// Its settings.
    pub settings: GroupSettings,
    /// Who becomes a member at once (not the creator).
    pub members: Vec<User>,
    /// Who is invited.
    pub invited: Vec<User>,
    /// When.
    pub at: Timestamp,
}

impl NewGroup {
    /// The system messages that make the group, in order, by its creator:
    /// `Created`, an `Added` for each member, an `Invited` for each invitee
    /// (what [`GroupStore::create_group`] writes).
    pub fn events(&self) -> Vec<NewEvent> {
        std::iter::once(GroupEvent::Created {
            title: self.title.clone(),
        })
        .chain(
            self.members
                .iter()
                .map(|u| GroupEvent::Added { user: u.clone() }),
        )
        .chain(
            self.invited
                .iter()
                .map(|u| GroupEvent::Invited { user: u.clone() }),
        )
        .map(|event| NewEvent {
            event,
            actor: self.creator.clone(),
        })
        .collect()
    }
}

/// Changes to a group, decided by the service from the group at
/// `version`: each event is written as a system message and takes effect.
#[derive(Clone, Debug)]
pub struct GroupChange {
    /// The group.
    pub group: ConversationId,
    /// The [`Group::version`] the service decided from.
    pub version: Position,
    /// When.
    pub at: Timestamp,
    /// What changes, in order.
    pub events: Vec<NewEvent>,
}

/// Groups: their members, roles, invitations and changes.
///
/// Each change of a group is a system message in its history, with its
/// position in the change log, and takes effect at that position:
/// - `Created`: the creator is the owner;
/// - `Added { user }` and `Joined` (the actor): a member with the role
///   `member`, who sees the history from this position (or all of it in a
///   group with [`HistoryVisibility::Shared`](crate::domain::HistoryVisibility)),
///   has read up to it, and is no longer invited; a former member comes back
///   this way;
/// - `Invited { user }`: an invitation by the actor;
/// - `Left` (the actor) and `Removed { user }`: a former member, who reads
///   up to this position and nothing after it;
/// - `RoleChanged { user, role }`, `Renamed { title }`: as they say.
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Makes a group: its `Created` message, then an `Added` for each
    /// member and an `Invited` for each invitee, all by the creator.
    /// Returns the group's id and those messages, in order.
    async fn create_group(&self, group: NewGroup) -> Result<(ConversationId, Vec<Message>)>;

    /// The group, with its current members (longest-standing first) and
    /// invitations; `None` if no group has this id.
    async fn group(&self, id: ConversationId) -> Result<Option<Group>>;

    /// Applies `change` in one transaction and returns its system messages.
    ///
    /// # Errors
    /// [`ChatError::Conflict`] if the group's version is no longer
    /// `change.version` (another change came first; nothing is written),
    /// [`ChatError::NotFound`] if there is no such group.
    async fn change_group(&self, change: GroupChange) -> Result<Vec<Message>>;

    /// What `user` may see of the group: `None` if they never were a
    /// member (or it is not a group).
    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>>;

    /// The invitations `user` has not answered, newest first.
    async fn invitations(&self, user: UserId) -> Result<Vec<Invitation>>;

    /// The groups `user` is a member of now: whose topics their live
    /// streams listen to.
    async fn groups_of(&self, user: UserId) -> Result<Vec<ConversationId>>;

    /// Discoverable groups whose folded title contains `term` (already
    /// folded with [`fold_for_search`](crate::fold_for_search); empty: all
    /// of them), the largest first, at most `limit`.
    async fn discoverable_groups(&self, term: &str, limit: PageLimit) -> Result<Vec<GroupListing>>;
}

/// A group as the directory lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupListing {
    /// The group.
    pub id: ConversationId,
    /// Its title.
    pub title: GroupTitle,
    /// How many members it has.
    pub members: u64,
}

/// A key to be inserted ([`ApiKeyStore::insert_api_key`]).
#[derive(Clone, Debug)]
pub struct NewApiKey {
    /// The SHA-256 of its secret.
    pub hash: TokenHash,
    /// The operator's name for it.
    pub name: String,
    /// What it may do.
    pub scopes: ApiScopes,
    /// When it is made.
    pub created_at: Timestamp,
}

/// The keys of the server API.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Stores a new key.
    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKey>;

    /// The key whose secret hashes to `hash`, unless it was revoked.
    async fn find_api_key(&self, hash: &TokenHash) -> Result<Option<ApiKey>>;

    /// Every key, revoked ones included, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>>;

    /// Revokes the key `id` at `at`; `false` if there is no such key or it
    /// was revoked already.
    async fn revoke_api_key(&self, id: i64, at: Timestamp) -> Result<bool>;
}

/// Operators' moderation: administrators, disabled accounts and the audit
/// log.
#[async_trait]
pub trait ModerationStore: Send + Sync + 'static {
    /// Makes `user` an administrator (`admin`) or takes the role away;
    /// whether anything changed (`false` also for no such user).
    async fn set_admin(&self, user: UserId, admin: bool) -> Result<bool>;

    /// The administrators, by id.
    async fn admins(&self) -> Result<Vec<User>>;

    /// Disables `user`'s account at `at` and deletes every session of
    /// theirs, in one transaction (`Some`), or enables it again (`None`);
    /// whether anything changed (`false` also for no such user). While an
    /// account is disabled, [`SessionStore::find_session`] finds none of
    /// its sessions, even one inserted by a login that raced the disable.
    async fn set_disabled(&self, user: UserId, at: Option<Timestamp>) -> Result<bool>;

    /// Writes one line of the audit log; returns it with its id, larger
    /// than every id before it.
    async fn record(&self, entry: NewAuditEntry) -> Result<AuditEntry>;

    /// The audit log, newest first: entries with an id below `before`
    /// (all with `None`), at most `limit`; `has_more` if older ones exist.
    async fn audit_log(&self, before: Option<i64>, limit: PageLimit) -> Result<Page<AuditEntry>>;

    /// Files a report; returns it with its id. A reporter has at most one
    /// open report of each message and of each user: filing it again
    /// returns the open one, unchanged (also when two race).
    async fn file_report(&self, report: NewReport) -> Result<Report>;

    /// The reports, newest first: open ones only (`open`) or all, with an
    /// id below `before`, at most `limit`; `has_more` if older ones exist.
    async fn reports(
        &self,
        open: bool,
        before: Option<i64>,
        limit: PageLimit,
    ) -> Result<Page<Report>>;

    /// Resolves report `id` with `resolution`; returns it as it is now
    /// (a report resolved already keeps its first resolution), `None` if
    /// there is no such report.
    async fn resolve_report(&self, id: i64, resolution: Resolution) -> Result<Option<Report>>;
}

/// A complete store: what [`Chat`](crate::Chat) needs.
pub trait Store:
    UserStore
    + SessionStore
    + ConversationStore
    + MessageStore
    + GroupStore
    + ApiKeyStore
    + ModerationStore
{
}

impl<T> Store for T where
    T: UserStore
        + SessionStore
        + ConversationStore
        + MessageStore
        + GroupStore
        + ApiKeyStore
        + ModerationStore
{
}
