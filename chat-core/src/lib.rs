//! # chat-core
//!
//! The storage- and transport-agnostic heart of an embeddable real-time chat:
//! accounts, sessions, direct messages with search, conversations with
//! unread counts, read marks, typing notices and live events.
//!
//! - [`domain`] holds types that can only be built valid ([`Username`],
//!   [`MessageText`], [`Password`], …).
//! - [`Chat`] is the service: every use case, with validation,
//!   authorization and rate limits.
//! - [`ports`] are the traits a backend implements: a [`Store`], a
//!   [`Bus`], a [`PasswordHasher`], a [`RateLimiter`] and a [`Clock`].
//! - [`LocalBus`], [`LocalPresence`], [`Argon2Hasher`] and
//!   [`GovernorLimiter`] are the in-process defaults; [`MemoryStore`] is a
//!   complete store in memory.
//! - With the `testkit` feature, [`testkit`] holds the conformance suites
//!   every store and bus backend must pass.
//!
//! This crate knows nothing of SQL, Redis, HTTP or JSON.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn chat_core::Store>) -> chat_core::Result<()> {
//! use chat_core::{Chat, SignupForm};
//!
//! let chat = Chat::builder(store).build();
//! chat.signup(SignupForm {
//!     email: "alice@example.com".into(),
//!     username: "alice".into(),
//!     password: "a long passphrase".into(),
//!     confirm_password: "a long passphrase".into(),
//! }, "127.0.0.1")
//! .await?;
//! // The client's address (limits count per address and network); a
//! // `chat_core::Client` also carries the device token of an earlier login.
//! let login = chat.login("alice", "a long passphrase".into(), "127.0.0.1").await?;
//! # Ok(()) }
//! ```

pub mod backend;
pub mod domain;
pub mod ports;

#[cfg(feature = "password-accounts")]
mod argon2_hasher;
mod chat;
mod common_passwords;
mod device;
mod error;
mod event;
mod fanout;
mod governor_limiter;
mod group_commit;
mod local_bus;
mod local_presence;
mod memory_store;
mod session;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

#[cfg(feature = "password-accounts")]
pub use argon2_hasher::Argon2Hasher;
pub use chat::{
    Chat, ChatBuilder, ChatConfig, Draft, FeedPage, GROUP_TYPING_LIMIT, GroupForm, GroupView, Item,
    Live, Login, MAX_REACTIONS, MemberView, PolicyFailure, PolicyObserver, PolicyOutcome, Resume,
    Sending, Sent, SignupForm, Subscription, UserRef,
};
pub use device::DeviceToken;
pub use domain::{
    Account, ApiKey, ApiKeySecret, ApiScope, ApiScopes, AuditAction, AuditEntry, Block, Change,
    Client, ClientAddress, ClientMessageId, ConversationId, ConversationSummary, Cursor,
    DisplayName, Email, Emoji, Everyone, ExternalId, Group, GroupBan, GroupEvent, GroupMember,
    GroupSettings, GroupTitle, HistoryVisibility, Invitation, JoinPolicy, Member, Membership,
    MentionWords, Mentioned, Mentions, Message, MessageId, MessageText, Mute, NewAuditEntry,
    NewEvent, NewMessage, NewReport, Password, PasswordHash, Position, Quote, Reaction, Reason,
    Reply, Report, ReportTarget, Resolution, Role, SearchPattern, SessionId, SlowMode, SummaryKind,
    ThreadActivity, ThreadSummary, Timestamp, User, UserId, Username, at_words, fold_for_search,
};
pub use error::{ChatError, Field, Result, Source};
pub use event::{Event, EventKind, ReadCount, SharedEvent};
pub use governor_limiter::{
    DirectLimiter, GovernorClock, GovernorLimiter, KeyedLimiter, Rate, RateLimits,
};
pub use local_bus::LocalBus;
pub use local_presence::LocalPresence;
pub use memory_store::MemoryStore;
pub use ports::{
    Action, AllowAll, Appended, Bus, Clock, ConversationQuery, Delivery, EventStream, GroupChange,
    GroupListing, GroupStore, HistoryQuery, NewGroup, OfflineNotice, OfflineNotifier, Page,
    PageLimit, PasswordHasher, Policy, Presence, Proposal, RateLimiter, ReadMark, Store,
    SystemClock, Topic, Verdict,
};
pub use session::{Session, SessionToken, TokenHash};
