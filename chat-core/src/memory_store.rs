//! [`MemoryStore`]: every store port in the process's memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::backend::AppendPlan;
use crate::domain::{
    Account, ApiKey, AuditEntry, Block, Change, ClientMessageId, ConversationId,
    ConversationSummary, Email, Emoji, ExternalId, Group, GroupEvent, GroupMember, GroupSettings,
    GroupTitle, HistoryVisibility, Invitation, JoinPolicy, Member, Membership, Message, MessageId,
    Mute, NewAuditEntry, NewEvent, NewMessage, NewReport, Position, Reaction, Report, Resolution,
    Role, SessionId, SummaryKind, ThreadActivity, ThreadSummary, Timestamp, User, UserId, Username,
    fold_for_search,
};
use crate::error::{ChatError, Result};
use crate::ports::{
    ApiKeyStore, Appended, ConversationQuery, ConversationStore, ExternalUser, GroupChange,
    GroupListing, GroupStore, HistoryQuery, MessageStore, ModerationStore, NewApiKey, NewGroup,
    NewUser, Page, PageLimit, ReactionChange, ReadMark, Revision, RevisionKind, SessionRecord,
    SessionStore, StoredUser, UserStore,
};
use crate::session::TokenHash;

/// A complete store in memory: every port, with the same contracts as the
/// SQL stores (the conformance suites prove it), and nothing kept when the
/// process ends.
///
/// For tests, ephemeral servers and programs that keep nothing. Every call
/// takes one lock and never waits with it held, so it is fast; everything
/// lives on the heap, so it is for small chats.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    users: Vec<StoredUser>,
    /// The host's id of each user in `users` (same index), for those a
    /// host brought.
    external_ids: Vec<Option<ExternalId>>,
    skeletons: Vec<String>,
    sessions: HashMap<[u8; 32], StoredSession>,
    next_session: i64,
    secrets: HashMap<String, Vec<u8>>,
    /// API keys with the hashes of their secrets, oldest first.
    api_keys: Vec<(TokenHash, ApiKey)>,
    /// By id, starting at 1.
    conversations: Vec<Conversation>,
    pairs: HashMap<(UserId, UserId), ConversationId>,
    members: BTreeMap<(ConversationId, UserId), PairSeat>,
    messages: BTreeMap<MessageId, Stored>,
    client_ids: HashMap<(UserId, String), MessageId>,
    /// Read changes by position: (conversation, reader, read mark).
    reads: BTreeMap<Position, (ConversationId, UserId, MessageId)>,
    /// The change log's clock: the last position handed out.
    clock: i64,
    /// Members' mutes: (user, conversation) → until.
    mutes: BTreeMap<(UserId, ConversationId), Option<Timestamp>>,
    /// Each message's reactions, oldest first.
    reactions: HashMap<MessageId, Vec<(Emoji, UserId)>>,
    /// Blocks: (blocker, blocked) → since, with an order of making.
    blocks: BTreeMap<(UserId, UserId), (u64, Timestamp)>,
    next_block: u64,
    /// The audit log, oldest first (ids from 1).
    audit: Vec<AuditEntry>,
    /// Reports, oldest first (ids from 1).
    reports: Vec<Report>,
    /// Thread read marks: (user, root) → read up to.
    thread_reads: BTreeMap<(UserId, MessageId), MessageId>,
}

struct StoredSession {
    id: SessionId,
    user: UserId,
    created_at: Timestamp,
    last_seen_at: Timestamp,
}

struct Conversation {
    /// A direct conversation's two members (a group's are in `group`).
    members: Vec<UserId>,
    group: Option<GroupState>,
}

struct GroupState {
    title: GroupTitle,
    creator: UserId,
    settings: GroupSettings,
    /// Everyone who ever was a member, in the order they first joined.
    seats: Vec<Seat>,
    /// Invitees with who invited them, oldest first.
    invited: Vec<(UserId, UserId, Position)>,
    /// Bans: who, until when (`None`: no end).
    bans: Vec<(UserId, Option<Timestamp>)>,
    version: Position,
    head: MessageId,
}

#[derive(Clone, Copy)]
struct Seat {
    user: UserId,
    role: Role,
    joined: Position,
    visible_from: Position,
    left_at: Option<Position>,
    read: MessageId,
    has_spoken: bool,
    last_change: Position,
    muted_until: Option<Timestamp>,
    removed: bool,
}

impl Seat {
    fn membership(&self, settings: &GroupSettings) -> Membership {
        Membership {
            role: self.role,
            visible_from: self.visible_from,
            left_at: self.left_at,
            muted_until: self.muted_until,
            announcement: settings.announcement,
            slow_mode: settings.slow_mode,
            read_up_to: self.read,
        }
    }
}

impl GroupState {
    fn seat(&self, user: UserId) -> Option<&Seat> {
        self.seats.iter().find(|s| s.user == user)
    }

    fn current(&self, user: UserId) -> bool {
        self.seat(user).is_some_and(|s| s.left_at.is_none())
    }
}

#[derive(Clone, Copy)]
struct PairSeat {
    last_read: MessageId,
    last_message: MessageId,
    has_spoken: bool,
}

impl Default for PairSeat {
    fn default() -> Self {
        Self {
            last_read: MessageId::ZERO,
            last_message: MessageId::ZERO,
            has_spoken: false,
        }
    }
}

struct Stored {
    message: Message,
    folded: String,
    /// The position of its newest edit or delete.
    revision: Option<Position>,
    /// Whose mention count it adds to.
    reached: Vec<UserId>,
}

impl Stored {
    /// Whether it counts as unread for `user` (from someone else, not
    /// deleted) in `conversation`.
    fn unread_for(&self, user: UserId, conversation: ConversationId) -> bool {
        self.message.conversation() == conversation
            && self.message.sender().id() != user
            && !self.message.is_deleted()
    }
}

/// A message's newest change, as the change log replays it.
fn revised((position, message): (Position, &Message)) -> Result<Change> {
    Ok(Change::Revised {
        position,
        message: message.clone(),
    })
}

