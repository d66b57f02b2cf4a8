//! One WebSocket connection: decode frames into commands, apply them, and
//! write what the chat's delivery stream ([`chat_core::Live`]) yields.
//!
//! Two tasks per connection. The connection's own task owns its protocol
//! state and writes to the socket itself (`Outbound`): a delivery is queued
//! and written in the same wake-up, with no hand-off to a writer task. A
//! small reader task reads the client's frames and hands them over one at a
//! time, so that the connection's task is not woken to poll a socket that
//! has nothing to read on every delivery; it stops reading while the
//! connection has no room for another command.

use std::future::poll_fn;
use std::num::NonZeroU32;
use std::time::Duration;

use chat_core::{ChatError, DirectLimiter, Item, Live, Resume, Session, SessionToken, SharedEvent};
use futures::channel::mpsc;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use governor::Quota;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::{self, Message as Frame};
use hyper_tungstenite::{HyperWebsocket, HyperWebsocketStream};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::SocketSlot;
use super::command::{Active, Command, Reply};
use super::commands::Commands;
use super::outbound::{Full, Gone};
use super::renewal::Renewal;
use crate::ChatHttp;
use crate::wire::{MessageDto, ServerFrame, UserDto};

/// The connection's writing side.
type Outbound = super::outbound::Outbound<SplitSink<HyperWebsocketStream, Frame>>;

/// What the reader task hands over: a frame, or why reading stopped.
type Incoming = Result<Frame, tungstenite::Error>;

/// Deliveries queued at most in one go before the connection writes them.
const BATCH: usize = 64;
/// Consecutive rate-limit violations before a flooding client is cut off.
const FLOOD_STRIKES: u32 = 50;
/// How long a closing connection waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// At most one note of the user's activity per connection this often
/// (`ChatConfig::active_window` is several times longer).
const ACTIVE_EVERY: Duration = Duration::from_secs(10);

/// The close reason of a client too slow to take what it is sent.
const TOO_SLOW: &str = "too slow; reconnect with cursor";

/// Why the connection ends.
#[derive(Clone, Copy)]
enum End {
    /// The client closed or vanished.
    Gone,
    /// The server closes with this code and reason.
    Close(CloseCode, &'static str),
}

pub(super) struct Connection {
    http: ChatHttp,
    session: Session,
    /// Kept to re-check the session (logout elsewhere, expiry).
    token: Option<SessionToken>,
    /// For a connection opened with a token the host application signed,
    /// its `sub`: a fresh token for it renews the connection.
    subject: Option<Box<str>>,
    /// A renewal's new expiry, for the event loop to re-arm its timer.
    renewed: Option<chat_core::Timestamp>,
    /// Where the delivery stream starts.
    resume: Resume,
    frames: DirectLimiter,
    /// Client commands, run in order beside the event loop.
    commands: Commands,
    strikes: u32,
    last_heard: Instant,
    /// When the user's activity was last noted for this connection, on
    /// the service's clock.
    last_active: chat_core::Timestamp,
    /// This connection's place in the user's cap and in the server's
    /// connection cap, freed on drop.
    _slot: (SocketSlot, Option<crate::server::HeldConnection>),
}

impl Connection {
    pub(super) fn new(
        http: ChatHttp,
        session: Session,
        (token, subject): (Option<SessionToken>, Option<String>),
        resume: Resume,
        slot: (SocketSlot, Option<crate::server::HeldConnection>),
    ) -> Self {
        let limits = &http.config().websocket;
        let rate = NonZeroU32::new(limits.frames_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.frame_burst).unwrap_or(rate);
        let commands = Commands::new(http.chat().clone(), session.clone());
        let opened = http.chat().clock().now();
        Self {
            frames: DirectLimiter::direct_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                http.rate_clock().clone(),
            ),
            http,
            session,
            token,
            subject: subject.map(String::into_boxed_str),
            renewed: None,
            resume,
            commands,
            strikes: 0,
            last_heard: Instant::now(),
            // Opening the connection notes activity (`Chat::connected`).
            last_active: opened,
            _slot: slot,
        }
    }

