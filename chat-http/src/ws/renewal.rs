//! `{"type":"auth","token":"<jwt>"}`: a fresh token your application signed,
//! for a connection opened with one, so that it outlives the first token
//! without reconnecting. Answered by the connection itself (it changes the
//! connection's expiry), with `{"type":"auth","expires_at":"…"}` or an
//! error frame.

use serde::Deserialize;

/// A fresh token for the connection.
pub(super) struct Renewal {
    /// The token.
    pub(super) token: String,
}

/// The frame, as it reads.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Frame {
    Auth { token: String },
}

impl Renewal {
    /// The renewal `text` is, if it is one.
    pub(super) fn parse(text: &str) -> Option<Self> {
        match serde_json::from_str(text).ok()? {
            Frame::Auth { token } => Some(Self { token }),
        }
    }
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renewal { token: <redacted> }")
    }
}
