//! `GET /ws`: the WebSocket endpoint. Everything is checked before the
//! upgrade (Origin, session, parameters); then one task per connection runs
//! the protocol (see `docs/protocol.md`).

mod command;
mod commands;
mod connection;
mod outbound;
mod renewal;

pub(crate) use command::Command;

use std::net::IpAddr;

use chat_core::{ClientAddress, UserId};

use hyper::{Request, Response};
use hyper_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::ChatHttp;
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::request::Query;
use crate::response::Body;

impl ChatHttp {
    pub(crate) async fn websocket<B>(
        &self,
        auth: Authenticated,
        mut request: Request<B>,
        client: IpAddr,
    ) -> Result<Response<Body>, HttpError> {
        if !hyper_tungstenite::is_upgrade_request(&request) {
            return Err(HttpError::NotUpgrade("missing Upgrade: websocket".into()));
        }
        let resume = Query::of(&request).resume()?;
        self.chat()
            .check_connection(&auth.session, &ClientAddress::ip(client))
            .await?;
        let slot = SocketSlot::take(self, auth.session.user().id())?;
        let limits = &self.config().websocket;
        let config = WebSocketConfig::default()
            .max_message_size(Some(limits.max_message_bytes))
            .max_frame_size(Some(limits.max_message_bytes))
            // A client's frames are small and few: reading them 512 bytes
            // at a time keeps an idle connection's resident read buffer
            // small (a larger frame reserves its own length).
            .read_buffer_size(512)
            // Frames fed to the socket gather up to 8 KiB and go out in one
            // write when the batch is flushed (fewer system calls under
            // load); a larger frame goes at once.
            .write_buffer_size(8 * 1024)
            .max_write_buffer_size(limits.max_message_bytes * 4);
        let (response, websocket) = hyper_tungstenite::upgrade(&mut request, Some(config))
            .map_err(|e| HttpError::NotUpgrade(e.to_string()))?;
        // The connection's place under the server's cap stays taken while the
        // WebSocket lives (hyper ends the connection's own task on upgrade).
        let held = request
            .extensions()
            .get::<crate::server::HeldConnection>()
            .cloned();
        let connection = connection::Connection::new(
            self.clone(),
            auth.session,
            (auth.token, auth.subject),
            resume,
            (slot, held),
        );
        self.connections().spawn(connection.run(websocket));
        Ok(response.map(http_body_util::BodyExt::boxed))
    }
}

/// One of a user's live-connection slots (WebSockets and event streams
/// together), given back when dropped.
pub(crate) struct SocketSlot {
    http: ChatHttp,
    user: UserId,
}

impl SocketSlot {
    /// Takes a slot, or refuses when the user holds the most allowed.
    pub(crate) fn take(http: &ChatHttp, user: UserId) -> Result<Self, HttpError> {
        let limit = http.config().websocket.max_per_user;
        let mut sockets = http
            .sockets()
            .lock()
            .map_err(|_| HttpError::Internal("socket count lock poisoned".into()))?;
        let count = sockets.entry(user).or_insert(0);
        if *count >= limit {
            tracing::warn!(%user, limit, "WebSocket refused: too many open connections");
            return Err(HttpError::TooManySockets { limit });
        }
        *count += 1;
        http.metrics().ws_open.inc();
        Ok(Self {
            http: http.clone(),
            user,
        })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.http.metrics().ws_open.dec();
        if let Ok(mut sockets) = self.http.sockets().lock()
            && let Some(count) = sockets.get_mut(&self.user)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                sockets.remove(&self.user);
            }
        }
    }
}
