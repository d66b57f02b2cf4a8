//! One visible line of text, as a title or a display name must be.

use crate::error::{ChatError, Result};

/// Validates `raw` as one visible line of at most `max` Unicode scalar
/// values, trimming surrounding whitespace: not empty, no control or
/// invisible formatting characters (the bidirectional ones could make a
/// name read as something it is not), at least one visible character.
///
/// # Errors
/// [`ChatError::InvalidInput`] on `field`, saying which rule failed.
pub(crate) fn visible_line(field: &'static str, raw: String, max: usize) -> Result<String> {
    let line = raw.trim();
    if line.is_empty() {
        return Err(ChatError::invalid(field, "must not be empty"));
    }
    if line.chars().take(max + 1).count() > max {
        return Err(ChatError::invalid(
            field,
            format!("must be at most {max} characters long"),
        ));
    }
    if line
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(ChatError::invalid(
            field,
            "must be one line without control characters",
        ));
    }
    if line.chars().any(is_format) {
        return Err(ChatError::invalid(
            field,
            "must not contain invisible formatting characters",
        ));
    }
    if line.chars().all(|c| c.is_whitespace() || is_blank(c)) {
        return Err(ChatError::invalid(field, "must have a visible character"));
    }
    if line.len() == raw.len() {
        Ok(raw)
    } else {
        Ok(line.to_owned())
    }
}

/// Invisible formatting characters (Unicode's category Cf): the controls
/// of the bidirectional algorithm, zero-width characters, the soft hyphen,
/// tags.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Letters and symbols that show as nothing.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
    )
}
