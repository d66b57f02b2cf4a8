//! `GET /api/events`: the delivery stream as Server-Sent Events, for
//! clients behind proxies that break WebSockets. The same authentication
//! (cookie or bearer) and Origin rules as the WebSocket, the same per-user
//! cap on live connections, the same stream ([`chat_core::Live`]); sending
//! stays on `POST`.
//!
//! Each event's `data:` is one JSON object shaped like the WebSocket's
//! server frames; a committed change (and `ready` and `resync`) has its
//! cursor as `id:`, so that a reconnecting `EventSource` resumes with
//! `Last-Event-ID`. Comment lines keep an idle stream alive.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use chat_core::{ClientAddress, Cursor, Item, Live, Resume, Session, SessionToken};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::ChatHttp;
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::request::Query;
use crate::response::Body;
use crate::server::HeldConnection;
use crate::wire::{ServerFrame, UserDto};
use crate::ws::SocketSlot;

/// What keeps an idle stream open through proxies that time out silence.
const KEEPALIVE: &[u8] = b": keepalive\n\n";

impl ChatHttp {
    pub(crate) async fn events<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        client: IpAddr,
    ) -> Result<Response<Body>, HttpError> {
        let resume = match request.headers().get("last-event-id") {
            Some(id) => Resume::Cursor(Cursor::parse(id.to_str().unwrap_or_default())?),
            None => Query::of(&request).resume()?,
        };
        let chat = self.chat();
        chat.check_connection(&auth.session, &ClientAddress::ip(client))
            .await?;
        let slot = SocketSlot::take(self, auth.session.user().id())?;
        let limits = &self.config().websocket;
        let live = chat
            .live(&auth.session, resume, limits.replay_limit)
            .await?;
        let account = chat.account(&auth.session).await?;
        let last = chat.last_message_id(&auth.session).await?;
        let ready = ServerFrame::Ready {
            user: UserDto::from(&account),
            last_message_id: last.get(),
            cursor: live.head().to_string(),
        };
        let (out, frames) = mpsc::channel(limits.outbound_queue.max(1));
        // A fresh queue has room for the first event.
        let _ = out.try_send(event(Some(live.head()), &ready.to_json()));
        let stream = Stream {
            http: self.clone(),
            session: auth.session,
            token: auth.token,
            out,
            _slot: (slot, request.extensions().get::<HeldConnection>().cloned()),
        };
        self.connections().spawn(stream.run(live));
        let mut frames = frames;
        let body = StreamBody::new(futures::stream::poll_fn(move |cx| {
            frames
                .poll_recv(cx)
                .map(|bytes| bytes.map(|b| Ok::<_, Infallible>(Frame::data(b))))
        }));
        let mut response = Response::new(body.boxed());
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Tells buffering proxies (nginx) to pass events on at once.
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        Ok(response)
    }
}

/// One event: its `id:` line when it has a cursor, its one-line JSON
/// `data:` (JSON text never holds a raw newline), a blank line.
fn event(cursor: Option<Cursor>, json: &str) -> Bytes {
    let mut text = String::with_capacity(json.len() + 48);
    if let Some(cursor) = cursor {
        text.push_str("id: ");
        text.push_str(&cursor.to_string());
        text.push('\n');
    }
    text.push_str("data: ");
    text.push_str(json);
    text.push_str("\n\n");
    Bytes::from(text)
}

/// Why a stream ends.
enum End {
    /// The client went, the session ended, the server stops.
    Done(&'static str),
    /// The client reads too slowly: it reconnects with `Last-Event-ID`.
    Slow,
}

/// One event stream, writing into the response body's queue.
struct Stream {
    http: ChatHttp,
    session: Session,
    /// Kept to re-check the session (logout elsewhere, expiry); `None` for
    /// a token the host application signed.
    token: Option<SessionToken>,
    out: mpsc::Sender<Bytes>,
    /// The stream's place in the user's cap and the server's, freed on drop.
    _slot: (SocketSlot, Option<HeldConnection>),
}

impl Stream {
    async fn run(self, mut live: Live) {
        let chat = self.http.chat().clone();
        let user = self.session.user().id();
        debug!(%user, "event stream opened");
        if let Err(error) = chat.connected(&self.session).await {
            debug!(%error, "presence unavailable");
        }
        let end = self.serve(&mut live).await;
        if let Err(error) = chat.disconnected(&self.session).await {
            debug!(%error, "presence unavailable");
        }
        match end {
            End::Done(reason) => debug!(%user, reason, "event stream closed"),
            End::Slow => {
                info!(%user, "slow event-stream consumer disconnected");
                self.http.metrics().ws_slow_consumer.inc();
            }
        }
    }

    async fn serve(&self, live: &mut Live) -> End {
        let patience = self.http.config().websocket.idle_timeout;
        let mut timers = self.http.live_timers(&self.session);
        loop {
            let step = tokio::select! {
                item = live.next() => match item {
                    Some(Ok(item)) => self.write(item, patience).await,
                    Some(Err(error)) => {
                        warn!(%error, "event stream closed after a failure");
                        Err(End::Done("temporarily unavailable"))
                    }
                    None => Err(End::Done("logged out")),
                },
                _ = timers.heartbeat.tick() => self.keep_alive().await,
                () = self.out.closed() => Err(End::Done("client gone")),
                () = timers.shutdown.cancelled() => Err(End::Done("server shutting down")),
                () = &mut timers.expiry => Err(End::Done("session expired")),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Writes what the stream yields: live changes at once (a client that
    /// cannot keep up is too slow), replayed ones as the client takes them.
    async fn write(&self, item: Item, patience: Duration) -> Result<(), End> {
        match item {
            Item::Change {
                event: change,
                cursor,
                replayed,
            } => {
                let Some(json) = ServerFrame::of_event(&change, Some(cursor)) else {
                    return Ok(());
                };
                let bytes = event(Some(cursor), &json);
                if replayed {
                    self.paced(bytes, patience).await
                } else {
                    self.push(bytes)
                }
            }
            Item::Notice(notice) => match ServerFrame::of_event(&notice, None) {
                Some(json) => self.push(event(None, &json)),
                None => Ok(()),
            },
            Item::Resync { cursor } => {
                let frame = ServerFrame::Resync {
                    cursor: cursor.to_string(),
                };
                self.paced(event(Some(cursor), &frame.to_json()), patience)
                    .await
            }
        }
    }

    /// Re-checks the session (it may have ended elsewhere) and keeps the
    /// stream alive.
    async fn keep_alive(&self) -> Result<(), End> {
        if !self
            .http
            .session_still_open(&self.session, self.token.as_ref())
            .await
        {
            return Err(End::Done("session ended"));
        }
        self.push(Bytes::from_static(KEEPALIVE))
    }

    fn push(&self, bytes: Bytes) -> Result<(), End> {
        self.out.try_send(bytes).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => End::Slow,
            mpsc::error::TrySendError::Closed(_) => End::Done("client gone"),
        })
    }

    async fn paced(&self, bytes: Bytes, patience: Duration) -> Result<(), End> {
        match tokio::time::timeout(patience, self.out.send(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Done("client gone")),
            Err(_) => Err(End::Slow),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_its_id_its_one_data_line_and_a_blank_line() {
        let cursor = Cursor::new(chat_core::Position::new(7), 0xab);
        assert_eq!(
            event(Some(cursor), r#"{"type":"x"}"#),
            "id: 7-000000ab\ndata: {\"type\":\"x\"}\n\n"
        );
        assert_eq!(event(None, "{}"), "data: {}\n\n");
    }
}
