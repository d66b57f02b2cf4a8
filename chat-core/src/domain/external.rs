//! Users a host application brings: known by the host's own id, with the
//! name the host shows.

use std::fmt;

use super::line::visible_line;
use crate::error::{ChatError, Result};

/// The host application's id of a user (a JWT's `sub`): 1 to 255 bytes of
/// printable text, compared exactly. It names the same chat user forever.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ExternalId(String);

impl ExternalId {
    /// The longest id accepted, in bytes.
    pub const MAX_BYTES: usize = 255;

    /// Validates `raw`, taken as it is (no trimming, no case folding).
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `external_id` if it is empty,
    /// longer than [`ExternalId::MAX_BYTES`], or holds a control character
    /// or surrounding whitespace.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(ChatError::invalid("external_id", "must not be empty"));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(ChatError::invalid(
                "external_id",
                format!("must be at most {} bytes long", Self::MAX_BYTES),
            ));
        }
        if raw.chars().any(char::is_control) || raw.trim() != raw {
            return Err(ChatError::invalid(
                "external_id",
                "must be printable, without surrounding whitespace",
            ));
        }
        Ok(Self(raw))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExternalId({:?})", self.0)
    }
}

/// The name shown for a user beside their username: 1 to 64 Unicode
/// scalar values on one visible line (the rules of a group's title). It
/// may change; the username never does.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// The longest name accepted, in Unicode scalar values.
    pub const MAX_LEN: usize = 64;

    /// Validates `raw`, trimming surrounding whitespace.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `display_name`.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        visible_line("display_name", raw.into(), Self::MAX_LEN).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({:?})", self.0)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_taken_exactly_and_bounded() {
        assert_eq!(
            ExternalId::parse("auth0|5f7c8ec7c33c6c004bbafe82")
                .unwrap()
                .as_str(),
            "auth0|5f7c8ec7c33c6c004bbafe82"
        );
        for bad in ["", " padded", "line\nbreak", &"x".repeat(256)] {
            assert!(
                matches!(
                    ExternalId::parse(bad),
                    Err(ChatError::InvalidInput {
                        field: "external_id",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        assert!(ExternalId::parse("x".repeat(255)).is_ok());
    }

    #[test]
    fn display_names_are_one_visible_line() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        for bad in ["", "   ", "two\nlines", "\u{202E}evil", &"x".repeat(65)] {
            assert!(
                matches!(
                    DisplayName::parse(bad),
                    Err(ChatError::InvalidInput {
                        field: "display_name",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
