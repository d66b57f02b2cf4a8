//! The host's own notion of who is asking: a port the host implements
//! in-process, the equivalent of a connect proxy.

use std::time::Duration;

use chat_core::Timestamp;
use hyper::HeaderMap;

/// How long a session an [`Authenticator`] vouched for lasts when the host
/// names no end: a WebSocket or event stream opened with it closes then
/// (`1008`), and the client reconnects, asking the authenticator again
/// (the web UI does, resuming where it was). So a user the host logs out
/// or blocks keeps a live connection at most this long.
pub const HOST_SESSION: Duration = Duration::from_secs(15 * 60);

/// An error the host's authenticator reports (its session store is down,
/// say): the request gets `503 unavailable`, and the error is logged.
pub type AuthenticatorError = Box<dyn std::error::Error + Send + Sync>;

/// Tells the adapter who a request comes from, by the host's own
/// credentials (its session cookie, its own header): tried before the
/// chat's credentials on every request and WebSocket.
///
/// The chat user is created or updated from what it returns, keyed by the
/// host's id, as [`Chat::upsert_user`](chat_core::Chat::upsert_user) does
/// (a user seen before with the same display name costs no store round
/// trip).
///
/// ```
/// use chat_http::{Authenticator, AuthenticatorError, HostUser};
/// use hyper::HeaderMap;
///
/// /// Users of the host's own session cookie, found in its session table.
/// struct HostSessions(std::collections::HashMap<String, (String, String)>);
///
/// #[async_trait::async_trait]
/// impl Authenticator for HostSessions {
///     async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<HostUser>, AuthenticatorError> {
///         let session = headers
///             .get_all("cookie")
///             .iter()
///             .filter_map(|v| v.to_str().ok())
///             .flat_map(|v| v.split(';'))
///             .find_map(|pair| pair.trim().strip_prefix("app_session="));
///         // No session of the host's, or not a live one: not ours (the
///         // chat's own credentials may follow, else 401).
///         let Some((id, name)) = session.and_then(|s| self.0.get(s)) else {
///             return Ok(None);
///         };
///         Ok(Some(HostUser::new(id.as_str()).username(name.as_str())))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The user `headers` prove, `Ok(None)` when they carry none of the
    /// host's credentials (the chat's own session or token is tried next,
    /// and without one the request gets `401`).
    ///
    /// # Errors
    /// When the host cannot tell (a dependency down): `503`.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<HostUser>, AuthenticatorError>;
}

impl std::fmt::Debug for dyn Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

/// A user of the host, as an [`Authenticator`] vouches for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostUser {
    pub(crate) external_id: String,
    pub(crate) username: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) ambient: bool,
}

impl HostUser {
    /// The host's user `external_id`, proven by credentials the browser
    /// sends by itself (a cookie): changes then need a same-site `Origin`
    /// or `Sec-Fetch-Site` header, which browsers send and forged
    /// cross-site requests cannot.
    pub fn new(external_id: impl Into<String>) -> Self {
        Self {
            external_id: external_id.into(),
            username: None,
            display_name: None,
            expires_at: None,
            ambient: true,
        }
    }

    /// The chat username to create the user with on first sight (the
    /// external id when none is given); a known user keeps theirs.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The name shown for the user; given, it replaces the stored one.
    #[must_use]
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// When the session ends (default: [`HOST_SESSION`] from now).
    #[must_use]
    pub fn until(mut self, expires_at: Timestamp) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The credentials came in a header a browser never adds by itself
    /// (`Authorization`, the host's own): no cross-site check is needed.
    #[must_use]
    pub fn explicit(mut self) -> Self {
        self.ambient = false;
        self
    }
}
