//! One WebSocket connection: replay, then live events and client frames.

use std::collections::{HashSet, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use chat_core::{
    ChatError, Delivery, DirectLimiter, Event, EventKind, Message, MessageId, PageLimit, Session,
    SessionToken, SharedEvent, Subscription,
};
use futures::StreamExt;
use governor::Quota;
use hyper_tungstenite::HyperWebsocket;
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::{self, Message as Frame, Utf8Bytes};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, info, warn};

use super::SocketSlot;
use super::commands::{Command, Commands, Outcome};
use super::outbound::{Full, Outbound};
use crate::ChatHttp;
use crate::wire::{ClientFrame, MessageDto, ServerFrame, UserDto};

/// How many own message ids a connection remembers, to send an `ack`
/// instead of a second copy of the message it sent.
const OWN_IDS: usize = 256;
/// How many live message ids a connection remembers, to avoid repeating
/// them when it replays after a lag.
const LIVE_IDS: usize = 1024;
/// Consecutive rate-limit violations before a flooding client is cut off.
const FLOOD_STRIKES: u32 = 50;
/// How long a closing connection waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Own messages held back while a send is committing, waiting for its ack.
const HELD_EVENTS: usize = 256;

/// Why the connection ends.
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
    token: SessionToken,
    since: Option<MessageId>,
    /// Every message up to this id has been sent or was before `ready`.
    floor: MessageId,
    /// Ids of messages this connection sent (answered by `ack`).
    own: VecDeque<MessageId>,
    /// Ids delivered live above `floor`, oldest first.
    live: VecDeque<MessageId>,
    live_set: HashSet<MessageId>,
    frames: DirectLimiter,
    /// Client commands, run in order beside the event loop.
    commands: Commands,
    /// Live copies of this user's messages that arrived while one of this
    /// connection's sends was committing: each is either that send (answered
    /// by its `ack`) or not, which is known once the send returns.
    held: Vec<SharedEvent>,
    strikes: u32,
    last_heard: Instant,
    /// This connection's place in the user's cap and in the server's
    /// connection cap, freed on drop.
    _slot: (SocketSlot, Option<crate::server::HeldConnection>),
}

impl Connection {
    pub(super) fn new(
        http: ChatHttp,
        session: Session,
        token: SessionToken,
        since: Option<MessageId>,
        slot: (SocketSlot, Option<crate::server::HeldConnection>),
    ) -> Self {
        let limits = &http.config().websocket;
        let rate = NonZeroU32::new(limits.frames_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.frame_burst).unwrap_or(rate);
        Self {
            frames: DirectLimiter::direct_with_clock(
                Quota::per_second(rate).allow_burst(burst),
                http.rate_clock().clone(),
            ),
            http,
            session,
            token,
            since,
            floor: MessageId::ZERO,
            own: VecDeque::new(),
            live: VecDeque::new(),
            live_set: HashSet::new(),
            commands: Commands::default(),
            held: Vec::new(),
            strikes: 0,
            last_heard: Instant::now(),
            _slot: slot,
        }
    }

    pub(super) async fn run(mut self, websocket: HyperWebsocket) {
        let socket = match websocket.await {
            Ok(socket) => socket,
            Err(error) => {
                debug!(%error, "WebSocket handshake did not complete");
                return;
            }
        };
        let (sink, mut incoming) = socket.split();
        let limits = self.http.config().websocket.clone();
        let (mut out, writer) = Outbound::start(sink, limits.outbound_queue, limits.write_delay);
        let user = self.session.user().id();
        debug!(%user, "WebSocket connected");
        let end = match self.start(&out).await {
            Ok(mut events) => {
                let chat = self.http.chat().clone();
                if let Err(error) = chat.connected(&self.session).await {
                    debug!(%error, "presence unavailable");
                }
                let end = self.serve(&mut out, &mut incoming, &mut events).await;
                if let Err(error) = chat.disconnected(&self.session).await {
                    debug!(%error, "presence unavailable");
                }
                end
            }
            Err(end) => end,
        };
        let closing = matches!(end, End::Close(..));
        if let End::Close(code, reason) = end {
            debug!(%user, reason, "closing WebSocket");
            out.close(code, reason);
        }
        drop(out);
        let mut writer = writer;
        if tokio::time::timeout(limits.close_timeout, &mut writer)
            .await
            .is_err()
        {
            debug!(%user, "WebSocket writer stuck on a client that reads nothing; dropped");
            writer.abort();
        }
        if closing {
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
        debug!(%user, "WebSocket disconnected");
    }

    /// Subscribes, says `ready`, and replays `since`: subscribe first, so
    /// nothing committed meanwhile is missed; duplicates are skipped by id.
    async fn start(&mut self, out: &Outbound) -> Result<Subscription, End> {
        let chat = self.http.chat().clone();
        let events = chat
            .subscribe(&self.session)
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
        };
        self.push(out, ready.to_json().into())?;
        self.floor = last;
        if let Some(since) = self.since {
            self.replay(out, since).await?;
        }
        Ok(events)
    }

