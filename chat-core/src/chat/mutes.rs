//! Conversations members mute for themselves: the host hears of no
//! message there for them while the mute is in force.

use super::Chat;
use crate::domain::{ConversationId, Mute, Timestamp, UserId};
use crate::error::{ChatError, Result};
use crate::session::Session;

impl Chat {
    /// Mutes conversation `id` (a direct conversation or a group) for the
    /// session's user until `until` (`None`: until they unmute it),
    /// replacing a mute of it they had. Nobody else is told.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] unless they are a member of it now (the same
    /// answer whether or not it exists); [`ChatError::InvalidInput`] on
    /// `until` for a time already past.
    pub async fn mute(
        &self,
        session: &Session,
        id: ConversationId,
        until: Option<Timestamp>,
    ) -> Result<Mute> {
        if until.is_some_and(|until| until <= self.inner.clock.now()) {
            return Err(ChatError::invalid("until", "must be in the future"));
        }
        self.check_member(session, id).await?;
        let mute = Mute {
            conversation: id,
            until,
        };
        self.inner.store.set_mute(session.user().id(), mute).await?;
        Ok(mute)
    }

    /// Unmutes conversation `id` for the session's user (nothing if it was
    /// not muted). A former member may clear a mute they left behind; it
    /// reveals nothing, as the answer is the same for any id.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn unmute(&self, session: &Session, id: ConversationId) -> Result<()> {
        self.inner
            .store
            .clear_mute(session.user().id(), id)
            .await
            .map(drop)
    }

    /// The session user's mutes in force, in conversation order.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn mutes(&self, session: &Session) -> Result<Vec<Mute>> {
        let now = self.inner.clock.now();
        let mut mutes = self.inner.store.mutes(session.user().id()).await?;
        mutes.retain(|mute| mute.in_force(now));
        Ok(mutes)
    }

    /// Whether `user` has `conversation` muted now.
    pub(super) async fn muted(&self, user: UserId, conversation: ConversationId) -> Result<bool> {
        let now = self.inner.clock.now();
        Ok(self
            .inner
            .store
            .mutes(user)
            .await?
            .iter()
            .any(|mute| mute.conversation == conversation && mute.in_force(now)))
    }

    /// Whether the session's user is a member of `id` now: of the group,
    /// or one of the direct conversation's two.
    async fn check_member(&self, session: &Session, id: ConversationId) -> Result<()> {
        let me = session.user().id();
        let member = match self.inner.store.membership(id, me).await? {
            Some(membership) => membership.is_current(),
            None => {
                let members = self.inner.store.members(id).await?;
                members.len() == 2 && members.iter().any(|m| m.user.id() == me)
            }
        };
        if member {
            Ok(())
        } else {
            Err(ChatError::NotFound)
        }
    }
}
