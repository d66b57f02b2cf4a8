//! A real server on a loopback port, and real HTTP and WebSocket clients.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use chat_core::{Argon2Hasher, Chat, GovernorLimiter, Rate, RateLimiter, RateLimits};
use chat_http::{ChatHttp, HttpConfig};
use chat_store_sqlite::SqliteStore;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const PASSWORD: &str = "test password 1234";
/// The longest a test waits for something that must happen.
pub const WAIT: Duration = Duration::from_secs(10);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestServer {
    /// The store, to make it fail on purpose.
    pub store: SqliteStore,
    pub base: String,
    pub host: String,
    pub http: ChatHttp,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// Limits no test meets unless it means to.
pub fn generous_limits() -> RateLimits {
    // A burst that takes a second to earn back: no test meets it, and the
    // limiter tolerates clocks that differ slightly between CPUs.
    let plenty = Rate::new(1_000_000, Duration::from_micros(1));
    RateLimits {
        login_per_username: plenty,
        login_per_client: plenty,
        send_per_user: plenty,
        typing_per_user: plenty,
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::with(generous_limits(), HttpConfig::default()).await
    }

    pub async fn with(limits: RateLimits, config: HttpConfig) -> Self {
        Self::with_chat(limits, config, chat_core::ChatConfig::default()).await
    }

    pub async fn with_chat(
        limits: RateLimits,
        config: HttpConfig,
        chat_config: chat_core::ChatConfig,
    ) -> Self {
        let hasher = Argon2Hasher::with_params(8, 1, 1).unwrap();
        Self::with_hasher(limits, config, chat_config, hasher).await
    }

    pub async fn with_hasher(
        limits: RateLimits,
        config: HttpConfig,
        chat_config: chat_core::ChatConfig,
        hasher: Argon2Hasher,
    ) -> Self {
        let limiter = Arc::new(GovernorLimiter::new(limits));
        Self::with_parts(limiter, config, chat_config, hasher).await
    }

    /// A server whose chat checks rate limits with `limiter`.
    pub async fn with_limiter(limiter: Arc<dyn RateLimiter>) -> Self {
        let hasher = Argon2Hasher::with_params(8, 1, 1).unwrap();
        let config = HttpConfig::default();
        Self::with_parts(limiter, config, chat_core::ChatConfig::default(), hasher).await
    }

    async fn with_parts(
        limiter: Arc<dyn RateLimiter>,
        mut config: HttpConfig,
        chat_config: chat_core::ChatConfig,
        hasher: Argon2Hasher,
    ) -> Self {
        let store = SqliteStore::memory().await.unwrap();
        let chat = Chat::builder(Arc::new(store.clone()))
            .hasher(Arc::new(hasher))
            .limiter(limiter)
            .config(chat_config)
            .build();
        if config.websocket.frames_per_second
            == chat_http::WebSocketLimits::default().frames_per_second
        {
            config.websocket.frames_per_second = 100_000;
            config.websocket.frame_burst = 100_000;
            config.websocket.user_frames_per_second = 100_000;
        }
        let http = ChatHttp::new(chat, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(chat_http::serve(listener, http.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            store,
            base: format!("http://{address}"),
            host: address.to_string(),
            http,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for `serve` to return.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT * 2, task)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.post(self.url(path)).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.unwrap()).await
    }

    pub async fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.unwrap()).await
    }

    pub async fn get_text(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    pub async fn signup(&self, name: &str) {
        let (status, _, body) = self
            .post(
                "/api/signup",
                json!({ "email": format!("{name}@example.test"), "username": name, "password": PASSWORD, "confirm_password": PASSWORD }),
                &[],
            )
            .await;
        assert_eq!(status, 201, "signup {name}: {body}");
    }

    pub async fn login(&self, name: &str) -> Login {
        let (status, headers, body) = self
            .post(
                "/api/login",
                json!({ "username": name, "password": PASSWORD }),
                &[],
            )
            .await;
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

    pub async fn user(&self, name: &str) -> Login {
        self.signup(name).await;
        self.login(name).await
    }

    /// Sends over HTTP with the bearer token.
    pub async fn send(&self, from: &Login, to: &str, text: &str) -> Value {
        let (status, _, body) = self
            .post(
                &format!("/api/conversations/{to}/messages"),
                json!({ "text": text }),
                &[("authorization", &from.bearer())],
            )
            .await;
        assert_eq!(status, 201, "send: {body}");
        body["message"].clone()
    }

    /// Opens a WebSocket with the bearer token.
    pub async fn ws(&self, login: &Login, query: &str) -> Ws {
        self.ws_with(query, &[("authorization", &login.bearer())])
            .await
            .unwrap()
    }

    pub async fn ws_with(
        &self,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tungstenite::Error> {
        let mut request = format!("ws://{}/ws{query}", self.host)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(ws, _)| ws)
    }
}

impl TestServer {
    /// A WebSocket whose client side has a tiny receive buffer, so that a
    /// client that stops reading is felt by the server quickly.
    pub async fn ws_small_buffer(&self, login: &Login) -> Ws {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.host.parse().unwrap()).await.unwrap();
        let mut request = format!("ws://{}/ws", self.host)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&login.bearer()).unwrap(),
        );
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
        ws
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
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

#[derive(Clone, Debug)]
pub struct Login {
    pub token: String,
    pub csrf: String,
    /// `name=value` of the session cookie.
    pub cookie: String,
}

impl Login {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// The next text frame as JSON (pings and pongs skipped).
pub async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
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
/// skipped unless asked for).
pub async fn expect_frame(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let frame = next_frame(ws).await;
        if frame["type"] == "presence" && kind != "presence" {
            continue;
        }
        assert_eq!(frame["type"], kind, "unexpected frame {frame}");
        return frame;
    }
}

/// Waits for the server's close frame and returns it.
pub async fn expect_close(ws: &mut Ws) -> Option<CloseFrame> {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
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

pub async fn send_frame(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// Waits, bounded, until `condition` holds.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
