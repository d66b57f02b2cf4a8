//! Users a host application brings: it authenticates them itself and
//! hands them over by its own id, with no password.

use tracing::info;

use super::Chat;
use super::accounts::Login;
use crate::domain::{Account, DisplayName, ExternalId, SessionId, Timestamp, User, Username};
use crate::error::Result;
use crate::ports::ExternalUser;
use crate::session::Session;

impl Chat {
    /// The chat user the host knows as `external_id`: created on first
    /// sight with `username`, which never changes after (a later call's
    /// `username` is ignored, valid or not); its display name set to
    /// `display_name` when one is given. Idempotent: calls racing for one
    /// id, on any process, get the same user.
    ///
    /// The host vouches for the names it hands over: unlike signup, they
    /// are not checked against look-alikes of other names.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`](crate::ChatError::InvalidInput) on
    /// `external_id` or `display_name`, and on `username` for a new user
    /// whose name is not a valid username;
    /// [`ChatError::UsernameTaken`](crate::ChatError::UsernameTaken) when
    /// the user is new and the username is another account's.
    pub async fn upsert_user(
        &self,
        external_id: &str,
        username: &str,
        display_name: Option<&str>,
    ) -> Result<Account> {
        let user = ExternalUser {
            external_id: ExternalId::parse(external_id)?,
            // Only a new user needs it (the store says so if it is new).
            username: Username::parse(username).ok(),
            display_name: display_name.map(DisplayName::parse).transpose()?,
            at: self.inner.clock.now(),
        };
        let account = self.inner.store.upsert_external_user(user).await?;
        self.inner.users.put(account.user());
        Ok(account)
    }

    /// Opens a stored session for `account` without a password, as
    /// [`Chat::login`] would after checking one: for a host that has
    /// authenticated the user itself and hands the token to its client.
    ///
    /// # Errors
    /// [`ChatError::AccountDisabled`](crate::ChatError::AccountDisabled) for an account an administrator
    /// disabled (as it is now, not as `account` says); what the store
    /// reports.
    pub async fn open_session(&self, account: Account) -> Result<Login> {
        self.check_enabled(account.user()).await?;
        let login = self.new_session(account).await?;
        info!(
            user = %login.account.user().id(),
            session = %login.session.id(),
            "session opened for a host's user"
        );
        Ok(login)
    }

    /// A session of `user` that no store holds, ending at `expires_at`:
    /// for a transport that authenticates every request itself (a token
    /// the host signed). It is never logged out; it ends when it expires.
    /// It does not look at the store: a transport checks
    /// [`Chat::check_enabled`] before it trusts such a session.
    pub fn session_for(&self, user: User, expires_at: Timestamp) -> Session {
        Session::new(
            SessionId::UNSTORED,
            user,
            self.inner.clock.now(),
            expires_at,
        )
    }

    /// The account of a user as the host's back end names them: by
    /// username, or by the host's own id for them.
    ///
    /// # Errors
    /// [`ChatError::NotFound`](crate::ChatError::NotFound) when nobody is
    /// so named (a name that could not be one included); what the store
    /// reports.
    pub async fn lookup_user(&self, who: UserRef<'_>) -> Result<Account> {
        let found = match who {
            UserRef::Username(name) => match Username::parse(name) {
                Ok(name) => self
                    .inner
                    .store
                    .find_user_by_username(&name)
                    .await?
                    .map(|stored| stored.account),
                Err(_) => None,
            },
            UserRef::External(id) => match ExternalId::parse(id) {
                Ok(id) => self.inner.store.find_user_by_external_id(&id).await?,
                Err(_) => None,
            },
        };
        found.ok_or(crate::ChatError::NotFound)
    }
}

/// A user as a host's back end names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserRef<'a> {
    /// By chat username.
    Username(&'a str),
    /// By the host's own id for them (what `upsert_user` was given).
    External(&'a str),
}
