//! [`MemoryStore`]: every store port in the process's memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::backend::AppendPlan;
use crate::domain::{
    Account, Change, ConversationId, ConversationSummary, Email, Member, Message, MessageId,
    NewMessage, Position, SessionId, Timestamp, User, UserId, Username, fold_for_search,
};
use crate::error::{ChatError, Result};
use crate::ports::{
    Appended, ConversationQuery, ConversationStore, HistoryQuery, MessageStore, NewUser, Page,
    PageLimit, ReadMark, SessionRecord, SessionStore, StoredUser, UserStore,
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
    skeletons: Vec<String>,
    sessions: HashMap<[u8; 32], StoredSession>,
    next_session: i64,
    secrets: HashMap<String, Vec<u8>>,
    /// By id, starting at 1.
    conversations: Vec<Conversation>,
    pairs: HashMap<(UserId, UserId), ConversationId>,
    members: BTreeMap<(ConversationId, UserId), Membership>,
    messages: BTreeMap<MessageId, Stored>,
    client_ids: HashMap<(UserId, String), MessageId>,
    /// Read changes by position: (conversation, reader, read mark).
    reads: BTreeMap<Position, (ConversationId, UserId, MessageId)>,
    /// The change log's clock: the last position handed out.
    clock: i64,
}

struct StoredSession {
    id: SessionId,
    user: UserId,
    created_at: Timestamp,
    last_seen_at: Timestamp,
}

struct Conversation {
    members: Vec<UserId>,
}

#[derive(Clone, Copy)]
struct Membership {
    last_read: MessageId,
    last_message: MessageId,
    has_spoken: bool,
}

impl Default for Membership {
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
    fn user(&self, id: UserId) -> Option<&StoredUser> {
        usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.users.get(i))
    }

    fn conversation(&self, id: ConversationId) -> Option<&Conversation> {
        usize::try_from(id.get() - 1)
            .ok()
            .and_then(|i| self.conversations.get(i))
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
    fn conversations_of(&self, user: UserId) -> impl Iterator<Item = (ConversationId, Membership)> {
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
            .any(|u| u.account.email().canonical() == email)
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
            password_hash: user.password_hash,
        });
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

    async fn look_alike_exists(&self, username: &Username) -> Result<bool> {
        let skeleton = username.skeleton();
        Ok(lock(self).skeletons.contains(&skeleton))
    }

    async fn email_exists(&self, email: &Email) -> Result<bool> {
        let email = email.canonical();
        Ok(lock(self)
            .users
            .iter()
            .any(|u| u.account.email().canonical() == email))
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
        });
        let id = ConversationId::new(
            i64::try_from(state.conversations.len()).map_err(ChatError::internal)?,
        );
        state.pairs.insert(pair, id);
        for user in [pair.0, pair.1] {
            state.members.insert((id, user), Membership::default());
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
        let mut mine: Vec<(ConversationId, Membership)> = state
            .conversations_of(user)
            .filter(|(_, m)| m.last_message > MessageId::ZERO && m.last_message < before)
            .collect();
        mine.sort_by_key(|(_, m)| std::cmp::Reverse(m.last_message));
        mine.truncate(query.limit.overfetch() as usize);
        let summaries = mine
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
                let unread = state
                    .messages
                    .range(MessageId::new(membership.last_read.get() + 1)..)
                    .filter(|(_, s)| {
                        s.message.conversation() == conversation && s.message.sender().id() != user
                    })
                    .count();
                Ok(ConversationSummary {
                    conversation,
                    peer: state
                        .user(peer)
                        .ok_or_else(|| ChatError::internal("a peer that does not exist"))?
                        .account
                        .user()
                        .clone(),
                    last_message: state
                        .messages
                        .get(&membership.last_message)
                        .map(|s| s.message.clone()),
                    unread: u64::try_from(unread).unwrap_or(u64::MAX),
                    peer_read_up_to: peer_membership.last_read,
                    mutual: membership.has_spoken && peer_membership.has_spoken,
                    online: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
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
}

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        let mut state = lock(self);
        // Check everything first: a batch is written whole or not at all.
        for new in batch {
            let known_sender = state.user(new.sender.id()).is_some();
            let member = state
                .members
                .contains_key(&(new.conversation, new.sender.id()));
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
        let plan = AppendPlan::new(batch, existing);
        let count = i64::try_from(plan.fresh().len()).map_err(ChatError::internal)?;
        let last = state.take_positions(count);
        let ids: Vec<MessageId> = (last - count + 1..=last).map(MessageId::new).collect();
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
        Ok(written.into_results())
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        let state = lock(self);
        let after = query.after.unwrap_or(MessageId::ZERO);
        let before = query.before.unwrap_or(MessageId::new(i64::MAX));
        if after >= before {
            return Ok(Page::from_overfetch(Vec::new(), query.limit));
        }
        let matching = state
            .messages
            .range(MessageId::new(after.get().saturating_add(1))..before)
            .map(|(_, stored)| stored)
            .filter(|s| s.message.conversation() == conversation)
            .filter(|s| {
                query
                    .search
                    .as_ref()
                    .is_none_or(|term| s.folded.contains(term.folded()))
            })
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
        Ok(page)
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        up_to: MessageId,
    ) -> Result<ReadMark> {
        let mut state = lock(self);
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
        let take = limit.overfetch() as usize;
        let messages = state
            .messages
            .range(MessageId::new(after.get().saturating_add(1))..)
            .filter(|(_, s)| mine.contains(&s.message.conversation()))
            .take(take)
            .map(|(_, s)| Ok(Change::Message(s.message.clone())));
        let reads = state
            .reads
            .range(Position::new(after.get().saturating_add(1))..)
            .filter(|(_, (c, reader, _))| {
                mine.contains(c) && (*reader == user || state.is_mutual(*c))
            })
            .take(take)
            .map(|(position, (conversation, reader, up_to))| {
                let found = state
                    .conversation(*conversation)
                    .ok_or_else(|| ChatError::internal("a change of no conversation"))?;
                let with = found
                    .members
                    .iter()
                    .copied()
                    .find(|m| m != reader)
                    .and_then(|m| state.user(m))
                    .ok_or_else(|| ChatError::internal("a conversation without a peer"))?;
                let by = state
                    .user(*reader)
                    .ok_or_else(|| ChatError::internal("a reader that does not exist"))?;
                Ok(Change::Read {
                    position: *position,
                    conversation: *conversation,
                    by: by.account.user().clone(),
                    with: with.account.user().clone(),
                    up_to: *up_to,
                })
            });
        let mut changes = messages.chain(reads).collect::<Result<Vec<Change>>>()?;
        changes.sort_by_key(Change::position);
        Ok(Page::from_overfetch(changes, limit))
    }

    async fn head(&self) -> Result<Position> {
        Ok(Position::new(lock(self).clock))
    }

    async fn last_message_id(&self, user: UserId) -> Result<MessageId> {
        Ok(lock(self)
            .conversations_of(user)
            .map(|(_, m)| m.last_message)
            .max()
            .unwrap_or(MessageId::ZERO))
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
