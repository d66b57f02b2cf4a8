//! The JSON shapes of the API and the WebSocket protocol.
//!
//! Requests default every field to empty, so a missing field reaches the
//! core's validation and comes back naming that field.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use chat_core::{
    Account, ConversationSummary, Cursor, EventKind, GroupEvent, GroupView, Invitation, Message,
    MessageId, SummaryKind, User,
};
use hyper_tungstenite::tungstenite::Utf8Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as others see them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub(crate) struct UserDto<'a> {
    /// The id.
    pub(crate) id: i64,
    /// The username, as typed at signup.
    pub(crate) username: &'a str,
    /// The email, only when the user is the caller (and has one: a user
    /// the host application brings has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<&'a str>,
    /// The display name the host application gave, only when the user is
    /// the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) display_name: Option<&'a str>,
    /// Whether the user is online, where the caller asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) online: Option<bool>,
}

impl<'a> From<&'a User> for UserDto<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id().get(),
            username: user.username().as_str(),
            email: None,
            display_name: None,
            online: None,
        }
    }
}

impl<'a> From<&'a Account> for UserDto<'a> {
    fn from(account: &'a Account) -> Self {
        Self {
            email: account.email().map(|e| e.as_str()),
            display_name: account.display_name().map(|n| n.as_str()),
            ..Self::from(account.user())
        }
    }
}

/// A message.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Message)]
pub(crate) struct MessageDto<'a> {
    /// The id, increasing in commit order.
    pub(crate) id: i64,
    /// The conversation.
    pub(crate) conversation_id: i64,
    /// The sender's username.
    pub(crate) from: &'a str,
    /// The recipient's username (direct conversations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<&'a str>,
    /// The text.
    pub(crate) text: &'a str,
    /// RFC 3339, UTC.
    pub(crate) sent_at: String,
    /// The sender's idempotency key.
    pub(crate) client_id: Option<&'a str>,
    /// For a group's system message, the change it reports (its `text`
    /// describes it too); absent on messages people wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) event: Option<GroupEventDto<'a>>,
    /// In a group's history: how many members other than the sender have
    /// read it (how many, never who).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) read_by: Option<u64>,
    /// For a reply: the message it answers, quoted as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reply_to: Option<QuoteDto<'a>>,
    /// For a reply: the first message of its thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thread_root: Option<i64>,
    /// When its sender last edited it (RFC 3339); absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) edited_at: Option<String>,
    /// When it was deleted (RFC 3339): a tombstone, whose `text` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deleted_at: Option<String>,
    /// Its reactions, one per emoji in the order first used; absent when
    /// none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) reactions: Vec<ReactionDto<'a>>,
    /// The usernames of the members it mentions with `@username`; absent
    /// when none. Only members of the conversation are ever listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) mentions: Vec<&'a str>,
    /// `all` or `here` when a group's admin or owner called everyone
    /// (`@all`: every member; `@here`: those online then); absent
    /// otherwise, and `@all` from anyone else is plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mention_everyone: Option<&'static str>,
    /// On the root of a thread with replies (in reads, not in live
    /// frames): how many and the newest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thread: Option<ThreadDto>,
}

/// A thread's root: its replies.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Thread)]
pub(crate) struct ThreadDto {
    /// How many replies (deleted ones left out).
    pub(crate) replies: u64,
    /// The newest reply's id.
    pub(crate) last_reply_id: i64,
    /// When it was sent (RFC 3339).
    pub(crate) last_reply_at: String,
}

/// `GET /api/messages/{id}/thread`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ThreadBody<'a> {
    /// The thread's root, with its summary.
    pub(crate) root: MessageDto<'a>,
    /// A page of its replies, chronological.
    pub(crate) messages: Vec<MessageDto<'a>>,
    /// Whether more exist in the direction of reading.
    pub(crate) has_more: bool,
}

/// A thread the caller takes part in.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ThreadLine)]
pub(crate) struct ThreadLineDto<'a> {
    /// Its root, with its summary.
    pub(crate) root: MessageDto<'a>,
    /// The caller's read mark in it.
    pub(crate) read_up_to: i64,
    /// Replies from others after the mark.
    pub(crate) unread: u64,
}

/// `GET /api/threads`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ThreadsBody<'a> {
    /// The most recently answered first.
    pub(crate) threads: Vec<ThreadLineDto<'a>>,
}

impl<'a> From<&'a chat_core::Reaction> for ReactionDto<'a> {
    fn from(reaction: &'a chat_core::Reaction) -> Self {
        Self {
            emoji: reaction.emoji.as_str(),
            count: reaction.count,
            me: reaction.me,
        }
    }
}

