//! What an operator can tune.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::SetupError;

/// The adapter's settings. The defaults suit a server behind no proxy,
/// serving its own UI.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Origins (`https://chat.example.com`) allowed besides the server's own
    /// for state-changing requests and WebSockets. Exact match. Each must be
    /// `http` or `https`, a host and an optional port, nothing more: `null`
    /// (what sandboxed frames and some redirects send) can never be allowed,
    /// and [`ChatHttp::new`](crate::ChatHttp::new) refuses a configuration
    /// that tries.
    pub allowed_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed (reverse proxies).
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether the server is reached over TLS: `Secure`, `__Host-` cookies
    /// and HSTS.
    pub tls: bool,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's head (and, on TLS,
    /// to finish the handshake) before the connection is closed.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, once its head
    /// is in (`408` after).
    pub body_timeout: Duration,
    /// How long a write to a client may make no progress (a client that
    /// reads nothing) before the connection is dropped: plain HTTP, TLS and
    /// WebSockets alike. Applied by [`serve`](crate::serve) and
    /// [`serve_tls`](crate::serve_tls); a host that drives connections
    /// itself brings its own.
    pub write_timeout: Duration,
    /// Connections served at once, WebSockets included for as long as they
    /// stay open; past it, new ones are closed at once (counted as
    /// `chat_connections_refused_total`, and logged). Applied by
    /// [`serve`](crate::serve) and [`serve_tls`](crate::serve_tls).
    pub max_connections: usize,
    /// WebSocket limits.
    pub websocket: WebSocketLimits,
    /// Tokens the host application signs for its users, taken as
    /// `Authorization: Bearer` on every endpoint and on `/ws` (see
    /// [`TokenKeys`](crate::TokenKeys)). `None` (the default): only the
    /// chat's own sessions.
    pub tokens: Option<std::sync::Arc<crate::TokenKeys>>,
    /// Whether people sign up and log in with a password (the default).
    /// Off, `/api/signup` and `/api/login` answer `403`
    /// `password_accounts_off`, for a chat whose users all come from the
    /// host application.
    pub password_accounts: bool,
    /// The webhook the service's offline notices go to, if any: given here
    /// too, its deliveries are counted in `/metrics`
    /// (`chat_webhook_sent_total`, `_retried_total`, `_dropped_total`).
    pub webhook: Option<std::sync::Arc<crate::Webhook>>,
    /// Where the chat is mounted in the host's URL space: `""` (the
    /// default) for the root, or a path such as `/chat` (a leading slash,
    /// no trailing one). Pages, assets, API calls and the WebSocket the UI
    /// makes go under it, and so do the links and redirects the adapter
    /// writes. [`ChatHttp::handle`](crate::ChatHttp::handle) and the
    /// tower `Service` take paths below it (as axum's `nest_service`
    /// hands them); [`serve`](crate::serve) strips it itself.
    pub mount_path: String,
    /// Where a page sends a visitor without a session: `None` (the
    /// default) for the chat's own login page; the host's login page
    /// (`/login`, or `https://…`) for a chat whose users log in there.
    pub login_url: Option<String>,
    /// The host's own notion of who is asking, tried before the chat's own
    /// credentials on every request (see [`Authenticator`](crate::Authenticator)).
    pub authenticator: Option<std::sync::Arc<dyn crate::Authenticator>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            tls: false,
            max_body_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            websocket: WebSocketLimits::default(),
            tokens: None,
            password_accounts: true,
            webhook: None,
            mount_path: String::new(),
            login_url: None,
            authenticator: None,
        }
    }
}

