//! The load generator's view of the public protocol: accounts over HTTP,
//! then one WebSocket per simulated device.

use std::borrow::Cow;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// One WebSocket to the server.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The password of every load-test user.
const PASSWORD: &str = "load generator password 1";

/// A server under test: accounts and groups through `chat-client`, then
/// the WebSockets the load runs on, opened and driven here (a load
/// generator measures the server, so its sockets carry no reconnection or
/// outbox bookkeeping, and small buffers).
#[derive(Clone)]
pub(crate) struct Server {
    base: String,
    client: chat_client::Client,
}

impl Server {
    /// The server at `base` (`http://host:port`).
    pub(crate) fn new(base: &str) -> Result<Self, String> {
        let client = chat_client::Client::new(base).map_err(|e| e.to_string())?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// Signs `username` up (an existing account is fine: its password is
    /// the load generator's) and logs in; returns the session token.
    pub(crate) async fn session(&self, username: &str) -> Result<String, String> {
        let email = format!("{username}@loadgen.test");
        match self.client.signup(username, &email, PASSWORD).await {
            Ok(_) => {}
            Err(chat_client::Error::Api(refused)) if refused.code == "username_taken" => {}
            Err(error) => return Err(format!("signup {username}: {error}")),
        }
        let session = self
            .client
            .login(username, PASSWORD)
            .await
            .map_err(|e| format!("login {username}: {e}"))?;
        Ok(session.token().to_owned())
    }

    /// Makes a discoverable group owned by the first of `tokens` and has
    /// every other join it, one at a time (each join is a change of the
    /// group, decided against its version); returns its id.
    pub(crate) async fn room(&self, tokens: &[String]) -> Result<i64, String> {
        let owner = tokens.first().ok_or("a room needs members")?;
        eprintln!("making a group of {} members…", tokens.len());
        let made = json!({ "title": "load room", "join_policy": "discoverable" });
        let body = self
            .client
            .session(owner.as_str())
            .post("/api/groups", &made)
            .await
            .map_err(|e| format!("making the group: {e}"))?;
        let id = body["conversation"]["id"]
            .as_i64()
            .ok_or_else(|| format!("making the group: {body}"))?;
        for token in &tokens[1..] {
            self.client
                .session(token.as_str())
                .join_group(id)
                .await
                .map_err(|e| format!("joining the group: {e}"))?;
        }
        Ok(id)
    }

    /// Opens a WebSocket with `token` and waits for its `ready` frame.
    pub(crate) async fn connect(&self, token: &str) -> Result<Socket, String> {
        let url = format!("{}/ws", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        let bearer =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?;
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) = open(request).await?;
        loop {
            match socket.next().await {
                Some(Ok(Frame::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    if frame["type"] == "ready" {
                        return Ok(socket);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("WebSocket: {e}")),
                None => return Err("WebSocket closed before ready".into()),
            }
        }
    }
}

impl Server {
    /// Joins `room` on the reference broadcast server.
    pub(crate) async fn join(&self, room: &str) -> Result<Socket, String> {
        let url = format!("{}/ws/{room}", self.base.replacen("http", "ws", 1));
        let request = url.into_client_request().map_err(|e| e.to_string())?;
        Ok(open(request).await?.0)
    }
}

/// Opens a WebSocket with small buffers: the default 128 KiB read buffer,
/// zeroed on every read, would cost the load generator more than the load.
async fn open(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> Result<
    (
        Socket,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    String,
> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .map_err(|e| format!("WebSocket: {e}"))
}

/// A raw text frame for the reference server: the message's own text, as
/// in [`send_frame`].
pub(crate) fn raw_frame(sender: usize, seq: u64, due_micros: i64) -> Frame {
    Frame::text(format!("lg {sender} {seq} {due_micros}"))
}

/// A `send` frame whose text carries who sent it, its sequence number and
/// when it was due (microseconds on the run's clock), for the receiver.
/// Client ids are unique per run (`run`), as a retry with a known id would
/// be answered without publishing anything.
pub(crate) fn send_frame(
    to: &str,
    group: Option<i64>,
    run: u64,
    sender: usize,
    seq: u64,
    due_micros: i64,
) -> Frame {
    let text = format!("lg {sender} {seq} {due_micros}");
    let client_id = format!("lg-{run:x}-{sender}-{seq}");
    let frame = match group {
        Some(id) => {
            json!({"type": "send", "conversation_id": id, "text": text, "client_id": client_id})
        }
        None => json!({"type": "send", "to": to, "text": text, "client_id": client_id}),
    };
    Frame::text(frame.to_string())
}

/// What a server frame means to the load generator.
pub(crate) enum Received {
    /// A message from load-generator sender `sender`, number `seq`, due at
    /// `due_micros`.
    Message {
        sender: usize,
        seq: u64,
        due_micros: i64,
    },
    /// The server committed one of this connection's messages, due at
    /// `due_micros` (if the message is a load generator's).
    Ack { due_micros: Option<i64> },
    /// The server refused a frame.
    Error(String),
    /// Anything else (presence, typing, read marks).
    Other,
}

/// The parts of a server frame the load generator reads, borrowed from the
/// frame's text where it can: parsing every delivery is the load
/// generator's own hot path.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    message: Option<IncomingMessage<'a>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct IncomingMessage<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

/// The sender, sequence number and due time of a load-generator message's
/// text.
fn message_text(text: &str) -> Option<Received> {
    let mut parts = text.split(' ');
    let fields = (parts.next(), parts.next(), parts.next(), parts.next());
    if let (Some("lg"), Some(sender), Some(seq), Some(due)) = fields
        && let (Ok(sender), Ok(seq), Ok(due_micros)) = (sender.parse(), seq.parse(), due.parse())
    {
        return Some(Received::Message {
            sender,
            seq,
            due_micros,
        });
    }
    None
}

/// Parses one server frame: a chat server's JSON frame, or the reference
/// server's raw message text.
pub(crate) fn parse(text: &str) -> Received {
    if text.starts_with("lg ") {
        return message_text(text).unwrap_or(Received::Other);
    }
    let Ok(frame) = serde_json::from_str::<Incoming<'_>>(text) else {
        return Received::Error("unparsable frame".into());
    };
    match (frame.kind.as_ref(), frame.message) {
        ("message", Some(message)) => message_text(&message.text).unwrap_or(Received::Other),
        ("ack", message) => Received::Ack {
            due_micros: message.and_then(|m| match message_text(&m.text) {
                Some(Received::Message { due_micros, .. }) => Some(due_micros),
                _ => None,
            }),
        },
        ("error", _) => Received::Error(frame.code.as_deref().unwrap_or("unknown").to_owned()),
        _ => Received::Other,
    }
}

/// Sends a close frame and drops the socket.
pub(crate) async fn close(mut socket: Socket) {
    let _ = socket.close(None).await;
}
