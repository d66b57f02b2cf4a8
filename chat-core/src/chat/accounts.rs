//! Signup, login, sessions and logout.

use std::sync::Arc;

use tracing::{info, instrument, warn};
use zeroize::Zeroizing;

use super::Chat;
use crate::common_passwords;
use crate::device::{DeviceKey, DeviceToken, KnownDevice};
use crate::domain::{Account, Client, Email, Password, PasswordHash, Username};
use crate::error::{ChatError, Result};
use crate::event::{Event, EventKind};
use crate::ports::{Action, NewUser, StoredUser, Topic};
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
/// secret token (hand it to the client once; only its hash is stored), and
/// a device token for the client to present at its next login.
#[derive(Debug)]
pub struct Login {
    /// Who logged in.
    pub account: Account,
    /// The new session.
    pub session: Session,
    /// The bearer secret of the session.
    pub token: SessionToken,
    /// The client's device token: presented at its next logins, it keeps
    /// the client's attempts apart from everyone else's.
    pub device: DeviceToken,
}

impl Chat {
    /// Creates an account for a person at `client`.
    ///
    /// What can be refused cheaply is refused before the password is
    /// hashed: invalid input, a signup over the client's or its network's
    /// limit, a taken username or email. A client waits for hashing behind
    /// at most a couple of its own requests.
    ///
    /// A taken email is said as such (`EmailTaken`), so that its owner
    /// knows to log in instead; the signup limits per address and per
    /// network keep that from telling anyone much at scale.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] naming `username`, `email`, `password`
    /// (too short, too long or too common) or `confirm_password` (does not
    /// match); [`ChatError::RateLimited`]; [`ChatError::UsernameTaken`] or
    /// [`ChatError::EmailTaken`], compared case-insensitively. Nothing is
    /// stored on error.
    #[instrument(skip_all)]
    pub async fn signup(&self, form: SignupForm, client: impl Into<Client>) -> Result<Account> {
        let client = client.into();
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
        self.check_client(&client, Action::SignupPerClient, Action::SignupPerNetwork)
            .await?;
        // Spare the hashing when the name or email is visibly taken (a name
        // that reads like a taken one is taken); the store's unique indexes
        // still decide races between two signups of one name.
        let store = &self.inner.store;
        if store.look_alike_exists(&username).await? {
            return Err(ChatError::UsernameTaken);
        }
        if store.email_exists(&email).await? {
            return Err(ChatError::EmailTaken);
        }
        let place = self.inner.hashing.enter(client.address.address_key())?;
        let hasher = Arc::clone(&self.inner.hasher);
        // The hash holds the client's place until it is done, even if this
        // request is dropped meanwhile (argon2 runs on regardless).
        let password_hash = tokio::spawn(async move {
            let _place = place;
            hasher.hash(&password).await
        })
        .await
        .map_err(ChatError::internal)??;
        let account = store
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
    /// `client` is where the attempt comes from: limits count per client
    /// address and per network. A client that presents the device token of
    /// an earlier successful login to this account
    /// ([`Client::with_device`]) is limited per device; any other client by
    /// the account's shared limit, so that someone else's failed guesses
    /// never lock the owner's known devices out. A successful login hands
    /// out a new device token ([`Login::device`]).
    ///
    /// # Errors
    /// [`ChatError::InvalidCredentials`] for an unknown user and for a wrong
    /// password alike, after the same amount of hashing;
    /// [`ChatError::AccountDisabled`] for the right password of an account
    /// an administrator disabled;
    /// [`ChatError::RateLimited`] after too many attempts for the username
    /// (or device), from the client or from its network.
    #[instrument(skip_all)]
    pub async fn login(
        &self,
        username: &str,
        password: String,
        client: impl Into<Client>,
    ) -> Result<Login> {
        let client = client.into();
        let password = Zeroizing::new(password);
        self.check_client(&client, Action::LoginPerClient, Action::LoginPerNetwork)
            .await?;
        let Ok(username) = Username::parse(username) else {
            return Err(ChatError::InvalidCredentials);
        };
        let stored = self.inner.store.find_user_by_username(&username).await?;
        let device = match (client.device(), &stored) {
            (Some(presented), Some(stored)) => self
                .known_device(presented)
                .await?
                .filter(|device| device.user == stored.account.user().id()),
            _ => None,
        };
        let limiter = &self.inner.limiter;
        match &device {
            Some(device) => limiter.check(Action::LoginPerDevice, &device.id).await?,
            None => {
                limiter
                    .check(Action::LoginPerUsername, &username.canonical())
                    .await?;
            }
        }
        // A password no account can have is rejected before any hashing,
        // which also keeps huge inputs away from argon2.
        let Ok(password) = Password::parse(password.as_str()) else {
            info!(%username, "login failed");
            return Err(ChatError::InvalidCredentials);
        };
        let (hash, account) = match stored {
            Some(StoredUser {
                password_hash: Some(hash),
                account,
            }) => (hash, Some(account)),
            // No such account, or one a host brought (no password): the
            // same work, then the same refusal.
            _ => (self.dummy_hash().await?, None),
        };
        let place = self.inner.hashing.enter(client.address.address_key())?;
        let hasher = Arc::clone(&self.inner.hasher);
        let verified = tokio::spawn(async move {
            let _place = place;
            hasher.verify(&password, &hash).await
        })
        .await
        .map_err(ChatError::internal)??;
        let Some(account) = account.filter(|_| verified) else {
            info!(%username, known_device = device.is_some(), "login failed");
            return Err(ChatError::InvalidCredentials);
        };
        // Said only to whoever knows the password.
        if account.disabled_at().is_some() {
            info!(user = %account.user().id(), "login to a disabled account refused");
            return Err(ChatError::AccountDisabled);
        }
        let login = self.new_session(account).await?;
        info!(user = %login.account.user().id(), session = %login.session.id(), "logged in");
        Ok(login)
    }

    /// A stored session for `account`, with its token and a device token:
    /// what a login (or a host vouching for its user) opens.
    pub(super) async fn new_session(&self, account: Account) -> Result<Login> {
        let token = SessionToken::generate()?;
        let now = self.inner.clock.now();
        let user = account.user().clone();
        let id = self
            .inner
            .store
            .insert_session(&token.hash(), user.id(), now)
            .await?;
        let device = self.device_key().await?.issue(user.id(), now)?;
        let expires_at = now.plus(self.inner.config.session_absolute_timeout);
        Ok(Login {
            account,
            session: Session::new(id, user, now, expires_at),
            token,
            device,
        })
    }

    /// Counts an attempt of the client against its address's limit and its
    /// network's.
    async fn check_client(
        &self,
        client: &Client,
        per_client: Action,
        per_network: Action,
    ) -> Result<()> {
        let address = &client.address;
        self.inner
            .limiter
            .check(per_client, &address.address_key())
            .await?;
        if let Some(network) = address.network_key(self.inner.config.ipv4_prefix) {
            self.inner.limiter.check(per_network, &network).await?;
        }
        Ok(())
    }

    /// The device `presented` stands for, if its token is ours and fresh.
    async fn known_device(&self, presented: &str) -> Result<Option<KnownDevice>> {
        let key = self.device_key().await?;
        let now = self.inner.clock.now();
        Ok(key.verify(presented, now, self.inner.config.device_lifetime))
    }

    /// The key that signs device tokens, shared through the store by every
    /// process.
    pub(super) async fn device_key(&self) -> Result<&DeviceKey> {
        self.inner
            .device_key
            .get_or_try_init(|| async {
                let mut candidate = Zeroizing::new([0u8; 32]);
                getrandom::fill(candidate.as_mut())
                    .map_err(|e| ChatError::unavailable(e.to_string()))?;
                let secret = self
                    .inner
                    .store
                    .shared_secret(DeviceKey::SECRET_NAME, candidate.as_ref())
                    .await?;
                Ok(DeviceKey::new(secret))
            })
            .await
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
