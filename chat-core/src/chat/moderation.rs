//! Operators' moderation: administrators (made by the operator, from the
//! server's command line or the embedding code, never through the API)
//! disable and enable accounts and delete any message; each such action,
//! and each grant of the role, is written to the audit log.
//!
//! Disabling an account deletes its sessions in the same transaction as
//! the flag, and the store never finds a disabled user's session (so a
//! login racing the disable opens nothing). Every process ends the user's
//! live streams at once on the [`EventKind::AccountDisabled`] event.
//! Sessions no store holds (a host's token) are checked by
//! [`Chat::check_enabled`], remembered for a few seconds per user.

use tracing::{info, instrument, warn};

use super::Chat;
use crate::domain::{
    Account, AuditAction, AuditEntry, Message, MessageId, NewAuditEntry, Reason, User, Username,
};
use crate::error::{ChatError, Result};
use crate::event::{Event, EventKind};
use crate::ports::{Page, PageLimit, Topic};
use crate::session::Session;

impl Chat {
    /// Makes `username` an administrator: the operator's act (the server's
    /// command line), recorded in the audit log with no actor. Granting
    /// the role twice changes nothing.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `username`; [`ChatError::NotFound`]
    /// if no such user exists.
    pub async fn grant_admin(&self, username: &str) -> Result<Account> {
        self.set_admin(username, true).await
    }

    /// Takes the administrator role away from `username`, as
    /// [`Chat::grant_admin`] gives it.
    ///
    /// # Errors
    /// As [`Chat::grant_admin`].
    pub async fn revoke_admin(&self, username: &str) -> Result<Account> {
        self.set_admin(username, false).await
    }

    async fn set_admin(&self, username: &str, admin: bool) -> Result<Account> {
        let user = self.find_user(&Username::parse(username)?).await?;
        if self.inner.store.set_admin(user.id(), admin).await? {
            let action = if admin {
                AuditAction::GrantAdmin
            } else {
                AuditAction::RevokeAdmin
            };
            self.audit(None, action, |entry| entry.on_user(user.clone()))
                .await?;
            info!(user = %user.id(), admin, "administrator role changed by the operator");
        }
        self.stored_account(&user).await
    }

    /// The administrators, by id.
    ///
    /// # Errors
    /// What the store reports.
    pub async fn admins(&self) -> Result<Vec<User>> {
        self.inner.store.admins().await
    }

    /// The session user's account, if it is an administrator's.
    pub(super) async fn administrator(&self, session: &Session) -> Result<Account> {
        let account = self.account(session).await?;
        if !account.is_admin() {
            return Err(ChatError::Forbidden);
        }
        Ok(account)
    }

    /// Disables `username`'s account, as an administrator: it logs in
    /// nowhere, its sessions end at once and its live connections close,
    /// on every process. Disabling a disabled account changes nothing
    /// (and records nothing). Returns the account.
    ///
    /// # Errors
    /// [`ChatError::Forbidden`] unless the session's user is an
    /// administrator, and for another administrator's account (the
    /// operator revokes the role first); [`ChatError::InvalidInput`] on
    /// `username` or `reason`; [`ChatError::NotFound`] for no such user;
    /// [`ChatError::Conflict`] for the administrator's own account.
    #[instrument(skip_all, fields(admin = %session.user().id()))]
    pub async fn disable_account(
        &self,
        session: &Session,
        username: &str,
        reason: Option<String>,
    ) -> Result<Account> {
        let admin = self.administrator(session).await?;
        let reason = reason.map(Reason::parse).transpose()?;
        let user = self.find_user(&Username::parse(username)?).await?;
        if user.id() == admin.user().id() {
            return Err(ChatError::conflict("you cannot disable your own account"));
        }
        // Administrators answer to the operator, not to each other: the
        // role is revoked on the command line first.
        if self.stored_account(&user).await?.is_admin() {
            return Err(ChatError::Forbidden);
        }
        let now = self.inner.clock.now();
        let disabled = self.inner.store.set_disabled(user.id(), Some(now)).await?;
        // After the write: a check that read the store before it is not
        // believed after it.
        self.inner.enabled.forget(&user.id());
        if disabled {
            let event = Event::new(EventKind::AccountDisabled { user: user.id() });
            if let Err(error) = self
                .inner
                .bus
                .publish(&[Topic::user(user.id())], event)
                .await
            {
                // The sessions are gone from the store: connections end
                // when they next authenticate or their session expires.
                warn!(%error, "could not announce a disabled account");
            }
            self.audit(Some(&admin), AuditAction::DisableAccount, |entry| {
                entry.on_user(user.clone()).because(reason)
            })
            .await?;
            info!(user = %user.id(), "account disabled");
        }
        self.stored_account(&user).await
    }

