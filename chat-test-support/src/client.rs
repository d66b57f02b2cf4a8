//! A client of a running server, in process or not: real HTTP (reqwest)
//! and real WebSockets (tokio-tungstenite), with the steps tests repeat.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{PASSWORD, WAIT};

/// A client's WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A status, the response headers and the body as JSON (a string when it
/// is not JSON, null when empty).
pub type Answer = (u16, reqwest::header::HeaderMap, Value);

/// Talks to one server.
#[derive(Clone, Debug)]
pub struct Client {
    /// `http://host:port`, and the path the chat is mounted at if any
    /// (`http://host:port/chat`).
    pub base: String,
    /// `host:port`.
    pub host: String,
    /// The HTTP client (no redirects followed, no compression asked for).
    pub http: reqwest::Client,
}

/// A logged-in session's credentials.
#[derive(Clone, Debug)]
pub struct Login {
    /// The bearer token.
    pub token: String,
    /// The CSRF token for cookie-authenticated changes.
    pub csrf: String,
    /// `name=value` of the session cookie.
    pub cookie: String,
}

impl Login {
    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

impl Client {
    /// A client of the server at `host` (`127.0.0.1:port`).
    pub fn new(host: &str) -> Self {
        Self {
            base: format!("http://{host}"),
            host: host.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `POST`s `body` as JSON with extra `headers`.
    pub async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.post(self.url(path)).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.unwrap()).await
    }

    /// Sends `method` to `path` with `headers` and, if given, `body` as
    /// JSON.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.unwrap()).await
    }

    /// `PATCH`es `body` to `path` as `login` (bearer).
    pub async fn patch_as(&self, login: &Login, path: &str, body: Value) -> Answer {
        let bearer = login.bearer();
        self.request(
            reqwest::Method::PATCH,
            path,
            Some(body),
            &[("authorization", &bearer)],
        )
        .await
    }

    /// `PUT`s `body` to `path` as `login` (bearer).
    pub async fn put_as(&self, login: &Login, path: &str, body: Value) -> Answer {
        let bearer = login.bearer();
        self.request(
            reqwest::Method::PUT,
            path,
            Some(body),
            &[("authorization", &bearer)],
        )
        .await
    }

    /// `DELETE`s `path` as `login` (bearer).
    pub async fn delete_as(&self, login: &Login, path: &str) -> Answer {
        let bearer = login.bearer();
        self.request(
            reqwest::Method::DELETE,
            path,
            None,
            &[("authorization", &bearer)],
        )
        .await
    }

