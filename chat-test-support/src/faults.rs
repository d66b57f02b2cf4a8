//! A real store behind a switchboard: chosen calls fail as unavailable, or
//! wait until the test lets them go. Everything else reaches the store
//! underneath unchanged.
//!
//! This is how a test makes a dependency fail at an exact step (while a
//! WebSocket replays, say) or holds a step open while it does something
//! else (fills a queue), without sleeping and hoping.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chat_core::ports::{
    ApiKeyStore, ConversationStore, ExternalUser, MessageStore, ModerationStore, NewApiKey,
    NewUser, ReadMark, SessionRecord, SessionStore, StoredUser, UserStore,
};
use chat_core::{
    Account, ApiKey, Appended, AuditEntry, Change, ChatError, ConversationId, ConversationQuery,
    ConversationSummary, Email, Group, GroupChange, GroupListing, GroupStore, HistoryQuery,
    Invitation, Member, Membership, Message, MessageId, NewAuditEntry, NewGroup, NewMessage,
    NewReport, Page, PageLimit, Position, Report, Resolution, Result, SessionId, Store, Timestamp,
    TokenHash, User, UserId, Username,
};
use tokio::sync::{Semaphore, watch};

use crate::WAIT;

/// A store call a test can fail or hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Call {
    Ping,
    InsertUser,
    FindApiKey,
    FeedSince,
    UpsertExternalUser,
    FindUserByUsername,
    FindAccount,
    FindUserByExternalId,
    EmailExists,
    LookAlikeExists,
    SharedSecret,
    ListUsers,
    InsertSession,
    FindSession,
    TouchSession,
    DeleteSession,
    DeleteExpiredSessions,
    AppendBatch,
    DirectConversation,
    FindDirectConversation,
    Members,
    ListMessages,
    ListConversations,
    ConversationPeers,
    MarkRead,
    ChangesSince,
    Head,
    LastMessageId,
    Message,
    MessageByClientId,
    ReviseMessage,
    React,
    Reactions,
    BlockedBetween,
    CreateGroup,
    Group,
    ChangeGroup,
    Membership,
    Invitations,
    GroupsOf,
    DiscoverableGroups,
}

/// The switchboard; clones share it.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
    /// Counts calls that arrived at a hold, to wait on.
    arrivals: Arc<watch::Sender<HashMap<Call, usize>>>,
}

#[derive(Default)]
struct State {
    failing: HashSet<Call>,
    held: HashMap<Call, Arc<Semaphore>>,
    /// Sessions whose look-ups are held, by token hash.
    held_sessions: HashMap<[u8; 32], Arc<Semaphore>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            state: Arc::default(),
            arrivals: Arc::new(watch::Sender::new(HashMap::new())),
        }
    }
}

impl Faults {
    /// From now on, `call` fails with `ChatError::Unavailable`.
    pub fn fail(&self, call: Call) {
        self.state.lock().unwrap().failing.insert(call);
    }

    /// `call` works again.
    pub fn heal(&self, call: Call) {
        self.state.lock().unwrap().failing.remove(&call);
    }

    /// From now on, `call` waits until [`Faults::release`].
    pub fn hold(&self, call: Call) {
        self.state
            .lock()
            .unwrap()
            .held
            .entry(call)
            .or_insert_with(|| Arc::new(Semaphore::new(0)));
    }

    /// Lets one held (or the next) `call` go; the hold stays for the rest.
    pub fn pass(&self, call: Call) {
        if let Some(gate) = self.state.lock().unwrap().held.get(&call) {
            gate.add_permits(1);
        }
    }

    /// Lets every held `call` go, and holds it no more.
    pub fn release(&self, call: Call) {
        if let Some(gate) = self.state.lock().unwrap().held.remove(&call) {
            gate.close();
        }
    }

    /// From now on, looking up the session of bearer token `token` waits
    /// until [`Faults::release_session`] (other sessions pass): the way to
    /// hold one WebSocket at its next session re-check while its user's
    /// events pile up.
    pub fn hold_session(&self, token: &str) {
        let hash = session_key(token);
        self.state
            .lock()
            .unwrap()
            .held_sessions
            .entry(hash)
            .or_insert_with(|| Arc::new(Semaphore::new(0)));
    }

    /// Lets one held (or the next) look-up of `token`'s session go; the
    /// hold stays for the rest.
    pub fn pass_session(&self, token: &str) {
        let hash = session_key(token);
        if let Some(gate) = self.state.lock().unwrap().held_sessions.get(&hash) {
            gate.add_permits(1);
        }
    }

