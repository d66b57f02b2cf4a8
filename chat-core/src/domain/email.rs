use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

/// An email address with a plausible shape: `local@domain.tld`, at most 254
/// characters, no spaces or control characters.
///
/// Unique case-insensitively through [`Email::canonical`]. No mail is sent,
/// so the check is deliberately basic.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The longest address accepted (RFC 5321's path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates `raw` as an email address; surrounding whitespace is trimmed.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `email`.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        let value = raw.trim();
        let invalid = || ChatError::invalid("email", "must look like name@example.com");
        if value.is_empty() || value.chars().count() > Self::MAX_LEN {
            return Err(invalid());
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(value.to_owned()))
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-case form used for uniqueness.
    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl TryFrom<String> for Email {
    type Error = ChatError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_addresses() {
        let email = Email::parse("  Alice@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Alice@Example.COM");
        assert_eq!(email.canonical(), "alice@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
            "a@b.",
            "a@b..com",
        ] {
            assert_eq!(
                Email::parse(bad).unwrap_err().field(),
                Some("email"),
                "{bad:?}"
            );
        }
    }
}