impl HttpConfig {
    /// Checks what can be checked before serving.
    ///
    /// # Errors
    /// [`SetupError::AllowedOrigin`] naming the first allowed origin that can
    /// never be one; [`SetupError::MountPath`] and [`SetupError::LoginUrl`]
    /// for a path or URL the adapter could not write into its pages.
    pub fn validate(&self) -> Result<(), SetupError> {
        check_mount_path(&self.mount_path).map_err(|reason| SetupError::MountPath {
            path: self.mount_path.clone(),
            reason,
        })?;
        if let Some(url) = &self.login_url {
            check_login_url(url).map_err(|reason| SetupError::LoginUrl {
                url: url.clone(),
                reason,
            })?;
        }
        for origin in &self.allowed_origins {
            if let Err(reason) = check_allowed_origin(origin) {
                return Err(SetupError::AllowedOrigin {
                    origin: origin.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// Whether `path` can prefix every URL of the chat: empty, or slash-led
/// segments of unreserved characters with no trailing slash, so that it
/// needs no escaping in HTML, JavaScript or a `Location` header.
fn check_mount_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Ok(());
    }
    let segments = path
        .strip_prefix('/')
        .ok_or("a mount path starts with a slash")?;
    let fine = segments.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    if fine {
        Ok(())
    } else {
        Err(
            "a mount path is /segment[/segment…] of letters, digits and -._~, with no trailing slash",
        )
    }
}

/// Whether `url` is a page the adapter may send visitors to: a path on
/// this site (not `//host`, which leaves it) or an `http(s)` URL, with no
/// character that would need escaping.
fn check_login_url(url: &str) -> Result<(), &'static str> {
    let local = url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\");
    let remote = url.starts_with("https://") || url.starts_with("http://");
    let plain = url
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"\"'<>\\`".contains(&b));
    if (local || remote) && plain {
        Ok(())
    } else {
        Err(
            "a login URL is a path (/login) or an http(s) URL, with no quotes, spaces or backslashes",
        )
    }
}

/// Whether `origin` has the one form a browser sends for a page it can be
/// trusted with: `http(s)://host[:port]`.
fn check_allowed_origin(origin: &str) -> Result<(), &'static str> {
    if origin.trim().eq_ignore_ascii_case("null") {
        return Err(
            "the null origin is sent by sandboxed and opaque documents; it can never be allowed",
        );
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err("an origin is scheme://host[:port]");
    };
    if scheme != "http" && scheme != "https" {
        return Err("only http and https origins can be allowed");
    }
    let malformed = "an origin is a lower-case scheme, host and optional port, with no path, query or trailing slash";
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']').ok_or(malformed)?;
        let (host, after) = rest.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or(malformed)?)),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.[]:".contains(&b));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(malformed)
    }
}

/// Limits of one WebSocket connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WebSocketLimits {
    /// Largest message (all fragments together), in bytes.
    pub max_message_bytes: usize,
    /// Frames queued for a client that reads too slowly before it is cut off.
    pub outbound_queue: usize,
    /// How long a connection's writer waits after a frame for more to share
    /// its socket write (zero, the default: write at once). A few
    /// milliseconds cut system calls and TCP segments when one connection
    /// receives many frames per second, at the price of that much latency.
    pub write_delay: Duration,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// Silence after which a connection is closed.
    pub idle_timeout: Duration,
    /// How long a closing connection may take to write what it still has
    /// and its close frame; a client that reads nothing meanwhile is cut
    /// off without them.
    pub close_timeout: Duration,
    /// Client frames allowed per second, sustained.
    pub frames_per_second: u32,
    /// Client frames allowed in a burst.
    pub frame_burst: u32,
    /// Client frames one user may send per second over all their
    /// connections together (bursts of three times as many).
    pub user_frames_per_second: u32,
    /// Open WebSockets one user may hold at once.
    pub max_per_user: usize,
    /// Messages replayed on connect (`?since=`) or after a lag before the
    /// client is told to resync by HTTP instead.
    pub replay_limit: usize,
}

