//! An axum application with its own login that mounts the chat under
//! `/chat`: its users reach the chat signed in, through an `Authenticator`
//! that reads the application's own session cookie.
//!
//! Run with `cargo run -p examples --bin axum-host -- 127.0.0.1:3000`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Form, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{Next, from_fn};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Router, routing::get};
use chat_http::{Authenticator, AuthenticatorError, ChatHttp, ClientAddr, HostUser, HttpConfig};

/// The application's own sessions: cookie value → user name.
#[derive(Clone, Default)]
struct Sessions(Arc<Mutex<HashMap<String, String>>>);

impl Sessions {
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        let cookies = headers.get("cookie")?.to_str().ok()?;
        let id = (cookies.split(';')).find_map(|c| c.trim().strip_prefix("app_session="))?;
        self.0.lock().ok()?.get(id).cloned()
    }
}

/// How the chat learns who is asking: the application's session, the
/// chat user keyed by the application's own user id.
#[async_trait::async_trait]
impl Authenticator for Sessions {
    async fn authenticate(&self, h: &HeaderMap) -> Result<Option<HostUser>, AuthenticatorError> {
        let user = |n: String| HostUser::new(format!("app-{n}")).username(n);
        Ok(self.user(h).map(user))
    }
}

async fn home(State(s): State<Sessions>, headers: HeaderMap) -> Html<&'static str> {
    Html(match s.user(&headers) {
        Some(_) => r#"<p>You are logged in. <a href="/chat/">Open the chat</a></p>"#,
        None => r#"<form method="post"><input name="username"> <button>Log in</button></form>"#,
    })
}

/// The application's login (a real one checks a password).
async fn login(State(s): State<Sessions>, Form(f): Form<HashMap<String, String>>) -> Response {
    let name = f.get("username").cloned().unwrap_or_default();
    let mut id = [0u8; 16];
    if !name.bytes().all(|b| b.is_ascii_alphanumeric()) || getrandom::fill(&mut id).is_err() {
        return Redirect::to("/").into_response();
    }
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    if let Ok(mut sessions) = s.0.lock() {
        sessions.insert(id.clone(), name);
    }
    let cookie = format!("app_session={id}; HttpOnly; SameSite=Lax; Path=/");
    ([("set-cookie", cookie)], Redirect::to("/chat/")).into_response()
}

/// Hands the client's address to the chat, for its per-client limits.
async fn client_addr(ConnectInfo(a): ConnectInfo<SocketAddr>, mut r: Request, n: Next) -> Response {
    r.extensions_mut().insert(ClientAddr(a));
    n.run(r).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args().nth(1);
    let listen = listen.unwrap_or_else(|| "127.0.0.1:3000".into());
    let sessions = Sessions::default();
    let store = chat_store_sqlite::SqliteStore::memory().await?;
    let mut config = HttpConfig::default();
    config.mount_path = "/chat".into();
    config.login_url = Some("/".into());
    config.password_accounts = false;
    config.authenticator = Some(Arc::new(sessions.clone()));
    let chat = ChatHttp::new(chat_core::Chat::builder(Arc::new(store)).build(), config)?;
    let app = Router::new()
        .route("/", get(home).post(login))
        .with_state(sessions)
        .nest_service("/chat", chat.clone())
        .layer(from_fn(client_addr));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!(
        "host app listening; open http://{}/",
        listener.local_addr()?
    );
    let shutdown = async move {
        let _ = tokio::signal::ctrl_c().await;
        chat.close_websockets();
    };
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
