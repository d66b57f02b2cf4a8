use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

/// A username: 3 to 32 characters of `[A-Za-z0-9_.-]`.
///
/// Displayed as typed; compared for uniqueness case-insensitively through
/// [`Username::canonical`], and for look-alikes through
/// [`Username::skeleton`]: no two accounts may have names that read the same
/// (`alice`, `a1ice`, `aIice`; `mom`, `rnom`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// The shortest username allowed, in characters.
    pub const MIN_LEN: usize = 3;
    /// The longest username allowed, in characters.
    pub const MAX_LEN: usize = 32;

    /// Validates `raw` as a username.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `username` if it is too short,
    /// too long or has a character outside `[A-Za-z0-9_.-]`.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        Self::parse_field(raw, "username")
    }

    /// Like [`Username::parse`], naming `field` in the error (for example
    /// `"to"` when the username addresses a recipient).
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `field`.
    pub fn parse_field(raw: impl Into<String>, field: &'static str) -> Result<Self> {
        let raw = raw.into();
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(ChatError::invalid(
                field,
                format!(
                    "must be {} to {} characters long",
                    Self::MIN_LEN,
                    Self::MAX_LEN
                ),
            ));
        }
        if !raw.chars().all(is_username_char) {
            return Err(ChatError::invalid(
                field,
                "may only contain letters a-z, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(raw))
    }

    /// The username as typed at signup.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-case form used for uniqueness and look-ups.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// What the name looks like, after Unicode's confusable skeletons (TR39)
    /// as they apply to the characters a username may hold: lower case,
    /// `0` read as `o`, `1` and `i` as `l`, then `rn` as `m`, `vv` as `w`
    /// and `cl` as `d`. Two names with one skeleton may be mistaken for each
    /// other; signup refuses the second. Stores compute the same in SQL for
    /// names stored before the rule (`SKELETON_SQL` in each store).
    pub fn skeleton(&self) -> String {
        let single: String = self
            .0
            .to_ascii_lowercase()
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' | 'i' => 'l',
                other => other,
            })
            .collect();
        single
            .replace("rn", "m")
            .replace("vv", "w")
            .replace("cl", "d")
    }
}

/// Whether `c` may appear in a username (and so in a directory prefix).
pub(crate) fn is_username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl TryFrom<String> for Username {
    type Error = ChatError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_read_the_same_share_a_skeleton() {
        let skeleton = |raw: &str| Username::parse(raw).unwrap().skeleton();
        for (a, b) in [
            ("alice", "a1ice"),
            ("alice", "aIice"),
            ("alice", "ALICE"),
            ("bob0", "bobo"),
            ("mom", "rnom"),
            ("wendy", "vvendy"),
            ("dave", "clave"),
            ("dave", "c1ave"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a} {b}");
        }
        for (a, b) in [("alice", "alice2"), ("bob_1", "bob-1"), ("bob.x", "bobx")] {
            assert_ne!(skeleton(a), skeleton(b), "{a} {b}");
        }
    }

    #[test]
    fn accepts_the_allowed_alphabet_and_keeps_case() {
        let name = Username::parse("Alice_1.b-c").unwrap();
        assert_eq!(name.as_str(), "Alice_1.b-c");
        assert_eq!(name.canonical(), "alice_1.b-c");
    }

    #[test]
    fn rejects_bad_lengths_and_characters() {
        for bad in [
            "ab",
            &"a".repeat(33),
            "al ice",
            "bob!",
            "émile",
            "",
            "a\u{0}b",
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.field(), Some("username"), "{bad:?}");
        }
        assert!(Username::parse("a".repeat(32)).is_ok());
        assert!(Username::parse("abc").is_ok());
    }
}
