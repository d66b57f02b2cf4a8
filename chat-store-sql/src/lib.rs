//! # chat-store-sql
//!
//! What the SQL stores of [`chat_core`] share: every store port written
//! once over sqlx, for any database that supplies a pool, its error
//! mapping, and the few statements it writes its own way.
//!
//! A store implements [`SqlStore`] (its pools, its [`Statements`], its
//! history query) and stamps the ports with [`sql_store_ports!`]:
//!
//! ```ignore
//! impl chat_store_sql::SqlStore for MyStore { /* … */ }
//! chat_store_sql::sql_store_ports!(MyStore);
//! ```
//!
//! Statements use `$1, $2, …` placeholders, which SQLite reads as well as
//! PostgreSQL; values travel as [`Arg`]s and come back through [`SqlRow`],
//! so the shared code names no database. `chat-store-sqlite` and
//! `chat-store-postgres` are the two users.

mod api_keys;
mod conversations;
mod db;
mod drivers;
mod groups;
mod lender;
mod messages;
mod moderation;
mod revisions;
mod rows;
mod statements;
mod users;

use std::future::Future;

use chat_core::ports::{HistoryQuery, Page};
use chat_core::{ConversationId, Message, Result};

pub use conversations::{CONVERSATIONS, PEERS};
pub use db::{Arg, Commit, Sql, SqlPool, SqlRow, Stmt};
pub use drivers::{connection_trouble, postgres_error, sqlite_error};
pub use groups::{GROUP_CONVERSATIONS, contains_pattern};
pub use lender::{Lender, Lent, LentTx, roll_back};
pub use messages::{
    MessageRow, TAKE_POSITIONS, mention_rows, mentions_json, message_row, thread_read_rows,
};
pub use revisions::{
    FEED_REVISIONS, THREADS_OF, reactions_sql, thread_messages_sql, thread_summaries_sql,
};
pub use rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, history_page, message, user};
pub use statements::Statements;

#[doc(hidden)]
pub mod ports {
    //! The shared implementations [`sql_store_ports!`](crate::sql_store_ports)
    //! calls.
    pub use crate::api_keys::*;
    pub use crate::conversations::*;
    pub use crate::groups::*;
    pub use crate::messages::*;
    pub use crate::moderation::*;
    pub use crate::revisions::{
        mark_thread_read, message_by_client_id, message_by_id, react, reactions, revise_message,
        thread_messages, thread_summaries, threads_of,
    };
    pub use crate::users::*;
    pub use async_trait::async_trait;
    pub use chat_core;
}

/// A store on a SQL database: what the shared code needs of it.
pub trait SqlStore: Send + Sync + 'static {
    /// Its connection pool.
    type Pool: SqlPool;

    /// Where reads go.
    fn reader(&self) -> &Self::Pool;

    /// Where writes go (SQLite: its one writing connection).
    fn writer(&self) -> &Self::Pool;

    /// Where batches of appends go: one connection kept for them (SQLite:
    /// the writer).
    type Appender: SqlPool<Row = <Self::Pool as SqlPool>::Row>;

    /// Where batches of appends go.
    fn appender(&self) -> &Self::Appender;

    /// The statements it writes its own way.
    fn statements(&self) -> &'static Statements;

    /// How many appends one batch holds at most.
    fn max_batch(&self) -> usize;

    /// Appends a batch; see
    /// [`MessageStore::append_batch`](chat_core::ports::MessageStore::append_batch).
    /// By default the shared flow: a transaction
    /// of a few set-based statements, one round trip each. A database that
    /// can run them in fewer round trips writes its own.
    fn append_batch(
        &self,
        batch: &[chat_core::NewMessage],
    ) -> impl Future<Output = Result<Vec<Result<chat_core::ports::Appended>>>> + Send
    where
        Self: Sized,
    {
        messages::append_batch(self, batch)
    }

    /// A page of one conversation's messages (each database searches its
    /// own way); see [`MessageStore::list_messages`](chat_core::ports::MessageStore::list_messages).
    fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> impl Future<Output = Result<Page<Message>>> + Send;
}