    /// `GET`s `path` with `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.unwrap()).await
    }

    /// `GET`s `path` and returns the body as text.
    pub async fn get_text(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// `GET`s `path` as `login` (bearer).
    pub async fn get_as(&self, login: &Login, path: &str) -> Answer {
        self.get(path, &[("authorization", &login.bearer())]).await
    }

    /// `POST`s `body` to `path` as `login` (bearer).
    pub async fn post_as(&self, login: &Login, path: &str, body: Value) -> Answer {
        self.post(path, body, &[("authorization", &login.bearer())])
            .await
    }

    /// Signs `name` up with `name@example.test` and [`PASSWORD`], which
    /// must succeed.
    pub async fn signup(&self, name: &str) {
        let (status, _, body) = self.try_signup(name).await;
        assert_eq!(status, 201, "signup {name}: {body}");
    }

    /// Tries to sign `name` up.
    pub async fn try_signup(&self, name: &str) -> Answer {
        self.post(
            "/api/signup",
            json!({ "email": format!("{name}@example.test"), "username": name, "password": PASSWORD, "confirm_password": PASSWORD }),
            &[],
        )
        .await
    }

    /// Logs `name` in with [`PASSWORD`], which must succeed.
    pub async fn login(&self, name: &str) -> Login {
        let (status, headers, body) = self.try_login(name, PASSWORD).await;
        assert_eq!(status, 200, "login {name}: {body}");
        let cookie = headers
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        Login {
            token: body["token"].as_str().unwrap().to_owned(),
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            cookie,
        }
    }

    /// Tries to log `name` in with `password`.
    pub async fn try_login(&self, name: &str, password: &str) -> Answer {
        self.post(
            "/api/login",
            json!({ "username": name, "password": password }),
            &[],
        )
        .await
    }

    /// Signs `name` up and logs in.
    pub async fn user(&self, name: &str) -> Login {
        self.signup(name).await;
        self.login(name).await
    }

    /// Sends `text` from `from` to `to` over HTTP, which must succeed; the
    /// message as JSON.
    pub async fn send(&self, from: &Login, to: &str, text: &str) -> Value {
        let (status, _, body) = self
            .post_as(
                from,
                &format!("/api/conversations/{to}/messages"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(status, 201, "send: {body}");
        body["message"].clone()
    }

    /// Makes a group `title` of `owner` with `members` (added where they
    /// have written with the owner, invited otherwise), which must
    /// succeed; its id.
    pub async fn make_group(&self, owner: &Login, title: &str, members: &[&str]) -> i64 {
        let (status, _, made) = self
            .post_as(
                owner,
                "/api/groups",
                json!({ "title": title, "members": members }),
            )
            .await;
        assert_eq!(status, 201, "make a group: {made}");
        made["conversation"]["id"].as_i64().unwrap()
    }

    /// Has `a` (named `a_name`) and `b` (named `b_name`) write to each
    /// other, so that either may add the other to a group.
    pub async fn acquaint(&self, a: &Login, a_name: &str, b: &Login, b_name: &str) {
        self.send(a, b_name, "hi").await;
        self.send(b, a_name, "hi").await;
    }

    /// Opens a WebSocket as `login` (bearer), with `query` (`""` or
    /// `"?since=.."`).
    pub async fn ws(&self, login: &Login, query: &str) -> Ws {
        self.ws_with(query, &[("authorization", &login.bearer())])
            .await
            .unwrap()
    }

    /// Opens a WebSocket as `login` and reads its `ready` frame.
    pub async fn ws_ready(&self, login: &Login, query: &str) -> (Ws, Value) {
        let mut ws = self.ws(login, query).await;
        let ready = expect_frame(&mut ws, "ready").await;
        (ws, ready)
    }

    /// Tries to open a WebSocket with `headers`.
    pub async fn ws_with(
        &self,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tungstenite::Error> {
        let request = self.ws_request(query, headers);
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(ws, _)| ws)
    }

    /// The status with which the server refuses a WebSocket for `login`.
    ///
    /// # Panics
    /// If the upgrade succeeds, or fails without an HTTP answer.
    pub async fn refused_upgrade(&self, login: &Login) -> u16 {
        match self
            .ws_with("", &[("authorization", &login.bearer())])
            .await
        {
            Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
            Err(other) => panic!("the upgrade failed without an answer: {other}"),
            Ok(_) => panic!("the upgrade was not refused"),
        }
    }

    /// A WebSocket whose client side has a tiny receive buffer, so that a
    /// client that stops reading is felt by the server quickly.
    pub async fn ws_small_buffer(&self, login: &Login) -> Ws {
        self.ws_small_buffer_with(login, "").await
    }

    /// [`Client::ws_small_buffer`] with a query (`?since=..`).
    pub async fn ws_small_buffer_with(&self, login: &Login, query: &str) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.host.parse().unwrap()).await.unwrap();
        let request = self.ws_request(query, &[("authorization", &login.bearer())]);
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        ws
    }

    fn ws_request(
        &self,
        query: &str,
        headers: &[(&str, &str)],
    ) -> tungstenite::handshake::client::Request {
        // A chat mounted below a path has its WebSocket there too.
        let mount = self
            .base
            .split_once(self.host.as_str())
            .map_or("", |(_, path)| path);
        let mut request = format!("ws://{}{mount}/ws{query}", self.host)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, headers, body)
}

/// The next text frame as JSON (pings and pongs skipped), within [`WAIT`].
pub async fn next_frame(ws: &mut Ws) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("the socket ended")
            .expect("socket error");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next frame of type `kind`, failing on any other kind in between
/// (presence notices, which come whenever a peer connects or leaves, are
/// skipped unless asked for), within [`WAIT`].
pub async fn expect_frame(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frame = tokio::time::timeout_at(deadline, next_frame(ws))
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for a {kind} frame"));
        if frame["type"] == "presence" && kind != "presence" {
            continue;
        }
        assert_eq!(frame["type"], kind, "unexpected frame {frame}");
        return frame;
    }
}

