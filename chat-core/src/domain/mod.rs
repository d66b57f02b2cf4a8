//! Domain types: each can only be built valid.

mod api_key;
mod block;
mod client;
mod client_id;
mod cursor;
mod email;
mod external;
mod group;
mod ids;
mod line;
mod mention;
mod message;
mod message_text;
mod moderation;
mod mute;
mod password;
mod reaction;
mod search;
mod timestamp;
mod user;
mod username;

pub use api_key::{ApiKey, ApiKeySecret, ApiScope, ApiScopes};
pub use block::Block;
pub use client::{Client, ClientAddress};
pub use client_id::ClientMessageId;
pub use cursor::Cursor;
pub use email::Email;
pub use external::{DisplayName, ExternalId};
pub use group::{
    Group, GroupBan, GroupEvent, GroupMember, GroupSettings, GroupTitle, HistoryVisibility,
    Invitation, JoinPolicy, Membership, Role, SlowMode,
};
pub use ids::{ConversationId, MessageId, Position, SessionId, UserId};
pub use mention::{Everyone, MentionWords, Mentioned, Mentions, at_words};
pub use message::{
    Change, ConversationSummary, Member, Message, NewEvent, NewMessage, Quote, Reply, SummaryKind,
    ThreadActivity, ThreadSummary,
};
pub use message_text::MessageText;
pub use moderation::{
    AuditAction, AuditEntry, NewAuditEntry, NewReport, Reason, Report, ReportTarget, Resolution,
};
pub use mute::Mute;
pub use password::{Password, PasswordHash};
pub use reaction::{Emoji, Reaction};
pub use search::{SearchPattern, fold_for_search};
pub use timestamp::Timestamp;
pub use user::{Account, User};
pub use username::Username;
pub(crate) use username::is_username_char;
