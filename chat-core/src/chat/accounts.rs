//! Signup, login, sessions and logout.

use tracing::{info, instrument, warn};
use zeroize::Zeroizing;

use super::Chat;
use crate::common_passwords;
use crate::domain::{Account, Email, Password, PasswordHash, Username};
use crate::error::{ChatError, Result};
use crate::event::{Event, EventKind};
use crate::ports::{Action, NewUser, Topic};
use crate::session::{Session, SessionToken};

/// What a person fills in to sign up. Every field is validated by
/// [`Chat::signup`].
#[derive(Clone, Default)]
pub struct SignupForm {
    /// An email address.
    pub email: String,
    /// The wished-for username.
    pub username: String,
    /// The password.
    pub password: String,
    /// The password again.
    pub confirm_password: String,
}

impl std::fmt::Debug for SignupForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupForm")
            .field("email", &self.email)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A successful login: the account, its new session and the session's
/// secret token (hand it to the client once; only its hash is stored).
#[derive(Debug)]
pub struct Login {
    /// Who logged in.
    pub account: Account,
    /// The new session.
    pub session: Session,
    /// The bearer secret of the session.
    pub token: SessionToken,
}

impl Chat {
    /// Creates an account.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] naming `username`, `email`, `password`
    /// (too short, too long or too common) or `confirm_password` (does not
    /// match); [`ChatError::UsernameTaken`] or [`ChatError::EmailTaken`],
    /// compared case-insensitively. Nothing is stored on error.
    #[instrument(skip_all)]
    pub async fn signup(&self, form: SignupForm) -> Result<Account> {
        let SignupForm {
            email,
            username,
            password,
            confirm_password,
        } = form;
        let confirm_password = Zeroizing::new(confirm_password);
        let username = Username::parse(username)?;
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        if password.expose_str() != confirm_password.as_str() {
            return Err(ChatError::invalid(
                "confirm_password",
                "does not match the password",
            ));
        }
        if common_passwords::is_common(password.expose_str()) {
            return Err(ChatError::invalid(
                "password",
                "is one of the most common passwords; choose another",
            ));
        }
        // Spare the hashing when the name is visibly taken; the store's
        // unique index still decides races.
        if self
            .inner
            .store
            .find_user_by_username(&username)
            .await?
            .is_some()
        {
            return Err(ChatError::UsernameTaken);
        }
        let password_hash = self.inner.hasher.hash(&password).await?;
        let account = self
            .inner
            .store
            .insert_user(NewUser {
                username,
                email,
                password_hash,
                created_at: self.inner.clock.now(),
            })
            .await?;
        info!(user = %account.user().id(), "signed up");
        Ok(account)
    }

    /// Logs in and opens a new session.
    ///
    /// `client_key` identifies the client for rate limiting (typically its
    /// network address).
    ///
    /// # Errors
    /// [`ChatError::InvalidCredentials`] for an unknown user and for a wrong
    /// password alike, after the same amount of hashing;
    /// [`ChatError::RateLimited`] after too many attempts for the username or
    /// from the client.
    #[instrument(skip_all)]
    pub async fn login(&self, username: &str, password: String, client_key: &str) -> Result<Login> {
        let password = Zeroizing::new(password);
        self.inner
            .limiter
            .check(Action::LoginPerClient, client_key)
            .await?;
        let Ok(username) = Username::parse(username) else {
            return Err(ChatError::InvalidCredentials);
        };
        self.inner
            .limiter
            .check(Action::LoginPerUsername, &username.canonical())
            .await?;
        // A password no account can have is rejected before any hashing,
        // which also keeps huge inputs away from argon2.
        let Ok(password) = Password::parse(password.as_str()) else {
            info!(%username, "login failed");
            return Err(ChatError::InvalidCredentials);
        };
        let stored = self.inner.store.find_user_by_username(&username).await?;
        let (hash, account) = match stored {
            Some(stored) => (stored.password_hash, Some(stored.account)),
            None => (self.dummy_hash().await?, None),
        };
        let verified = self.inner.hasher.verify(&password, &hash).await?;
        let Some(account) = account.filter(|_| verified) else {
            info!(%username, "login failed");
            return Err(ChatError::InvalidCredentials);
        };
        let token = SessionToken::generate()?;
        let now = self.inner.clock.now();
        let user = account.user().clone();
        let id = self
            .inner
            .store
            .insert_session(&token.hash(), user.id(), now)
            .await?;
        let expires_at = now.plus(self.inner.config.session_absolute_timeout);
        info!(user = %user.id(), session = %id, "logged in");
        Ok(Login {
            account,
            session: Session::new(id, user, now, expires_at),
            token,
        })
    }

