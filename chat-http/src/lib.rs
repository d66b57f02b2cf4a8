//! # chat-http
//!
//! A thin HTTP and WebSocket adapter over [`chat_core::Chat`], on hyper 1.x
//! and hyper-tungstenite: the JSON API (`docs/api.md`), the WebSocket
//! protocol (`docs/protocol.md`) and the web UI.
//!
//! It decodes transport input, calls one `Chat` method, and encodes the
//! result; `ChatError` becomes a status and a JSON body in one place
//! ([`HttpError::report`]). No business rule lives here.
//!
//! ```no_run
//! # async fn demo(chat: chat_core::Chat) -> std::io::Result<()> {
//! let http = chat_http::ChatHttp::new(chat, chat_http::HttpConfig::default())
//!     .map_err(std::io::Error::other)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! chat_http::serve(listener, http, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! To mount the chat inside your own service, nest the adapter (a tower
//! `Service`) under a path, and set [`HttpConfig::mount_path`] to it so the
//! pages link to it: `axum::Router::new().nest_service("/chat", http)`.
//! A hyper service can call [`ChatHttp::handle`] for the paths below the
//! mount (`/api/…`, `/ws`, the pages and `/assets/…`). Either way, call
//! [`ChatHttp::close_websockets`] on shutdown. docs/embedding.md shows
//! both, with the host's own login through an [`Authenticator`].

mod admin;
mod api;
mod auth;
mod authenticator;
mod blocks;
mod config;
mod error;
mod events;
mod feed;
#[doc(hidden)]
pub mod fuzzing;
mod groups;
mod jwks;
mod live;
mod messages;
mod metrics;
mod mutes;
mod openapi;
mod outbound;
#[cfg(feature = "ui")]
mod pages;
mod request;
mod response;
mod router;
mod server;
mod server_api;
mod service;
mod threads;
#[cfg(feature = "tls")]
mod tls;
mod tokens;
mod webhook;
mod wire;
mod ws;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chat_core::{Chat, GovernorClock, KeyedLimiter, UserId};
use governor::Quota;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use api::RequestBody;
pub use auth::CSRF_HEADER;
pub use authenticator::{Authenticator, AuthenticatorError, HOST_SESSION, HostUser};
pub use config::{HttpConfig, WebSocketLimits};
pub use error::{Counted, ErrorBody, ErrorDetail, HttpError, Reported, SetupError};
pub use jwks::{JWKS_REFRESH, Jwks};
pub use response::Body;
#[cfg(feature = "metrics")]
pub use server::serve_metrics;
#[cfg(feature = "tls")]
pub use server::serve_tls;
pub use server::{redirect_to_https, serve};
pub use server_api::{ACT_AS_EXTERNAL_HEADER, ACT_AS_HEADER};
pub use service::ClientAddr;
#[cfg(feature = "tls")]
pub use tls::{load_tls, tls_acceptor};
pub use tokens::{
    Claims, MAX_TOKEN_BYTES, MIN_SECRET_BYTES, TokenKeyError, TokenKeys, TokenRefused,
};
#[cfg(feature = "tls")]
pub use tokio_rustls::TlsAcceptor;
pub use webhook::{Webhook, WebhookConfig, sign as sign_webhook};

// The embedding guide's Rust examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
struct EmbeddingGuide;

/// How many host users' identities are remembered.
const IDENTITIES: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(10_000) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

/// How many frames between two purges of the per-user frame limiter.
const PURGE_EVERY: u64 = 4096;

/// The adapter: cheap to clone, one per server.
#[derive(Clone)]
pub struct ChatHttp {
    inner: Arc<Inner>,
}

struct Inner {
    chat: Chat,
    config: HttpConfig,
    #[cfg(feature = "ui")]
    assets: pages::Assets,
    /// Live WebSocket tasks, so shutdown can wait for them.
    connections: TaskTracker,
    /// Cancelled at shutdown: every WebSocket closes with 1001.
    shutdown: CancellationToken,
    /// Open WebSockets per user, for the per-user cap.
    sockets: Mutex<HashMap<UserId, usize>>,
    /// The chat's clock, as the frame limiters read it.
    rate_clock: GovernorClock,
    /// Client frames per user, over all their connections.
    user_frames: KeyedLimiter<UserId>,
    /// Frames checked against `user_frames`, to forget idle users now and
    /// then.
    frame_checks: AtomicU64,
    /// Counters for `/metrics`.
    metrics: metrics::Metrics,
    /// The OpenAPI document, rendered once.
    openapi: bytes::Bytes,
    /// Users named by host tokens before, by `sub`, with the display name
    /// last written: a token seen again costs no store round trip; a new
    /// display name does.
    identities: Mutex<lru::LruCache<String, (chat_core::User, Option<String>)>>,
}