    /// Serves the connection until it ends.
    ///
    /// An `async move` block rather than an `async fn`: an `async fn` keeps
    /// its arguments twice in its state (as passed, and moved into its
    /// body), and this state is what every idle connection costs.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would keep its arguments twice in its state"
    )]
    pub(super) fn run(mut self, websocket: HyperWebsocket) -> impl Future<Output = ()> + Send {
        async move {
            let socket = match websocket.await {
                Ok(socket) => socket,
                Err(error) => {
                    debug!(%error, "WebSocket handshake did not complete");
                    return;
                }
            };
            let (sink, stream) = socket.split();
            let limits = &self.http.config().websocket;
            let mut out = Outbound::new(sink, limits.outbound_queue, limits.write_delay);
            let close_timeout = limits.close_timeout;
            // `futures`' channel, not tokio's: tokio's allocates a block of 32
            // slots up front (1.8 KiB for every connection); this one holds
            // the one frame in flight.
            let (handing, mut incoming) = mpsc::channel(0);
            let reader = tokio::spawn(read_frames(stream, handing));
            let user = self.session.user().id();
            debug!(%user, "WebSocket connected");
            // Boxed: set-up runs once, and its state would otherwise stay
            // part of the connection's task for as long as it lives. Matched
            // by reference: a binding moved out of it would take room of its
            // own in that state.
            let mut started = Box::pin(self.start(&mut out)).await;
            let end = match &mut started {
                Ok(events) => {
                    let chat = self.http.chat().clone();
                    if let Err(error) = chat.connected(&self.session).await {
                        debug!(%error, "presence unavailable");
                    }
                    let end = self.serve(&mut out, &mut incoming, events).await;
                    if let Err(error) = chat.disconnected(&self.session).await {
                        debug!(%error, "presence unavailable");
                    }
                    end
                }
                Err(end) => *end,
            };
            // The delivery stream goes now, not when the close is done: its
            // bus queue would hold every event for it meanwhile.
            drop(started);
            let close = match end {
                End::Close(code, reason) => {
                    debug!(%user, reason, "closing WebSocket");
                    Some((code, reason))
                }
                End::Gone => None,
            };
            // What is queued goes out, then the close frame, unless the client
            // reads nothing at all: then it is dropped after the close timeout.
            if tokio::time::timeout(close_timeout, out.close(close))
                .await
                .is_err()
            {
                debug!(%user, "WebSocket stuck on a client that reads nothing; dropped");
            }
            if close.is_some() {
                // The closing handshake: drop what the client still sends until
                // it answers, briefly, so that unread input does not turn the
                // close into a reset that loses the close frame.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Some(Ok(frame)) = incoming.next().await {
                        if frame.is_close() {
                            break;
                        }
                    }
                })
                .await;
            }
            reader.abort();
            debug!(%user, "WebSocket disconnected");
        }
    }

    /// Opens the delivery stream (which replays what the client missed
    /// first), then says `ready`.
    async fn start(&mut self, out: &mut Outbound) -> Result<Live, End> {
        let chat = self.http.chat().clone();
        let limit = self.http.config().websocket.replay_limit;
        let live = chat
            .live(&self.session, self.resume, limit)
            .await
            .map_err(|e| self.failed(&e))?;
        let account = chat
            .account(&self.session)
            .await
            .map_err(|e| self.failed(&e))?;
        let last = chat
            .last_message_id(&self.session)
            .await
            .map_err(|e| self.failed(&e))?;
        let ready = ServerFrame::Ready {
            user: UserDto::from(&account),
            last_message_id: last.get(),
            cursor: live.head().to_string(),
        };
        self.push(out, ready.to_json().into())?;
        Ok(live)
    }

    async fn serve(
        &mut self,
        out: &mut Outbound,
        incoming: &mut mpsc::Receiver<Incoming>,
        live: &mut Live,
    ) -> End {
        let idle_timeout = self.http.config().websocket.idle_timeout;
        let mut timers = self.http.live_timers(&self.session);
        let shutdown = timers.shutdown.clone();
        let shutdown = shutdown.cancelled();
        tokio::pin!(shutdown);
        loop {
            // In a fixed order: a reply, a client frame, then writing what
            // is queued before taking more deliveries (see `on_items`).
            let step = tokio::select! {
                biased;
                // Replies wait for room: a client that sends faster than
                // it reads its acks is slowed down, not cut off.
                reply = self.commands.next_reply(), if out.has_room() => {
                    self.on_reply(out, live, reply)
                }
                frame = incoming.next(), if self.commands.has_room() => match frame {
                    Some(Ok(frame)) => {
                        self.last_heard = Instant::now();
                        self.on_frame(out, live, frame)
                    }
                    Some(Err(tungstenite::Error::Capacity(_))) => {
                        warn!(user = %self.session.user().id(), "oversize WebSocket message");
                        self.http.metrics().ws_oversize.inc();
                        Err(End::Close(CloseCode::Size, "message too big"))
                    }
                    Some(Err(_)) | None => Err(End::Gone),
                },
                written = poll_fn(|cx| out.poll_write(cx)), if !out.is_idle() => {
                    written.map_err(|Gone| End::Gone)
                }
                item = live.next() => self.on_items(out, live, item).await,
                _ = timers.heartbeat.tick() => self.on_heartbeat(out, idle_timeout).await,
                () = &mut shutdown => Err(End::Close(CloseCode::Away, "server shutting down")),
                () = &mut timers.expiry => Err(End::Close(CloseCode::Policy, "session expired")),
            };
            if let Err(end) = step {
                return end;
            }
            if let Some(expires_at) = self.renewed.take() {
                let left = expires_at.since(self.http.chat().clock().now());
                timers
                    .expiry
                    .as_mut()
                    .reset(tokio::time::Instant::now() + left);
            }
        }
    }

    async fn on_heartbeat(
        &mut self,
        out: &mut Outbound,
        idle_timeout: Duration,
    ) -> Result<(), End> {
        if self.last_heard.elapsed() > idle_timeout {
            return Err(End::Close(CloseCode::Policy, "no answer to pings"));
        }
        if !self
            .http
            .session_still_open(&self.session, self.token.as_ref())
            .await
        {
            return Err(End::Close(CloseCode::Policy, "session ended"));
        }
        self.push(out, Frame::Ping(bytes::Bytes::new()))
    }

    /// Answers protocol-level frames at once; queues commands.
    fn on_frame(&mut self, out: &mut Outbound, live: &mut Live, frame: Frame) -> Result<(), End> {
        if frame.is_close() {
            return Err(End::Gone);
        }
        // Every frame counts, whatever its kind: pings, pongs and binary
        // frames cost the server as much to read as text.
        if self.frames.check().is_err() || !self.http.user_frame_allowed(self.session.user().id()) {
            self.strikes += 1;
            if self.strikes > FLOOD_STRIKES {
                warn!(user = %self.session.user().id(), "WebSocket flood: closing");
                self.http.metrics().ws_flood.inc();
                return Err(End::Close(CloseCode::Policy, "too many frames"));
            }
            self.http.metrics().rate_limited.inc();
            return self.error(
                out,
                None,
                "rate_limited",
                "too many frames; slow down",
                None,
            );
        }
        let text = match frame {
            Frame::Text(text) => text,
            Frame::Binary(_) => {
                self.strikes = 0;
                return self.error(
                    out,
                    None,
                    "invalid_input",
                    "binary frames are not supported",
                    None,
                );
            }
            Frame::Close(_) => return Err(End::Gone),
            Frame::Ping(_) | Frame::Pong(_) | Frame::Frame(_) => {
                self.strikes = 0;
                return Ok(());
            }
        };
        self.strikes = 0;
        match Command::parse(text.as_str()) {
            Ok(command) => {
                // The user's live copy of a message this may send waits for
                // its reply.
                if let Some(client_id) = command.sends() {
                    live.sending(client_id);
                }
                // Every command shows the user is there; it is noted at
                // most every few seconds, beside the commands (a presence
                // round trip holds none of them up).
                let now = self.http.chat().clock().now();
                if now.since(self.last_active) >= ACTIVE_EVERY {
                    self.last_active = now;
                    let (chat, session) = (self.http.chat().clone(), self.session.clone());
                    tokio::spawn(async move { Active::default().note(&chat, &session).await });
                }
                if !matches!(command, Command::Active(_)) {
                    self.commands.push(command);
                }
                Ok(())
            }
            // Not a command: perhaps a fresh token (rare, so tried only
            // after the commands, which cost nothing more for it).
            Err(reason) => match Renewal::parse(text.as_str()) {
                Some(renewal) => self.renew(out, &renewal.token),
                None => self.error(out, None, "invalid_input", reason, None),
            },
        }
    }

    /// Takes a fresh token for the connection's `sub`: the connection then
    /// ends when the new token expires, and says so with an `auth` frame.
    /// A token that is refused, or names another user, changes nothing and
    /// is answered with an error frame.
    fn renew(&mut self, out: &mut Outbound, raw: &str) -> Result<(), End> {
        let Some(subject) = self.subject.as_deref() else {
            return self.error(
                out,
                None,
                "invalid_input",
                "this connection was opened with a session, not a token",
                Some("token"),
            );
        };
        let Some(keys) = self.http.config().tokens.as_ref() else {
            return self.error(out, None, "invalid_token", "no tokens are taken", None);
        };
        let claims = match keys.verify(raw, self.http.chat().clock().now()) {
            Ok(claims) => claims,
            Err(refused) => {
                let code = match refused {
                    crate::TokenRefused::Expired => "token_expired",
                    _ => "invalid_token",
                };
                return self.error(out, None, code, &refused.to_string(), Some("token"));
            }
        };
        if claims.subject != subject {
            return self.error(
                out,
                None,
                "invalid_token",
                "the token is for another user",
                Some("token"),
            );
        }
        self.renewed = Some(claims.expires_at);
        let frame = ServerFrame::Renewed {
            expires_at: claims.expires_at.to_rfc3339(),
        };
        self.push(out, frame.to_json().into())
    }

    fn on_reply(&mut self, out: &mut Outbound, live: &mut Live, reply: Reply) -> Result<(), End> {
        match reply {
            Reply::Done => Ok(()),
            Reply::Failed(error) => self.chat_error(out, None, &error),
            Reply::Sent { client_id, sent } => {
                if sent.created {
                    self.http.metrics().messages_sent.inc();
                }
                live.sent(Some(&sent.message));
                let ack = ServerFrame::Ack {
                    client_id: client_id.as_deref(),
                    message: MessageDto::from(&sent.message),
                    cursor: live.cursor(sent.message.position()).to_string(),
                };
                self.push(out, ack.to_json().into())
            }
            Reply::NotSent { client_id, error } => {
                live.sent(None);
                self.chat_error(out, client_id.as_deref(), &error)
            }
        }
    }

    /// Queues `first` and every other delivery ready at this moment (at
    /// most [`BATCH`]), so that one write carries them all: under load a
    /// connection writes fewer, larger batches instead of a system call per
    /// frame.
    async fn on_items(
        &mut self,
        out: &mut Outbound,
        live: &mut Live,
        first: Option<chat_core::Result<Item>>,
    ) -> Result<(), End> {
        let mut next = first;
        for taken in 1.. {
            match next {
                Some(Ok(item)) => self.on_item(out, item).await?,
                Some(Err(error)) => return Err(self.failed(&error)),
                None => return Err(End::Close(CloseCode::Policy, "logged out")),
            }
            if taken == BATCH {
                break;
            }
            // Polled once with this task's own waker (never a no-op one,
            // which would take the place of the task's in the bus queue's
            // waiters and cost a registration on every wake-up);
            // `Live::next` is cancel-safe: not ready, nothing is lost.
            let polled = std::future::poll_fn(|cx| {
                let next = std::pin::pin!(live.next());
                std::task::Poll::Ready(next.poll(cx))
            })
            .await;
            match polled {
                std::task::Poll::Ready(ready) => next = ready,
                std::task::Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// Writes what the delivery stream yields: live changes at once (a
    /// client that cannot keep up is too slow), replayed ones as the client
    /// takes them.
    async fn on_item(&mut self, out: &mut Outbound, item: Item) -> Result<(), End> {
        let patience = self.http.config().websocket.idle_timeout;
        match item {
            Item::Change {
                event,
                cursor,
                replayed,
            } => {
                let Some(frame) = encoded(&event, Some(cursor)) else {
                    return Ok(());
                };
                if replayed {
                    push_paced(out, frame, patience).await
                } else {
                    self.push(out, frame)
                }
            }
            Item::Notice(event) => match encoded(&event, None) {
                Some(frame) => self.push(out, frame),
                None => Ok(()),
            },
            Item::Resync { cursor } => {
                let frame = ServerFrame::Resync {
                    cursor: cursor.to_string(),
                };
                push_paced(out, frame.to_json().into(), patience).await
            }
        }
    }

    fn push(&self, out: &mut Outbound, frame: Frame) -> Result<(), End> {
        match out.push(frame) {
            Ok(()) => Ok(()),
            Err(Full::Slow) => {
                info!(user = %self.session.user().id(), "slow WebSocket consumer disconnected");
                self.http.metrics().ws_slow_consumer.inc();
                Err(End::Close(CloseCode::Again, TOO_SLOW))
            }
        }
    }

    fn chat_error(
        &self,
        out: &mut Outbound,
        client_id: Option<&str>,
        error: &ChatError,
    ) -> Result<(), End> {
        match error {
            ChatError::Unavailable { .. } => self.http.metrics().unavailable.inc(),
            ChatError::RateLimited { .. } => self.http.metrics().rate_limited.inc(),
            _ => 0,
        };
        if matches!(
            error,
            ChatError::Unavailable { .. } | ChatError::Internal { .. }
        ) {
            warn!(%error, cause = ?std::error::Error::source(error), "WebSocket request failed");
        }
        self.error(
            out,
            client_id,
            error.code(),
            &error.to_string(),
            error.field(),
        )
    }

    fn error(
        &self,
        out: &mut Outbound,
        client_id: Option<&str>,
        code: &str,
        message: &str,
        field: Option<&str>,
    ) -> Result<(), End> {
        let frame = ServerFrame::Error {
            client_id,
            code,
            message,
            field,
        };
        self.push(out, frame.to_json().into())
    }

    /// A dependency failed while setting up or replaying: say so and close.
    fn failed(&self, error: &ChatError) -> End {
        warn!(%error, "WebSocket closed after a failure");
        End::Close(CloseCode::Error, "temporarily unavailable")
    }
}

/// Queues `frame`, writing until there is room for it, at most `patience`:
/// a client that takes nothing for that long is too slow, even where no
/// write deadline applies (an adapter mounted in another server).
async fn push_paced(out: &mut Outbound, frame: Frame, patience: Duration) -> Result<(), End> {
    if out.has_room() {
        return out
            .push(frame)
            .map_err(|Full::Slow| End::Close(CloseCode::Again, TOO_SLOW));
    }
    // Boxed: waiting is rare (a replay the client reads slowly), and the
    // timer would otherwise be part of every connection's task.
    match Box::pin(tokio::time::timeout(patience, out.push_when_room(frame))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Gone)) => Err(End::Gone),
        Err(_) => Err(End::Close(CloseCode::Again, TOO_SLOW)),
    }
}

/// The reader task: hands the client's frames over one at a time (waiting
/// while the connection has no room for them), until the socket ends or
/// the connection stops listening.
async fn read_frames(
    mut stream: SplitStream<HyperWebsocketStream>,
    mut handing: mpsc::Sender<Incoming>,
) {
    while let Some(frame) = stream.next().await {
        let failed = frame.is_err();
        // `feed`, not `send`: the frame waits in the channel while the next
        // is read, as with a buffer of one.
        if handing.feed(frame).await.is_err() || failed {
            return;
        }
    }
}

/// An event's frame (see [`ServerFrame::of_event`]).
fn encoded(event: &SharedEvent, cursor: Option<chat_core::Cursor>) -> Option<Frame> {
    ServerFrame::of_event(event, cursor).map(Frame::Text)
}
