//! The JSON API: accounts, and a session's calls.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ApiError, Error};
use crate::events::{Message, User};
use crate::live::{Live, LiveOptions};

/// A chat server, by its base URL.
#[derive(Clone, Debug)]
pub struct Client {
    /// `http://host:port`, with the chat's mount path if it has one.
    base: Arc<str>,
    http: reqwest::Client,
}

/// A logged-in user: their bearer token (a session token, or a JWT your
/// application signed) and the server.
#[derive(Clone)]
pub struct Session {
    client: Client,
    token: Arc<str>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never shown.
        f.debug_struct("Session")
            .field("server", &self.client.base)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    #[serde(default)]
    field: Option<String>,
}

#[derive(Deserialize)]
struct UserBody {
    user: User,
}

#[derive(Deserialize)]
struct LoginBody {
    token: String,
}

#[derive(Deserialize)]
struct MessageBody {
    message: Message,
}

#[derive(Deserialize)]
struct MessagesBody {
    messages: Vec<Message>,
}

impl Client {
    /// The server at `base`: `http://host:port`, or with the path the chat
    /// is mounted at (`http://host/chat`).
    ///
    /// # Errors
    /// [`Error::Url`] for anything but an `http` URL (this build speaks no
    /// TLS).
    pub fn new(base: &str) -> Result<Self, Error> {
        let base = base.trim_end_matches('/');
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(Error::Url(format!("{base:?} is not http://host[:port]")));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Transport(e.to_string()))?;
        Ok(Self {
            base: base.into(),
            http,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Signs `username` up with `email` and `password`.
    ///
    /// # Errors
    /// [`Error::Api`] (`username_taken`, `invalid_input`, …) or
    /// [`Error::Transport`].
    pub async fn signup(&self, username: &str, email: &str, password: &str) -> Result<User, Error> {
        let body = json!({
            "username": username,
            "email": email,
            "password": password,
            "confirm_password": password,
        });
        let answer: UserBody = self
            .call(reqwest::Method::POST, "/api/signup", None, Some(&body))
            .await?;
        Ok(answer.user)
    }

    /// Logs `username` in.
    ///
    /// # Errors
    /// [`Error::Api`] (`invalid_credentials`, `rate_limited`, …) or
    /// [`Error::Transport`].
    pub async fn login(&self, username: &str, password: &str) -> Result<Session, Error> {
        let body = json!({ "username": username, "password": password });
        let answer: LoginBody = self
            .call(reqwest::Method::POST, "/api/login", None, Some(&body))
            .await?;
        Ok(self.session(answer.token))
    }

    /// A session of `token`: a session token, or a JWT your application
    /// signed for one of its users.
    pub fn session(&self, token: impl Into<String>) -> Session {
        Session {
            client: self.clone(),
            token: token.into().into(),
        }
    }

    /// The WebSocket URL of the server.
    pub(crate) fn websocket_url(&self) -> String {
        format!("ws://{}/ws", &self.base["http://".len()..])
    }

    /// One call: `method` to `path` with the bearer `token` and a JSON
    /// `body`; the answer's JSON, or its error.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<T, Error> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => ApiError {
                    status,
                    code: body.error.code,
                    message: body.error.message,
                    field: body.error.field,
                }
                .into(),
                Err(_) => {
                    Error::Transport(format!("{path} answered {status} without an error body"))
                }
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| Error::Transport(format!("{path}: {e}")))
    }
}