/// One emoji's reactions to a message.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Reaction)]
pub(crate) struct ReactionDto<'a> {
    /// The emoji.
    pub(crate) emoji: &'a str,
    /// How many reacted with it.
    pub(crate) count: u64,
    /// Whether the reader is one of them; absent in live frames, which
    /// every member's connections share (keep what you knew, and apply the
    /// `reaction` frames of your own user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) me: Option<bool>,
}

/// The message a reply answers, as it is now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Quote)]
pub(crate) struct QuoteDto<'a> {
    /// Its id.
    pub(crate) id: i64,
    /// Its sender's username.
    pub(crate) from: &'a str,
    /// The start of its text (up to 100 characters); `null` once it was
    /// deleted.
    pub(crate) text: Option<&'a str>,
    /// Whether it was deleted.
    pub(crate) deleted: bool,
}

/// A change to a group, as its system message carries it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GroupEvent)]
pub(crate) struct GroupEventDto<'a> {
    /// `created`, `renamed`, `added`, `invited`, `joined`, `declined`,
    /// `left`, `removed`, `role_changed`, `muted`, `unmuted`, `banned`,
    /// `unbanned` or `slow_mode`; the sender
    /// (`from`) made the change.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The user it is about (`added`, `invited`, `removed`,
    /// `role_changed`, `muted`, `unmuted`, `banned`, `unbanned`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<&'a str>,
    /// The title (`created`, `renamed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<&'a str>,
    /// The new role (`role_changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<&'static str>,
    /// Until when (`muted`, `banned`; absent for one with no end), RFC
    /// 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) until: Option<String>,
    /// The period (`slow_mode`): one message per this many seconds;
    /// `null` when it was turned off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slow_mode_seconds: Option<Option<u32>>,
}

impl<'a> From<&'a GroupEvent> for GroupEventDto<'a> {
    fn from(event: &'a GroupEvent) -> Self {
        let until = match event {
            GroupEvent::Muted { until, .. } | GroupEvent::Banned { until, .. } => {
                until.map(|t| t.to_rfc3339())
            }
            _ => None,
        };
        let slow_mode_seconds = match event {
            GroupEvent::SlowModeSet { slow_mode } => Some(slow_mode.map(chat_core::SlowMode::secs)),
            _ => None,
        };
        let (kind, title, role) = match event {
            GroupEvent::Created { title } => ("created", Some(title.as_str()), None),
            GroupEvent::Renamed { title } => ("renamed", Some(title.as_str()), None),
            GroupEvent::Added { .. } => ("added", None, None),
            GroupEvent::Invited { .. } => ("invited", None, None),
            GroupEvent::Joined => ("joined", None, None),
            GroupEvent::Left => ("left", None, None),
            GroupEvent::Removed { .. } => ("removed", None, None),
            GroupEvent::RoleChanged { role, .. } => ("role_changed", None, Some(role.as_str())),
            GroupEvent::Muted { .. } => ("muted", None, None),
            GroupEvent::Unmuted { .. } => ("unmuted", None, None),
            GroupEvent::Declined => ("declined", None, None),
            GroupEvent::Banned { .. } => ("banned", None, None),
            GroupEvent::Unbanned { .. } => ("unbanned", None, None),
            GroupEvent::SlowModeSet { .. } => ("slow_mode", None, None),
        };
        Self {
            kind,
            user: event.subject().map(|u| u.username().as_str()),
            title,
            role,
            until,
            slow_mode_seconds,
        }
    }
}

impl<'a> From<&'a Message> for MessageDto<'a> {
    fn from(message: &'a Message) -> Self {
        Self {
            id: message.id().get(),
            conversation_id: message.conversation().get(),
            from: message.sender().username().as_str(),
            to: message.recipient().map(|r| r.username().as_str()),
            text: message.text().as_str(),
            sent_at: message.sent_at().to_rfc3339(),
            client_id: message.client_id().map(|c| c.as_str()),
            event: message.event().map(GroupEventDto::from),
            read_by: None,
            reply_to: message.reply_to().map(|quote| QuoteDto {
                id: quote.id.get(),
                from: quote.sender.username().as_str(),
                text: quote.excerpt.as_deref(),
                deleted: quote.excerpt.is_none(),
            }),
            thread_root: message.thread_root().map(MessageId::get),
            edited_at: message.edited_at().map(|t| t.to_rfc3339()),
            deleted_at: message.deleted_at().map(|t| t.to_rfc3339()),
            reactions: message.reactions().iter().map(ReactionDto::from).collect(),
            mentions: message
                .mentions()
                .users
                .iter()
                .map(|u| u.username().as_str())
                .collect(),
            mention_everyone: message.mentions().everyone.map(chat_core::Everyone::as_str),
            thread: message.thread().map(|t| ThreadDto {
                replies: t.replies,
                last_reply_id: t.last_reply.get(),
                last_reply_at: t.last_reply_at.to_rfc3339(),
            }),
        }
    }
}

