use serde::{Deserialize, Serialize};

use super::{DisplayName, Email, ExternalId, Timestamp, UserId, Username};

/// A user as others see them: id and username.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct User {
    id: UserId,
    username: Username,
}

impl User {
    /// Assembles a user from stored parts.
    pub fn new(id: UserId, username: Username) -> Self {
        Self { id, username }
    }

    /// The user's id.
    pub fn id(&self) -> UserId {
        self.id
    }

    /// The user's name, as typed at signup.
    pub fn username(&self) -> &Username {
        &self.username
    }
}

/// A user as the owner sees their own account: with the email of a
/// password account, and the display name a host application gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    user: User,
    email: Option<Email>,
    display_name: Option<DisplayName>,
    /// The host's id, for a user a host brought.
    external_id: Option<ExternalId>,
    created_at: Timestamp,
    /// Whether the operator made them an administrator.
    admin: bool,
    /// When an administrator disabled the account, if it is disabled.
    disabled_at: Option<Timestamp>,
}

impl Account {
    /// Assembles a password account from stored parts.
    pub fn new(user: User, email: Email, created_at: Timestamp) -> Self {
        Self {
            user,
            email: Some(email),
            display_name: None,
            external_id: None,
            created_at,
            admin: false,
            disabled_at: None,
        }
    }

    /// Assembles the account of a user a host application brings (no
    /// email, no password) from stored parts.
    pub fn external(user: User, created_at: Timestamp) -> Self {
        Self {
            user,
            email: None,
            display_name: None,
            external_id: None,
            created_at,
            admin: false,
            disabled_at: None,
        }
    }

    /// The same account with the host's id for it.
    #[must_use]
    pub fn with_external_id(mut self, external_id: Option<ExternalId>) -> Self {
        self.external_id = external_id;
        self
    }

    /// The same account with its standing: whether it is an
    /// administrator, and when it was disabled (`None`: it is not).
    #[must_use]
    pub fn with_standing(mut self, admin: bool, disabled_at: Option<Timestamp>) -> Self {
        self.admin = admin;
        self.disabled_at = disabled_at;
        self
    }

    /// Whether the operator made this user an administrator (from the
    /// server's command line, never through the API).
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// When an administrator disabled the account; `None` while it is
    /// enabled. A disabled account logs in nowhere and has no session.
    pub fn disabled_at(&self) -> Option<Timestamp> {
        self.disabled_at
    }

    /// The host's id, for a user a host brought (`upsert_user`).
    pub fn external_id(&self) -> Option<&ExternalId> {
        self.external_id.as_ref()
    }

    /// The same account with `display_name`.
    #[must_use]
    pub fn with_display_name(mut self, display_name: Option<DisplayName>) -> Self {
        self.display_name = display_name;
        self
    }

    /// The public part.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The email given at signup; `None` for a user a host brings.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }

    /// The name shown beside the username, if the host gave one.
    pub fn display_name(&self) -> Option<&DisplayName> {
        self.display_name.as_ref()
    }

    /// When the account was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}
