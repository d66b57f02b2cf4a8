use serde::{Deserialize, Serialize};

use super::{Email, Timestamp, UserId, Username};

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

/// A user as the owner sees their own account: with the email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    user: User,
    email: Email,
    created_at: Timestamp,
}

impl Account {
    /// Assembles an account from stored parts.
    pub fn new(user: User, email: Email, created_at: Timestamp) -> Self {
        Self {
            user,
            email,
            created_at,
        }
    }

    /// The public part.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The email given at signup.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// When the account was created.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
}