/// One line of the conversation list: a direct conversation or a group.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Conversation)]
pub(crate) struct ConversationDto<'a> {
    /// The conversation's id (what WebSocket frames name).
    pub(crate) id: i64,
    /// `direct` or `group`.
    pub(crate) kind: &'static str,
    /// The other member (direct conversations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<UserDto<'a>>,
    /// The title (groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) title: Option<&'a str>,
    /// How many members (groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) member_count: Option<u64>,
    /// The caller's role (groups; `null` for a former member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<Option<&'static str>>,
    /// The newest message the caller may read.
    pub(crate) last_message: Option<MessageDto<'a>>,
    /// Unread messages from others.
    pub(crate) unread: u64,
    /// How many of the unread messages mention the caller (by name, or
    /// with `@all` or `@here` where that reached them).
    pub(crate) mentions: u64,
    /// The other member has read up to this message id (direct
    /// conversations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) peer_read_up_to: Option<i64>,
}

impl<'a> From<&'a ConversationSummary> for ConversationDto<'a> {
    fn from(summary: &'a ConversationSummary) -> Self {
        let base = Self {
            id: summary.conversation.get(),
            kind: "direct",
            user: None,
            title: None,
            member_count: None,
            role: None,
            last_message: summary.last_message.as_ref().map(MessageDto::from),
            unread: summary.unread,
            mentions: summary.mentions,
            peer_read_up_to: None,
        };
        match &summary.kind {
            SummaryKind::Direct {
                peer,
                peer_read_up_to,
                online,
                ..
            } => Self {
                user: Some(UserDto {
                    online: Some(*online),
                    ..UserDto::from(peer)
                }),
                peer_read_up_to: Some(peer_read_up_to.get()),
                ..base
            },
            SummaryKind::Group {
                title,
                members,
                role,
            } => Self {
                kind: "group",
                title: Some(title.as_str()),
                member_count: Some(*members),
                role: Some(role.map(|r| r.as_str())),
                ..base
            },
        }
    }
}

/// A member of a group.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GroupMember)]
pub(crate) struct MemberDto<'a> {
    /// The username.
    pub(crate) username: &'a str,
    /// `owner`, `admin` or `member`.
    pub(crate) role: &'static str,
    /// Whether they are online now.
    pub(crate) online: bool,
    /// Whether they are muted now (shown to admins and the owner, and to
    /// the member themself).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) muted: bool,
}

/// A group, as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Group)]
pub(crate) struct GroupDto<'a> {
    /// The conversation's id.
    pub(crate) id: i64,
    /// Always `group`.
    pub(crate) kind: &'static str,
    /// The title.
    pub(crate) title: &'a str,
    /// The members, longest-standing first (empty unless the caller is a
    /// member or invited).
    pub(crate) members: Vec<MemberDto<'a>>,
    /// Who is invited and has not answered (shown to members).
    pub(crate) invited: Vec<&'a str>,
    /// The caller's role; `null` if they are not a member.
    pub(crate) role: Option<&'static str>,
    /// `joined` or `shared`: which history a member who joins sees.
    pub(crate) history: &'static str,
    /// `private` or `discoverable`.
    pub(crate) join_policy: &'static str,
    /// Whether only admins and the owner send.
    pub(crate) announcement: bool,
    /// Slow mode: a member sends at most one message per this many
    /// seconds; `null`: off.
    pub(crate) slow_mode_seconds: Option<u32>,
    /// Who is banned now (to admins and the owner only; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) bans: Vec<BanDto<'a>>,
}

/// Someone banned from a group.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Ban)]
pub(crate) struct BanDto<'a> {
    /// Who.
    pub(crate) username: &'a str,
    /// Until when (RFC 3339); `null` until lifted.
    pub(crate) until: Option<String>,
}

impl<'a> From<&'a GroupView> for GroupDto<'a> {
    fn from(group: &'a GroupView) -> Self {
        Self {
            id: group.id.get(),
            kind: "group",
            title: group.title.as_str(),
            members: group
                .members
                .iter()
                .map(|m| MemberDto {
                    username: m.user.username().as_str(),
                    role: m.role.as_str(),
                    online: m.online,
                    muted: m.muted,
                })
                .collect(),
            invited: group
                .invited
                .iter()
                .map(|u| u.username().as_str())
                .collect(),
            role: group.role.map(|r| r.as_str()),
            history: group.settings.history.as_str(),
            join_policy: group.settings.join_policy.as_str(),
            announcement: group.settings.announcement,
            slow_mode_seconds: group.settings.slow_mode.map(chat_core::SlowMode::secs),
            bans: group
                .bans
                .iter()
                .map(|b| BanDto {
                    username: b.user.username().as_str(),
                    until: b.until.map(|t| t.to_rfc3339()),
                })
                .collect(),
        }
    }
}

/// `{"conversation": ...}`: a group made, read or changed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupBody<'a> {
    /// The group.
    pub(crate) conversation: GroupDto<'a>,
}

