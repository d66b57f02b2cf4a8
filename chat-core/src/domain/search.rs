use std::fmt;

use crate::error::{ChatError, Result};

/// A search term for message history: a case-insensitive substring in which
/// every character, `%`, `_`, `\` and quotes included, stands for itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SearchPattern {
    folded: String,
}

impl SearchPattern {
    /// The longest search term accepted, in characters.
    pub const MAX_LEN: usize = 100;

    /// Validates `raw` as a search term, trimming surrounding whitespace.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `search` if it is empty, longer
    /// than [`SearchPattern::MAX_LEN`] or holds a control character.
    pub fn parse(raw: &str) -> Result<Self> {
        let term = raw.trim();
        if term.is_empty() {
            return Err(ChatError::invalid("search", "must not be empty"));
        }
        if term.chars().take(Self::MAX_LEN + 1).count() > Self::MAX_LEN {
            return Err(ChatError::invalid(
                "search",
                format!("must be at most {} characters long", Self::MAX_LEN),
            ));
        }
        if term.chars().any(char::is_control) {
            return Err(ChatError::invalid(
                "search",
                "must not contain control characters",
            ));
        }
        Ok(Self {
            folded: fold_for_search(term),
        })
    }

    /// The term case-folded with [`fold_for_search`]; match it against text
    /// folded the same way.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// The folded term's length in characters (trigram indexes need three).
    pub fn char_len(&self) -> usize {
        self.folded.chars().count()
    }

    /// Whether `text` contains this term, case-insensitively. Stores may use
    /// this as the reference for what their indexed search must return.
    pub fn is_match(&self, text: &str) -> bool {
        fold_for_search(text).contains(&self.folded)
    }
}

impl fmt::Debug for SearchPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SearchPattern(<{} chars>)", self.char_len())
    }
}

/// The case folding every store applies to message text and search terms, so
/// that all backends agree on what matches: Unicode lower-casing.
pub fn fold_for_search(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_unicode_case_and_keeps_wildcards_literal() {
        let pattern = SearchPattern::parse(" ÄPFEL_%' ").unwrap();
        assert_eq!(pattern.folded(), "äpfel_%'");
        assert!(pattern.is_match("grüne äpfel_%' hier"));
        assert!(!pattern.is_match("grüne äpfelx%' hier"));
    }

    #[test]
    fn rejects_empty_long_and_control() {
        for bad in [String::new(), "  ".into(), "x".repeat(101), "a\u{0}".into()] {
            assert_eq!(
                SearchPattern::parse(&bad).unwrap_err().field(),
                Some("search")
            );
        }
    }
}
