use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

/// The text of a message: 1 to 4000 Unicode scalar values after trimming,
/// with no control characters other than newline and tab.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageText(String);

impl MessageText {
    /// The longest text accepted, in Unicode scalar values.
    pub const MAX_LEN: usize = 4000;

    /// Validates `raw`, trimming surrounding whitespace.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `text` if it is empty after
    /// trimming, longer than [`MessageText::MAX_LEN`], or holds a control
    /// character other than `\n` and `\t`.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        let text = raw.trim();
        if text.is_empty() {
            return Err(ChatError::invalid("text", "must not be empty"));
        }
        if text.chars().take(Self::MAX_LEN + 1).count() > Self::MAX_LEN {
            return Err(ChatError::invalid(
                "text",
                format!("must be at most {} characters long", Self::MAX_LEN),
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ChatError::invalid(
                "text",
                "must not contain control characters",
            ));
        }
        if text.len() == raw.len() {
            Ok(Self(raw))
        } else {
            Ok(Self(text.to_owned()))
        }
    }

    /// The empty text of a deleted message's tombstone: no text a sender
    /// could send.
    pub(crate) fn removed() -> Self {
        Self(String::new())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MessageText {
    // Message bodies are private: keep them out of logs and panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageText(<{} bytes>)", self.0.len())
    }
}

impl TryFrom<String> for MessageText {
    type Error = ChatError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<MessageText> for String {
    fn from(value: MessageText) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_newlines_and_tabs() {
        let text = MessageText::parse("  hello\n\tworld \n").unwrap();
        assert_eq!(text.as_str(), "hello\n\tworld");
    }

    #[test]
    fn counts_scalar_values_not_bytes() {
        assert!(MessageText::parse("😀".repeat(4000)).is_ok());
        assert!(MessageText::parse("😀".repeat(4001)).is_err());
    }

    #[test]
    fn rejects_empty_and_control_characters() {
        for bad in [
            "",
            "   \n\t ",
            "a\u{0}b",
            "bell\u{7}",
            "cr\rlf",
            "esc\u{1b}[31m",
            "x\u{85}y",
        ] {
            assert_eq!(
                MessageText::parse(bad).unwrap_err().field(),
                Some("text"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_body() {
        let text = MessageText::parse("secret plans").unwrap();
        assert!(!format!("{text:?}").contains("secret"));
    }
}