impl ChatHttp {
    /// An adapter serving `chat` with `config`.
    ///
    /// # Errors
    /// [`SetupError::AllowedOrigin`] if an allowed origin can never be one
    /// (`null`, or not of the form `scheme://host[:port]`).
    pub fn new(chat: Chat, config: HttpConfig) -> Result<Self, SetupError> {
        config.validate()?;
        let mut metrics = metrics::Metrics::new();
        if let Some(webhook) = &config.webhook {
            metrics.register_webhook(&webhook.counters);
        }
        let per_second =
            NonZeroU32::new(config.websocket.user_frames_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = per_second.saturating_mul(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
        let rate_clock = GovernorClock::new(Arc::clone(chat.clock()));
        let user_frames = KeyedLimiter::new(
            Quota::per_second(per_second).allow_burst(burst),
            Default::default(),
            rate_clock.clone(),
        );
        let http = Self {
            inner: Arc::new(Inner {
                chat,
                rate_clock,
                config,
                sockets: Mutex::new(HashMap::new()),
                user_frames,
                frame_checks: AtomicU64::new(0),
                metrics,
                openapi: bytes::Bytes::from(openapi::document()),
                #[cfg(feature = "ui")]
                assets: pages::Assets::new(),
                connections: TaskTracker::new(),
                shutdown: CancellationToken::new(),
                identities: Mutex::new(lru::LruCache::new(IDENTITIES)),
            }),
        };
        // The policy's latency and verdicts go to `/metrics` (through a
        // weak reference: the service must not keep the adapter alive).
        let metrics = Arc::downgrade(&http.inner);
        let observed = http
            .inner
            .chat
            .observe_policy(Arc::new(move |took, outcome| {
                if let Some(inner) = metrics.upgrade() {
                    inner.metrics.policy_call(took, outcome);
                }
            }));
        if !observed {
            tracing::warn!(
                "the service's policy calls are observed elsewhere: /metrics will not count them"
            );
        }
        Ok(http)
    }

    /// Tells every WebSocket to close ("going away") and refuses new ones.
    pub fn close_websockets(&self) {
        self.inner.shutdown.cancel();
        self.inner.connections.close();
    }

    /// The adapter's counters in the Prometheus text format (login
    /// failures, rate limits, refused origins and CSRF tokens, dependency
    /// failures, WebSocket closes by cause, open WebSockets, messages).
    /// [`serve_metrics`] serves them on a listener of their own.
    #[cfg(feature = "metrics")]
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.render()
    }

    /// How many WebSocket connections are open.
    pub fn open_websockets(&self) -> usize {
        self.inner.connections.len()
    }

    pub(crate) fn chat(&self) -> &Chat {
        &self.inner.chat
    }

    pub(crate) fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// `path` (absolute within the chat) as the browser reaches it: under
    /// the mount path.
    #[cfg(feature = "ui")]
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.config.mount_path)
    }

    /// Where a page sends a visitor without a session.
    #[cfg(feature = "ui")]
    pub(crate) fn login_location(&self) -> String {
        match &self.inner.config.login_url {
            Some(url) => url.clone(),
            None => self.url("/login"),
        }
    }

    /// The answer to a path outside the chat (below no mount path).
    pub(crate) fn not_found(&self) -> hyper::Response<Body> {
        let reported = HttpError::NoRoute.report();
        response::finish(response::reported(reported), self.config().tls)
    }

    #[cfg(feature = "ui")]
    pub(crate) fn assets(&self) -> &pages::Assets {
        &self.inner.assets
    }

    pub(crate) fn connections(&self) -> &TaskTracker {
        &self.inner.connections
    }

    pub(crate) fn shutdown_signal(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    pub(crate) fn openapi_document(&self) -> bytes::Bytes {
        self.inner.openapi.clone()
    }

    /// The HTTP API's OpenAPI 3.1 document (JSON), as served at
    /// `GET /api/openapi.json`.
    pub fn openapi_json(&self) -> String {
        String::from_utf8_lossy(&self.inner.openapi).into_owned()
    }

    pub(crate) fn rate_clock(&self) -> &GovernorClock {
        &self.inner.rate_clock
    }

    pub(crate) fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    pub(crate) fn sockets(&self) -> &Mutex<HashMap<UserId, usize>> {
        &self.inner.sockets
    }

    /// The session a token the host application signed opens: the token
    /// verified on the service's clock, its user created or updated by
    /// `sub`, the session ending when the token does.
    ///
    /// # Errors
    /// `Unauthenticated` when the server takes no tokens;
    /// [`TokenRefused`], also for names the chat cannot take (a token is
    /// the host's word); what else [`Chat::upsert_user`] refuses.
    pub(crate) async fn host_token_session(
        &self,
        raw: &str,
    ) -> Result<(chat_core::Session, Claims), HttpError> {
        let keys = self
            .config()
            .tokens
            .as_ref()
            .ok_or(chat_core::ChatError::Unauthenticated)?;
        if keys.is_empty() && keys.has_jwks() {
            // The identity provider's keys have not loaded yet: the token
            // may be good, so the client should try again, not log out.
            return Err(chat_core::ChatError::unavailable(
                "the identity provider's keys have not loaded yet",
            )
            .into());
        }
        let claims = keys.verify(raw, self.chat().clock().now())?;
        let username = claims
            .preferred_username
            .as_deref()
            .unwrap_or(&claims.subject);
        let user = self
            .host_user(&claims.subject, username, claims.name.as_deref())
            .await
            .map_err(|error| match error {
                HttpError::Chat(chat_core::ChatError::InvalidInput { field, .. }) => {
                    HttpError::Token(TokenRefused::Invalid(match field {
                        "username" => "preferred_username is not a valid chat username",
                        "display_name" => "name is not a valid display name",
                        _ => "sub is not a valid external id",
                    }))
                }
                other => other,
            })?;
        self.chat().check_enabled(&user).await?;
        let session = self.chat().session_for(user, claims.expires_at);
        Ok((session, claims))
    }

    /// The session of a user the host's [`Authenticator`] vouched for.
    ///
    /// # Errors
    /// What [`Chat::upsert_user`] refuses.
    pub(crate) async fn authenticator_session(
        &self,
        host: &HostUser,
    ) -> Result<chat_core::Session, HttpError> {
        let username = host.username.as_deref().unwrap_or(&host.external_id);
        let user = self
            .host_user(&host.external_id, username, host.display_name.as_deref())
            .await?;
        self.chat().check_enabled(&user).await?;
        let now = self.chat().clock().now();
        let expires_at = host
            .expires_at
            .unwrap_or_else(|| now.plus(authenticator::HOST_SESSION));
        Ok(self.chat().session_for(user, expires_at))
    }

    /// The chat user of the host's user `external_id`, created or updated
    /// (remembered, so that a user seen before with the same display name,
    /// or with none given, costs no store round trip; a new name is
    /// written, so that the store holds the last one the host gave).
    async fn host_user(
        &self,
        external_id: &str,
        username: &str,
        display_name: Option<&str>,
    ) -> Result<chat_core::User, HttpError> {
        let known = self
            .inner
            .identities
            .lock()
            .ok()
            .and_then(|mut cache| cache.get(external_id).cloned())
            .filter(|(_, name)| display_name.is_none() || display_name == name.as_deref());
        if let Some((user, _)) = known {
            return Ok(user);
        }
        let account = self
            .chat()
            .upsert_user(external_id, username, display_name)
            .await?;
        self.remember_host_user(external_id, &account);
        Ok(account.user().clone())
    }

    /// Remembers the host's user `external_id` as `account`, with the
    /// display name it has now.
    pub(crate) fn remember_host_user(&self, external_id: &str, account: &chat_core::Account) {
        let name = account.display_name().map(|n| n.as_str().to_owned());
        if let Ok(mut cache) = self.inner.identities.lock() {
            cache.put(external_id.to_owned(), (account.user().clone(), name));
        }
    }

    /// Notes in the background that the caller is there, after a send or a
    /// read over HTTP (a client on the event stream shows its person that
    /// way); not for the host's back end acting as the user.
    pub(crate) fn note_active(&self, auth: &auth::Authenticated) {
        if auth.acting {
            return;
        }
        let (chat, session) = (self.chat().clone(), auth.session.clone());
        tokio::spawn(async move {
            if let Err(error) = chat.mark_active(&session).await {
                tracing::debug!(%error, "could not note activity");
            }
        });
    }

    /// Counts one client frame of `user`; `false` if over their rate.
    /// Every few thousand frames, users whose budget is full again are
    /// forgotten, so the limiter's memory follows the users active now.
    pub(crate) fn user_frame_allowed(&self, user: UserId) -> bool {
        let checks = self.inner.frame_checks.fetch_add(1, Ordering::Relaxed);
        if checks % PURGE_EVERY == PURGE_EVERY - 1 {
            self.inner.user_frames.retain_recent();
            self.inner.user_frames.shrink_to_fit();
        }
        self.inner.user_frames.check_key(&user).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chat_core::testkit::ManualClock;
    use chat_core::{Timestamp, UserId};

    use super::*;

    #[tokio::test]
    async fn the_frame_limiter_forgets_users_whose_budget_is_full_again() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(0)));
        let store = chat_store_sqlite::SqliteStore::memory().await.unwrap();
        let chat = Chat::builder(Arc::new(store)).clock(clock.clone()).build();
        let http = ChatHttp::new(chat, HttpConfig::default()).unwrap();
        for user in 0..100 {
            assert!(http.user_frame_allowed(UserId::new(user)));
        }
        assert_eq!(http.inner.user_frames.len(), 100);
        clock.advance(Duration::from_secs(10));
        for _ in 0..PURGE_EVERY {
            http.user_frame_allowed(UserId::new(1_000));
        }
        assert_eq!(
            http.inner.user_frames.len(),
            1,
            "only the busy user is remembered"
        );
    }
}