fn ordered(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The store's lock; a panic elsewhere never leaves the state half-changed
/// (every change is made after every check), so a poisoned lock is used on.
fn lock(store: &MemoryStore) -> std::sync::MutexGuard<'_, State> {
    store.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl State {
    /// How many messages of `conversation` after `read` and up to `last`
    /// are unread for `user`, and how many of those mention them.
    fn unread(
        &self,
        user: UserId,
        conversation: ConversationId,
        read: MessageId,
        last: MessageId,
    ) -> (u64, u64) {
        let (mut unread, mut mentions) = (0_u64, 0_u64);
        for (_, stored) in self
            .messages
            .range(MessageId::new(read.get() + 1)..)
            .take_while(|(id, _)| **id <= last)
            .filter(|(_, s)| s.unread_for(user, conversation))
        {
            unread += 1;
            mentions += u64::from(stored.reached.contains(&user));
        }
        (unread, mentions)
    }

    fn user(&self, id: UserId) -> Option<&StoredUser> {
        usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.users.get(i))
    }

    fn user_mut(&mut self, id: UserId) -> Option<&mut StoredUser> {
        usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.users.get_mut(i))
    }

    fn conversation(&self, id: ConversationId) -> Option<&Conversation> {
        usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.conversations.get(i))
    }

    fn group(&self, id: ConversationId) -> Option<&GroupState> {
        self.conversation(id).and_then(|c| c.group.as_ref())
    }

    fn group_mut(&mut self, id: ConversationId) -> Option<&mut GroupState> {
        usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.conversations.get_mut(i))
            .and_then(|c| c.group.as_mut())
    }

    fn account(&self, id: UserId) -> Result<User> {
        self.user(id)
            .map(|u| u.account.user().clone())
            .ok_or_else(|| ChatError::internal("a user that does not exist"))
    }

    /// The groups `user` is or was a member of, with their seat.
    fn groups_of(&self, user: UserId) -> impl Iterator<Item = (ConversationId, &GroupState, Seat)> {
        self.conversations
            .iter()
            .enumerate()
            .filter_map(move |(i, c)| {
                let group = c.group.as_ref()?;
                let seat = *group.seat(user)?;
                Some((ConversationId::new(i as i64 + 1), group, seat))
            })
    }

    /// Writes `event` as a system message of `group` at the next position
    /// and applies it.
    fn write_event(
        &mut self,
        group: ConversationId,
        event: &NewEvent,
        at: Timestamp,
    ) -> Result<Message> {
        let position = Position::new(self.take_positions(1));
        let id = MessageId::new(position.get());
        let message = Message::new(
            id,
            group,
            event.actor.clone(),
            None,
            event.text()?,
            at,
            None,
        )
        .with_event(Some(event.event.clone()));
        self.messages.insert(
            id,
            Stored {
                message: message.clone(),
                folded: String::new(),
                revision: None,
                reached: Vec::new(),
            },
        );
        let state = self
            .group_mut(group)
            .ok_or_else(|| ChatError::internal("an event of no group"))?;
        state.version = position;
        state.head = id;
        let actor = event.actor.id();
        let shared = state.settings.history == HistoryVisibility::Shared;
        let join = |state: &mut GroupState, user: UserId| {
            state.invited.retain(|(u, _, _)| *u != user);
            let seat = Seat {
                user,
                role: Role::Member,
                joined: position,
                visible_from: if shared { Position::ZERO } else { position },
                left_at: None,
                read: id,
                has_spoken: false,
                last_change: Position::ZERO,
                muted_until: None,
                removed: false,
            };
            match state.seats.iter_mut().find(|s| s.user == user) {
                Some(old) => {
                    // A former member back sees again what they saw, and
                    // what was said while they were away; a mute stays.
                    *old = Seat {
                        has_spoken: old.has_spoken,
                        visible_from: old.visible_from.min(seat.visible_from),
                        muted_until: old.muted_until,
                        ..seat
                    };
                }
                None => state.seats.push(seat),
            }
        };
        match &event.event {
            GroupEvent::Created { .. } => {}
            GroupEvent::Renamed { title } => state.title = title.clone(),
            GroupEvent::Added { user } => join(state, user.id()),
            GroupEvent::Joined => join(state, actor),
            GroupEvent::Invited { user } => {
                if !state.invited.iter().any(|(u, _, _)| *u == user.id()) {
                    state.invited.push((user.id(), actor, position));
                }
            }
            GroupEvent::Banned { user, until } => {
                state.bans.retain(|(u, _)| *u != user.id());
                state.bans.push((user.id(), *until));
                state.invited.retain(|(u, _, _)| *u != user.id());
                if let Some(seat) = state
                    .seats
                    .iter_mut()
                    .find(|s| s.user == user.id() && s.left_at.is_none())
                {
                    seat.left_at = Some(position);
                    seat.removed = true;
                }
            }
            GroupEvent::Unbanned { user } => state.bans.retain(|(u, _)| *u != user.id()),
            GroupEvent::SlowModeSet { slow_mode } => state.settings.slow_mode = *slow_mode,
            GroupEvent::Left | GroupEvent::Removed { .. } => {
                let who = event.event.subject().map_or(actor, User::id);
                let removed = matches!(event.event, GroupEvent::Removed { .. });
                state.invited.retain(|(u, _, _)| *u != who);
                if let Some(seat) = state
                    .seats
                    .iter_mut()
                    .find(|s| s.user == who && s.left_at.is_none())
                {
                    seat.left_at = Some(position);
                    seat.removed = removed;
                }
            }
            GroupEvent::Declined => state.invited.retain(|(u, _, _)| *u != actor),
            GroupEvent::RoleChanged { user, role } => {
                if let Some(seat) = state
                    .seats
                    .iter_mut()
                    .find(|s| s.user == user.id() && s.left_at.is_none())
                {
                    seat.role = *role;
                }
            }
            GroupEvent::Muted { user, until } => {
                if let Some(seat) = state.seats.iter_mut().find(|s| s.user == user.id()) {
                    seat.muted_until = Some(until.unwrap_or(Timestamp::from_unix_micros(i64::MAX)));
                }
            }
            GroupEvent::Unmuted { user } => {
                if let Some(seat) = state.seats.iter_mut().find(|s| s.user == user.id()) {
                    seat.muted_until = None;
                }
            }
        }
        Ok(message)
    }

    /// The read change at `position`: `reader`'s mark in `conversation`,
    /// with the other member of a direct conversation.
    fn read_change(
        &self,
        position: Position,
        conversation: ConversationId,
        reader: UserId,
        up_to: MessageId,
    ) -> Result<Change> {
        let found = self
            .conversation(conversation)
            .ok_or_else(|| ChatError::internal("a change of no conversation"))?;
        let with = match found.group {
            Some(_) => None,
            None => Some(
                found
                    .members
                    .iter()
                    .copied()
                    .find(|m| *m != reader)
                    .and_then(|m| self.user(m))
                    .ok_or_else(|| ChatError::internal("a conversation without a peer"))?
                    .account
                    .user()
                    .clone(),
            ),
        };
        let by = self
            .user(reader)
            .ok_or_else(|| ChatError::internal("a reader that does not exist"))?;
        Ok(Change::Read {
            position,
            conversation,
            by: by.account.user().clone(),
            with,
            up_to,
        })
    }

    /// Every message's newest edit or delete above `after`, by position.
    fn revisions_after(&self, after: Position) -> impl Iterator<Item = (Position, &Message)> {
        let mut revised: Vec<(Position, &Message)> = self
            .messages
            .values()
            .filter_map(|s| Some((s.revision.filter(|r| *r > after)?, &s.message)))
            .collect();
        revised.sort_by_key(|(position, _)| *position);
        revised.into_iter()
    }

    fn is_mutual(&self, conversation: ConversationId) -> bool {
        self.conversation(conversation).is_some_and(|c| {
            c.members.iter().all(|user| {
                self.members
                    .get(&(conversation, *user))
                    .is_some_and(|m| m.has_spoken)
            })
        })
    }

    /// The conversations `user` is a member of.
    fn conversations_of(&self, user: UserId) -> impl Iterator<Item = (ConversationId, PairSeat)> {
        self.members
            .iter()
            .filter(move |((_, member), _)| *member == user)
            .map(|((conversation, _), membership)| (*conversation, *membership))
    }

    fn take_positions(&mut self, count: i64) -> i64 {
        self.clock += count;
        self.clock
    }
}

