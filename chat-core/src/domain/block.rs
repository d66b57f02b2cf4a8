//! A user one blocks.

use super::{Timestamp, User};

/// Someone the user blocked: no direct message passes between them either
/// way, the blocked user cannot add the blocker to a group, and typing is
/// dropped. In a group both are in, messages still reach both; the
/// blocker's clients hide the blocked user's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Who is blocked.
    pub user: User,
    /// Since when.
    pub since: Timestamp,
}