/// An invitation not answered yet.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Invitation)]
pub(crate) struct InvitationDto<'a> {
    /// The group's id: join it with `POST /api/groups/{id}/join`.
    pub(crate) id: i64,
    /// Its title.
    pub(crate) title: &'a str,
    /// Who invited the caller.
    pub(crate) invited_by: &'a str,
}

impl<'a> From<&'a Invitation> for InvitationDto<'a> {
    fn from(invitation: &'a Invitation) -> Self {
        Self {
            id: invitation.group.get(),
            title: invitation.title.as_str(),
            invited_by: invitation.by.username().as_str(),
        }
    }
}

/// A discoverable group, as the directory lists it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GroupListing)]
pub(crate) struct GroupListingDto<'a> {
    /// The group's id: join it with `POST /api/groups/{id}/join`.
    pub(crate) id: i64,
    /// Its title.
    pub(crate) title: &'a str,
    /// How many members it has.
    pub(crate) member_count: u64,
}

impl<'a> From<&'a chat_core::GroupListing> for GroupListingDto<'a> {
    fn from(listing: &'a chat_core::GroupListing) -> Self {
        Self {
            id: listing.id.get(),
            title: listing.title.as_str(),
            member_count: listing.members,
        }
    }
}

/// `{"groups": [...]}`: the directory.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupsBody<'a> {
    /// The largest first.
    pub(crate) groups: Vec<GroupListingDto<'a>>,
}

/// `{"invitations": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InvitationsBody<'a> {
    /// Newest first.
    pub(crate) invitations: Vec<InvitationDto<'a>>,
}

/// `POST /api/groups`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct CreateGroupRequest {
    /// The title: 1 to 100 characters on one line.
    #[schema(min_length = 1, max_length = 100)]
    pub(crate) title: String,
    /// Usernames to bring in: added at once if they share a direct
    /// conversation with the caller in which both have written, invited
    /// otherwise.
    pub(crate) members: Vec<String>,
    /// `joined` (default) or `shared`.
    pub(crate) history: Option<String>,
    /// `private` (default) or `discoverable`.
    pub(crate) join_policy: Option<String>,
    /// Only admins and the owner send (default false).
    pub(crate) announcement: bool,
}

/// `PUT /api/mutes/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct MuteRequest {
    /// When the mute ends (RFC 3339, in the future); absent: when you
    /// unmute.
    pub(crate) until: Option<String>,
}

/// A conversation the caller muted for themselves.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Mute)]
pub(crate) struct MuteDto {
    /// The conversation (a direct conversation or a group).
    pub(crate) conversation_id: i64,
    /// When the mute ends (RFC 3339); `null`: when unmuted.
    pub(crate) until: Option<String>,
}

impl From<&chat_core::Mute> for MuteDto {
    fn from(mute: &chat_core::Mute) -> Self {
        Self {
            conversation_id: mute.conversation.get(),
            until: mute.until.map(|at| at.to_rfc3339()),
        }
    }
}

/// `{"mute": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MuteBody {
    /// The mute as it is now.
    pub(crate) mute: MuteDto,
}

/// `GET /api/mutes`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MutesBody {
    /// The mutes in force, in conversation order.
    pub(crate) mutes: Vec<MuteDto>,
}

/// `POST /api/admin/users/{username}/disable` (and `enable`): why.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ModerationRequest {
    /// Why, for the audit log: 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

/// An account as administrators see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AccountStanding)]
pub(crate) struct AccountStandingDto<'a> {
    /// Its username.
    pub(crate) username: &'a str,
    /// Whether it is an administrator's.
    pub(crate) admin: bool,
    /// When it was disabled (RFC 3339); `null` while enabled.
    pub(crate) disabled_at: Option<String>,
}

impl<'a> From<&'a chat_core::Account> for AccountStandingDto<'a> {
    fn from(account: &'a chat_core::Account) -> Self {
        Self {
            username: account.user().username().as_str(),
            admin: account.is_admin(),
            disabled_at: account.disabled_at().map(|t| t.to_rfc3339()),
        }
    }
}

/// `{"account": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountStandingBody<'a> {
    /// The account as it is now.
    pub(crate) account: AccountStandingDto<'a>,
}

/// One line of the audit log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEntry)]
pub(crate) struct AuditEntryDto<'a> {
    /// Its id: pass it as `before` for older entries.
    pub(crate) id: i64,
    /// When (RFC 3339).
    pub(crate) at: String,
    /// The administrator who acted; `null` for the operator (the server's
    /// command line).
    pub(crate) actor: Option<&'a str>,
    /// `grant_admin`, `revoke_admin`, `disable_account`, `enable_account`,
    /// `delete_message` or `resolve_report`.
    pub(crate) action: &'static str,
    /// The user it was done to (a deleted message's sender).
    pub(crate) user: Option<&'a str>,
    /// The message it was done to.
    pub(crate) message_id: Option<i64>,
    /// The report it resolved (`resolve_report`).
    pub(crate) report_id: Option<i64>,
    /// Why, as the administrator said.
    pub(crate) reason: Option<&'a str>,
}