    /// Enables a disabled account again, as the operator (the server's
    /// command line; recorded with no actor). Enabling an enabled account
    /// changes nothing.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `username`; [`ChatError::NotFound`]
    /// for no such user.
    pub async fn enable_account_as_operator(&self, username: &str) -> Result<Account> {
        let user = self.find_user(&Username::parse(username)?).await?;
        if self.inner.store.set_disabled(user.id(), None).await? {
            self.audit(None, AuditAction::EnableAccount, |entry| {
                entry.on_user(user.clone())
            })
            .await?;
            info!(user = %user.id(), "account enabled by the operator");
        }
        self.stored_account(&user).await
    }

    /// Enables a disabled account again, as an administrator: its user
    /// logs in again (their old sessions stay ended). Enabling an enabled
    /// account changes nothing. Returns the account.
    ///
    /// # Errors
    /// As [`Chat::disable_account`], but an administrator may enable
    /// themselves (they cannot be disabled then).
    #[instrument(skip_all, fields(admin = %session.user().id()))]
    pub async fn enable_account(
        &self,
        session: &Session,
        username: &str,
        reason: Option<String>,
    ) -> Result<Account> {
        let admin = self.administrator(session).await?;
        let reason = reason.map(Reason::parse).transpose()?;
        let user = self.find_user(&Username::parse(username)?).await?;
        if self.inner.store.set_disabled(user.id(), None).await? {
            self.audit(Some(&admin), AuditAction::EnableAccount, |entry| {
                entry.on_user(user.clone()).because(reason)
            })
            .await?;
            info!(user = %user.id(), "account enabled");
        }
        self.stored_account(&user).await
    }

    /// Deletes any message, as an administrator, whether or not they are
    /// in its conversation: a tombstone, as [`Chat::delete_message`]
    /// leaves, that reaches every member. Deleting a deleted message
    /// changes nothing (and records nothing). Returns the tombstone.
    ///
    /// # Errors
    /// [`ChatError::Forbidden`] unless the session's user is an
    /// administrator, and for a group's system message;
    /// [`ChatError::InvalidInput`] on `reason`; [`ChatError::NotFound`]
    /// for no such message.
    #[instrument(skip_all, fields(admin = %session.user().id(), message = %id))]
    pub async fn moderate_message(
        &self,
        session: &Session,
        id: MessageId,
        reason: Option<String>,
    ) -> Result<Message> {
        let admin = self.administrator(session).await?;
        let reason = reason.map(Reason::parse).transpose()?;
        let message = self
            .inner
            .store
            .message(id)
            .await?
            .ok_or(ChatError::NotFound)?;
        if message.event().is_some() {
            return Err(ChatError::Forbidden);
        }
        let (tombstone, deleted_now) = self.delete_for_everyone(message, admin.user().id()).await?;
        if deleted_now {
            self.audit(Some(&admin), AuditAction::DeleteMessage, |entry| {
                entry
                    .on_user(tombstone.sender().clone())
                    .on_message(id)
                    .because(reason)
            })
            .await?;
            info!(message = %id, "message deleted by an administrator");
        }
        Ok(tombstone)
    }

    /// The audit log, newest first, for an administrator: entries older
    /// than `before` (an entry's id; all with `None`), at most `limit`.
    ///
    /// # Errors
    /// [`ChatError::Forbidden`] unless the session's user is an
    /// administrator.
    pub async fn audit_log(
        &self,
        session: &Session,
        before: Option<i64>,
        limit: PageLimit,
    ) -> Result<Page<AuditEntry>> {
        self.administrator(session).await?;
        self.inner.store.audit_log(before, limit).await
    }

    /// Checks that `user`'s account is enabled, for a session no store
    /// holds (a host's token, a server API call acting as a user): a
    /// store look-up remembered for a few seconds per user, so a disable
    /// made on another process applies here within that time (at once on
    /// this one).
    ///
    /// # Errors
    /// [`ChatError::AccountDisabled`] for a disabled account;
    /// [`ChatError::Unauthenticated`] for one that does not exist.
    pub async fn check_enabled(&self, user: &User) -> Result<()> {
        let now = self.inner.clock.now();
        if self.inner.enabled.knows(&user.id(), now) {
            return Ok(());
        }
        let generation = self.inner.enabled.generation();
        let account = self
            .inner
            .store
            .find_account(user.id())
            .await?
            .ok_or(ChatError::Unauthenticated)?;
        if account.disabled_at().is_some() {
            return Err(ChatError::AccountDisabled);
        }
        self.inner.enabled.put(user.id(), now, generation);
        Ok(())
    }

    /// Writes `actor`'s `action` (`None`: the operator's) to the audit
    /// log, with what `about` adds (whom, which message, why).
    pub(super) async fn audit(
        &self,
        actor: Option<&Account>,
        action: AuditAction,
        about: impl FnOnce(NewAuditEntry) -> NewAuditEntry,
    ) -> Result<AuditEntry> {
        let entry = NewAuditEntry::new(
            self.inner.clock.now(),
            actor.map(|a| a.user().clone()),
            action,
        );
        self.inner.store.record(about(entry)).await
    }

    /// The account of `user`, as it is now.
    async fn stored_account(&self, user: &User) -> Result<Account> {
        self.inner
            .store
            .find_account(user.id())
            .await?
            .ok_or(ChatError::NotFound)
    }
}
