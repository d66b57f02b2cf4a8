//! The one error type of the chat service.

use std::time::Duration;

/// The name of the input field a validation error is about, as the caller
/// named it (`"username"`, `"text"`, `"limit"`…).
pub type Field = &'static str;

/// A boxed error source kept for logging; never shown to end users.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a [`Chat`](crate::Chat) call can fail with.
///
/// Each variant maps to exactly one transport status (HTTP code, WebSocket
/// error code); the `Display` text is safe to show to the person who made the
/// request. `Unavailable` and `Internal` carry their cause for the logs only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// The input failed validation; `field` names the offending input.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The input field at fault.
        field: Field,
        /// Why it was rejected, in words a person can act on.
        reason: String,
    },
    /// The username is already registered (compared case-insensitively).
    #[error("this username is taken")]
    UsernameTaken,
    /// The email is already registered (compared case-insensitively).
    #[error("this email is already registered")]
    EmailTaken,
    /// Unknown user or wrong password; deliberately the same for both.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The session token is missing, unknown, expired or logged out.
    #[error("not logged in or session expired")]
    Unauthenticated,
    /// The caller is authenticated but may not do this.
    #[error("not allowed")]
    Forbidden,
    /// The account was disabled by an administrator: it logs in nowhere.
    #[error("this account is disabled")]
    AccountDisabled,
    /// The thing addressed does not exist, or is not visible to the caller.
    #[error("not found")]
    NotFound,
    /// The request contradicts the current state (the owner cannot be
    /// removed, a group changed under a concurrent change); `reason` says
    /// what, in words a person can act on.
    #[error("{reason}")]
    Conflict {
        /// What stands in the way.
        reason: &'static str,
    },
    /// The message can no longer be edited: its edit window
    /// ([`ChatConfig::edit_window`](crate::ChatConfig::edit_window)) has
    /// closed.
    #[error("a message can be edited for {} s after it is sent", window.as_secs())]
    EditWindowClosed {
        /// The window.
        window: Duration,
    },
    /// A group would have more members than the configured cap.
    #[error("a group has at most {max} members")]
    TooManyMembers {
        /// The cap.
        max: usize,
    },
    /// The host application's policy refused the action; `reason` is its
    /// word to the user.
    #[error("{reason}")]
    Refused {
        /// Why, as the host put it.
        reason: String,
    },
    /// Too many requests; try again after `retry_after`.
    #[error("too many requests, retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// How long until the next attempt may succeed.
        retry_after: Duration,
    },
    /// A dependency (database, bus, hashing pool) is down or saturated.
    #[error("service temporarily unavailable")]
    Unavailable {
        /// What went wrong, for the logs.
        #[source]
        source: Source,
    },
    /// A bug or a corrupt row; the cause is for the logs only.
    #[error("internal error")]
    Internal {
        /// What went wrong, for the logs.
        #[source]
        source: Source,
    },
}

impl ChatError {
    /// A validation error for `field`.
    pub fn invalid(field: Field, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// A dependency failure.
    pub fn unavailable(source: impl Into<Source>) -> Self {
        Self::Unavailable {
            source: source.into(),
        }
    }

    /// A request that contradicts the current state.
    pub fn conflict(reason: &'static str) -> Self {
        Self::Conflict { reason }
    }

    /// An unexpected failure.
    pub fn internal(source: impl Into<Source>) -> Self {
        Self::Internal {
            source: source.into(),
        }
    }

    /// A stable, machine-readable code for this error, used by transports
    /// (`"invalid_input"`, `"username_taken"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_input",
            Self::UsernameTaken => "username_taken",
            Self::EmailTaken => "email_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::AccountDisabled => "account_disabled",
            Self::NotFound => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::EditWindowClosed { .. } => "edit_window_closed",
            Self::TooManyMembers { .. } => "too_many_members",
            Self::Refused { .. } => "refused",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal { .. } => "internal",
        }
    }

    /// The input field this error is about, if any.
    pub fn field(&self) -> Option<Field> {
        match self {
            Self::InvalidInput { field, .. } => Some(field),
            Self::UsernameTaken => Some("username"),
            Self::EmailTaken => Some("email"),
            _ => None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ChatError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_leaks_the_source() {
        let err = ChatError::internal("secret table name");
        assert_eq!(err.to_string(), "internal error");
        assert_eq!(err.code(), "internal");
    }

    #[test]
    fn rate_limited_rounds_up_to_a_second() {
        let err = ChatError::RateLimited {
            retry_after: Duration::from_millis(10),
        };
        assert_eq!(err.to_string(), "too many requests, retry in 1 s");
    }
}