impl<'a> From<&'a chat_core::AuditEntry> for AuditEntryDto<'a> {
    fn from(entry: &'a chat_core::AuditEntry) -> Self {
        Self {
            id: entry.id,
            at: entry.at.to_rfc3339(),
            actor: entry.actor.as_ref().map(|u| u.username().as_str()),
            action: entry.action.as_str(),
            user: entry.user.as_ref().map(|u| u.username().as_str()),
            message_id: entry.message.map(MessageId::get),
            report_id: entry.report,
            reason: entry.reason.as_ref().map(chat_core::Reason::as_str),
        }
    }
}

/// `GET /api/admin/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditBody<'a> {
    /// Newest first.
    pub(crate) entries: Vec<AuditEntryDto<'a>>,
    /// Whether older entries exist.
    pub(crate) has_more: bool,
}

/// `POST /api/reports`: a message (`message_id`) or a user (`username`),
/// and why.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ReportRequest {
    /// The message reported (one the caller may read).
    #[serde(default)]
    pub(crate) message_id: Option<i64>,
    /// The user reported.
    #[serde(default)]
    pub(crate) username: Option<String>,
    /// Why: 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub(crate) reason: String,
}

/// `POST /api/admin/reports/{id}/resolve`: what was done.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ResolveRequest {
    /// A note for the record: 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    #[serde(default)]
    pub(crate) resolution: Option<String>,
}

/// A reported message, as it was when reported.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportedMessage)]
pub(crate) struct ReportedMessageDto<'a> {
    /// Its id.
    pub(crate) id: i64,
    /// Its conversation.
    pub(crate) conversation_id: i64,
    /// Its text when reported (up to 1000 characters).
    pub(crate) text: &'a str,
}

/// How a report was resolved.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Resolution)]
pub(crate) struct ResolutionDto<'a> {
    /// The administrator who resolved it.
    pub(crate) by: &'a str,
    /// When (RFC 3339).
    pub(crate) at: String,
    /// Their note.
    pub(crate) note: Option<&'a str>,
}

/// A report of a message or a user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Report)]
pub(crate) struct ReportDto<'a> {
    /// Its id: pass it as `before` for older reports.
    pub(crate) id: i64,
    /// When it was made (RFC 3339).
    pub(crate) at: String,
    /// Who made it.
    pub(crate) reporter: &'a str,
    /// The user it is about (a reported message's sender).
    pub(crate) user: &'a str,
    /// The message it is about, if any.
    pub(crate) message: Option<ReportedMessageDto<'a>>,
    /// Why.
    pub(crate) reason: &'a str,
    /// How it was resolved; `null` while open.
    pub(crate) resolution: Option<ResolutionDto<'a>>,
}

impl<'a> From<&'a chat_core::Report> for ReportDto<'a> {
    fn from(report: &'a chat_core::Report) -> Self {
        let message = match &report.target {
            chat_core::ReportTarget::Message {
                id,
                conversation,
                excerpt,
                ..
            } => Some(ReportedMessageDto {
                id: id.get(),
                conversation_id: conversation.get(),
                text: excerpt,
            }),
            chat_core::ReportTarget::User(_) => None,
        };
        Self {
            id: report.id,
            at: report.at.to_rfc3339(),
            reporter: report.reporter.username().as_str(),
            user: report.target.user().username().as_str(),
            message,
            reason: report.reason.as_str(),
            resolution: report.resolution.as_ref().map(|r| ResolutionDto {
                by: r.by.username().as_str(),
                at: r.at.to_rfc3339(),
                note: r.note.as_ref().map(chat_core::Reason::as_str),
            }),
        }
    }
}

/// `{"report": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReportBody<'a> {
    /// The report as it is now.
    pub(crate) report: ReportDto<'a>,
}

/// `GET /api/admin/reports`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReportsBody<'a> {
    /// Newest first.
    pub(crate) reports: Vec<ReportDto<'a>>,
    /// Whether older ones exist.
    pub(crate) has_more: bool,
}

/// Someone the caller blocks.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Block)]
pub(crate) struct BlockDto<'a> {
    /// Who.
    pub(crate) username: &'a str,
    /// Since when (RFC 3339).
    pub(crate) since: String,
}

impl<'a> From<&'a chat_core::Block> for BlockDto<'a> {
    fn from(block: &'a chat_core::Block) -> Self {
        Self {
            username: block.user.username().as_str(),
            since: block.since.to_rfc3339(),
        }
    }
}

