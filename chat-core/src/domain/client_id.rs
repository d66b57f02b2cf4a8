use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChatError, Result};

/// The client's idempotency key for a message: 1 to 64 printable ASCII
/// characters. Sending twice with the same key stores one message.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientMessageId(String);

impl ClientMessageId {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates `raw` as a client message id.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `client_id`.
    pub fn parse(raw: impl Into<String>) -> Result<Self> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(ChatError::invalid(
                "client_id",
                format!("must be 1 to {} characters long", Self::MAX_LEN),
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ChatError::invalid(
                "client_id",
                "must be printable ASCII without spaces",
            ));
        }
        Ok(Self(raw))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl TryFrom<String> for ClientMessageId {
    type Error = ChatError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<ClientMessageId> for String {
    fn from(value: ClientMessageId) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_printable_ascii_up_to_64() {
        assert!(ClientMessageId::parse("c-1").is_ok());
        assert!(ClientMessageId::parse("~".repeat(64)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(65),
            "a b".into(),
            "é".into(),
            "a\tb".into(),
        ] {
            assert_eq!(
                ClientMessageId::parse(bad).unwrap_err().field(),
                Some("client_id")
            );
        }
    }
}