impl Default for WebSocketLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: 16 * 1024,
            outbound_queue: 512,
            write_delay: Duration::ZERO,
            ping_interval: Duration::from_secs(25),
            idle_timeout: Duration::from_secs(60),
            close_timeout: Duration::from_secs(10),
            frames_per_second: 20,
            frame_burst: 60,
            user_frames_per_second: 40,
            max_per_user: 16,
            replay_limit: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_origins_of_a_host_can_be_allowed_and_never_null() {
        let ok = [
            "https://chat.example.com",
            "http://localhost:8080",
            "http://127.0.0.1:1",
            "http://[::1]:8080",
        ];
        for origin in ok {
            let config = HttpConfig {
                allowed_origins: vec![origin.into()],
                ..HttpConfig::default()
            };
            assert!(config.validate().is_ok(), "{origin}");
        }
        let refused = [
            "null",
            "NULL",
            " null ",
            "*",
            "chat.example.com",
            "file://",
            "ftp://example.com",
            "https://example.com/",
            "https://example.com/path",
            "https://Example.com",
            "https://example.com:",
            "https://example.com:99999",
            "https://",
            "https://a b",
        ];
        for origin in refused {
            let config = HttpConfig {
                allowed_origins: vec!["https://fine.example".into(), origin.into()],
                ..HttpConfig::default()
            };
            match config.validate() {
                Err(SetupError::AllowedOrigin { origin: named, .. }) => assert_eq!(named, origin),
                other => panic!("{origin:?} allowed: {other:?}"),
            }
        }
    }

    #[test]
    fn mount_paths_and_login_urls_are_plain() {
        for path in ["", "/chat", "/a/b-c.d_e~f"] {
            let config = HttpConfig {
                mount_path: path.into(),
                ..HttpConfig::default()
            };
            assert!(config.validate().is_ok(), "{path:?}");
        }
        for path in [
            "chat", "/", "/chat/", "//chat", "/a/../b", "/a b", "/<x>", "/%2e", "/\"x",
        ] {
            let config = HttpConfig {
                mount_path: path.into(),
                ..HttpConfig::default()
            };
            assert!(
                matches!(config.validate(), Err(SetupError::MountPath { .. })),
                "{path:?}"
            );
        }
        for url in [
            "/login",
            "/account/login?next=/chat",
            "https://id.example.com/login",
        ] {
            let config = HttpConfig {
                login_url: Some(url.into()),
                ..HttpConfig::default()
            };
            assert!(config.validate().is_ok(), "{url:?}");
        }
        for url in [
            "login",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "/a\"b",
            "/a b",
            "",
        ] {
            let config = HttpConfig {
                login_url: Some(url.into()),
                ..HttpConfig::default()
            };
            assert!(
                matches!(config.validate(), Err(SetupError::LoginUrl { .. })),
                "{url:?}"
            );
        }
    }

    /// The figures docs/protocol.md and docs/security.md state. Each one's
    /// behaviour is tested over real sockets (with these defaults where the
    /// test can meet them quickly, with smaller figures where they are
    /// times: pings and the idle timeout).
    #[test]
    fn the_defaults_are_the_documented_figures() {
        let config = HttpConfig::default();
        assert_eq!(config.max_body_bytes, 64 * 1024);
        assert_eq!(config.header_timeout, Duration::from_secs(10));
        assert_eq!(config.body_timeout, Duration::from_secs(10));
        assert_eq!(config.write_timeout, Duration::from_secs(30));
        assert_eq!(config.max_connections, 10_000);
        assert!(!config.tls);
        assert!(config.allowed_origins.is_empty() && config.trusted_proxies.is_empty());
        let ws = config.websocket;
        assert_eq!(ws.max_message_bytes, 16 * 1024);
        assert_eq!(ws.outbound_queue, 512);
        assert_eq!(ws.write_delay, Duration::ZERO);
        assert_eq!(ws.ping_interval, Duration::from_secs(25));
        assert_eq!(ws.idle_timeout, Duration::from_secs(60));
        assert_eq!(ws.close_timeout, Duration::from_secs(10));
        assert_eq!((ws.frames_per_second, ws.frame_burst), (20, 60));
        assert_eq!(ws.user_frames_per_second, 40);
        assert_eq!(ws.max_per_user, 16);
        assert_eq!(ws.replay_limit, 1000);
    }
}
