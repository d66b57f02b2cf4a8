//! Keys a host application's back end uses to call the server API, each
//! with the scopes it may use.

use std::fmt;

use zeroize::Zeroizing;

use super::Timestamp;
use crate::error::{ChatError, Result};
use crate::session::TokenHash;

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ApiScope {
    /// Read the feed of every committed change.
    Feed,
    /// Send as a user, or as the system.
    Send,
    /// Make and manage groups.
    Groups,
    /// Create and update users.
    Users,
}

impl ApiScope {
    /// Every scope.
    pub const ALL: [Self; 4] = [Self::Feed, Self::Send, Self::Groups, Self::Users];

    /// Its name (`feed`, `send`, `groups`, `users`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feed => "feed",
            Self::Send => "send",
            Self::Groups => "groups",
            Self::Users => "users",
        }
    }
}

/// The scopes of a key: at least one, each at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiScopes(Vec<ApiScope>);

impl ApiScopes {
    /// Parses `feed,send`, as an operator writes it (spaces allowed).
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `scope` for an unknown name or none.
    pub fn parse(raw: &str) -> Result<Self> {
        let mut scopes = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scope = ApiScope::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| {
                    ChatError::invalid(
                        "scope",
                        format!("unknown scope {name:?}: feed, send, groups or users"),
                    )
                })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err(ChatError::invalid("scope", "name at least one scope"));
        }
        scopes.sort_unstable();
        Ok(Self(scopes))
    }

    /// Whether `scope` is among them.
    pub fn allows(&self, scope: ApiScope) -> bool {
        self.0.contains(&scope)
    }

    /// As stored and shown: `feed,send`.
    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A key's secret: `chat_key_` and 256 bits from the operating system's
/// generator in base64url (the prefix makes a leaked key easy to spot).
/// Shown once, when made; only its SHA-256 is stored. `Debug` is redacted
/// and the memory zeroed on drop.
pub struct ApiKeySecret(Zeroizing<String>);

impl ApiKeySecret {
    const PREFIX: &'static str = "chat_key_";

    /// Draws a fresh secret.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`] if the OS cannot provide randomness.
    pub fn generate() -> Result<Self> {
        let secret = crate::session::random_secret()?;
        Ok(Self(Zeroizing::new(format!("{}{}", Self::PREFIX, *secret))))
    }

    /// Whether `raw` has the shape of a key (not whether it is one).
    pub fn looks_like(raw: &str) -> bool {
        raw.strip_prefix(Self::PREFIX)
            .is_some_and(crate::session::is_random_secret)
    }

    /// Accepts a key presented by a client, checking only its shape.
    ///
    /// # Errors
    /// [`ChatError::Unauthenticated`] if it cannot be a key.
    pub fn parse(raw: &str) -> Result<Self> {
        if Self::looks_like(raw) {
            Ok(Self(Zeroizing::new(raw.to_owned())))
        } else {
            Err(ChatError::Unauthenticated)
        }
    }

    /// The secret, to show the operator once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256: what stores keep and look up (the secret has 256 bits
    /// of entropy, so a fast hash is enough, and a look-up by hash leaks
    /// nothing of it through timing).
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// A key, as stored: never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id, to name it when revoking.
    pub id: i64,
    /// The operator's name for it.
    pub name: String,
    /// What it may do.
    pub scopes: ApiScopes,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_as_operators_write_them() {
        let scopes = ApiScopes::parse(" send, feed,feed ").unwrap();
        assert_eq!(scopes.to_list(), "feed,send");
        assert!(scopes.allows(ApiScope::Feed) && !scopes.allows(ApiScope::Users));
        for bad in ["", " , ", "feed,admin"] {
            assert!(matches!(
                ApiScopes::parse(bad),
                Err(ChatError::InvalidInput { field: "scope", .. })
            ));
        }
    }

    #[test]
    fn secrets_are_prefixed_random_and_only_their_hash_is_kept() {
        let a = ApiKeySecret::generate().unwrap();
        let b = ApiKeySecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("chat_key_") && ApiKeySecret::looks_like(a.expose()));
        assert_eq!(ApiKeySecret::parse(a.expose()).unwrap().hash(), a.hash());
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(&a.expose()[9..]));
        for bad in ["", "chat_key_", "chat_key_short", &a.expose()[1..]] {
            assert!(ApiKeySecret::parse(bad).is_err(), "{bad:?}");
        }
    }
}