    /// Lets the held look-ups of `token`'s session go.
    pub fn release_session(&self, token: &str) {
        let hash = session_key(token);
        if let Some(gate) = self.state.lock().unwrap().held_sessions.remove(&hash) {
            gate.close();
        }
    }

    /// Waits, bounded, until `count` calls have arrived at the hold on
    /// `call` since the test started.
    pub async fn reached(&self, call: Call, count: usize) {
        let mut arrivals = self.arrivals.subscribe();
        tokio::time::timeout(
            WAIT,
            arrivals.wait_for(|seen| seen.get(&call).copied().unwrap_or(0) >= count),
        )
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {count} held {call:?} calls"))
        .unwrap();
    }

    async fn checkpoint_session(&self, token: &TokenHash) -> Result<()> {
        self.checkpoint(Call::FindSession).await?;
        let gate = self
            .state
            .lock()
            .unwrap()
            .held_sessions
            .get(token.as_bytes())
            .cloned();
        if let Some(gate) = gate {
            self.arrivals
                .send_modify(|seen| *seen.entry(Call::FindSession).or_default() += 1);
            wait_at(&gate).await;
        }
        Ok(())
    }

    async fn checkpoint(&self, call: Call) -> Result<()> {
        let gate = {
            let state = self.state.lock().unwrap();
            if state.failing.contains(&call) {
                return Err(ChatError::unavailable(format!(
                    "{call:?} failed on purpose"
                )));
            }
            state.held.get(&call).cloned()
        };
        if let Some(gate) = gate {
            self.arrivals
                .send_modify(|seen| *seen.entry(call).or_default() += 1);
            wait_at(&gate).await;
        }
        Ok(())
    }
}

/// Waits until the gate passes one call (a permit, used up) or opens for
/// good (closed).
async fn wait_at(gate: &Semaphore) {
    if let Ok(permit) = gate.acquire().await {
        permit.forget();
    }
}

fn session_key(token: &str) -> [u8; 32] {
    *chat_core::SessionToken::parse(token)
        .expect("a bearer token")
        .hash()
        .as_bytes()
}

/// A store whose calls pass the [`Faults`] switchboard first.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    faults: Faults,
}

impl FaultyStore {
    /// `inner` behind `faults`.
    pub fn new(inner: Arc<dyn Store>, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl ModerationStore for FaultyStore {
    async fn set_admin(&self, user: UserId, admin: bool) -> Result<bool> {
        self.inner.set_admin(user, admin).await
    }

    async fn admins(&self) -> Result<Vec<User>> {
        self.inner.admins().await
    }

    async fn set_disabled(&self, user: UserId, at: Option<Timestamp>) -> Result<bool> {
        self.inner.set_disabled(user, at).await
    }

    async fn record(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
        self.inner.record(entry).await
    }

    async fn audit_log(&self, before: Option<i64>, limit: PageLimit) -> Result<Page<AuditEntry>> {
        self.inner.audit_log(before, limit).await
    }

    async fn file_report(&self, report: NewReport) -> Result<Report> {
        self.inner.file_report(report).await
    }

    async fn reports(
        &self,
        open: bool,
        before: Option<i64>,
        limit: PageLimit,
    ) -> Result<Page<Report>> {
        self.inner.reports(open, before, limit).await
    }

    async fn resolve_report(&self, id: i64, resolution: Resolution) -> Result<Option<Report>> {
        self.inner.resolve_report(id, resolution).await
    }
}

#[async_trait]
impl ApiKeyStore for FaultyStore {
    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
        self.inner.insert_api_key(key).await
    }

    async fn find_api_key(&self, hash: &TokenHash) -> Result<Option<ApiKey>> {
        self.faults.checkpoint(Call::FindApiKey).await?;
        self.inner.find_api_key(hash).await
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        self.inner.list_api_keys().await
    }

    async fn revoke_api_key(&self, id: i64, at: Timestamp) -> Result<bool> {
        self.inner.revoke_api_key(id, at).await
    }
}

#[async_trait]
impl UserStore for FaultyStore {
    async fn ping(&self) -> Result<()> {
        self.faults.checkpoint(Call::Ping).await?;
        self.inner.ping().await
    }

    async fn insert_user(&self, user: NewUser) -> Result<Account> {
        self.faults.checkpoint(Call::InsertUser).await?;
        self.inner.insert_user(user).await
    }

