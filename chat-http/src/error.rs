//! The adapter's errors and the one place where errors become responses.

use std::time::Duration;

use chat_core::ChatError;
use hyper::StatusCode;
use serde::Serialize;
use tracing::{error, warn};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The chat service refused or failed.
    #[error(transparent)]
    Chat(#[from] ChatError),
    /// A cookie-authenticated request without the session's CSRF token.
    #[error("missing or wrong CSRF token")]
    Csrf,
    /// A cross-site request, or one from an origin that is not allowed.
    #[error("cross-origin request refused")]
    ForeignOrigin,
    /// The body is larger than allowed.
    #[error("request body too large (limit {limit} bytes)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive in time.
    #[error("the request body took too long (limit {limit:?})")]
    BodyTimeout {
        /// The time allowed.
        limit: std::time::Duration,
    },
    /// A state-changing request whose body is not JSON.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is not the JSON the endpoint expects.
    #[error("malformed JSON: {0}")]
    BadJson(String),
    /// A query parameter cannot be parsed.
    #[error("invalid {field}: {reason}")]
    BadParameter {
        /// The parameter.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// No such route.
    #[error("no such page")]
    NoRoute,
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the route accepts.
        allow: &'static str,
    },
    /// The user already holds the most WebSockets allowed.
    #[error("too many open connections (limit {limit} per user)")]
    TooManySockets {
        /// The limit.
        limit: usize,
    },
    /// A WebSocket endpoint called without a valid upgrade handshake.
    #[error("expected a WebSocket upgrade: {0}")]
    NotUpgrade(String),
    /// A token the host application signed was refused.
    #[error(transparent)]
    Token(#[from] crate::TokenRefused),
    /// Password signup and login are switched off.
    #[error("password accounts are switched off on this server")]
    PasswordAccountsOff,
    /// Reading the request failed.
    #[error("could not read the request body")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A bug: building a response failed.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The JSON error body: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The input field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

/// How an error is reported: status, body and an optional `Retry-After`.
#[derive(Debug)]
pub struct Reported {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: ErrorBody,
    /// For 429: when to retry.
    pub retry_after: Option<Duration>,
    /// For 405: the allowed methods.
    pub allow: Option<&'static str>,
    /// The `/metrics` counter the refusal counts in, if any.
    pub counted: Option<Counted>,
}

/// Which `/metrics` counter a refused request counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    /// `chat_login_failures_total`.
    LoginFailure,
    /// `chat_rate_limited_total`.
    RateLimited,
    /// `chat_unavailable_total`.
    Unavailable,
    /// `chat_origin_refused_total`.
    OriginRefused,
    /// `chat_csrf_refused_total`.
    CsrfRefused,
    /// `chat_websocket_refused_total`.
    SocketRefused,
}

impl HttpError {
    /// Maps this error to its status and body. The one function that does
    /// so; server-side failures are logged here, once, with their cause, and
    /// answered with a generic message.
    pub fn report(&self) -> Reported {
        use ChatError as C;
        let (status, code) = match self {
            Self::Chat(chat) => match chat {
                C::InvalidInput { .. } => (StatusCode::BAD_REQUEST, chat.code()),
                C::UsernameTaken
                | C::EmailTaken
                | C::Conflict { .. }
                | C::TooManyMembers { .. } => (StatusCode::CONFLICT, chat.code()),
                C::InvalidCredentials | C::Unauthenticated => {
                    (StatusCode::UNAUTHORIZED, chat.code())
                }
                C::Forbidden
                | C::AccountDisabled
                | C::Refused { .. }
                | C::EditWindowClosed { .. } => (StatusCode::FORBIDDEN, chat.code()),
                C::NotFound => (StatusCode::NOT_FOUND, chat.code()),
                C::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, chat.code()),
                C::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, chat.code()),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            Self::Token(crate::TokenRefused::Expired) => {
                (StatusCode::UNAUTHORIZED, "token_expired")
            }
            Self::Token(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::PasswordAccountsOff => (StatusCode::FORBIDDEN, "password_accounts_off"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::ForeignOrigin => (StatusCode::FORBIDDEN, "forbidden"),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::BadJson(_) | Self::BadParameter { .. } | Self::NotUpgrade(_) | Self::Body(_) => {
                (StatusCode::BAD_REQUEST, "invalid_input")
            }
            Self::TooManySockets { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_connections"),
            Self::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status.is_server_error() {
            let cause = std::error::Error::source(self).map(ToString::to_string);
            let cause = match self {
                Self::Chat(chat) => std::error::Error::source(chat).map(ToString::to_string),
                _ => cause,
            };
            if status == StatusCode::SERVICE_UNAVAILABLE {
                warn!(
                    code,
                    cause = cause.as_deref().unwrap_or(""),
                    "request failed: dependency unavailable"
                );
            } else {
                error!(
                    code,
                    cause = cause.as_deref().unwrap_or(""),
                    "request failed"
                );
            }
        }
        let field = match self {
            Self::Chat(chat) => chat.field(),
            Self::BadParameter { field, .. } => Some(*field),
            _ => None,
        };
        Reported {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code,
                    message: self.to_string(),
                    field,
                },
            },
            retry_after: match self {
                Self::Chat(C::RateLimited { retry_after }) => Some(*retry_after),
                _ => None,
            },
            allow: match self {
                Self::MethodNotAllowed { allow } => Some(allow),
                _ => None,
            },
            counted: match self {
                Self::Chat(C::InvalidCredentials) => Some(Counted::LoginFailure),
                Self::Chat(C::RateLimited { .. }) => Some(Counted::RateLimited),
                Self::Chat(C::Unavailable { .. }) => Some(Counted::Unavailable),
                Self::ForeignOrigin => Some(Counted::OriginRefused),
                Self::Csrf => Some(Counted::CsrfRefused),
                Self::TooManySockets { .. } => Some(Counted::SocketRefused),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chat_error_has_its_status() {
        let cases = [
            (
                HttpError::from(ChatError::invalid("text", "empty")),
                400,
                "invalid_input",
            ),
            (ChatError::UsernameTaken.into(), 409, "username_taken"),
            (ChatError::EmailTaken.into(), 409, "email_taken"),
            (
                ChatError::InvalidCredentials.into(),
                401,
                "invalid_credentials",
            ),
            (ChatError::Unauthenticated.into(), 401, "unauthenticated"),
            (ChatError::Forbidden.into(), 403, "forbidden"),
            (ChatError::AccountDisabled.into(), 403, "account_disabled"),
            (
                ChatError::EditWindowClosed {
                    window: Duration::from_secs(60),
                }
                .into(),
                403,
                "edit_window_closed",
            ),
            (ChatError::NotFound.into(), 404, "not_found"),
            (
                ChatError::RateLimited {
                    retry_after: Duration::from_secs(3),
                }
                .into(),
                429,
                "rate_limited",
            ),
            (ChatError::unavailable("db down").into(), 503, "unavailable"),
            (ChatError::internal("bug").into(), 500, "internal"),
            (HttpError::Csrf, 403, "csrf"),
            (HttpError::ForeignOrigin, 403, "forbidden"),
            (HttpError::TooLarge { limit: 1 }, 413, "too_large"),
            (
                HttpError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
        ];
        for (error, status, code) in cases {
            let reported = error.report();
            assert_eq!(reported.status.as_u16(), status, "{error:?}");
            assert_eq!(reported.body.error.code, code);
        }
    }

    #[test]
    fn server_errors_hide_their_cause() {
        let reported = HttpError::from(ChatError::internal("SELECT secret FROM t")).report();
        assert_eq!(reported.body.error.message, "internal error");
    }
}

/// Why the adapter could not be set up: its configuration, or the TLS
/// certificate and key it was given. Reported once, at startup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The webhook cannot be set up (its URL, or TLS roots for it).
    #[error("webhook: {0}")]
    Webhook(String),
    /// The JWKS URL cannot be used (see [`Jwks`](crate::Jwks)).
    #[error("JWKS: {0}")]
    Jwks(String),
    /// An allowed origin that can never be one (see
    /// [`HttpConfig::allowed_origins`](crate::HttpConfig::allowed_origins)).
    #[error("allowed origin {origin:?} refused: {reason}")]
    AllowedOrigin {
        /// The origin as configured.
        origin: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A mount path the adapter cannot prefix its URLs with (see
    /// [`HttpConfig::mount_path`](crate::HttpConfig::mount_path)).
    #[error("mount path {path:?} refused: {reason}")]
    MountPath {
        /// The path as configured.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A login URL the adapter cannot send visitors to (see
    /// [`HttpConfig::login_url`](crate::HttpConfig::login_url)).
    #[error("login URL {url:?} refused: {reason}")]
    LoginUrl {
        /// The URL as configured.
        url: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The certificate file could not be read or holds no certificate.
    #[error("cannot read certificates from {path}: {reason}")]
    Certificates {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file could not be read or holds no private key.
    #[error("cannot read the private key from {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    #[cfg(feature = "tls")]
    /// rustls refused the pair (for example, a key that does not match).
    #[error("invalid certificate or key: {0}")]
    Tls(#[from] rustls::Error),
}