    /// Resolves a bearer token to its session.
    ///
    /// # Errors
    /// [`ChatError::Unauthenticated`] if the token is malformed, unknown,
    /// logged out, idle for longer than the idle timeout or older than the
    /// absolute timeout (an expired session is deleted).
    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        let token = SessionToken::parse(token)?;
        let record = self
            .inner
            .store
            .find_session(&token.hash())
            .await?
            .ok_or(ChatError::Unauthenticated)?;
        let config = &self.inner.config;
        let now = self.inner.clock.now();
        let session = Session::new(
            record.id,
            record.user,
            record.created_at,
            record.created_at.plus(config.session_absolute_timeout),
        );
        let idle = now.since(record.last_seen_at);
        if idle >= config.session_idle_timeout || now >= session.expires_at() {
            self.end_session(&session).await?;
            return Err(ChatError::Unauthenticated);
        }
        if idle >= config.touch_interval() {
            self.inner.store.touch_session(session.id(), now).await?;
        }
        Ok(session)
    }

    /// Ends the session of `token`: it is deleted, the token stops working
    /// and the session's live subscriptions end.
    ///
    /// # Errors
    /// [`ChatError::Unauthenticated`] if the token opens no session.
    #[instrument(skip_all)]
    pub async fn logout(&self, token: &str) -> Result<()> {
        let session = self.authenticate(token).await?;
        self.end_session(&session).await?;
        info!(user = %session.user().id(), session = %session.id(), "logged out");
        Ok(())
    }

    /// The account of the session's user, with the email.
    ///
    /// # Errors
    /// [`ChatError::Unauthenticated`] if the account no longer exists.
    pub async fn account(&self, session: &Session) -> Result<Account> {
        self.inner
            .store
            .find_account(session.user().id())
            .await?
            .ok_or(ChatError::Unauthenticated)
    }

    /// Deletes every expired session; returns how many. Call it now and
    /// then (the reference server does, every few minutes).
    ///
    /// # Errors
    /// What the store reports.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        let config = &self.inner.config;
        self.inner
            .store
            .delete_expired_sessions(
                now.minus(config.session_idle_timeout),
                now.minus(config.session_absolute_timeout),
            )
            .await
    }

    /// Checks that the store and the bus answer.
    ///
    /// # Errors
    /// What the failing dependency reports (typically `Unavailable`).
    pub async fn check_ready(&self) -> Result<()> {
        self.inner.store.ping().await?;
        self.inner.bus.ping().await
    }

    async fn end_session(&self, session: &Session) -> Result<()> {
        self.inner.store.delete_session(session.id()).await?;
        let event = Event::new(EventKind::SessionEnded {
            session: session.id(),
        });
        let topic = Topic::user(session.user().id());
        if let Err(error) = self.inner.bus.publish(&[topic], event).await {
            // The session is gone from the store; live connections notice
            // when they next authenticate.
            warn!(%error, "could not announce the end of a session");
        }
        Ok(())
    }

    async fn dummy_hash(&self) -> Result<PasswordHash> {
        let hash = self
            .inner
            .dummy_hash
            .get_or_try_init(|| async {
                let random = SessionToken::generate()?;
                let password = Password::parse(random.expose())?;
                self.inner.hasher.hash(&password).await
            })
            .await?;
        Ok(hash.clone())
    }
}