/// Implements every store port of [`chat_core`] for a type that implements
/// [`SqlStore`], with the shared SQL.
#[macro_export]
macro_rules! sql_store_ports {
    ($store:ty) => {
        const _: () = {
            use $crate::ports as shared;
            use $crate::ports::chat_core::ports::{
                ApiKeyStore, Appended, ConversationQuery, ConversationStore, ExternalUser,
                GroupChange, GroupListing, GroupStore, HistoryQuery, MessageStore, ModerationStore,
                NewApiKey, NewGroup, NewUser, Page, PageLimit, ReactionChange, ReadMark, Revision,
                SessionRecord, SessionStore, StoredUser, UserStore,
            };
            use $crate::ports::chat_core::{
                Account, ApiKey, AuditEntry, Block, Change, ClientMessageId, ConversationId,
                ConversationSummary, Email, ExternalId, Group, Invitation, Member, Membership,
                Message, MessageId, Mute, NewAuditEntry, NewMessage, NewReport, Position, Reaction,
                Report, Resolution, Result, SessionId, ThreadActivity, ThreadSummary, Timestamp,
                TokenHash, User, UserId, Username,
            };

            #[shared::async_trait]
            impl ModerationStore for $store {
                async fn set_admin(&self, user: UserId, admin: bool) -> Result<bool> {
                    shared::set_admin(self, user, admin).await
                }
                async fn admins(&self) -> Result<Vec<User>> {
                    shared::admins(self).await
                }
                async fn set_disabled(&self, user: UserId, at: Option<Timestamp>) -> Result<bool> {
                    shared::set_disabled(self, user, at).await
                }
                async fn record(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
                    shared::record(self, entry).await
                }
                async fn audit_log(
                    &self,
                    before: Option<i64>,
                    limit: PageLimit,
                ) -> Result<Page<AuditEntry>> {
                    shared::audit_log(self, before, limit).await
                }
                async fn file_report(&self, report: NewReport) -> Result<Report> {
                    shared::file_report(self, report).await
                }
                async fn reports(
                    &self,
                    open: bool,
                    before: Option<i64>,
                    limit: PageLimit,
                ) -> Result<Page<Report>> {
                    shared::reports(self, open, before, limit).await
                }
                async fn resolve_report(
                    &self,
                    id: i64,
                    resolution: Resolution,
                ) -> Result<Option<Report>> {
                    shared::resolve_report(self, id, resolution).await
                }
            }

            #[shared::async_trait]
            impl ApiKeyStore for $store {
                async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKey> {
                    shared::insert_api_key(self, key).await
                }
                async fn find_api_key(&self, hash: &TokenHash) -> Result<Option<ApiKey>> {
                    shared::find_api_key(self, hash).await
                }
                async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
                    shared::list_api_keys(self).await
                }
                async fn revoke_api_key(&self, id: i64, at: Timestamp) -> Result<bool> {
                    shared::revoke_api_key(self, id, at).await
                }
            }

            #[shared::async_trait]
            impl UserStore for $store {
                async fn ping(&self) -> Result<()> {
                    shared::ping(self).await
                }
                async fn insert_user(&self, user: NewUser) -> Result<Account> {
                    shared::insert_user(self, user).await
                }
                async fn upsert_external_user(&self, user: ExternalUser) -> Result<Account> {
                    shared::upsert_external_user(self, user).await
                }
                async fn find_user_by_username(
                    &self,
                    username: &Username,
                ) -> Result<Option<StoredUser>> {
                    shared::find_user_by_username(self, username).await
                }
                async fn find_account(&self, id: UserId) -> Result<Option<Account>> {
                    shared::find_account(self, id).await
                }
                async fn find_user_by_external_id(
                    &self,
                    id: &ExternalId,
                ) -> Result<Option<Account>> {
                    shared::find_user_by_external_id(self, id).await
                }
                async fn look_alike_exists(&self, username: &Username) -> Result<bool> {
                    shared::look_alike_exists(self, username).await
                }
                async fn email_exists(&self, email: &Email) -> Result<bool> {
                    shared::email_exists(self, email).await
                }
                async fn shared_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
                    shared::shared_secret(self, name, candidate).await
                }
                async fn list_users(
                    &self,
                    prefix: &str,
                    except: UserId,
                    limit: PageLimit,
                ) -> Result<Vec<User>> {
                    shared::list_users(self, prefix, except, limit).await
                }
            }

            #[shared::async_trait]
            impl SessionStore for $store {
                async fn insert_session(
                    &self,
                    token: &TokenHash,
                    user: UserId,
                    at: Timestamp,
                ) -> Result<SessionId> {
                    shared::insert_session(self, token, user, at).await
                }
                async fn find_session(&self, token: &TokenHash) -> Result<Option<SessionRecord>> {
                    shared::find_session(self, token).await
                }
                async fn touch_session(&self, id: SessionId, at: Timestamp) -> Result<()> {
                    shared::touch_session(self, id, at).await
                }
                async fn delete_session(&self, id: SessionId) -> Result<()> {
                    shared::delete_session(self, id).await
                }
                async fn delete_expired_sessions(
                    &self,
                    idle_before: Timestamp,
                    created_before: Timestamp,
                ) -> Result<u64> {
                    shared::delete_expired_sessions(self, idle_before, created_before).await
                }
            }

            #[shared::async_trait]
            impl ConversationStore for $store {
                async fn direct_conversation(
                    &self,
                    a: UserId,
                    b: UserId,
                    at: Timestamp,
                ) -> Result<ConversationId> {
                    shared::direct_conversation(self, a, b, at).await
                }
                async fn find_direct_conversation(
                    &self,
                    a: UserId,
                    b: UserId,
                ) -> Result<Option<ConversationId>> {
                    shared::find_direct_conversation(self, a, b).await
                }
                async fn members(&self, conversation: ConversationId) -> Result<Vec<Member>> {
                    shared::members(self, conversation).await
                }
                async fn list_conversations(
                    &self,
                    user: UserId,
                    query: &ConversationQuery,
                ) -> Result<Page<ConversationSummary>> {
                    shared::list_conversations(self, user, query).await
                }
                async fn conversation_peers(&self, user: UserId) -> Result<Vec<UserId>> {
                    shared::conversation_peers(self, user).await
                }
                async fn set_mute(&self, user: UserId, mute: Mute) -> Result<()> {
                    shared::set_mute(self, user, mute).await
                }
                async fn clear_mute(
                    &self,
                    user: UserId,
                    conversation: ConversationId,
                ) -> Result<bool> {
                    shared::clear_mute(self, user, conversation).await
                }
                async fn mutes(&self, user: UserId) -> Result<Vec<Mute>> {
                    shared::mutes(self, user).await
                }
                async fn set_block(
                    &self,
                    blocker: UserId,
                    blocked: UserId,
                    at: Timestamp,
                ) -> Result<bool> {
                    shared::set_block(self, blocker, blocked, at).await
                }
                async fn clear_block(&self, blocker: UserId, blocked: UserId) -> Result<bool> {
                    shared::clear_block(self, blocker, blocked).await
                }
                async fn blocks(&self, blocker: UserId) -> Result<Vec<Block>> {
                    shared::blocks(self, blocker).await
                }
                async fn blocked_between(&self, a: UserId, b: UserId) -> Result<(bool, bool)> {
                    shared::blocked_between(self, a, b).await
                }
            }

            #[shared::async_trait]
            impl MessageStore for $store {
                async fn append_batch(
                    &self,
                    batch: &[NewMessage],
                ) -> Result<Vec<Result<Appended>>> {
                    <$store as $crate::SqlStore>::append_batch(self, batch).await
                }
                fn max_batch(&self) -> usize {
                    <$store as $crate::SqlStore>::max_batch(self)
                }
                async fn list_messages(
                    &self,
                    conversation: ConversationId,
                    query: &HistoryQuery,
                ) -> Result<Page<Message>> {
                    <$store as $crate::SqlStore>::list_messages(self, conversation, query).await
                }
                async fn mark_read(
                    &self,
                    conversation: ConversationId,
                    user: UserId,
                    up_to: MessageId,
                ) -> Result<ReadMark> {
                    shared::mark_read(self, conversation, user, up_to).await
                }
                async fn changes_since(
                    &self,
                    user: UserId,
                    after: Position,
                    limit: PageLimit,
                ) -> Result<Page<Change>> {
                    shared::changes_since(self, user, after, limit).await
                }
                async fn feed_since(
                    &self,
                    after: Position,
                    limit: PageLimit,
                ) -> Result<Page<Change>> {
                    shared::feed_since(self, after, limit).await
                }
                async fn head(&self) -> Result<Position> {
                    shared::head(self).await
                }
                async fn last_message_id(&self, user: UserId) -> Result<MessageId> {
                    shared::last_message_id(self, user).await
                }
                async fn message(&self, id: MessageId) -> Result<Option<Message>> {
                    shared::message_by_id(self, id).await
                }
                async fn message_by_client_id(
                    &self,
                    sender: UserId,
                    client_id: &ClientMessageId,
                ) -> Result<Option<Message>> {
                    shared::message_by_client_id(self, sender, client_id).await
                }
                async fn revise_message(
                    &self,
                    revision: &Revision,
                ) -> Result<Option<(Position, Message)>> {
                    shared::revise_message(self, revision).await
                }
                async fn react(&self, change: &ReactionChange) -> Result<Option<Position>> {
                    shared::react(self, change).await
                }
                async fn reactions(
                    &self,
                    reader: Option<UserId>,
                    messages: &[MessageId],
                ) -> Result<Vec<(MessageId, Vec<Reaction>)>> {
                    shared::reactions(self, reader, messages).await
                }
                async fn thread_summaries(
                    &self,
                    roots: &[MessageId],
                ) -> Result<Vec<(MessageId, ThreadSummary)>> {
                    shared::thread_summaries(self, roots).await
                }
                async fn thread_messages(
                    &self,
                    root: MessageId,
                    query: &HistoryQuery,
                ) -> Result<Page<Message>> {
                    shared::thread_messages(self, root, query).await
                }
                async fn mark_thread_read(
                    &self,
                    user: UserId,
                    root: MessageId,
                    up_to: MessageId,
                ) -> Result<MessageId> {
                    shared::mark_thread_read(self, user, root, up_to).await
                }
                async fn threads_of(
                    &self,
                    user: UserId,
                    limit: PageLimit,
                ) -> Result<Vec<ThreadActivity>> {
                    shared::threads_of(self, user, limit).await
                }
            }

            #[shared::async_trait]
            impl GroupStore for $store {
                async fn create_group(
                    &self,
                    group: NewGroup,
                ) -> Result<(ConversationId, Vec<Message>)> {
                    shared::create_group(self, group).await
                }
                async fn group(&self, id: ConversationId) -> Result<Option<Group>> {
                    shared::group(self, id).await
                }
                async fn change_group(&self, change: GroupChange) -> Result<Vec<Message>> {
                    shared::change_group(self, change).await
                }
                async fn membership(
                    &self,
                    conversation: ConversationId,
                    user: UserId,
                ) -> Result<Option<Membership>> {
                    shared::membership(self, conversation, user).await
                }
                async fn invitations(&self, user: UserId) -> Result<Vec<Invitation>> {
                    shared::invitations(self, user).await
                }
                async fn groups_of(&self, user: UserId) -> Result<Vec<ConversationId>> {
                    shared::groups_of(self, user).await
                }
                async fn discoverable_groups(
                    &self,
                    term: &str,
                    limit: PageLimit,
                ) -> Result<Vec<GroupListing>> {
                    shared::discoverable_groups(self, term, limit).await
                }
            }
        };
    };
}
