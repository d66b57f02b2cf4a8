//! The live connection: a WebSocket that reconnects, resumes from its
//! cursor, and resends its outbox.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as Frame};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::debug;

use crate::api::Session;
use crate::error::Error;
use crate::events::ServerEvent;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the server may take to say `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum To {
    /// A direct conversation, by the other user's name.
    User(String),
    /// A conversation (a group, or a direct one) by its id.
    Conversation(i64),
}

/// How a live connection behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LiveOptions {
    /// Where to resume from (the cursor of the last change a previous
    /// connection delivered); `None`: from now.
    pub cursor: Option<String>,
    /// The wait before the first reconnection (default 500 ms); it
    /// doubles after each failure, jittered to between half and all of it.
    pub first_retry: Duration,
    /// The longest wait between reconnections (default 15 s).
    pub max_retry: Duration,
    /// Events held for a reader that does not keep up (default 1 024);
    /// past it, the connection waits for the reader.
    pub queue: usize,
    /// How many message ids are remembered to drop a replayed message
    /// delivered before (default 4 096).
    pub remembered: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            cursor: None,
            first_retry: Duration::from_millis(500),
            max_retry: Duration::from_secs(15),
            queue: 1024,
            remembered: 4096,
        }
    }
}

/// What the live connection tells its reader.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
// Nearly every item is an `Event`: boxing it would cost an allocation each
// to save room on the few that are not.
#[allow(clippy::large_enum_variant)]
pub enum LiveEvent {
    /// Connected (again): `ready` follows, then what was missed.
    Connected,
    /// A frame of the server (a message replayed after a reconnection is
    /// delivered once).
    Event(ServerEvent),
    /// The connection dropped; it reconnects by itself.
    Disconnected {
        /// Why, in words for logs.
        reason: String,
    },
    /// The session is over (logged out, expired, refused): no
    /// reconnection. Log in again and open a new connection.
    SessionEnded,
}

/// What the reader asks of the connection task.
enum Command {
    /// A send: kept until acknowledged.
    Send {
        client_id: String,
        frame: String,
    },
    /// Any other frame: written if connected, else dropped.
    Frame(String),
    Close,
}

/// What the reader and the task share.
#[derive(Default)]
struct Shared {
    /// The cursor of the last change the reader took.
    cursor: Mutex<Option<String>>,
    pending: AtomicUsize,
}

/// A live connection of one session: reconnects with back-off, resumes
/// from the cursor of the last change it delivered, and resends every
/// send not yet acknowledged under its `client_id` (the server stores a
/// send once however often it comes).
pub struct Live {
    /// Unbounded, so that a send never waits for the task (which may be
    /// waiting for the reader to take events).
    commands: mpsc::UnboundedSender<Command>,
    /// Events with the cursor each moves the stream to.
    events: mpsc::Receiver<(LiveEvent, Option<String>)>,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("cursor", &self.cursor())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Live {
    /// Opens the connection (the first attempt is made here, so that a
    /// refused session is an error now), then keeps it open in a task.
    ///
    /// # Errors
    /// [`Error::Api`] when the server refuses the upgrade (`401` without a
    /// valid session, `429`), [`Error::Transport`] when it cannot be
    /// reached.
    pub async fn connect(session: Session, options: LiveOptions) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            cursor: Mutex::new(options.cursor.clone()),
            pending: AtomicUsize::new(0),
        });
        let (socket, ready) = open(&session, options.cursor.as_deref()).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let (events, reader) = mpsc::channel(options.queue.max(1));
        let task = tokio::spawn(run(
            Connection {
                session,
                received: options.cursor.clone(),
                options,
                shared: Arc::clone(&shared),
                events,
                outbox: Vec::new(),
                seen: Seen::default(),
                refusals: 0,
            },
            socket,
            ready,
            receiver,
        ));
        Ok(Self {
            commands,
            events: reader,
            shared,
            task: Some(task),
        })
    }

    /// Sends `text` to `to`: kept in the outbox, under a fresh `client_id`
    /// (returned), until the server acknowledges it (an `ack`) or refuses
    /// it (an `error` with that id), and sent again on every reconnection
    /// meanwhile.
    ///
    /// # Errors
    /// [`Error::Closed`] once the connection has stopped.
    pub async fn send(&self, to: To, text: &str) -> Result<String, Error> {
        let client_id = fresh_client_id();
        let frame = match to {
            To::User(name) => {
                json!({"type": "send", "to": name, "text": text, "client_id": client_id})
            }
            To::Conversation(id) => {
                json!({"type": "send", "conversation_id": id, "text": text, "client_id": client_id})
            }
        };
        self.commands
            .send(Command::Send {
                client_id: client_id.clone(),
                frame: frame.to_string(),
            })
            .map_err(|_| Error::Closed)?;
        Ok(client_id)
    }

    /// Writes another frame (`typing`, `read`, `active`) if connected; it
    /// is not kept for a reconnection.
    ///
    /// # Errors
    /// [`Error::Closed`] once the connection has stopped.
    pub async fn send_frame(&self, frame: &Value) -> Result<(), Error> {
        self.commands
            .send(Command::Frame(frame.to_string()))
            .map_err(|_| Error::Closed)
    }

    /// The next event; `None` once the connection has stopped (after
    /// [`LiveEvent::SessionEnded`], or [`Live::close`]). Read events as they
    /// come: while up to [`LiveOptions::queue`] wait unread, the
    /// connection stops reading from the server (sends still go out).
    pub async fn next(&mut self) -> Option<LiveEvent> {
        let (event, cursor) = self.events.recv().await?;
        if let Some(cursor) = cursor {
            *self
                .shared
                .cursor
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(cursor);
        }
        Some(event)
    }

    /// The cursor of the last change this reader took from
    /// [`Live::next`]: where a new connection (`LiveOptions::cursor`) would
    /// resume without missing anything.
    pub fn cursor(&self) -> Option<String> {
        self.shared
            .cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many sends wait for their acknowledgement.
    pub fn pending(&self) -> usize {
        self.shared.pending.load(Ordering::Relaxed)
    }

    /// Closes the connection (a normal closure, waited for up to a few
    /// seconds) and stops reconnecting. Sends still in the outbox are
    /// dropped: see [`Live::pending`] first.
    pub async fn close(mut self) {
        let _ = self.commands.send(Command::Close);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// A fresh `client_id`: unique in this process, and across processes by
/// a random part.
fn fresh_client_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!(
        "rc-{:x}-{}",
        random & 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Why a connection attempt failed.
fn refused(error: &tungstenite::Error) -> Option<Error> {
    match error {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                .unwrap_or(Value::Null);
            Some(
                crate::error::ApiError {
                    status,
                    code: body["error"]["code"]
                        .as_str()
                        .unwrap_or("refused")
                        .to_owned(),
                    message: body["error"]["message"].as_str().unwrap_or("").to_owned(),
                    field: None,
                }
                .into(),
            )
        }
        _ => None,
    }
}

/// Connects, resuming from `cursor`, and reads the `ready` frame.
async fn open(session: &Session, cursor: Option<&str>) -> Result<(Socket, ServerEvent), Error> {
    let mut url = session.client().websocket_url();
    if let Some(cursor) = cursor {
        url = format!("{url}?cursor={cursor}");
    }
    let mut request = url
        .into_client_request()
        .map_err(|e| Error::Url(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", session.token()))
        .map_err(|_| Error::Transport("the token is not a header value".into()))?;
    request.headers_mut().insert("authorization", bearer);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| refused(&e).unwrap_or_else(|| Error::Transport(e.to_string())))?;
    let ready = tokio::time::timeout(READY_TIMEOUT, async {
        loop {
            match socket.next().await {
                Some(Ok(Frame::Text(text))) => {
                    if let Ok(event @ ServerEvent::Ready { .. }) = serde_json::from_str(&text) {
                        return Ok(event);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::Transport(e.to_string())),
                None => return Err(Error::Transport("closed before ready".into())),
            }
        }
    })
    .await
    .map_err(|_| Error::Transport("no ready frame in time".into()))??;
    Ok((socket, ready))
}

/// Message ids delivered lately, to drop those a resumed connection
/// replays again.
#[derive(Default)]
struct Seen {
    ids: HashSet<i64>,
    order: VecDeque<i64>,
}

impl Seen {
    /// Whether `id` is new (and remembers it, forgetting the oldest past
    /// `room`).
    fn first(&mut self, id: i64, room: usize) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        while self.order.len() > room.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        true
    }
}

/// At most this many outbox sends go out at once; the next ones a pacing
/// period later (the server takes 20 frames a second, in bursts of 60).
const PACE_BATCH: usize = 40;
const PACE_PERIOD: Duration = Duration::from_secs(2);

/// How many refusals of a reconnection (`401`, `403`) in a row end the
/// session: one may be a passing state of the server (keys still
/// loading), several are not.
const REFUSALS_TO_END: u32 = 3;

/// Error codes of a send that a later attempt may pass: the send stays in
/// the outbox and goes again.
const PASSING: [&str; 3] = ["unavailable", "internal", "rate_limited"];

/// A send waiting for its acknowledgement.
struct Outgoing {
    client_id: String,
    frame: String,
    /// Not written on this connection yet (or to be written again).
    due: bool,
}

/// The connection task's state.
struct Connection {
    session: Session,
    options: LiveOptions,
    shared: Arc<Shared>,
    events: mpsc::Sender<(LiveEvent, Option<String>)>,
    /// The cursor of the last change received (handed on, or queued for
    /// the reader): where a reconnection resumes.
    received: Option<String>,
    /// Sends not yet settled, in the order sent.
    outbox: Vec<Outgoing>,
    seen: Seen,
    /// Reconnections refused in a row.
    refusals: u32,
}

/// How one connection ended.
enum Ended {
    /// Dropped: reconnect.
    Dropped(String),
    /// The session is over: stop.
    SessionOver,
    /// The reader closed the connection, or is gone.
    Closed,
}

async fn run(
    mut connection: Connection,
    socket: Socket,
    ready: ServerEvent,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut current = Some((socket, ready));
    let mut failures: u32 = 0;
    loop {
        let (socket, ready) = match current.take() {
            Some(open) => open,
            None => match open(&connection.session, connection.received.as_deref()).await {
                Ok(open) => {
                    connection.refusals = 0;
                    open
                }
                Err(Error::Api(refused)) if refused.status == 401 || refused.status == 403 => {
                    connection.refusals += 1;
                    if connection.refusals >= REFUSALS_TO_END {
                        connection.tell(LiveEvent::SessionEnded, None).await;
                        return;
                    }
                    failures = failures.saturating_add(1);
                    if !connection
                        .wait(connection.backoff(failures), &mut commands)
                        .await
                    {
                        return;
                    }
                    continue;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    debug!(%error, failures, "reconnection failed");
                    if !connection
                        .wait(connection.backoff(failures), &mut commands)
                        .await
                    {
                        return;
                    }
                    continue;
                }
            },
        };
        match connection.serve(socket, ready, &mut commands).await {
            Ended::Dropped(reason) => {
                connection
                    .tell(LiveEvent::Disconnected { reason }, None)
                    .await;
                failures = 1;
                if !connection
                    .wait(connection.backoff(failures), &mut commands)
                    .await
                {
                    return;
                }
            }
            Ended::SessionOver => {
                connection.tell(LiveEvent::SessionEnded, None).await;
                return;
            }
            Ended::Closed => return,
        }
    }
}

impl Connection {
    /// Hands `event` to the reader (waiting while its queue is full), with
    /// the cursor it moves the stream to.
    async fn tell(&self, event: LiveEvent, cursor: Option<String>) {
        let _ = self.events.send((event, cursor)).await;
    }

    /// The wait before reconnection attempt `failures`: doubling, capped,
    /// jittered to between half and all of it.
    fn backoff(&self, failures: u32) -> Duration {
        let doubled = self
            .options
            .first_retry
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)));
        let wait = doubled.min(self.options.max_retry);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        wait.mul_f64(0.5 + (random % 1_000) as f64 / 2_000.0)
    }

    /// Waits `wait` while taking the reader's commands (sends go to the
    /// outbox); `false` when the reader closed.
    async fn wait(
        &mut self,
        wait: Duration,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> bool {
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return true,
                command = commands.recv() => match command {
                    Some(Command::Send { client_id, frame }) => self.keep(client_id, frame),
                    Some(Command::Frame(_)) => {}
                    Some(Command::Close) | None => return false,
                },
            }
        }
    }

    fn count_pending(&self) {
        self.shared
            .pending
            .store(self.outbox.len(), Ordering::Relaxed);
    }

    fn keep(&mut self, client_id: String, frame: String) {
        self.outbox.push(Outgoing {
            client_id,
            frame,
            due: true,
        });
        self.count_pending();
    }

    /// The send `client_id` is answered for good.
    fn settle(&mut self, client_id: &str) {
        self.outbox.retain(|sent| sent.client_id != client_id);
        self.count_pending();
    }

    /// The send `client_id` may pass later: it goes again.
    fn retry(&mut self, client_id: &str) {
        for sent in &mut self.outbox {
            if sent.client_id == client_id {
                sent.due = true;
            }
        }
    }

    /// Writes up to [`PACE_BATCH`] due sends, oldest first.
    async fn pump(&mut self, socket: &mut Socket) -> Result<(), tungstenite::Error> {
        for sent in self
            .outbox
            .iter_mut()
            .filter(|sent| sent.due)
            .take(PACE_BATCH)
        {
            socket.send(Frame::text(sent.frame.clone())).await?;
            sent.due = false;
        }
        Ok(())
    }

    /// Serves one connection until it ends: the outbox first (paced),
    /// then frames both ways.
    async fn serve(
        &mut self,
        mut socket: Socket,
        ready: ServerEvent,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Ended {
        // Resuming, the cursor already held stays until replayed changes
        // move it: `ready`'s is only where the stream stood.
        let ready_cursor = match (&self.received, ready.cursor()) {
            (None, Some(cursor)) => Some(cursor.to_owned()),
            _ => None,
        };
        if let Some(cursor) = &ready_cursor {
            self.received = Some(cursor.clone());
        }
        self.tell(LiveEvent::Connected, None).await;
        self.tell(LiveEvent::Event(ready), ready_cursor).await;
        for sent in &mut self.outbox {
            sent.due = true;
        }
        let mut pace = tokio::time::interval(PACE_PERIOD);
        loop {
            tokio::select! {
                _ = pace.tick() => {
                    if let Err(error) = self.pump(&mut socket).await {
                        return Ended::Dropped(error.to_string());
                    }
                }
                frame = socket.next() => match frame {
                    Some(Ok(Frame::Text(text))) => self.received(&text).await,
                    Some(Ok(Frame::Close(close))) => {
                        let over = close.as_ref().is_some_and(|c| {
                            c.code == CloseCode::Policy && c.reason.contains("session")
                        });
                        return if over {
                            Ended::SessionOver
                        } else {
                            Ended::Dropped(format!("closed by the server: {close:?}"))
                        };
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => return Ended::Dropped(error.to_string()),
                    None => return Ended::Dropped("the connection ended".into()),
                },
                command = commands.recv() => match command {
                    Some(Command::Send { client_id, frame }) => {
                        self.keep(client_id, frame);
                        if let Err(error) = self.pump(&mut socket).await {
                            return Ended::Dropped(error.to_string());
                        }
                    }
                    Some(Command::Frame(frame)) => {
                        if let Err(error) = socket.send(Frame::text(frame)).await {
                            return Ended::Dropped(error.to_string());
                        }
                    }
                    Some(Command::Close) | None => {
                        let _ = socket.close(None).await;
                        return Ended::Closed;
                    }
                },
            }
        }
    }

    /// One frame from the server: the outbox settled, a replayed message
    /// dropped, the cursor moved, the rest handed on.
    async fn received(&mut self, text: &str) {
        let Ok(event) = serde_json::from_str::<ServerEvent>(text) else {
            debug!("a frame that is not the protocol");
            return;
        };
        match &event {
            ServerEvent::Ack {
                client_id: Some(id),
                ..
            } => self.settle(&id.clone()),
            ServerEvent::Error {
                client_id: Some(id),
                code,
                ..
            } => {
                if PASSING.contains(&code.as_str()) {
                    self.retry(&id.clone());
                } else {
                    self.settle(&id.clone());
                }
            }
            // Frames refused by the connection's rate limit name no send:
            // every unsettled send may be among them, and goes again (the
            // server stores a send once, whatever its repeats).
            ServerEvent::Error {
                client_id: None,
                code,
                ..
            } if code == "rate_limited" => {
                for sent in &mut self.outbox {
                    sent.due = true;
                }
            }
            // A message of ours replayed after a drop settles its send.
            ServerEvent::Message { message, .. } => {
                if let Some(id) = &message.client_id {
                    self.settle(&id.clone());
                }
            }
            _ => {}
        }
        let message_id = match &event {
            ServerEvent::Message { message, .. } | ServerEvent::Ack { message, .. } => {
                Some(message.id)
            }
            _ => None,
        };
        // A message seen before (replayed, or a resent send answered with
        // the original) is neither handed on again nor allowed to move the
        // cursor back.
        if let Some(id) = message_id
            && !self.seen.first(id, self.options.remembered)
        {
            return;
        }
        let cursor = event.cursor().map(str::to_owned);
        if let Some(cursor) = &cursor {
            self.received = Some(cursor.clone());
        }
        self.tell(LiveEvent::Event(event), cursor).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_id_is_seen_once_within_the_window() {
        let mut seen = Seen::default();
        assert!(seen.first(1, 2));
        assert!(!seen.first(1, 2));
        assert!(seen.first(2, 2));
        assert!(seen.first(3, 2));
        assert!(seen.first(1, 2), "forgotten past the window");
    }

    #[test]
    fn client_ids_are_fresh_and_valid() {
        let a = fresh_client_id();
        let b = fresh_client_id();
        assert_ne!(a, b);
        assert!(a.len() <= 64 && a.bytes().all(|c| c.is_ascii_graphic()));
    }
}