/// `{"block": ...}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BlockBody<'a> {
    /// The block.
    pub(crate) block: BlockDto<'a>,
}

/// `GET /api/blocks`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BlocksBody<'a> {
    /// Whom the caller blocks, oldest first.
    pub(crate) blocks: Vec<BlockDto<'a>>,
}

/// `POST /api/server/users`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct UpsertUserRequest {
    /// The host's own id for the user: 1 to 255 bytes, no control
    /// characters; exact (case matters).
    pub(crate) external_id: String,
    /// The chat username, needed the first time the user is seen and
    /// ignored after.
    pub(crate) username: Option<String>,
    /// The name shown; given, it replaces the stored one.
    pub(crate) display_name: Option<String>,
}

/// `PATCH /api/groups/{id}`: what changes (at least one of them).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct RenameGroupRequest {
    /// The new title.
    #[schema(min_length = 1, max_length = 100)]
    pub(crate) title: Option<String>,
    /// Slow mode: one message per member per this many seconds (5, 10,
    /// 15, 30, 60, 120, 300, 900, 3600 or 86400); `null` turns it off;
    /// absent leaves it.
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 5, maximum = 86400)]
    pub(crate) slow_mode_seconds: Option<Option<u32>>,
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PUT /api/groups/{id}/bans/{username}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct BanRequest {
    /// Until when (RFC 3339, in the future); absent: until lifted.
    pub(crate) until: Option<String>,
}

/// `POST /api/groups/{id}/members`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct AddMemberRequest {
    /// Who to bring in.
    pub(crate) username: String,
}

/// `PATCH /api/groups/{id}/members/{username}`: a role, a mute, or both.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SetRoleRequest {
    /// `member`, `admin` or `owner` (making someone the owner hands the
    /// group over).
    pub(crate) role: Option<String>,
    /// `true` mutes the member (until `muted_until`, or with no end),
    /// `false` unmutes them.
    pub(crate) muted: Option<bool>,
    /// When a mute ends, RFC 3339.
    pub(crate) muted_until: Option<String>,
}

/// `POST /api/groups/{id}/read`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct ReadRequest {
    /// The newest message read.
    pub(crate) up_to: i64,
}

/// `{"up_to": ...}`: a read mark after the call.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadBody {
    /// The read mark.
    pub(crate) up_to: i64,
}

/// `POST /api/signup`. Its `Debug` leaves the passwords out.
#[derive(Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SignupRequest {
    /// Email.
    #[schema(max_length = 254, example = "alice@example.com")]
    pub(crate) email: String,
    /// Username: 3 to 32 of `A-Z a-z 0-9 _ . -`.
    #[schema(pattern = "^[A-Za-z0-9_.-]{3,32}$", example = "alice")]
    pub(crate) username: String,
    /// Password: 8 to 128 characters, not among the most common.
    #[schema(min_length = 8, max_length = 128)]
    pub(crate) password: String,
    /// The password again.
    #[schema(min_length = 8, max_length = 128)]
    pub(crate) confirm_password: String,
}

/// `POST /api/login`. Its `Debug` leaves the password out.
#[derive(Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct LoginRequest {
    /// Username.
    pub(crate) username: String,
    /// Password.
    pub(crate) password: String,
    /// The device token of an earlier login (clients without cookies).
    pub(crate) device_token: Option<String>,
}

impl std::fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// `POST /api/conversations/{username}/messages`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct SendRequest {
    /// The text: 1 to 4000 characters after trimming, no control
    /// characters but newline and tab.
    #[schema(min_length = 1, max_length = 4000)]
    pub(crate) text: String,
    /// The idempotency key: 1 to 64 printable ASCII characters.
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub(crate) client_id: Option<String>,
    /// The message this one replies to, of the same conversation.
    #[serde(default)]
    pub(crate) reply_to: Option<i64>,
}

impl SendRequest {
    /// The send as the core takes it.
    pub(crate) fn into_draft(self) -> chat_core::Draft {
        chat_core::Draft {
            text: self.text,
            client_id: self.client_id,
            reply_to: self.reply_to.map(MessageId::new),
        }
    }
}

/// `PATCH /api/messages/{id}`: the new text.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EditRequest {
    /// The text: 1 to 4000 characters after trimming, no control
    /// characters but newline and tab.
    #[schema(min_length = 1, max_length = 4000)]
    pub(crate) text: String,
}

/// `{"user": ...}`: signup, `GET /api/me`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserBody<'a> {
    /// The user (with the email, to its owner).
    pub(crate) user: UserDto<'a>,
}

/// What a login answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoginBody<'a> {
    /// Who logged in, with the email.
    pub(crate) user: UserDto<'a>,
    /// The session's bearer token.
    pub(crate) token: &'a str,
    /// The CSRF token for cookie-authenticated changes.
    pub(crate) csrf_token: String,
    /// The device token to present at the next login.
    pub(crate) device_token: &'a str,
}

