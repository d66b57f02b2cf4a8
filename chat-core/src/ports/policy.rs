//! The host application's say over what its users do.

use async_trait::async_trait;

use crate::domain::{ConversationId, GroupTitle, Message, MessageText, User};
use crate::error::Result;

/// An action a user is about to take, put to the host's [`Policy`] before
/// anything is written (a send: before it enters the group-commit queue,
/// so a slow answer holds up that send alone, never a batch).
#[derive(Debug)]
#[non_exhaustive]
pub enum Proposal<'a> {
    /// `from` sends `text` in `conversation`: to `to` in a direct
    /// conversation, to every member in a group (`to` is `None`). A send
    /// retried under the same client id is asked about again.
    Send {
        /// The sender.
        from: &'a User,
        /// Where; `None` for the first message of a direct conversation
        /// (made only once the send is allowed).
        conversation: Option<ConversationId>,
        /// The other member of a direct conversation.
        to: Option<&'a User>,
        /// What.
        text: &'a MessageText,
    },
    /// `from` edits their `message`, to say `text` instead: asked as a
    /// send is, so an edit cannot say what a send may not.
    Edit {
        /// The sender.
        from: &'a User,
        /// The message as it is.
        message: &'a Message,
        /// The new text.
        text: &'a MessageText,
    },
    /// `by` makes a group titled `title`, with `members` (to be added or
    /// invited).
    CreateGroup {
        /// The creator.
        by: &'a User,
        /// The title.
        title: &'a GroupTitle,
        /// Everyone named at creation.
        members: &'a [User],
    },
    /// `by` adds (or invites) `user` to the group `group`. (Joining a
    /// discoverable group by oneself is not asked about.)
    AddMember {
        /// Who adds.
        by: &'a User,
        /// The group.
        group: ConversationId,
        /// Who is added.
        user: &'a User,
    },
}

/// The host's answer to a [`Proposal`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Refuse; `reason` reaches the user as
    /// [`ChatError::Refused`](crate::ChatError::Refused) (`403 refused`).
    Refuse {
        /// Why, in words for the user.
        reason: String,
    },
    /// Send `text` instead of what the user wrote (a filter that masks
    /// words, say). For anything but a send, the same as `Allow`.
    Rewrite {
        /// The text to store and deliver.
        text: MessageText,
    },
}

/// Decides whether users may do what they ask, for a host application
/// with rules of its own (who may message whom, who may make groups,
/// content filters). Called by the core before each [`Proposal`]; its
/// time is bounded by [`ChatConfig::policy_timeout`](crate::ChatConfig),
/// and a policy that fails or does not answer in time is handled as
/// [`ChatConfig::policy_failure`](crate::ChatConfig) says.
#[async_trait]
pub trait Policy: Send + Sync + 'static {
    /// The verdict on `proposal`.
    ///
    /// # Errors
    /// Whatever stops the policy from deciding (its own dependency down):
    /// the action is then refused or allowed, as configured.
    async fn decide(&self, proposal: &Proposal<'_>) -> Result<Verdict>;
}

/// Allows everything: the default policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

#[async_trait]
impl Policy for AllowAll {
    async fn decide(&self, _: &Proposal<'_>) -> Result<Verdict> {
        Ok(Verdict::Allow)
    }
}
