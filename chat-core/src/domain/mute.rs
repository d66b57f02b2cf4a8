//! A conversation a member muted for themselves.

use super::{ConversationId, Timestamp};

/// A member's mute of one of their conversations: while it is in force,
/// the host hears of no message there for them (no offline notice). It
/// mutes nothing for anyone else, and nothing live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mute {
    /// The conversation.
    pub conversation: ConversationId,
    /// When it ends; `None`: when the member unmutes.
    pub until: Option<Timestamp>,
}

impl Mute {
    /// Whether it is in force at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}
