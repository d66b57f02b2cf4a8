//! Reactions: one emoji a member puts on a message.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{ChatError, Result};

/// A reaction's emoji: exactly one extended grapheme cluster (so a skin
/// tone, a flag, a keycap or a ZWJ sequence counts as one), at most
/// [`Emoji::MAX_BYTES`] bytes, not plain ASCII, with no whitespace or
/// control character, invisible or direction character, and not starting
/// with a modifier. New emoji work without a code change; letters, words
/// and invisible characters do not.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Emoji(String);

impl Emoji {
    /// The longest emoji accepted, in bytes (the longest standard ZWJ
    /// sequences take about 35).
    pub const MAX_BYTES: usize = 64;

    /// Validates `raw`.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `emoji` for anything but one
    /// grapheme cluster within the rules above.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        let refuse = || ChatError::invalid("emoji", "must be a single emoji");
        if raw.is_empty() || raw.len() > Self::MAX_BYTES || raw.is_ascii() {
            return Err(refuse());
        }
        if raw.graphemes(true).nth(1).is_some() {
            return Err(refuse());
        }
        if raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || invisible(c))
        {
            return Err(refuse());
        }
        // A letter or digit of a script is not an emoji ("é", "字"), nor is
        // a modifier on its own: an emoji's first character is a symbol,
        // or the digit of a keycap.
        let first = raw.chars().next().ok_or_else(refuse)?;
        let keycap = raw.ends_with('\u{20E3}');
        if (first.is_alphanumeric() && !keycap) || modifier(first) {
            return Err(refuse());
        }
        Ok(Self(raw))
    }

    /// The emoji.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that show nothing and may hide or reorder text: zero-width
/// spaces and non-joiners, direction marks and overrides, soft hyphens.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
    )
}

/// Characters that change the one before them and mean nothing alone:
/// variation selectors, the joiner, the keycap, skin tones, tags,
/// combining accents.
fn modifier(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{200D}'
            | '\u{20E3}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{1F3FB}'..='\u{1F3FF}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

impl fmt::Debug for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Emoji({:?})", self.0)
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Emoji {
    type Error = ChatError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<Emoji> for String {
    fn from(value: Emoji) -> Self {
        value.0
    }
}

/// One emoji's reactions to a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// The emoji.
    pub emoji: Emoji,
    /// How many members reacted with it.
    pub count: u64,
    /// Whether the reader is one of them; `None` where the message is not
    /// read by one reader (an event shared by every member's connections).
    pub me: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_emoji_of_any_shape_is_accepted() {
        let england = "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        for good in [
            "👍",
            "👍🏽",
            "❤️",
            "🇫🇷",
            "1️⃣",
            "👩‍👩‍👧‍👦",
            "🏳️‍🌈",
            "🧑🏿‍🤝‍🧑🏻",
            "☕",
            england,
        ] {
            assert_eq!(Emoji::parse(good).unwrap().as_str(), good, "{good:?}");
        }
    }

    #[test]
    fn words_letters_several_emoji_and_invisible_characters_are_refused() {
        let long = "👍".to_owned() + &"\u{1F3FD}".repeat(20);
        for bad in [
            "",
            "a",
            ":)",
            "+1",
            "👍👍",
            "👍 ",
            " 👍",
            "é",
            "字",
            "\u{200B}",
            "👍\u{200B}",
            "\u{0}",
            "\n",
            &long,
            "\u{FE0F}",
            "\u{1F3FD}",
            "\u{200D}",
            "\u{202E}👍",
            "👍\u{202E}",
            "👍\u{00AD}",
            "\u{301}\u{301}",
        ] {
            assert_eq!(
                Emoji::parse(bad).unwrap_err().field(),
                Some("emoji"),
                "{bad:?}"
            );
        }
    }
}
