//! What every live connection (a WebSocket, an event stream) watches
//! besides its delivery stream: its heartbeat, the server's shutdown, its
//! session's expiry, and whether its session still exists.

use std::pin::Pin;

use chat_core::{ChatError, Session, SessionToken};
use tokio::time::{Interval, MissedTickBehavior, Sleep};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::ChatHttp;

/// A live connection's timers, to poll in its `select!`.
pub(crate) struct Timers {
    /// Every ping interval: ping or keep alive, and re-check the session.
    pub(crate) heartbeat: Interval,
    /// The server shuts down.
    pub(crate) shutdown: CancellationToken,
    /// The session's absolute expiry, by the service's clock.
    pub(crate) expiry: Pin<Box<Sleep>>,
}

impl ChatHttp {
    /// The timers of a live connection of `session`.
    pub(crate) fn live_timers(&self, session: &Session) -> Timers {
        let mut heartbeat = tokio::time::interval(self.config().websocket.ping_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.reset();
        let left = session.expires_at().since(self.chat().clock().now());
        Timers {
            heartbeat,
            shutdown: self.shutdown_signal(),
            expiry: Box::pin(tokio::time::sleep(left)),
        }
    }

    /// Whether the session of `token` still exists (it may have been logged
    /// out or expired on another process, or its account disabled). A
    /// store that does not answer leaves the connection open: it is
    /// re-checked at the next heartbeat. A session no store holds (`None`:
    /// a token the host application signed) ends at its expiry, which the
    /// connection's timer keeps, or when its account is disabled.
    pub(crate) async fn session_still_open(
        &self,
        session: &chat_core::Session,
        token: Option<&SessionToken>,
    ) -> bool {
        let Some(token) = token else {
            return match self.chat().check_enabled(session.user()).await {
                Err(ChatError::AccountDisabled | ChatError::Unauthenticated) => false,
                Ok(()) | Err(_) => true,
            };
        };
        match self.chat().authenticate(token.expose()).await {
            Ok(_) => true,
            Err(ChatError::Unauthenticated) => false,
            Err(error) => {
                debug!(%error, "could not re-check the session");
                true
            }
        }
    }
}
