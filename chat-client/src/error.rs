//! What can go wrong.

/// An error the server answered with: its status and its JSON error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The stable code (`invalid_input`, `rate_limited`, …).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The input field at fault, if any.
    pub field: Option<String>,
}

/// Everything the client can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the call.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The server could not be reached, or answered with something that
    /// is not the protocol.
    #[error("transport: {0}")]
    Transport(String),
    /// The base URL is not `http://host[:port]`.
    #[error("invalid base URL: {0}")]
    Url(String),
    /// The live connection has stopped (its session ended, or it was
    /// closed).
    #[error("the live connection is closed")]
    Closed,
}
