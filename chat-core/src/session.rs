//! Session tokens and the sessions they open.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::domain::{SessionId, Timestamp, User};
use crate::error::{ChatError, Result};

/// 256 random bits from the operating system, as 43 characters of
/// unpadded base64url: the body of every bearer secret the chat makes
/// (session tokens, keys of the server API).
///
/// # Errors
/// [`ChatError::Unavailable`] if the OS cannot provide randomness.
pub(crate) fn random_secret() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| ChatError::unavailable(e.to_string()))?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

/// Whether `raw` has the shape of a [`random_secret`]: 43 base64url
/// characters.
pub(crate) fn is_random_secret(raw: &str) -> bool {
    raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A session's bearer secret: 256 bits from the operating system's random
/// number generator, as 43 characters of unpadded base64url.
///
/// Only its SHA-256 ([`TokenHash`]) is ever stored. `Debug` is redacted and
/// the memory is zeroed on drop.
#[derive(Clone)]
pub struct SessionToken(Zeroizing<String>);

impl SessionToken {
    /// Draws a fresh token from the OS random number generator.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`] if the OS cannot provide randomness.
    pub fn generate() -> Result<Self> {
        random_secret().map(Self)
    }

    /// Accepts a token presented by a client, checking only its shape.
    ///
    /// # Errors
    /// [`ChatError::Unauthenticated`] if it cannot be a token of ours.
    pub fn parse(raw: &str) -> Result<Self> {
        if is_random_secret(raw) {
            Ok(Self(Zeroizing::new(raw.to_owned())))
        } else {
            Err(ChatError::Unauthenticated)
        }
    }

    /// The token, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the token: what stores keep and look up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The anti-CSRF token bound to this session: derived from the session
    /// token with a one-way function, so it reveals nothing about it and
    /// needs no storage.
    pub fn csrf_token(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"chat-csrf-v1:");
        hasher.update(self.0.as_bytes());
        URL_SAFE_NO_PAD.encode(hasher.finalize())
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn verify_csrf(&self, presented: &str) -> bool {
        self.csrf_token()
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The SHA-256 of a [`SessionToken`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The SHA-256 of `secret`.
    pub(crate) fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// Wraps 32 bytes read from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// An authenticated session: proof that a request acts for [`Session::user`].
///
/// Only the service makes one: [`Chat::login`](crate::Chat::login) and
/// [`Chat::authenticate`](crate::Chat::authenticate) after checking a
/// password or a token, [`Chat::open_session`](crate::Chat::open_session)
/// and [`Chat::session_for`](crate::Chat::session_for) for a host that has
/// authenticated the user itself. Holding a `Session` means one of them
/// vouched for the user.
#[derive(Clone, Debug)]
pub struct Session {
    id: SessionId,
    user: User,
    created_at: Timestamp,
    expires_at: Timestamp,
}

impl Session {
    pub(crate) fn new(
        id: SessionId,
        user: User,
        created_at: Timestamp,
        expires_at: Timestamp,
    ) -> Self {
        Self {
            id,
            user,
            created_at,
            expires_at,
        }
    }

    /// The session's public id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Who is logged in.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// When the session began (login).
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// When the session ends at the latest, whatever its activity.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_unique_and_parse_back() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        let parsed = SessionToken::parse(a.expose()).unwrap();
        assert_eq!(parsed.hash(), a.hash());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn malformed_tokens_are_unauthenticated() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
        ] {
            assert!(matches!(
                SessionToken::parse(bad),
                Err(ChatError::Unauthenticated)
            ));
        }
    }

    #[test]
    fn csrf_token_is_bound_to_the_session() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert!(a.verify_csrf(&a.csrf_token()));
        assert!(!a.verify_csrf(&b.csrf_token()));
        assert!(!a.verify_csrf(""));
        assert_ne!(a.csrf_token(), a.expose());
    }

    #[test]
    fn debug_is_redacted() {
        let token = SessionToken::generate().unwrap();
        assert!(!format!("{token:?}{:?}", token.hash()).contains(token.expose()));
    }
}
