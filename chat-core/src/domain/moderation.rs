//! Operators' moderation: what an administrator did, and why.

use std::fmt;

use super::{MessageId, Timestamp, User};
use crate::error::{ChatError, Result};

/// Why a moderator acted: 1 to [`Reason::MAX_LEN`] characters, trimmed,
/// with no control characters but line breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// The longest reason, in characters.
    pub const MAX_LEN: usize = 500;

    /// Validates a reason.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `reason` when it is empty, too long
    /// or holds control characters.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ChatError::invalid("reason", "must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(ChatError::invalid(
                "reason",
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ChatError::invalid(
                "reason",
                "must not contain control characters",
            ));
        }
        Ok(Self(if trimmed.len() == raw.len() {
            raw
        } else {
            trimmed.to_owned()
        }))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an administrator (or the operator, from the server's command
/// line) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// Made a user an administrator.
    GrantAdmin,
    /// Took a user's administrator role away.
    RevokeAdmin,
    /// Disabled an account: its sessions ended, its connections closed.
    DisableAccount,
    /// Enabled a disabled account again.
    EnableAccount,
    /// Deleted a message, anyone's.
    DeleteMessage,
    /// Resolved a user's report.
    ResolveReport,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 6] = [
        Self::GrantAdmin,
        Self::RevokeAdmin,
        Self::DisableAccount,
        Self::EnableAccount,
        Self::DeleteMessage,
        Self::ResolveReport,
    ];

    /// Its name on the wire and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GrantAdmin => "grant_admin",
            Self::RevokeAdmin => "revoke_admin",
            Self::DisableAccount => "disable_account",
            Self::EnableAccount => "enable_account",
            Self::DeleteMessage => "delete_message",
            Self::ResolveReport => "resolve_report",
        }
    }

    /// The action named `name` ([`AuditAction::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its id, growing with time: the log's cursor.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who acted; `None` for the operator, from the server's command line.
    pub actor: Option<User>,
    /// What they did.
    pub action: AuditAction,
    /// The user it was done to (an account, a role; a deleted message's
    /// sender).
    pub user: Option<User>,
    /// The message it was done to.
    pub message: Option<MessageId>,
    /// The report it resolved.
    pub report: Option<i64>,
    /// Why, as the actor said.
    pub reason: Option<Reason>,
}

impl NewAuditEntry {
    /// An entry of `actor`'s `action` at `at`, about nothing in
    /// particular yet.
    pub fn new(at: Timestamp, actor: Option<User>, action: AuditAction) -> Self {
        Self {
            at,
            actor,
            action,
            user: None,
            message: None,
            report: None,
            reason: None,
        }
    }

    /// The entry about `user`.
    #[must_use]
    pub fn on_user(mut self, user: User) -> Self {
        self.user = Some(user);
        self
    }

    /// The entry about `message`.
    #[must_use]
    pub fn on_message(mut self, message: MessageId) -> Self {
        self.message = Some(message);
        self
    }

    /// The entry about report `id`.
    #[must_use]
    pub fn on_report(mut self, id: i64) -> Self {
        self.report = Some(id);
        self
    }

    /// The entry with the actor's reason.
    #[must_use]
    pub fn because(mut self, reason: Option<Reason>) -> Self {
        self.reason = reason;
        self
    }
}

/// An audit entry to be written ([`ModerationStore::record`](crate::ports::ModerationStore::record)).
#[derive(Clone, Debug)]
pub struct NewAuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who acted; `None` for the operator.
    pub actor: Option<User>,
    /// What they did.
    pub action: AuditAction,
    /// The user it was done to.
    pub user: Option<User>,
    /// The message it was done to.
    pub message: Option<MessageId>,
    /// The report it resolved.
    pub report: Option<i64>,
    /// Why.
    pub reason: Option<Reason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_trimmed_bounded_and_printable() {
        assert_eq!(Reason::parse("  spam ").unwrap().as_str(), "spam");
        assert_eq!(Reason::parse("a\nb").unwrap().as_str(), "a\nb");
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(501)] {
            assert_eq!(Reason::parse(bad).unwrap_err().field(), Some("reason"));
        }
    }

    #[test]
    fn actions_round_trip_by_name() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::from_name(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::from_name("nope"), None);
    }
}

/// What a report is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportTarget {
    /// A message, as it was when reported.
    Message {
        /// The message.
        id: MessageId,
        /// Its conversation.
        conversation: super::ConversationId,
        /// Who sent it.
        sender: User,
        /// Its text when it was reported (kept should it be edited or
        /// deleted after), at most [`ReportTarget::EXCERPT_LEN`] characters.
        excerpt: String,
    },
    /// A user.
    User(User),
}

impl ReportTarget {
    /// How much of a reported message's text a report keeps.
    pub const EXCERPT_LEN: usize = 1000;

    /// The user it is about: a message's sender, or the user.
    pub fn user(&self) -> &User {
        match self {
            Self::Message { sender, .. } => sender,
            Self::User(user) => user,
        }
    }

    /// The message it is about, if any.
    pub fn message(&self) -> Option<MessageId> {
        match self {
            Self::Message { id, .. } => Some(*id),
            Self::User(_) => None,
        }
    }
}

/// A user's report of a message or a user, in the operators' queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Its id, growing with time: the queue's cursor.
    pub id: i64,
    /// When it was made.
    pub at: Timestamp,
    /// Who made it.
    pub reporter: User,
    /// What it is about.
    pub target: ReportTarget,
    /// Why, as the reporter said.
    pub reason: Reason,
    /// How an administrator resolved it; `None` while open.
    pub resolution: Option<Resolution>,
}

/// How a report was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Who resolved it.
    pub by: User,
    /// When.
    pub at: Timestamp,
    /// What they said of it.
    pub note: Option<Reason>,
}

/// A report to be filed ([`ModerationStore::file_report`](crate::ports::ModerationStore::file_report)).
#[derive(Clone, Debug)]
pub struct NewReport {
    /// When.
    pub at: Timestamp,
    /// Who reports.
    pub reporter: User,
    /// What.
    pub target: ReportTarget,
    /// Why.
    pub reason: Reason,
}