/// Waits (within [`WAIT`]) for the server's close frame and returns it
/// (`None`: the socket ended without one). Text frames before it are
/// skipped.
pub async fn expect_close(ws: &mut Ws) -> Option<CloseFrame> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("timed out waiting for close");
        match message {
            Some(Ok(Message::Close(frame))) => return frame,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("socket error before close: {e}"),
            None => return None,
        }
    }
}

/// Sends `frame` as a text frame.
pub async fn send_frame(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// Sends `frame` as a text frame, telling whether the socket took it: the
/// server may already have closed it, which is not the client's error.
pub async fn try_send_frame(ws: &mut Ws, frame: Value) -> bool {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .is_ok()
}

/// Writes `request` as is to a new connection to `host` and returns
/// everything the server answers until it closes the connection (bounded by
/// [`WAIT`]). For requests no HTTP client would send.
pub async fn raw(host: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(host).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    assert!(
        read.is_ok(),
        "the server neither answered nor closed: {}",
        String::from_utf8_lossy(&response)
    );
    String::from_utf8_lossy(&response).into_owned()
}

/// The `Retry-After` of an answer, in seconds (0 without one).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get("retry-after")
        .map_or(0, |v| v.to_str().unwrap().parse().unwrap())
}

/// A `Set-Cookie` header's cookie name and attribute names, sorted, with
/// the values of `Path` and `SameSite` kept (`Path=/`) and all others (the
/// token, `Max-Age`) left out.
pub fn cookie_attributes(set_cookie: &str) -> Vec<String> {
    let value = set_cookie
        .split_once(':')
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map_or(set_cookie, |(_, value)| value);
    let mut parts: Vec<String> = value
        .split(';')
        .map(|part| {
            let part = part.trim();
            if part.starts_with("Path=") || part.starts_with("SameSite=") {
                part.to_owned()
            } else {
                part.split_once('=')
                    .map_or(part, |(name, _)| name)
                    .to_owned()
            }
        })
        .collect();
    parts.sort();
    parts
}

/// One Server-Sent Event.
#[derive(Clone, Debug)]
pub struct SseEvent {
    /// Its `id:`, if any.
    pub id: Option<String>,
    /// Its `data:`, as JSON.
    pub data: Value,
}

/// An open `GET /api/events` stream.
pub struct Sse {
    /// The answer's status.
    pub status: u16,
    /// The answer's headers.
    pub headers: reqwest::header::HeaderMap,
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
    /// Comment lines read so far (keep-alives).
    pub comments: usize,
}

impl Sse {
    /// The next event (comments are counted and skipped), within [`WAIT`];
    /// `None` when the stream ended.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(value).unwrap());
                    }
                }
                if let Some(data) = data {
                    return Some(SseEvent { id, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("timed out waiting for an event")?;
            let chunk = chunk.expect("the event stream failed");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Waits (within [`WAIT`]) for a comment line: a keep-alive. What
    /// arrives with it stays for [`Sse::next_event`].
    pub async fn expect_comment(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !(self.buffer.starts_with(':') || self.buffer.contains("\n:")) {
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("timed out waiting for a comment")
                .expect("the stream ended")
                .expect("the event stream failed");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Waits for the next event of `kind` (`data.type`), skipping
    /// presence, which comes and goes with connections.
    pub async fn expect(&mut self, kind: &str) -> SseEvent {
        loop {
            let event = self.next_event().await.expect("the stream ended");
            if event.data["type"] == "presence" && kind != "presence" {
                continue;
            }
            assert_eq!(
                event.data["type"], kind,
                "unexpected event {:?}",
                event.data
            );
            return event;
        }
    }
}

impl Client {
    /// Opens `GET /api/events{query}` with `headers`.
    pub async fn sse(&self, query: &str, headers: &[(&str, &str)]) -> Sse {
        let mut request = self.http.get(self.url(&format!("/api/events{query}")));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        Sse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            comments: 0,
        }
    }

    /// Opens the event stream as `login` (bearer), after `query`.
    pub async fn sse_as(&self, login: &Login, query: &str) -> Sse {
        self.sse(query, &[("authorization", &login.bearer())]).await
    }
}