    async fn upsert_external_user(&self, user: ExternalUser) -> Result<Account> {
        self.faults.checkpoint(Call::UpsertExternalUser).await?;
        self.inner.upsert_external_user(user).await
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<Option<StoredUser>> {
        self.faults.checkpoint(Call::FindUserByUsername).await?;
        self.inner.find_user_by_username(username).await
    }

    async fn look_alike_exists(&self, username: &Username) -> Result<bool> {
        self.faults.checkpoint(Call::LookAlikeExists).await?;
        self.inner.look_alike_exists(username).await
    }

    async fn email_exists(&self, email: &Email) -> Result<bool> {
        self.faults.checkpoint(Call::EmailExists).await?;
        self.inner.email_exists(email).await
    }

    async fn shared_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        self.faults.checkpoint(Call::SharedSecret).await?;
        self.inner.shared_secret(name, candidate).await
    }

    async fn find_account(&self, id: UserId) -> Result<Option<Account>> {
        self.faults.checkpoint(Call::FindAccount).await?;
        self.inner.find_account(id).await
    }

    async fn find_user_by_external_id(
        &self,
        id: &chat_core::ExternalId,
    ) -> Result<Option<Account>> {
        self.faults.checkpoint(Call::FindUserByExternalId).await?;
        self.inner.find_user_by_external_id(id).await
    }

    async fn list_users(
        &self,
        prefix: &str,
        except: UserId,
        limit: PageLimit,
    ) -> Result<Vec<User>> {
        self.faults.checkpoint(Call::ListUsers).await?;
        self.inner.list_users(prefix, except, limit).await
    }
}

#[async_trait]
impl SessionStore for FaultyStore {
    async fn insert_session(
        &self,
        token: &TokenHash,
        user: UserId,
        at: Timestamp,
    ) -> Result<SessionId> {
        self.faults.checkpoint(Call::InsertSession).await?;
        self.inner.insert_session(token, user, at).await
    }

    async fn find_session(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
        self.faults.checkpoint_session(token).await?;
        self.inner.find_session(token).await
    }

    async fn touch_session(&self, id: SessionId, at: Timestamp) -> Result<()> {
        self.faults.checkpoint(Call::TouchSession).await?;
        self.inner.touch_session(id, at).await
    }

    async fn delete_session(&self, id: SessionId) -> Result<()> {
        self.faults.checkpoint(Call::DeleteSession).await?;
        self.inner.delete_session(id).await
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: Timestamp,
        created_before: Timestamp,
    ) -> Result<u64> {
        self.faults.checkpoint(Call::DeleteExpiredSessions).await?;
        self.inner
            .delete_expired_sessions(idle_before, created_before)
            .await
    }
}

#[async_trait]
impl ConversationStore for FaultyStore {
    async fn direct_conversation(
        &self,
        a: UserId,
        b: UserId,
        at: Timestamp,
    ) -> Result<ConversationId> {
        self.faults.checkpoint(Call::DirectConversation).await?;
        self.inner.direct_conversation(a, b, at).await
    }

    async fn find_direct_conversation(
        &self,
        a: UserId,
        b: UserId,
    ) -> Result<Option<ConversationId>> {
        self.faults.checkpoint(Call::FindDirectConversation).await?;
        self.inner.find_direct_conversation(a, b).await
    }

    async fn members(&self, conversation: ConversationId) -> Result<Vec<Member>> {
        self.faults.checkpoint(Call::Members).await?;
        self.inner.members(conversation).await
    }

    async fn list_conversations(
        &self,
        user: UserId,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>> {
        self.faults.checkpoint(Call::ListConversations).await?;
        self.inner.list_conversations(user, query).await
    }

    async fn conversation_peers(&self, user: UserId) -> Result<Vec<UserId>> {
        self.faults.checkpoint(Call::ConversationPeers).await?;
        self.inner.conversation_peers(user).await
    }

    async fn set_mute(&self, user: UserId, mute: chat_core::Mute) -> Result<()> {
        self.inner.set_mute(user, mute).await
    }

    async fn clear_mute(&self, user: UserId, conversation: ConversationId) -> Result<bool> {
        self.inner.clear_mute(user, conversation).await
    }

    async fn mutes(&self, user: UserId) -> Result<Vec<chat_core::Mute>> {
        self.inner.mutes(user).await
    }

    async fn set_block(
        &self,
        blocker: UserId,
        blocked: UserId,
        at: chat_core::Timestamp,
    ) -> Result<bool> {
        self.inner.set_block(blocker, blocked, at).await
    }

    async fn clear_block(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
        self.inner.clear_block(blocker, blocked).await
    }

    async fn blocks(&self, blocker: UserId) -> Result<Vec<chat_core::Block>> {
        self.inner.blocks(blocker).await
    }

    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<(bool, bool)> {
        self.faults.checkpoint(Call::BlockedBetween).await?;
        self.inner.blocked_between(a, b).await
    }
}

#[async_trait]
impl MessageStore for FaultyStore {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        self.faults.checkpoint(Call::AppendBatch).await?;
        self.inner.append_batch(batch).await
    }