impl Session {
    /// The server.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bearer token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `GET path` as this session: the answer's JSON.
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        self.client
            .call(reqwest::Method::GET, path, Some(&self.token), None)
            .await
    }

    /// `POST path` with `body` as this session: the answer's JSON.
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, Error> {
        self.client
            .call(reqwest::Method::POST, path, Some(&self.token), Some(body))
            .await
    }

    /// The session's user.
    ///
    /// # Errors
    /// [`Error::Api`] (`unauthenticated`) or [`Error::Transport`].
    pub async fn me(&self) -> Result<User, Error> {
        let answer: UserBody = self
            .client
            .call(reqwest::Method::GET, "/api/me", Some(&self.token), None)
            .await?;
        Ok(answer.user)
    }

    /// Sends `text` to `to` over HTTP (see [`Live::send`] for the outbox).
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn send(&self, to: &str, text: &str) -> Result<Message, Error> {
        self.post_message(&format!("/api/conversations/{to}/messages"), text)
            .await
    }

    /// Sends `text` to the group `group` over HTTP.
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn send_to_group(&self, group: i64, text: &str) -> Result<Message, Error> {
        self.post_message(&format!("/api/groups/{group}/messages"), text)
            .await
    }

    /// Sends `text` to `to` over HTTP as a reply to message `parent` of
    /// their conversation.
    ///
    /// # Errors
    /// [`Error::Api`] (`invalid_input` on `reply_to` for a message of
    /// another conversation) or [`Error::Transport`].
    pub async fn reply(&self, to: &str, parent: i64, text: &str) -> Result<Message, Error> {
        let body = json!({ "text": text, "reply_to": parent });
        self.message_call(
            reqwest::Method::POST,
            &format!("/api/conversations/{to}/messages"),
            Some(&body),
        )
        .await
    }

    /// Edits the session user's message `id` to say `text`; the message as
    /// edited.
    ///
    /// # Errors
    /// [`Error::Api`] (`forbidden`, `edit_window_closed`, `conflict`…) or
    /// [`Error::Transport`].
    pub async fn edit(&self, id: i64, text: &str) -> Result<Message, Error> {
        let body = json!({ "text": text });
        self.message_call(
            reqwest::Method::PATCH,
            &format!("/api/messages/{id}"),
            Some(&body),
        )
        .await
    }

    /// Deletes message `id` for everyone; its tombstone.
    ///
    /// # Errors
    /// [`Error::Api`] (`forbidden`, `not_found`) or [`Error::Transport`].
    pub async fn delete(&self, id: i64) -> Result<Message, Error> {
        self.message_call(
            reqwest::Method::DELETE,
            &format!("/api/messages/{id}"),
            None,
        )
        .await
    }

    /// Adds the session user's reaction `emoji` to message `id` (`add`), or
    /// takes it away; the message with its reactions.
    ///
    /// # Errors
    /// [`Error::Api`] (`invalid_input` on `emoji`, `not_found`,
    /// `conflict`…) or [`Error::Transport`].
    pub async fn react(&self, id: i64, emoji: &str, add: bool) -> Result<Message, Error> {
        let encoded =
            percent_encoding::utf8_percent_encode(emoji, percent_encoding::NON_ALPHANUMERIC);
        let path = format!("/api/messages/{id}/reactions/{encoded}");
        if add {
            self.message_call(reqwest::Method::PUT, &path, Some(&json!({})))
                .await
        } else {
            self.message_call(reqwest::Method::DELETE, &path, None)
                .await
        }
    }

    /// Posts the message `text` to `path`; the stored message.
    async fn post_message(&self, path: &str, text: &str) -> Result<Message, Error> {
        let body = json!({ "text": text });
        self.message_call(reqwest::Method::POST, path, Some(&body))
            .await
    }

    /// A call answered with `{"message": …}`: the message.
    async fn message_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Message, Error> {
        let answer: MessageBody = self
            .client
            .call(method, path, Some(&self.token), body)
            .await?;
        Ok(answer.message)
    }

    /// Makes a group titled `title` with `members` (more settings:
    /// [`Session::post`] to `/api/groups`); its conversation id.
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn create_group(&self, title: &str, members: &[&str]) -> Result<i64, Error> {
        let made = self
            .post(
                "/api/groups",
                &json!({ "title": title, "members": members }),
            )
            .await?;
        made["conversation"]["id"]
            .as_i64()
            .ok_or_else(|| Error::Transport("a group without an id".into()))
    }

    /// Joins the discoverable group `group`, or accepts an invitation to it.
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn join_group(&self, group: i64) -> Result<(), Error> {
        self.post(&format!("/api/groups/{group}/join"), &json!({}))
            .await
            .map(drop)
    }

    /// The newest messages of the direct conversation with `peer`, oldest
    /// first.
    ///
    /// # Errors
    /// [`Error::Api`] or [`Error::Transport`].
    pub async fn history(&self, peer: &str) -> Result<Vec<Message>, Error> {
        let path = format!("/api/conversations/{peer}/messages");
        let answer: MessagesBody = self
            .client
            .call(reqwest::Method::GET, &path, Some(&self.token), None)
            .await?;
        Ok(answer.messages)
    }

    /// Opens the live connection, with the default options.
    ///
    /// # Errors
    /// As [`Live::connect`].
    pub async fn live(&self) -> Result<Live, Error> {
        Live::connect(self.clone(), LiveOptions::default()).await
    }
}