/// A page of the conversation list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConversationsBody<'a> {
    /// Most recent first.
    pub(crate) conversations: Vec<ConversationDto<'a>>,
    /// Whether older ones exist.
    pub(crate) has_more: bool,
}

/// A page of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessagesBody<'a> {
    /// Chronological.
    pub(crate) messages: Vec<MessageDto<'a>>,
    /// Whether more exist in the direction of reading.
    pub(crate) has_more: bool,
}

/// `{"message": ...}`: a message sent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageBody<'a> {
    /// The message stored (or, for a retried client id, the original).
    pub(crate) message: MessageDto<'a>,
}

/// Other users, for the directory.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsersBody<'a> {
    /// By name.
    pub(crate) users: Vec<UserDto<'a>>,
}

/// `{"status": ...}`: health and readiness.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusBody {
    /// `ok` or `ready`.
    pub(crate) status: &'static str,
}

/// A frame from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerFrame<'a> {
    /// The first frame: who you are, the newest message id, and where the
    /// stream stands.
    Ready {
        /// The user, with email.
        user: UserDto<'a>,
        /// The newest message id in any of the user's conversations.
        last_message_id: i64,
        /// The newest change's cursor: resume from it.
        cursor: String,
    },
    /// A message in one of the user's conversations.
    Message {
        /// The message.
        message: MessageDto<'a>,
        /// The change's cursor.
        cursor: String,
    },
    /// A message was edited: how it is now.
    Edited {
        /// The message.
        message: MessageDto<'a>,
        /// The change's cursor.
        cursor: String,
    },
    /// A message was deleted: its tombstone (empty text, `deleted_at`).
    Deleted {
        /// The tombstone.
        message: MessageDto<'a>,
        /// The change's cursor.
        cursor: String,
    },
    /// Someone added or took away a reaction: the message's reactions as
    /// they are now (no text: a reaction shows nobody a message).
    Reaction {
        /// The conversation.
        conversation_id: i64,
        /// The message.
        message_id: i64,
        /// Its reactions now (without `me`).
        reactions: Vec<ReactionDto<'a>>,
        /// Who reacted.
        user: &'a str,
        /// With what.
        emoji: &'a str,
        /// Whether it was added (or taken away).
        added: bool,
        /// The change's cursor.
        cursor: String,
    },
    /// The sending connection's confirmation that a message is committed.
    Ack {
        /// The client's key, echoed.
        client_id: Option<&'a str>,
        /// The stored message.
        message: MessageDto<'a>,
        /// The change's cursor.
        cursor: String,
    },
    /// A request failed.
    Error {
        /// The client's key of the failed send, if any.
        client_id: Option<&'a str>,
        /// A stable code.
        code: &'a str,
        /// A sentence for people.
        message: &'a str,
        /// The input field at fault.
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    },
    /// Someone is typing to the user, or in a group.
    Typing {
        /// Who.
        from: &'a str,
        /// The group, for typing in a group.
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation_id: Option<i64>,
    },
    /// A read mark moved.
    Read {
        /// The conversation.
        conversation_id: i64,
        /// Who read.
        by: &'a str,
        /// The other member (direct conversations).
        #[serde(skip_serializing_if = "Option::is_none")]
        with: Option<&'a str>,
        /// Up to which message.
        up_to: i64,
        /// The change's cursor.
        cursor: String,
    },
    /// How many members of a group have read some of the user's messages
    /// there ("read by N").
    ReadBy {
        /// The group.
        conversation_id: i64,
        /// The messages, oldest first.
        messages: Vec<ReadCountDto>,
    },
    /// A conversation peer came online or went offline.
    Presence {
        /// Who.
        user: &'a str,
        /// Whether they are online now.
        online: bool,
    },
    /// A fresh token was taken: the connection now ends when it expires.
    #[serde(rename = "auth")]
    Renewed {
        /// When the new token expires (RFC 3339).
        expires_at: String,
    },
    /// Too much was missed to replay, or the cursor was not one of this
    /// server's: reload by HTTP, then go on.
    Resync {
        /// Where the stream goes on from.
        cursor: String,
    },
}

/// How many copies of a frame its writers share: each thread takes the
/// copy of its slot, so that the reference count a recipient's clone and
/// drop touch is (nearly always) its own thread's, not a cache line that
/// every core writing the frame fights over.
const FRAME_COPIES: usize = 8;

/// One event's frame as every connection writes it, one copy per thread
/// slot, each made by the first writer of that slot.
struct SharedFrame {
    json: Option<String>,
    copies: [OnceLock<Utf8Bytes>; FRAME_COPIES],
}

impl SharedFrame {
    fn new(json: Option<String>) -> Self {
        Self {
            json,
            copies: Default::default(),
        }
    }