    async fn serve(
        &mut self,
        out: &mut Outbound,
        incoming: &mut futures::stream::SplitStream<hyper_tungstenite::HyperWebsocketStream>,
        events: &mut Subscription,
    ) -> End {
        let limits = self.http.config().websocket.clone();
        let mut heartbeat = tokio::time::interval(limits.ping_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        heartbeat.reset();
        let shutdown = self.http.shutdown_signal();
        let left = self
            .session
            .expires_at()
            .since(self.http.chat().clock().now());
        let expiry = tokio::time::sleep(left);
        tokio::pin!(expiry);
        loop {
            let step = tokio::select! {
                outcome = self.commands.next_outcome() => self.on_outcome(out, outcome),
                frame = incoming.next(), if self.commands.has_room() => match frame {
                    Some(Ok(frame)) => {
                        self.last_heard = Instant::now();
                        self.on_frame(out, frame)
                    }
                    Some(Err(tungstenite::Error::Capacity(_))) => {
                        warn!(user = %self.session.user().id(), "oversize WebSocket message");
                        self.http.metrics().ws_oversize.inc();
                        Err(End::Close(CloseCode::Size, "message too big"))
                    }
                    Some(Err(_)) | None => Err(End::Gone),
                },
                delivery = events.next() => match delivery {
                    Some(Delivery::Event(event)) => self.on_event(out, &event),
                    Some(Delivery::Lagged) => self.replay(out, self.floor).await,
                    None => Err(End::Close(CloseCode::Policy, "logged out")),
                },
                _ = heartbeat.tick() => self.on_heartbeat(out, limits.idle_timeout).await,
                () = shutdown.cancelled() => Err(End::Close(CloseCode::Away, "server shutting down")),
                () = &mut expiry => Err(End::Close(CloseCode::Policy, "session expired")),
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_heartbeat(&mut self, out: &Outbound, idle_timeout: Duration) -> Result<(), End> {
        if self.last_heard.elapsed() > idle_timeout {
            return Err(End::Close(CloseCode::Policy, "no answer to pings"));
        }
        // The session may have expired or been deleted by another process.
        match self.http.chat().authenticate(self.token.expose()).await {
            Ok(_) => {}
            Err(ChatError::Unauthenticated) => {
                return Err(End::Close(CloseCode::Policy, "session ended"));
            }
            Err(error) => debug!(%error, "could not re-check the session"),
        }
        self.push(out, Frame::Ping(bytes::Bytes::new()))
    }

    /// Answers protocol-level frames at once; queues commands.
    fn on_frame(&mut self, out: &Outbound, frame: Frame) -> Result<(), End> {
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
        let parsed: ClientFrame = match serde_json::from_str(text.as_str()) {
            Ok(parsed) => parsed,
            Err(e) => {
                let reason = if e.is_data() {
                    "unknown or malformed frame"
                } else {
                    "malformed JSON"
                };
                return self.error(out, None, "invalid_input", reason, None);
            }
        };
        let command = match parsed {
            ClientFrame::Send {
                to,
                text,
                client_id,
            } => Command::Send {
                to,
                text,
                client_id,
            },
            ClientFrame::Typing { to } => Command::Typing { to },
            ClientFrame::Read { with, up_to } => Command::Read {
                with,
                up_to: MessageId::new(up_to),
            },
        };
        self.commands.push(self.http.chat(), &self.session, command);
        Ok(())
    }

    fn on_outcome(&mut self, out: &Outbound, outcome: Outcome) -> Result<(), End> {
        self.commands.finished(self.http.chat(), &self.session);
        let answered = match outcome {
            Outcome::Sent { client_id, result } => match result {
                Ok(sent) => {
                    if sent.created {
                        self.http.metrics().messages_sent.inc();
                    }
                    remember(&mut self.own, sent.message.id(), OWN_IDS);
                    let ack = ServerFrame::Ack {
                        client_id: client_id.as_deref(),
                        message: MessageDto::from(&sent.message),
                    };
                    self.push(out, ack.to_json().into())
                }
                Err(error) => self.chat_error(out, client_id.as_deref(), &error),
            },
            Outcome::Typing(Ok(()) | Err(ChatError::RateLimited { .. })) | Outcome::Read(Ok(_)) => {
                Ok(())
            }
            Outcome::Typing(Err(error)) | Outcome::Read(Err(error)) => {
                self.chat_error(out, None, &error)
            }
        };
        answered?;
        self.release_held(out)
    }

    /// Delivers the held copies of own messages that were not the send just
    /// answered.
    fn release_held(&mut self, out: &Outbound) -> Result<(), End> {
        for event in std::mem::take(&mut self.held) {
            if let EventKind::Message { message } = event.kind() {
                let id = message.id();
                if self.own.contains(&id) || self.live_set.contains(&id) {
                    continue;
                }
                self.remember_live(id);
            }
            self.push_event(out, &event)?;
        }
        Ok(())
    }

    fn on_event(&mut self, out: &Outbound, event: &SharedEvent) -> Result<(), End> {
        if let EventKind::Message { message } = event.kind() {
            if self.is_running_send(message) && self.held.len() < HELD_EVENTS {
                self.held.push(SharedEvent::clone(event));
                return Ok(());
            }
            let id = message.id();
            if id <= self.floor || self.live_set.contains(&id) {
                return Ok(());
            }
            self.remember_live(id);
            if self.own.contains(&id) {
                return Ok(());
            }
        }
        self.push_event(out, event)
    }

    /// Sends an event's frame, encoded once for every connection.
    fn push_event(&self, out: &Outbound, event: &SharedEvent) -> Result<(), End> {
        let encoded: Option<Utf8Bytes> =
            event.encoded(|kind| ServerFrame::from_event(kind).map(|f| f.to_json().into()));
        match encoded {
            Some(text) => self.push(out, Frame::Text(text)),
            None => Ok(()),
        }
    }

    /// Sends every message after `after` from the store, skipping those
    /// already delivered; past the replay limit, tells the client to resync.
    async fn replay(&mut self, out: &Outbound, after: MessageId) -> Result<(), End> {
        let chat = self.http.chat().clone();
        let limit = self.http.config().websocket.replay_limit;
        let patience = self.http.config().websocket.idle_timeout;
        let mut cursor = after;
        let mut sent = 0usize;
        loop {
            let page = chat
                .since(&self.session, cursor, PageLimit::LARGEST)
                .await
                .map_err(|e| self.failed(&e))?;
            for message in &page.items {
                cursor = message.id();
                if self.live_set.contains(&message.id()) || self.own.contains(&message.id()) {
                    continue;
                }
                if self.is_running_send(message) && self.held.len() < HELD_EVENTS {
                    self.held.push(Event::new(EventKind::Message {
                        message: message.clone(),
                    }));
                    continue;
                }
                // Paced by the client: a replay longer than the queue must
                // not make a client that reads it a slow consumer.
                push_paced(out, message_frame(message), patience).await?;
                sent += 1;
            }
            self.floor = self.floor.max(cursor);
            if !page.has_more {
                break;
            }
            if sent >= limit {
                push_paced(out, ServerFrame::Resync.to_json().into(), patience).await?;
                self.floor = chat
                    .last_message_id(&self.session)
                    .await
                    .map_err(|e| self.failed(&e))?;
                break;
            }
        }
        self.forget_below_floor();
        Ok(())
    }

    /// Whether `message` may be the one this connection's running send is
    /// committing, whose `ack` will stand for it.
    fn is_running_send(&self, message: &Message) -> bool {
        message.sender().id() == self.session.user().id()
            && self.commands.may_be_running_send(message)
    }

    fn remember_live(&mut self, id: MessageId) {
        self.live.push_back(id);
        self.live_set.insert(id);
        if self.live.len() > LIVE_IDS
            && let Some(old) = self.live.pop_front()
        {
            self.live_set.remove(&old);
        }
    }

    fn forget_below_floor(&mut self) {
        let floor = self.floor;
        self.live.retain(|id| *id > floor);
        self.live_set.retain(|id| *id > floor);
    }

    fn push(&self, out: &Outbound, frame: Frame) -> Result<(), End> {
        match out.push(frame) {
            Ok(()) => Ok(()),
            Err(Full::Slow) => {
                info!(user = %self.session.user().id(), "slow WebSocket consumer disconnected");
                self.http.metrics().ws_slow_consumer.inc();
                Err(End::Close(
                    CloseCode::Again,
                    "too slow; reconnect with since",
                ))
            }
            Err(Full::Closed) => Err(End::Gone),
        }
    }

    fn chat_error(
        &self,
        out: &Outbound,
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
        out: &Outbound,
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

/// Queues `frame`, waiting for room (see [`Outbound::send`]), at most
/// `patience`: a client that takes nothing for that long is too slow, even
/// where no write deadline applies (an adapter mounted in another server).
async fn push_paced(out: &Outbound, frame: Frame, patience: Duration) -> Result<(), End> {
    match tokio::time::timeout(patience, out.send(frame)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(End::Close(
            CloseCode::Again,
            "too slow; reconnect with since",
        )),
    }
}

fn message_frame(message: &Message) -> Frame {
    let frame = ServerFrame::Message {
        message: MessageDto::from(message),
    };
    Frame::Text(frame.to_json().into())
}

fn remember(ids: &mut VecDeque<MessageId>, id: MessageId, bound: usize) {
    ids.push_back(id);
    if ids.len() > bound {
        ids.pop_front();
    }
}