    fn max_batch(&self) -> usize {
        self.inner.max_batch()
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        self.faults.checkpoint(Call::ListMessages).await?;
        self.inner.list_messages(conversation, query).await
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        user: UserId,
        up_to: MessageId,
    ) -> Result<ReadMark> {
        self.faults.checkpoint(Call::MarkRead).await?;
        self.inner.mark_read(conversation, user, up_to).await
    }

    async fn changes_since(
        &self,
        user: UserId,
        after: Position,
        limit: PageLimit,
    ) -> Result<Page<Change>> {
        self.faults.checkpoint(Call::ChangesSince).await?;
        self.inner.changes_since(user, after, limit).await
    }

    async fn feed_since(&self, after: Position, limit: PageLimit) -> Result<Page<Change>> {
        self.faults.checkpoint(Call::FeedSince).await?;
        self.inner.feed_since(after, limit).await
    }

    async fn head(&self) -> Result<Position> {
        self.faults.checkpoint(Call::Head).await?;
        self.inner.head().await
    }

    async fn last_message_id(&self, user: UserId) -> Result<MessageId> {
        self.faults.checkpoint(Call::LastMessageId).await?;
        self.inner.last_message_id(user).await
    }

    async fn message(&self, id: MessageId) -> Result<Option<Message>> {
        self.faults.checkpoint(Call::Message).await?;
        self.inner.message(id).await
    }

    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: &chat_core::ClientMessageId,
    ) -> Result<Option<Message>> {
        self.faults.checkpoint(Call::MessageByClientId).await?;
        self.inner.message_by_client_id(sender, client_id).await
    }

    async fn revise_message(
        &self,
        revision: &chat_core::ports::Revision,
    ) -> Result<Option<(Position, Message)>> {
        self.faults.checkpoint(Call::ReviseMessage).await?;
        self.inner.revise_message(revision).await
    }

    async fn react(&self, change: &chat_core::ports::ReactionChange) -> Result<Option<Position>> {
        self.faults.checkpoint(Call::React).await?;
        self.inner.react(change).await
    }

    async fn reactions(
        &self,
        reader: Option<UserId>,
        messages: &[MessageId],
    ) -> Result<Vec<(MessageId, Vec<chat_core::Reaction>)>> {
        self.faults.checkpoint(Call::Reactions).await?;
        self.inner.reactions(reader, messages).await
    }

    async fn thread_summaries(
        &self,
        roots: &[MessageId],
    ) -> Result<Vec<(MessageId, chat_core::ThreadSummary)>> {
        self.inner.thread_summaries(roots).await
    }

    async fn thread_messages(
        &self,
        root: MessageId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        self.inner.thread_messages(root, query).await
    }

    async fn mark_thread_read(
        &self,
        user: UserId,
        root: MessageId,
        up_to: MessageId,
    ) -> Result<MessageId> {
        self.inner.mark_thread_read(user, root, up_to).await
    }

    async fn threads_of(
        &self,
        user: UserId,
        limit: PageLimit,
    ) -> Result<Vec<chat_core::ThreadActivity>> {
        self.inner.threads_of(user, limit).await
    }
}

#[async_trait]
impl GroupStore for FaultyStore {
    async fn create_group(&self, group: NewGroup) -> Result<(ConversationId, Vec<Message>)> {
        self.faults.checkpoint(Call::CreateGroup).await?;
        self.inner.create_group(group).await
    }

    async fn group(&self, id: ConversationId) -> Result<Option<Group>> {
        self.faults.checkpoint(Call::Group).await?;
        self.inner.group(id).await
    }

    async fn change_group(&self, change: GroupChange) -> Result<Vec<Message>> {
        self.faults.checkpoint(Call::ChangeGroup).await?;
        self.inner.change_group(change).await
    }

    async fn membership(
        &self,
        conversation: ConversationId,
        user: UserId,
    ) -> Result<Option<Membership>> {
        self.faults.checkpoint(Call::Membership).await?;
        self.inner.membership(conversation, user).await
    }

    async fn invitations(&self, user: UserId) -> Result<Vec<Invitation>> {
        self.faults.checkpoint(Call::Invitations).await?;
        self.inner.invitations(user).await
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<ConversationId>> {
        self.faults.checkpoint(Call::GroupsOf).await?;
        self.inner.groups_of(user).await
    }

    async fn discoverable_groups(&self, term: &str, limit: PageLimit) -> Result<Vec<GroupListing>> {
        self.faults.checkpoint(Call::DiscoverableGroups).await?;
        self.inner.discoverable_groups(term, limit).await
    }
}