/// The refusal of a new user a host brings without a username.
fn new_without_a_username() -> ChatError {
    ChatError::invalid("username", "a new user needs a valid username")
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn insert_user(&self, user: NewUser) -> Result<Account> {
        let mut state = lock(self);
        let name = user.username.canonical();
        let email = user.email.canonical();
        if state
            .users
            .iter()
            .any(|u| u.account.user().username().canonical() == name)
        {
            return Err(ChatError::UsernameTaken);
        }
        if state
            .users
            .iter()
            .any(|u| u.account.email().is_some_and(|e| e.canonical() == email))
        {
            return Err(ChatError::EmailTaken);
        }
        let id = UserId::new(i64::try_from(state.users.len()).map_err(ChatError::internal)? + 1);
        let account = Account::new(
            User::new(id, user.username.clone()),
            user.email,
            user.created_at,
        );
        state.skeletons.push(user.username.skeleton());
        state.users.push(StoredUser {
            account: account.clone(),
            password_hash: Some(user.password_hash),
        });
        state.external_ids.push(None);
        Ok(account)
    }

    async fn upsert_external_user(&self, user: ExternalUser) -> Result<Account> {
        let mut state = lock(self);
        if let Some(index) = state
            .external_ids
            .iter()
            .position(|id| id.as_ref() == Some(&user.external_id))
        {
            let stored = &mut state.users[index];
            if let Some(name) = user.display_name {
                stored.account = stored.account.clone().with_display_name(Some(name));
            }
            return Ok(stored.account.clone());
        }
        let username = user.username.ok_or_else(new_without_a_username)?;
        let name = username.canonical();
        if state
            .users
            .iter()
            .any(|u| u.account.user().username().canonical() == name)
        {
            return Err(ChatError::UsernameTaken);
        }
        let id = UserId::new(i64::try_from(state.users.len()).map_err(ChatError::internal)? + 1);
        state.skeletons.push(username.skeleton());
        let account = Account::external(User::new(id, username), user.at)
            .with_display_name(user.display_name)
            .with_external_id(Some(user.external_id.clone()));
        state.users.push(StoredUser {
            account: account.clone(),
            password_hash: None,
        });
        state.external_ids.push(Some(user.external_id));
        Ok(account)
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<Option<StoredUser>> {
        let name = username.canonical();
        Ok(lock(self)
            .users
            .iter()
            .find(|u| u.account.user().username().canonical() == name)
            .cloned())
    }

    async fn find_account(&self, id: UserId) -> Result<Option<Account>> {
        Ok(lock(self).user(id).map(|u| u.account.clone()))
    }

    async fn find_user_by_external_id(&self, id: &ExternalId) -> Result<Option<Account>> {
        let state = lock(self);
        Ok(state
            .external_ids
            .iter()
            .position(|known| known.as_ref() == Some(id))
            .and_then(|index| state.users.get(index))
            .map(|u| u.account.clone()))
    }

    async fn look_alike_exists(&self, username: &Username) -> Result<bool> {
        let skeleton = username.skeleton();
        Ok(lock(self).skeletons.contains(&skeleton))
    }

    async fn email_exists(&self, email: &Email) -> Result<bool> {
        let email = email.canonical();
        Ok(lock(self)
            .users
            .iter()
            .any(|u| u.account.email().is_some_and(|e| e.canonical() == email)))
    }

    async fn shared_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        Ok(lock(self)
            .secrets
            .entry(name.to_owned())
            .or_insert_with(|| candidate.to_vec())
            .clone())
    }

    async fn list_users(
        &self,
        prefix: &str,
        except: UserId,
        limit: PageLimit,
    ) -> Result<Vec<User>> {
        let state = lock(self);
        let mut found: Vec<&User> = state
            .users
            .iter()
            .map(|u| u.account.user())
            .filter(|u| u.id() != except && u.username().canonical().starts_with(prefix))
            .collect();
        found.sort_by_key(|u| u.username().canonical());
        Ok(found
            .into_iter()
            .take(limit.get() as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(
        &self,
        token: &TokenHash,
        user: UserId,
        at: Timestamp,
    ) -> Result<SessionId> {
        let mut state = lock(self);
        if state.user(user).is_none() {
            return Err(ChatError::internal(
                "a session for a user that does not exist",
            ));
        }
        state.next_session += 1;
        let id = SessionId::new(state.next_session);
        state.sessions.insert(
            *token.as_bytes(),
            StoredSession {
                id,
                user,
                created_at: at,
                last_seen_at: at,
            },
        );
        Ok(id)
    }

    async fn find_session(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
        let state = lock(self);
        let Some(session) = state.sessions.get(token.as_bytes()) else {
            return Ok(None);
        };
        let user = state
            .user(session.user)
            .ok_or_else(|| ChatError::internal("a session of a user that does not exist"))?;
        if user.account.disabled_at().is_some() {
            return Ok(None);
        }
        Ok(Some(SessionRecord {
            id: session.id,
            user: user.account.user().clone(),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
        }))
    }

    async fn touch_session(&self, id: SessionId, at: Timestamp) -> Result<()> {
        let mut state = lock(self);
        if let Some(session) = state.sessions.values_mut().find(|s| s.id == id) {
            session.last_seen_at = session.last_seen_at.max(at);
        }
        Ok(())
    }

    async fn delete_session(&self, id: SessionId) -> Result<()> {
        lock(self).sessions.retain(|_, s| s.id != id);
        Ok(())
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> Result<u64> {
        let mut state = lock(self);
        let before = state.sessions.len();
        state
            .sessions
            .retain(|_, s| s.last_seen_at >= idle_before && s.created_at >= created_before);
        Ok(u64::try_from(before - state.sessions.len()).unwrap_or(u64::MAX))
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        _at: Timestamp,
    ) -> Result<ConversationId> {
        let mut state = lock(self);
        let pair = ordered(a, b);
        if let Some(found) = state.pairs.get(&pair) {
            return Ok(*found);
        }
        if state.user(a).is_none() || state.user(b).is_none() || a == b {
            return Err(ChatError::internal("a conversation needs two users"));
        }
        state.conversations.push(Conversation {
            members: vec![pair.0, pair.1],
            group: None,
        });
        let id = ConversationId::new(
            i64::try_from(state.conversations.len()).map_err(ChatError::internal)?,
        );
        state.pairs.insert(pair, id);
        for user in [pair.0, pair.1] {
            state.members.insert((id, user), PairSeat::default());
        }
        Ok(id)
    }

    async fn find_direct_conversation(
        &self,
        a: UserId,
        b: UserId,
    ) -> Result<Option<ConversationId>> {
        Ok(lock(self).pairs.get(&ordered(a, b)).copied())
    }

    async fn members(&self, conversation: ConversationId) -> Result<Vec<Member>> {
        let state = lock(self);
        let Some(found) = state.conversation(conversation) else {
            return Ok(Vec::new());
        };
        if let Some(group) = &found.group {
            return group
                .seats
                .iter()
                .filter(|s| s.left_at.is_none())
                .map(|s| {
                    Ok(Member {
                        user: state.account(s.user)?,
                        has_spoken: s.has_spoken,
                        read_up_to: s.read,
                    })
                })
                .collect();
        }
        found
            .members
            .iter()
            .map(|user| {
                let membership = state
                    .members
                    .get(&(conversation, *user))
                    .copied()
                    .unwrap_or_default();
                let account = state
                    .user(*user)
                    .ok_or_else(|| ChatError::internal("a member that does not exist"))?;
                Ok(Member {
                    user: account.account.user().clone(),
                    has_spoken: membership.has_spoken,
                    read_up_to: membership.last_read,
                })
            })
            .collect()
    }

    async fn list_conversations(
        &self,
        user: UserId,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>> {
        let state = lock(self);
        let before = query.before.unwrap_or(MessageId::new(i64::MAX));
        let mut mine: Vec<(ConversationId, PairSeat)> = state
            .conversations_of(user)
            .filter(|(_, m)| m.last_message > MessageId::ZERO && m.last_message < before)
            .collect();
        mine.sort_by_key(|(_, m)| std::cmp::Reverse(m.last_message));
        mine.truncate(query.limit.overfetch() as usize);
        let mut summaries = mine
            .into_iter()
            .map(|(conversation, membership)| {
                let found = state
                    .conversation(conversation)
                    .ok_or_else(|| ChatError::internal("a membership without a conversation"))?;
                let peer = found
                    .members
                    .iter()
                    .copied()
                    .find(|m| *m != user)
                    .ok_or_else(|| ChatError::internal("a conversation without a peer"))?;
                let peer_membership = state
                    .members
                    .get(&(conversation, peer))
                    .copied()
                    .unwrap_or_default();
                let (unread, mentions) = state.unread(
                    user,
                    conversation,
                    membership.last_read,
                    MessageId::new(i64::MAX),
                );
                Ok(ConversationSummary {
                    conversation,
                    last_message: state
                        .messages
                        .get(&membership.last_message)
                        .map(|s| s.message.clone()),
                    unread,
                    mentions,
                    kind: SummaryKind::Direct {
                        peer: state.account(peer)?,
                        peer_read_up_to: peer_membership.last_read,
                        mutual: membership.has_spoken && peer_membership.has_spoken,
                        online: false,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for (conversation, group, seat) in state.groups_of(user) {
            let last = match seat.left_at {
                None => Some(group.head),
                Some(left) => state
                    .messages
                    .range(..=MessageId::new(left.get()))
                    .rev()
                    .find(|(_, s)| s.message.conversation() == conversation)
                    .map(|(id, _)| *id),
            };
            let Some(last) = last.filter(|id| *id < before && *id > MessageId::ZERO) else {
                continue;
            };
            let (unread, mentions) = state.unread(user, conversation, seat.read, last);
            summaries.push(ConversationSummary {
                conversation,
                last_message: state.messages.get(&last).map(|s| s.message.clone()),
                unread,
                mentions,
                kind: SummaryKind::Group {
                    title: group.title.clone(),
                    members: group.seats.iter().filter(|s| s.left_at.is_none()).count() as u64,
                    role: seat.left_at.is_none().then_some(seat.role),
                },
            });
        }
        summaries.sort_by_key(|s| std::cmp::Reverse(s.last_message_id()));
        summaries.truncate(query.limit.overfetch() as usize);
        Ok(Page::from_overfetch(summaries, query.limit))
    }

    async fn conversation_peers(&self, user: UserId) -> Result<Vec<UserId>> {
        let state = lock(self);
        Ok(state
            .conversations_of(user)
            .filter(|(conversation, _)| state.is_mutual(*conversation))
            .filter_map(|(conversation, _)| {
                state
                    .conversation(conversation)?
                    .members
                    .iter()
                    .copied()
                    .find(|m| *m != user)
            })
            .collect())
    }

    async fn set_mute(&self, user: UserId, mute: Mute) -> Result<()> {
        lock(self)
            .mutes
            .insert((user, mute.conversation), mute.until);
        Ok(())
    }

    async fn clear_mute(&self, user: UserId, conversation: ConversationId) -> Result<bool> {
        Ok(lock(self).mutes.remove(&(user, conversation)).is_some())
    }

    async fn mutes(&self, user: UserId) -> Result<Vec<Mute>> {
        Ok(lock(self)
            .mutes
            .range((user, ConversationId::new(i64::MIN))..=(user, ConversationId::new(i64::MAX)))
            .map(|((_, conversation), until)| Mute {
                conversation: *conversation,
                until: *until,
            })
            .collect())
    }

    async fn set_block(&self, blocker: UserId, blocked: UserId, at: Timestamp) -> Result<bool> {
        let mut state = lock(self);
        if state.blocks.contains_key(&(blocker, blocked)) {
            return Ok(false);
        }
        state.next_block += 1;
        let order = state.next_block;
        state.blocks.insert((blocker, blocked), (order, at));
        Ok(true)
    }

    async fn clear_block(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        Ok(lock(self).blocks.remove(&(blocker, blocked)).is_some())
    }

    async fn blocks(&self, blocker: UserId) -> Result<Vec<Block>> {
        let state = lock(self);
        let mut found: Vec<(u64, Block)> = state
            .blocks
            .range((blocker, UserId::new(i64::MIN))..=(blocker, UserId::new(i64::MAX)))
            .map(|((_, blocked), (order, since))| {
                Ok((
                    *order,
                    Block {
                        user: state.account(*blocked)?,
                        since: *since,
                    },
                ))
            })
            .collect::<Result<_>>()?;
        found.sort_by_key(|(order, _)| *order);
        Ok(found.into_iter().map(|(_, block)| block).collect())
    }

    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<(bool, bool)> {
        let state = lock(self);
        Ok((
            state.blocks.contains_key(&(a, b)),
            state.blocks.contains_key(&(b, a)),
        ))
    }
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        let mut state = lock(self);
        // Check everything first: a batch is written whole or not at all.
        for new in batch {
            let known_sender = state.user(new.sender.id()).is_some();
            let member = match new.recipient {
                Some(_) => state
                    .members
                    .contains_key(&(new.conversation, new.sender.id())),
                // Whether they still are is checked below, message by message.
                None => state.group(new.conversation).is_some(),
            };
            if !known_sender || !member {
                return Err(ChatError::internal(
                    "a message from someone who is not a member of its conversation",
                ));
            }
        }
        let existing: Vec<Message> = AppendPlan::idempotency_keys(batch)
            .into_iter()
            .filter_map(|(sender, client)| {
                let id = state
                    .client_ids
                    .get(&(sender, client.as_str().to_owned()))?;
                state.messages.get(id).map(|s| s.message.clone())
            })
            .collect();
        let outsiders: Vec<(ConversationId, UserId)> = AppendPlan::group_senders(batch)
            .into_iter()
            .filter(|(group, sender)| !state.group(*group).is_some_and(|g| g.current(*sender)))
            .collect();
        let plan = AppendPlan::refusing(batch, existing, &outsiders);
        let count = i64::try_from(plan.fresh().len()).map_err(ChatError::internal)?;
        let last = state.take_positions(count);
        let ids: Vec<MessageId> = (last - count + 1..=last).map(MessageId::new).collect();
        let mut reached: HashMap<MessageId, Vec<UserId>> = plan
            .fresh()
            .zip(&ids)
            .filter(|(new, _)| !new.mentioned.reached.is_empty())
            .map(|(new, id)| (*id, new.mentioned.reached.clone()))
            .collect();
        for read in crate::backend::thread_reads(plan.fresh().zip(ids.iter().copied())) {
            let mark = state
                .thread_reads
                .entry((read.user, read.root))
                .or_insert(MessageId::ZERO);
            *mark = (*mark).max(read.up_to);
        }
        let written = plan.written(&ids)?;
        for message in written.created() {
            if let Some(client) = message.client_id() {
                state.client_ids.insert(
                    (message.sender().id(), client.as_str().to_owned()),
                    message.id(),
                );
            }
            state.messages.insert(
                message.id(),
                Stored {
                    message: message.clone(),
                    folded: fold_for_search(message.text().as_str()),
                    revision: None,
                    reached: reached.remove(&message.id()).unwrap_or_default(),
                },
            );
        }
        for (conversation, head) in written.conversation_heads() {
            for ((c, _), membership) in state
                .members
                .range_mut((conversation, UserId::new(i64::MIN))..)
            {
                if *c != conversation {
                    break;
                }
                membership.last_message = membership.last_message.max(head);
            }
        }
        for (conversation, user, id) in written.sender_read_marks() {
            if let Some(membership) = state.members.get_mut(&(conversation, user)) {
                membership.last_read = membership.last_read.max(id);
                membership.has_spoken = true;
            }
        }
        for (group, head) in written.group_heads() {
            if let Some(state) = state.group_mut(group) {
                state.head = state.head.max(head);
            }
        }
        for (group, user, id) in written.group_sender_read_marks() {
            if let Some(seat) = state
                .group_mut(group)
                .and_then(|g| g.seats.iter_mut().find(|s| s.user == user))
            {
                seat.read = seat.read.max(id);
                seat.has_spoken = true;
            }
        }
        Ok(written.into_results())
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        let state = lock(self);
        Ok(history_page(&state, query, |s| {
            s.message.conversation() == conversation
                && query
                    .search
                    .as_ref()
                    .is_none_or(|term| s.folded.contains(term.folded()))
        }))
    }

    async fn thread_messages(
        &self,
        root: MessageId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        let state = lock(self);
        Ok(history_page(&state, query, |s| {
            s.message.thread_root() == Some(root)
        }))
    }

    async fn mark_thread_read(
        &self,
        user: UserId,
        root: MessageId,
        up_to: MessageId,
    ) -> Result<MessageId> {
        let mut state = lock(self);
        let mark = state
            .thread_reads
            .entry((user, root))
            .or_insert(MessageId::ZERO);
        *mark = (*mark).max(up_to);
        Ok(*mark)
    }

    async fn threads_of(&self, user: UserId, limit: PageLimit) -> Result<Vec<ThreadActivity>> {
        let state = lock(self);
        let mut threads: Vec<ThreadActivity> = state
            .thread_reads
            .range((user, MessageId::ZERO)..=(user, MessageId::new(i64::MAX)))
            .filter_map(|(&(_, root), &read_up_to)| {
                let replies: Vec<&Message> = state
                    .messages
                    .range(MessageId::new(root.get() + 1)..)
                    .map(|(_, s)| &s.message)
                    .filter(|m| m.thread_root() == Some(root) && !m.is_deleted())
                    .collect();
                let last = replies.last()?;
                let summary = ThreadSummary {
                    replies: replies.len() as u64,
                    last_reply: last.id(),
                    last_reply_at: last.sent_at(),
                };
                let unread = replies
                    .iter()
                    .filter(|m| m.id() > read_up_to && m.sender().id() != user)
                    .count() as u64;
                let mut root = state.messages.get(&root)?.message.clone();
                let member = root.recipient().is_some()
                    || state
                        .group(root.conversation())
                        .is_some_and(|g| g.current(user));
                if !member {
                    return None;
                }
                root.set_thread(Some(summary));
                Some(ThreadActivity {
                    root,
                    read_up_to,
                    unread,
                })
            })
            .collect();
        threads.sort_by_key(|t| std::cmp::Reverse(t.root.thread().map(|s| s.last_reply)));
        threads.truncate(limit.get() as usize);
        Ok(threads)
    }

    async fn thread_summaries(
        &self,
        roots: &[MessageId],
    ) -> Result<Vec<(MessageId, ThreadSummary)>> {
        let state = lock(self);
        let mut found: Vec<(MessageId, ThreadSummary)> = Vec::new();
        for stored in state.messages.values() {
            let Some(root) = stored.message.thread_root() else {
                continue;
            };
            if stored.message.is_deleted() || !roots.contains(&root) {
                continue;
            }
            let summary = ThreadSummary {
                replies: 1,
                last_reply: stored.message.id(),
                last_reply_at: stored.message.sent_at(),
            };
            match found.iter_mut().find(|(r, _)| *r == root) {
                // Messages are in id order: this one is the newest yet.
                Some((_, known)) => {
                    *known = ThreadSummary {
                        replies: known.replies + 1,
                        ..summary
                    };
                }
                None => found.push((root, summary)),
            }
        }
        Ok(found)
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        up_to: MessageId,
    ) -> Result<ReadMark> {
        let mut state = lock(self);
        if state.group(conversation).is_some() {
            return mark_group_read(&mut state, conversation, user, up_to);
        }
        let membership = state
            .members
            .get(&(conversation, user))
            .copied()
            .ok_or(ChatError::NotFound)?;
        let mark = up_to.min(membership.last_message);
        if mark <= membership.last_read {
            return Ok(ReadMark {
                up_to: membership.last_read,
                moved: None,
            });
        }
        let position = Position::new(state.take_positions(1));
        state
            .reads
            .retain(|_, (c, reader, _)| !(*c == conversation && *reader == user));
        state.reads.insert(position, (conversation, user, mark));
        if let Some(membership) = state.members.get_mut(&(conversation, user)) {
            membership.last_read = mark;
        }
        Ok(ReadMark {
            up_to: mark,
            moved: Some(position),
        })
    }

    async fn changes_since(
        &self,
        user: UserId,
        after: Position,
        limit: PageLimit,
    ) -> Result<Page<Change>> {
        let state = lock(self);
        let mine: BTreeSet<ConversationId> = state.conversations_of(user).map(|(c, _)| c).collect();
        let groups: HashMap<ConversationId, Membership> = state
            .groups_of(user)
            .map(|(c, group, seat)| (c, seat.membership(&group.settings)))
            .collect();
        let take = limit.overfetch() as usize;
        let messages = state
            .messages
            .range(MessageId::new(after.get().saturating_add(1))..)
            .filter(|(id, s)| {
                let conversation = s.message.conversation();
                mine.contains(&conversation)
                    || groups
                        .get(&conversation)
                        .is_some_and(|m| m.sees(Position::from(**id)))
            })
            .take(take)
            .map(|(_, s)| Ok(Change::Message(s.message.clone())));
        let reads = state
            .reads
            .range(Position::new(after.get().saturating_add(1))..)
            .filter(|(_, (c, reader, _))| {
                (mine.contains(c) && (*reader == user || state.is_mutual(*c)))
                    || (*reader == user && groups.contains_key(c))
            })
            .take(take)
            .map(|(position, (conversation, reader, up_to))| {
                state.read_change(*position, *conversation, *reader, *up_to)
            });
        let revisions = state
            .revisions_after(after)
            .filter(|(revision, message)| {
                let conversation = message.conversation();
                mine.contains(&conversation)
                    || groups.get(&conversation).is_some_and(|m| {
                        m.sees(message.position()) && m.left_at.is_none_or(|left| *revision <= left)
                    })
            })
            .take(take)
            .map(revised);
        let mut changes = messages
            .chain(reads)
            .chain(revisions)
            .collect::<Result<Vec<Change>>>()?;
        changes.sort_by_key(Change::position);
        Ok(Page::from_overfetch(changes, limit))
    }

    async fn feed_since(&self, after: Position, limit: PageLimit) -> Result<Page<Change>> {
        let state = lock(self);
        let take = limit.overfetch() as usize;
        let messages = state
            .messages
            .range(MessageId::new(after.get().saturating_add(1))..)
            .take(take)
            .map(|(_, s)| Ok(Change::Message(s.message.clone())));
        let reads = state
            .reads
            .range(Position::new(after.get().saturating_add(1))..)
            .take(take)
            .map(|(position, (conversation, reader, up_to))| {
                state.read_change(*position, *conversation, *reader, *up_to)
            });
        let revisions = state.revisions_after(after).take(take).map(revised);
        let mut changes = messages
            .chain(reads)
            .chain(revisions)
            .collect::<Result<Vec<Change>>>()?;
        changes.sort_by_key(Change::position);
        Ok(Page::from_overfetch(changes, limit))
    }

    async fn head(&self) -> Result<Position> {
        Ok(Position::new(lock(self).clock))
    }

    async fn last_message_id(&self, user: UserId) -> Result<MessageId> {
        let state = lock(self);
        let groups = state
            .groups_of(user)
            .map(|(_, group, seat)| seat.left_at.map_or(group.head, |l| MessageId::new(l.get())));
        Ok(state
            .conversations_of(user)
            .map(|(_, m)| m.last_message)
            .chain(groups)
            .max()
            .unwrap_or(MessageId::ZERO))
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>> {
        Ok(lock(self).messages.get(&id).map(|s| s.message.clone()))
    }

    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: &ClientMessageId,
    ) -> Result<Option<Message>> {
        let state = lock(self);
        Ok(state
            .client_ids
            .get(&(sender, client_id.as_str().to_owned()))
            .and_then(|id| state.messages.get(id))
            .map(|s| s.message.clone()))
    }

    async fn revise_message(&self, revision: &Revision) -> Result<Option<(Position, Message)>> {
        let mut state = lock(self);
        let Some(stored) = state.messages.get(&revision.message) else {
            return Ok(None);
        };
        if stored.message.is_deleted() || stored.message.event().is_some() {
            return Ok(None);
        }
        let (revised, reached) = match &revision.kind {
            RevisionKind::Edit { text, mentioned } => (
                stored
                    .message
                    .clone()
                    .edited(text.clone(), revision.at)
                    .with_mentions(mentioned.mentions.clone()),
                mentioned.reached.clone(),
            ),
            RevisionKind::Delete { .. } => {
                (stored.message.clone().deleted(revision.at), Vec::new())
            }
        };
        let position = Position::new(state.take_positions(1));
        if matches!(revision.kind, RevisionKind::Delete { .. }) {
            state.reactions.remove(&revision.message);
        }
        state.messages.insert(
            revision.message,
            Stored {
                folded: fold_for_search(revised.text().as_str()),
                message: revised.clone(),
                revision: Some(position),
                reached,
            },
        );
        // Quotes show the parent as it is now.
        let quote = crate::domain::Quote::of(&revised);
        for stored in state.messages.values_mut() {
            if stored.message.reply_to().is_some_and(|q| q.id == quote.id) {
                let root = stored.message.thread_root();
                stored.message = stored
                    .message
                    .clone()
                    .with_stored_reply(Some(quote.clone()), root);
            }
        }
        Ok(Some((position, revised)))
    }

    async fn react(&self, change: &ReactionChange) -> Result<Option<Position>> {
        let mut state = lock(self);
        let Some(stored) = state.messages.get(&change.message) else {
            return Ok(None);
        };
        if stored.message.is_deleted() || stored.message.event().is_some() {
            return Ok(None);
        }
        let reactions = state.reactions.entry(change.message).or_default();
        let found = reactions
            .iter()
            .position(|(emoji, user)| *emoji == change.emoji && *user == change.user);
        match (found, change.add) {
            (None, true) => reactions.push((change.emoji.clone(), change.user)),
            (Some(at), false) => {
                reactions.remove(at);
            }
            _ => return Ok(None),
        }
        let position = Position::new(state.take_positions(1));
        if let Some(stored) = state.messages.get_mut(&change.message) {
            stored.revision = Some(position);
        }
        Ok(Some(position))
    }

    async fn reactions(
        &self,
        reader: Option<UserId>,
        messages: &[MessageId],
    ) -> Result<Vec<(MessageId, Vec<Reaction>)>> {
        let state = lock(self);
        Ok(messages
            .iter()
            .filter_map(|id| {
                let given = state.reactions.get(id).filter(|r| !r.is_empty())?;
                let mut counted: Vec<Reaction> = Vec::new();
                for (emoji, user) in given {
                    let mine = reader.map(|reader| reader == *user);
                    match counted.iter_mut().find(|r| r.emoji == *emoji) {
                        Some(reaction) => {
                            reaction.count += 1;
                            reaction.me = reaction.me.zip(mine).map(|(a, b)| a || b);
                        }
                        None => counted.push(Reaction {
                            emoji: emoji.clone(),
                            count: 1,
                            me: mine,
                        }),
                    }
                }
                Some((*id, counted))
            })
            .collect())
    }
}

/// A page of the messages `keep` keeps, chronological, within the bounds
/// of `query` (see [`HistoryQuery`]).
fn history_page(
    state: &State,
    query: &HistoryQuery,
    keep: impl Fn(&Stored) -> bool,
) -> Page<Message> {
    let after = query.after.unwrap_or(MessageId::ZERO);
    let before = query.before.unwrap_or(MessageId::new(i64::MAX));
    if after >= before {
        return Page::from_overfetch(Vec::new(), query.limit);
    }
    let matching = state
        .messages
        .range(MessageId::new(after.get().saturating_add(1))..before)
        .map(|(_, stored)| stored)
        .filter(|s| keep(s))
        .map(|s| s.message.clone());
    let take = query.limit.overfetch() as usize;
    let mut page = if query.reads_forward() {
        Page::from_overfetch(matching.take(take).collect(), query.limit)
    } else {
        let newest: Vec<Message> = matching.rev().take(take).collect();
        let mut page = Page::from_overfetch(newest, query.limit);
        page.items.reverse();
        page
    };
    page.items.shrink_to_fit();
    page
}

/// [`MessageStore::mark_read`] in a group: the reader's own mark, clamped
/// to the group's newest message (or, for a former member, to their
/// leaving).
fn mark_group_read(
    state: &mut State,
    group: ConversationId,
    user: UserId,
    up_to: MessageId,
) -> Result<ReadMark> {
    let found = state.group(group).ok_or(ChatError::NotFound)?;
    let seat = *found.seat(user).ok_or(ChatError::NotFound)?;
    let limit = seat
        .left_at
        .map_or(found.head, |left| MessageId::new(left.get()));
    let mark = up_to.min(limit);
    if mark <= seat.read {
        return Ok(ReadMark {
            up_to: seat.read,
            moved: None,
        });
    }
    let position = Position::new(state.take_positions(1));
    state
        .reads
        .retain(|_, (c, reader, _)| !(*c == group && *reader == user));
    state.reads.insert(position, (group, user, mark));
    if let Some(seat) = state
        .group_mut(group)
        .and_then(|g| g.seats.iter_mut().find(|s| s.user == user))
    {
        seat.read = mark;
        seat.last_change = position;
    }
    Ok(ReadMark {
        up_to: mark,
        moved: Some(position),
    })
}

#[async_trait]
impl ModerationStore for MemoryStore {
    async fn set_admin(&self, user: UserId, admin: bool) -> Result<bool> {
        let mut state = lock(self);
        let Some(stored) = state.user_mut(user) else {
            return Ok(false);
        };
        if stored.account.is_admin() == admin {
            return Ok(false);
        }
        let disabled_at = stored.account.disabled_at();
        stored.account = stored.account.clone().with_standing(admin, disabled_at);
        Ok(true)
    }

    async fn admins(&self) -> Result<Vec<User>> {
        Ok(lock(self)
            .users
            .iter()
            .filter(|u| u.account.is_admin())
            .map(|u| u.account.user().clone())
            .collect())
    }

    async fn set_disabled(&self, user: UserId, at: Option<Timestamp>) -> Result<bool> {
        let mut state = lock(self);
        let Some(stored) = state.user_mut(user) else {
            return Ok(false);
        };
        if stored.account.disabled_at().is_some() == at.is_some() {
            return Ok(false);
        }
        let admin = stored.account.is_admin();
        stored.account = stored.account.clone().with_standing(admin, at);
        if at.is_some() {
            state.sessions.retain(|_, s| s.user != user);
        }
        Ok(true)
    }

    async fn record(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
        let mut state = lock(self);
        let entry = AuditEntry {
            id: i64::try_from(state.audit.len()).map_err(ChatError::internal)? + 1,
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            user: entry.user,
            message: entry.message,
            report: entry.report,
            reason: entry.reason,
        };
        state.audit.push(entry.clone());
        Ok(entry)
    }

    async fn file_report(&self, report: NewReport) -> Result<Report> {
        let mut state = lock(self);
        let open = state.reports.iter().find(|r| {
            r.resolution.is_none()
                && r.reporter.id() == report.reporter.id()
                && r.target.message() == report.target.message()
                && r.target.user().id() == report.target.user().id()
        });
        if let Some(open) = open {
            return Ok(open.clone());
        }
        let filed = Report {
            id: i64::try_from(state.reports.len()).map_err(ChatError::internal)? + 1,
            at: report.at,
            reporter: report.reporter,
            target: report.target,
            reason: report.reason,
            resolution: None,
        };
        state.reports.push(filed.clone());
        Ok(filed)
    }

    async fn reports(
        &self,
        open: bool,
        before: Option<i64>,
        limit: PageLimit,
    ) -> Result<Page<Report>> {
        let state = lock(self);
        let newest_first: Vec<Report> = state
            .reports
            .iter()
            .rev()
            .filter(|r| before.is_none_or(|b| r.id < b) && (!open || r.resolution.is_none()))
            .take(usize::try_from(limit.overfetch()).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(Page::from_overfetch(newest_first, limit))
    }

    async fn resolve_report(&self, id: i64, resolution: Resolution) -> Result<Option<Report>> {
        let mut state = lock(self);
        let Some(report) = state.reports.iter_mut().find(|r| r.id == id) else {
            return Ok(None);
        };
        if report.resolution.is_none() {
            report.resolution = Some(resolution);
        }
        Ok(Some(report.clone()))
    }

    async fn audit_log(&self, before: Option<i64>, limit: PageLimit) -> Result<Page<AuditEntry>> {
        let state = lock(self);
        let newest_first: Vec<AuditEntry> = state
            .audit
            .iter()
            .rev()
            .filter(|e| before.is_none_or(|b| e.id < b))
            .take(usize::try_from(limit.overfetch()).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(Page::from_overfetch(newest_first, limit))
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        let mut state = lock(self);
        let id = i64::try_from(state.api_keys.len()).map_err(ChatError::internal)? + 1;
        let stored = ApiKey {
            id,
            name: key.name,
            scopes: key.scopes,
            created_at: key.created_at,
            revoked_at: None,
        };
        state.api_keys.push((key.hash, stored.clone()));
        Ok(stored)
    }

    async fn find_api_key(&self, hash: &TokenHash) -> Result<Option<ApiKey>> {
        Ok(lock(self)
            .api_keys
            .iter()
            .find(|(h, key)| h == hash && key.revoked_at.is_none())
            .map(|(_, key)| key.clone()))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(lock(self)
            .api_keys
            .iter()
            .map(|(_, key)| key.clone())
            .collect())
    }

    async fn revoke_api_key(&self, id: i64, at: Timestamp) -> Result<bool> {
        let mut state = lock(self);
        Ok(
            match state
                .api_keys
                .iter_mut()
                .find(|(_, key)| key.id == id && key.revoked_at.is_none())
            {
                Some((_, key)) => {
                    key.revoked_at = Some(at);
                    true
                }
                None => false,
            },
        )
    }
}

#[async_trait]
impl GroupStore for MemoryStore {
    async fn create_group(&self, group: NewGroup) -> Result<(ConversationId, Vec<Message>)> {
        let mut state = lock(self);
        let everyone = std::iter::once(&group.creator)
            .chain(&group.members)
            .chain(&group.invited);
        for user in everyone {
            if state.user(user.id()).is_none() {
                return Err(ChatError::internal("a group of a user that does not exist"));
            }
        }
        state.conversations.push(Conversation {
            members: Vec::new(),
            group: Some(GroupState {
                title: group.title.clone(),
                creator: group.creator.id(),
                settings: group.settings,
                seats: Vec::new(),
                invited: Vec::new(),
                bans: Vec::new(),
                version: Position::ZERO,
                head: MessageId::ZERO,
            }),
        });
        let id = ConversationId::new(
            i64::try_from(state.conversations.len()).map_err(ChatError::internal)?,
        );
        let actor = group.creator.clone();
        let mut written = Vec::new();
        for event in group.events() {
            let created = matches!(event.event, GroupEvent::Created { .. });
            let message = state.write_event(id, &event, group.at)?;
            if created {
                // The creator joins with the group, as its owner.
                let at = message.position();
                if let Some(state) = state.group_mut(id) {
                    state.seats.push(Seat {
                        user: actor.id(),
                        role: Role::Owner,
                        joined: at,
                        visible_from: Position::ZERO,
                        left_at: None,
                        read: message.id(),
                        has_spoken: false,
                        last_change: Position::ZERO,
                        muted_until: None,
                        removed: false,
                    });
                }
            }
            written.push(message);
        }
        Ok((id, written))
    }

    async fn group(&self, id: ConversationId) -> Result<Option<Group>> {
        let state = lock(self);
        let Some(group) = state.group(id) else {
            return Ok(None);
        };
        let mut seats: Vec<&Seat> = group.seats.iter().filter(|s| s.left_at.is_none()).collect();
        seats.sort_by_key(|s| s.joined);
        let members = seats
            .into_iter()
            .map(|s| {
                Ok(GroupMember {
                    user: state.account(s.user)?,
                    role: s.role,
                    joined: s.joined,
                    read_up_to: s.read,
                    has_spoken: s.has_spoken,
                    muted_until: s.muted_until,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let invited = group
            .invited
            .iter()
            .map(|(u, _, _)| state.account(*u))
            .collect::<Result<Vec<_>>>()?;
        let former = |removed: bool| {
            group
                .seats
                .iter()
                .filter(|s| s.left_at.is_some() && s.removed == removed)
                .map(|s| s.user)
                .collect()
        };
        Ok(Some(Group {
            id,
            title: group.title.clone(),
            creator: state.account(group.creator)?,
            settings: group.settings,
            members,
            invited,
            left: former(false),
            removed: former(true),
            bans: group
                .bans
                .iter()
                .map(|(u, until)| {
                    Ok(crate::domain::GroupBan {
                        user: state.account(*u)?,
                        until: *until,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            version: group.version,
        }))
    }

    async fn change_group(&self, change: GroupChange) -> Result<Vec<Message>> {
        let mut state = lock(self);
        let group = state.group(change.group).ok_or(ChatError::NotFound)?;
        if group.version != change.version {
            return Err(ChatError::conflict("the group changed meanwhile"));
        }
        change
            .events
            .iter()
            .map(|event| state.write_event(change.group, event, change.at))
            .collect()
    }

    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        let state = lock(self);
        Ok(state
            .group(conversation)
            .and_then(|group| Some(group.seat(user)?.membership(&group.settings))))
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<ConversationId>> {
        Ok(lock(self)
            .groups_of(user)
            .filter(|(_, _, seat)| seat.left_at.is_none())
            .map(|(id, _, _)| id)
            .collect())
    }

    async fn discoverable_groups(&self, term: &str, limit: PageLimit) -> Result<Vec<GroupListing>> {
        let state = lock(self);
        let mut found: Vec<GroupListing> = state
            .conversations
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let group = c.group.as_ref()?;
                let listed = group.settings.join_policy == JoinPolicy::Discoverable
                    && group.seats.iter().any(|s| s.left_at.is_none())
                    && fold_for_search(group.title.as_str()).contains(term);
                listed.then(|| GroupListing {
                    id: ConversationId::new(i as i64 + 1),
                    title: group.title.clone(),
                    members: group.seats.iter().filter(|s| s.left_at.is_none()).count() as u64,
                })
            })
            .collect();
        found.sort_by(|a, b| b.members.cmp(&a.members).then(a.id.cmp(&b.id)));
        found.truncate(limit.get() as usize);
        Ok(found)
    }

    async fn invitations(&self, user: UserId) -> Result<Vec<Invitation>> {
        let state = lock(self);
        let mut found: Vec<(Position, Invitation)> = Vec::new();
        for (i, conversation) in state.conversations.iter().enumerate() {
            let Some(group) = &conversation.group else {
                continue;
            };
            for (invitee, by, at) in &group.invited {
                if *invitee == user {
                    found.push((
                        *at,
                        Invitation {
                            group: ConversationId::new(i as i64 + 1),
                            title: group.title.clone(),
                            by: state.account(*by)?,
                        },
                    ));
                }
            }
        }
        found.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        Ok(found.into_iter().map(|(_, i)| i).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MemoryStore;

    async fn fresh() -> Arc<dyn crate::Store> {
        Arc::new(MemoryStore::new())
    }

    crate::store_conformance_suite!(fresh);
}