    /// The calling thread's copy; `None` for what clients never see.
    fn get(&self) -> Option<Utf8Bytes> {
        let json = self.json.as_deref()?;
        let copy = &self.copies[thread_slot()];
        Some(
            copy.get_or_init(|| Utf8Bytes::from(json.to_owned()))
                .clone(),
        )
    }
}

/// The calling thread's slot in a [`SharedFrame`], given out in turn.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % FRAME_COPIES;
    }
    SLOT.with(|slot| *slot)
}

/// `GET /api/feed`'s answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Feed)]
pub(crate) struct FeedBody<'a> {
    /// The changes, in commit order, as the WebSocket's frames show them
    /// (`message`, `read`), each with its cursor.
    #[schema(value_type = Vec<Object>)]
    pub(crate) events: Vec<ServerFrame<'a>>,
    /// Where the next page starts.
    pub(crate) cursor: String,
    /// Whether more changes were already waiting.
    pub(crate) has_more: bool,
}

/// A message's "read by N" in a `read_by` frame.
#[derive(Debug, Serialize)]
pub(crate) struct ReadCountDto {
    /// The message.
    id: i64,
    /// How many members other than its sender have read it.
    read_by: u64,
}

impl<'a> ServerFrame<'a> {
    /// The frame for an event; `cursor` is the change's, for those that
    /// report one. `None` for what clients never see.
    pub(crate) fn from_event(kind: &'a EventKind, cursor: Option<Cursor>) -> Option<Self> {
        let cursor = || cursor.map(|c| c.to_string()).unwrap_or_default();
        match kind {
            EventKind::Message { message } => Some(Self::Message {
                message: MessageDto::from(message),
                cursor: cursor(),
            }),
            EventKind::Read {
                conversation,
                by,
                with,
                up_to,
                ..
            } => Some(Self::Read {
                conversation_id: conversation.get(),
                by: by.username().as_str(),
                with: with.as_ref().map(|w| w.username().as_str()),
                up_to: up_to.get(),
                cursor: cursor(),
            }),
            EventKind::Revised { message, .. } if message.is_deleted() => Some(Self::Deleted {
                message: MessageDto::from(message),
                cursor: cursor(),
            }),
            EventKind::Revised { message, .. } => Some(Self::Edited {
                message: MessageDto::from(message),
                cursor: cursor(),
            }),
            EventKind::Reacted {
                conversation,
                message,
                reactions,
                by,
                emoji,
                added,
                ..
            } => Some(Self::Reaction {
                conversation_id: conversation.get(),
                message_id: message.get(),
                reactions: reactions.iter().map(ReactionDto::from).collect(),
                user: by.username().as_str(),
                emoji: emoji.as_str(),
                added: *added,
                cursor: cursor(),
            }),
            EventKind::Typing { from, .. } => Some(Self::Typing {
                from: from.username().as_str(),
                conversation_id: None,
            }),
            EventKind::GroupTyping { from, group } => Some(Self::Typing {
                from: from.username().as_str(),
                conversation_id: Some(group.get()),
            }),
            EventKind::ReadBy {
                conversation,
                counts,
            } => Some(Self::ReadBy {
                conversation_id: conversation.get(),
                messages: counts
                    .iter()
                    .map(|c| ReadCountDto {
                        id: c.message.get(),
                        read_by: c.read_by,
                    })
                    .collect(),
            }),
            EventKind::Presence { user, online } => Some(Self::Presence {
                user: user.username().as_str(),
                online: *online,
            }),
            EventKind::SessionEnded { .. } | EventKind::AccountDisabled { .. } => None,
        }
    }

    /// An event's frame as JSON text, encoded once for every connection that
    /// writes it, WebSocket or event stream (the cursor is the same for all
    /// of them); `None` for what clients never see.
    pub(crate) fn of_event(
        event: &chat_core::SharedEvent,
        cursor: Option<Cursor>,
    ) -> Option<Utf8Bytes> {
        let encode = |kind: &EventKind| ServerFrame::from_event(kind, cursor).map(|f| f.to_json());
        match event.encoded_ref(|kind| SharedFrame::new(encode(kind))) {
            Some(shared) => shared.get(),
            None => encode(event.kind()).map(Utf8Bytes::from),
        }
    }

    /// The frame as JSON text.
    pub(crate) fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_with_passwords_do_not_show_them_in_debug() {
        let signup: SignupRequest = serde_json::from_str(
            r#"{"email":"a@example.test","username":"alice","password":"secret one","confirm_password":"secret two"}"#,
        )
        .unwrap();
        let login: LoginRequest =
            serde_json::from_str(r#"{"username":"alice","password":"secret three"}"#).unwrap();
        let shown = format!("{signup:?} {login:?}");
        assert!(shown.contains("alice"), "{shown}");
        for secret in ["secret one", "secret two", "secret three"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
