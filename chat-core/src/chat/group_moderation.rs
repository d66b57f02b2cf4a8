//! A group's admins keep order: they ban someone for a time (removed if a
//! member, and kept out: no add, invitation or join until the ban ends or
//! is lifted) and set slow mode (a member sends at most one message per
//! period). Kicks are removals and mutes are in `groups.rs`. Each change is
//! a system message every member sees.

use super::Chat;
use super::groups::{GroupView, member_role};
use crate::domain::{
    ClientMessageId, ConversationId, GroupEvent, Membership, SlowMode, Timestamp, Username,
};
use crate::error::{ChatError, Result};
use crate::session::Session;

impl Chat {
    /// Bans `username` from the group until `until` (`None`: until
    /// lifted): removed if a member, and nobody adds or invites them, nor
    /// do they join, meanwhile. Admins ban members and anyone who is not a
    /// member; the owner bans admins too; nobody bans the owner. Banning
    /// again replaces the ban's end.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `username` (oneself included) or on
    /// `until` if it is not in the future; [`ChatError::NotFound`] for a
    /// non-member caller or no such user; [`ChatError::Forbidden`] for a
    /// caller who may not ban them.
    pub async fn ban_member(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
        until: Option<Timestamp>,
    ) -> Result<GroupView> {
        let me = session.user();
        let name = Username::parse_field(username, "username")?;
        if name.canonical() == me.username().canonical() {
            return Err(ChatError::invalid("username", "you cannot ban yourself"));
        }
        if until.is_some_and(|until| until <= self.inner.clock.now()) {
            return Err(ChatError::invalid("until", "must be in the future"));
        }
        let user = self.find_user(&name).await?;
        self.change(session, id, |group| {
            let role = member_role(group, me.id())?;
            if !role.manages_the_group() {
                return Err(ChatError::Forbidden);
            }
            if let Some(target) = group.member(user.id())
                && !role.may_remove(target.role)
            {
                return Err(ChatError::Forbidden);
            }
            Ok(vec![GroupEvent::Banned {
                user: user.clone(),
                until,
            }])
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Lifts `username`'s ban (nothing if there is none): they come back
    /// only if added, invited, or (a discoverable group they left by
    /// themselves) by joining. Admins and the owner lift bans.
    ///
    /// # Errors
    /// As [`Chat::ban_member`].
    pub async fn unban_member(
        &self,
        session: &Session,
        id: ConversationId,
        username: &str,
    ) -> Result<GroupView> {
        let me = session.user();
        let user = self
            .find_user(&Username::parse_field(username, "username")?)
            .await?;
        self.change(session, id, |group| {
            if !member_role(group, me.id())?.manages_the_group() {
                return Err(ChatError::Forbidden);
            }
            Ok(if group.bans.iter().any(|b| b.user.id() == user.id()) {
                vec![GroupEvent::Unbanned { user: user.clone() }]
            } else {
                Vec::new()
            })
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Sets the group's slow mode (`None`: off): a member sends at most
    /// one message per period (admins and the owner are not bound).
    /// Admins and the owner set it; setting it as it is changes nothing.
    ///
    /// # Errors
    /// [`ChatError::NotFound`] for a non-member; [`ChatError::Forbidden`]
    /// for a member who is not an admin or the owner.
    pub async fn set_slow_mode(
        &self,
        session: &Session,
        id: ConversationId,
        slow_mode: Option<SlowMode>,
    ) -> Result<GroupView> {
        let me = session.user();
        self.change(session, id, |group| {
            if !member_role(group, me.id())?.manages_the_group() {
                return Err(ChatError::Forbidden);
            }
            Ok(if group.settings.slow_mode == slow_mode {
                Vec::new()
            } else {
                vec![GroupEvent::SlowModeSet { slow_mode }]
            })
        })
        .await?;
        self.group_view(session, id).await
    }

    /// Counts a send of the session's user against the group's slow mode,
    /// if it binds them. A retry of a message they sent there already
    /// (its `client_id` again) is let through without spending a turn:
    /// the append answers it with the stored message.
    ///
    /// # Errors
    /// [`ChatError::RateLimited`] within the period since their last
    /// message there (with when to try again).
    pub(super) async fn check_slow_mode(
        &self,
        session: &Session,
        id: ConversationId,
        membership: &Membership,
        client_id: Option<&ClientMessageId>,
    ) -> Result<()> {
        let Some(slow_mode) = membership.slow_mode else {
            return Ok(());
        };
        if membership.role.manages_the_group() {
            return Ok(());
        }
        // One indexed read, only for a send that slow mode binds.
        if let Some(client_id) = client_id
            && let Some(sent) = self
                .inner
                .store
                .message_by_client_id(session.user().id(), client_id)
                .await?
            && sent.conversation() == id
        {
            return Ok(());
        }
        let key = format!("slow:{id}:{}", session.user().id());
        self.inner
            .limiter
            .check_every(&key, slow_mode.period())
            .await
    }
}
