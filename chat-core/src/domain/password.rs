use std::fmt;

use zeroize::Zeroizing;

use crate::error::{ChatError, Result};

/// A password as typed: 8 to 128 characters, spaces and any Unicode allowed,
/// never trimmed or truncated.
///
/// Its `Debug` output is redacted, it has no `Display`, and its memory is
/// zeroed when dropped.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// The shortest password accepted, in characters.
    pub const MIN_LEN: usize = 8;
    /// The longest password accepted, in characters.
    pub const MAX_LEN: usize = 128;

    /// Validates `raw` as a password, taking ownership so the caller's copy is
    /// zeroed too.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `password` if it is too short or
    /// too long.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        Self::parse_field(raw, "password")
    }

    /// Like [`Password::parse`], naming `field` in the error.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `field`.
    pub fn parse_field(raw: impl Into<String>, field: &'static str) -> Result<Self> {
        let raw = Zeroizing::new(raw.into());
        // Count at most MAX_LEN + 1 characters, so a huge input costs nothing.
        let len = raw.chars().take(Self::MAX_LEN + 1).count();
        if len < Self::MIN_LEN {
            return Err(ChatError::invalid(
                field,
                format!("must be at least {} characters long", Self::MIN_LEN),
            ));
        }
        if len > Self::MAX_LEN {
            return Err(ChatError::invalid(
                field,
                format!("must be at most {} characters long", Self::MAX_LEN),
            ));
        }
        Ok(Self(raw))
    }

    /// The password's bytes, for hashing.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub(crate) fn expose_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in PHC string format (`$argon2id$v=19$m=…`).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read from a store or produced by a hasher.
    pub fn from_phc(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_without_trimming() {
        assert!(Password::parse("        ").is_ok(), "eight spaces");
        assert!(Password::parse("ääääääää").is_ok());
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("é".repeat(128)).is_ok());
        let err = Password::parse("é".repeat(129)).unwrap_err();
        assert_eq!(err.field(), Some("password"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let password = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        let hash = PasswordHash::from_phc("$argon2id$secret");
        assert!(!format!("{hash:?}").contains("secret"));
    }
}
