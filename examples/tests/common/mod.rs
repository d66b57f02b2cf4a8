//! Real `chat-server` processes, a fresh PostgreSQL database, Redis, and
//! real HTTP and WebSocket clients.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const PASSWORD: &str = "test password 1234";
pub const WAIT: Duration = Duration::from_secs(15);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub fn postgres_url() -> String {
    env_or(
        "CHAT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

pub fn redis_url() -> String {
    env_or("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

pub fn required() -> bool {
    std::env::var("CHAT_TEST_REQUIRE_SERVICES").is_ok_and(|v| !v.is_empty() && v != "0")
}

pub fn unique(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh database on the PostgreSQL server, dropped with the guard.
pub struct Database {
    pub url: String,
    name: String,
}

impl Database {
    /// `None` (after saying why) when no server answers and none is required.
    pub async fn create() -> Option<Self> {
        let admin = match sqlx::PgPool::connect(&postgres_url()).await {
            Ok(pool) => pool,
            Err(error) => {
                assert!(!required(), "PostgreSQL is required: {error}");
                eprintln!("skipped: no PostgreSQL at {} ({error})", postgres_url());
                return None;
            }
        };
        let name = unique("chat_it");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let base = postgres_url();
        let root = base
            .rsplit_once('/')
            .map_or(base.as_str(), |(root, _)| root);
        Some(Self {
            url: format!("{root}/{name}"),
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// Whether a Redis server answers at `url`.
pub async fn redis_available(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    client.get_multiplexed_async_connection().await.is_ok()
}

/// A running `chat-server` process.
pub struct Server {
    pub base: String,
    pub host: String,
    child: Child,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts `chat-server` with `args` on a free loopback port and waits
    /// until it says where it listens.
    pub async fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--send-rate",
                "10000",
                "--login-burst",
                "10000",
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = tokio::time::timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("open http://").nth(1) {
                    return rest.trim_end_matches('/').to_owned();
                }
            }
            panic!("chat-server exited before listening");
        })
        .await
        .expect("chat-server did not start");
        // Keep draining the log so the server never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            base: format!("http://{address}"),
            host: address,
            child,
            client: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, body: Value, bearer: Option<&str>) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Signs `name` up (if new) and logs in; returns the bearer token.
    pub async fn login(&self, name: &str) -> String {
        let _ = self
            .post("/api/signup", json!({ "email": format!("{name}@example.test"), "username": name, "password": PASSWORD, "confirm_password": PASSWORD }), None)
            .await;
        let (status, body) = self
            .post(
                "/api/login",
                json!({ "username": name, "password": PASSWORD }),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn ws(&self, token: &str, query: &str) -> Ws {
        let mut request = format!("ws://{}/ws{query}", self.host)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        tokio_tungstenite::connect_async(request).await.unwrap().0
    }
}

/// The next text frame as JSON.
pub async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("the socket ended")
            .expect("socket error");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// The next frame of type `kind`, skipping presence frames.
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

pub async fn send_frame(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}
