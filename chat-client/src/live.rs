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
    cursor: Mutex<Option<String>>,
    pending: AtomicUsize,
}

/// A live connection of one session: reconnects with back-off, resumes
/// from the cursor of the last change it delivered, and resends every
/// send not yet acknowledged under its `client_id` (the server stores a
/// send once however often it comes).
pub struct Live {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<LiveEvent>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
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
        self.task.abort();
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
        let (commands, receiver) = mpsc::channel(64);
        let (events, reader) = mpsc::channel(options.queue.max(1));
        let task = tokio::spawn(run(
            Connection {
                session,
                options,
                shared: Arc::clone(&shared),
                events,
                outbox: Vec::new(),
                seen: Seen::default(),
            },
            socket,
            ready,
            receiver,
        ));
        Ok(Self {
            commands,
            events: reader,
            shared,
            task,
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
            .await
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
            .await
            .map_err(|_| Error::Closed)
    }

    /// The next event; `None` once the connection has stopped (after
    /// [`LiveEvent::SessionEnded`], or [`Live::close`]).
    pub async fn next(&mut self) -> Option<LiveEvent> {
        self.events.recv().await
    }

    /// The cursor of the last change delivered: where a new connection
    /// (`LiveOptions::cursor`) would resume.
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

    /// Closes the connection (normal closure) and stops reconnecting.
    pub async fn close(self) {
        let _ = self.commands.send(Command::Close).await;
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

/// The connection task's state.
struct Connection {
    session: Session,
    options: LiveOptions,
    shared: Arc<Shared>,
    events: mpsc::Sender<LiveEvent>,
    /// Sends not yet acknowledged, in the order sent: (client id, frame).
    outbox: Vec<(String, String)>,
    seen: Seen,
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
    mut commands: mpsc::Receiver<Command>,
) {
    let mut current = Some((socket, ready));
    let mut failures: u32 = 0;
    loop {
        let (socket, ready) = match current.take() {
            Some(open) => open,
            None => {
                let cursor = connection.cursor();
                match open(&connection.session, cursor.as_deref()).await {
                    Ok(open) => open,
                    Err(Error::Api(refused)) if refused.status == 401 || refused.status == 403 => {
                        connection.tell(LiveEvent::SessionEnded).await;
                        return;
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        debug!(%error, failures, "reconnection failed");
                        let wait = connection.backoff(failures);
                        if !connection.wait(wait, &mut commands).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        match connection.serve(socket, ready, &mut commands).await {
            Ended::Dropped(reason) => {
                connection.tell(LiveEvent::Disconnected { reason }).await;
                failures = 1;
                let wait = connection.backoff(failures);
                if !connection.wait(wait, &mut commands).await {
                    return;
                }
            }
            Ended::SessionOver => {
                connection.tell(LiveEvent::SessionEnded).await;
                return;
            }
            Ended::Closed => return,
        }
    }
}

impl Connection {
    fn cursor(&self) -> Option<String> {
        self.shared
            .cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_cursor(&self, cursor: &str) {
        *self
            .shared
            .cursor
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cursor.to_owned());
    }

    async fn tell(&self, event: LiveEvent) {
        let _ = self.events.send(event).await;
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
    async fn wait(&mut self, wait: Duration, commands: &mut mpsc::Receiver<Command>) -> bool {
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

    fn keep(&mut self, client_id: String, frame: String) {
        self.outbox.push((client_id, frame));
        self.shared
            .pending
            .store(self.outbox.len(), Ordering::Relaxed);
    }

    fn settle(&mut self, client_id: &str) {
        self.outbox.retain(|(id, _)| id != client_id);
        self.shared
            .pending
            .store(self.outbox.len(), Ordering::Relaxed);
    }

    /// Serves one connection until it ends: the outbox first, then frames
    /// both ways.
    async fn serve(
        &mut self,
        mut socket: Socket,
        ready: ServerEvent,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Ended {
        // Resuming, the cursor already held stays until replayed changes
        // move it: `ready`'s is only where the stream stood.
        if let (None, Some(cursor)) = (self.cursor(), ready.cursor()) {
            self.set_cursor(cursor);
        }
        self.tell(LiveEvent::Connected).await;
        self.tell(LiveEvent::Event(ready)).await;
        for (_, frame) in &self.outbox {
            if let Err(error) = socket.send(Frame::text(frame.clone())).await {
                return Ended::Dropped(error.to_string());
            }
        }
        loop {
            tokio::select! {
                frame = socket.next() => match frame {
                    Some(Ok(Frame::Text(text))) => self.received(&text).await,
                    Some(Ok(Frame::Close(close))) => {
                        let ended = close.as_ref().is_some_and(|c| {
                            c.code == CloseCode::Policy && c.reason.contains("session")
                        });
                        return if ended {
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
                        self.keep(client_id, frame.clone());
                        if let Err(error) = socket.send(Frame::text(frame)).await {
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

    /// One frame from the server: the cursor moved, the outbox settled, a
    /// replayed message dropped, the rest handed on.
    async fn received(&mut self, text: &str) {
        let Ok(event) = serde_json::from_str::<ServerEvent>(text) else {
            debug!("a frame that is not the protocol");
            return;
        };
        match &event {
            ServerEvent::Ack {
                client_id: Some(id),
                ..
            }
            | ServerEvent::Error {
                client_id: Some(id),
                ..
            } => self.settle(&id.clone()),
            _ => {}
        }
        let message_id = match &event {
            ServerEvent::Message { message, .. } | ServerEvent::Ack { message, .. } => {
                Some(message.id)
            }
            _ => None,
        };
        if let Some(cursor) = event.cursor() {
            self.set_cursor(cursor);
        }
        if let Some(id) = message_id {
            // A message of ours replayed after a drop also settles its send.
            if let ServerEvent::Message { message, .. } = &event
                && let Some(client_id) = &message.client_id
            {
                self.settle(&client_id.clone());
            }
            if !self.seen.first(id, self.options.remembered) {
                return;
            }
        }
        self.tell(LiveEvent::Event(event)).await;
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
