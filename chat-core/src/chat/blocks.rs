//! Blocking: a user stops another from reaching them directly.
//!
//! No direct message passes between the two, either way (nor an edit, a
//! reaction or a read mark in their conversation): the blocked user is
//! refused with a plain `forbidden` and no reason, the blocker is told they
//! blocked them. Typing between them
//! is dropped, and the blocked user cannot add the blocker to a group. In a
//! group both are members of, messages still reach both (a group is a
//! shared room, and its other members see everything): the blocker's
//! clients hide the blocked user's messages, from [`Chat::blocks`].

use super::Chat;
use crate::domain::{Block, User, Username};
use crate::error::{ChatError, Result};
use crate::session::Session;

impl Chat {
    /// The session's user blocks `username` (blocking again changes
    /// nothing). Returns the block.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `username` for oneself or a name no
    /// username has; [`ChatError::NotFound`] for no such user.
    pub async fn block(&self, session: &Session, username: &str) -> Result<Block> {
        let other = self.other_user(session, username).await?;
        let now = self.inner.clock.now();
        self.inner
            .store
            .set_block(session.user().id(), other.id(), now)
            .await?;
        self.inner.unblocked.forget(session.user().id(), other.id());
        let blocks = self.inner.store.blocks(session.user().id()).await?;
        blocks
            .into_iter()
            .find(|block| block.user.id() == other.id())
            .ok_or(ChatError::NotFound)
    }

    /// The session's user no longer blocks `username` (nothing if they did
    /// not).
    ///
    /// # Errors
    /// As [`Chat::block`].
    pub async fn unblock(&self, session: &Session, username: &str) -> Result<()> {
        let other = self.other_user(session, username).await?;
        self.inner
            .store
            .clear_block(session.user().id(), other.id())
            .await?;
        self.inner.unblocked.forget(session.user().id(), other.id());
        Ok(())
    }

    /// Whom the session's user blocks, oldest first.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn blocks(&self, session: &Session) -> Result<Vec<Block>> {
        self.inner.store.blocks(session.user().id()).await
    }

    /// Refuses a direct message (or a group add) from `from` to `to` if
    /// either blocks the other: the blocked with a plain
    /// [`ChatError::Forbidden`], the blocker with a reason.
    ///
    /// A pair found without a block is believed so for
    /// [`UNBLOCKED_FOR`](super::caches::UNBLOCKED_FOR), so a stream of
    /// direct sends does not ask the store each time: a block made on
    /// another process applies here within that time, one made here at once.
    pub(super) async fn check_not_blocked(&self, from: &User, to: &User) -> Result<()> {
        let now = self.inner.clock.now();
        if self.inner.unblocked.knows(from.id(), to.id(), now) {
            return Ok(());
        }
        let generation = self.inner.unblocked.generation();
        match self.inner.store.blocked_between(from.id(), to.id()).await? {
            (false, false) => {
                self.inner
                    .unblocked
                    .put(from.id(), to.id(), now, generation);
                Ok(())
            }
            (true, _) => Err(ChatError::conflict(
                "you blocked this user: unblock them to write to them",
            )),
            (false, true) => Err(ChatError::Forbidden),
        }
    }

    async fn other_user(&self, session: &Session, username: &str) -> Result<User> {
        let name = Username::parse_field(username, "username")?;
        if name.canonical() == session.user().username().canonical() {
            return Err(ChatError::invalid("username", "you cannot block yourself"));
        }
        self.find_user(&name).await
    }
}
