//! The web UI: server-rendered pages (auto-escaped templates) and the
//! static assets, fingerprinted for caching.

use std::io::Write;

use askama::Template;
use bytes::Bytes;
use chat_core::{ChatError, ConversationQuery, HistoryQuery, Message, PageLimit, SearchPattern};
use flate2::Compression;
use flate2::write::GzEncoder;
use hyper::header::{self, HeaderValue};
use hyper::{HeaderMap, Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use crate::ChatHttp;
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::request::Query;
use crate::response::{Body, empty, html, redirect, with_type};

const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// One encoding of a static file: its bytes and its own entity tag.
struct Representation {
    body: Bytes,
    etag: HeaderValue,
}

/// A static file with its fingerprinted path, as it is and gzipped, both
/// prepared once at startup.
struct Asset {
    path: String,
    identity: Representation,
    gzipped: Option<Representation>,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: &'static str, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        // Hex digits and quotes: always a valid header value.
        let tag = |suffix: &str| HeaderValue::from_str(&format!("\"{hash}{suffix}\"")).ok();
        let identity = Representation {
            body: Bytes::from_static(body.as_bytes()),
            etag: tag("").unwrap_or_else(|| HeaderValue::from_static("\"asset\"")),
        };
        let gzipped = gzip(body.as_bytes())
            .zip(tag("-gz"))
            .map(|(gzipped, etag)| Representation {
                body: Bytes::from(gzipped),
                etag,
            });
        Self {
            path: format!("/assets/{stem}-{hash}.{extension}"),
            identity,
            gzipped,
            content_type,
        }
    }
}

/// `bytes` compressed once at startup; `None` (serve them as they are) if
/// compressing failed, which writing to memory does not.
fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not `gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The UI's static files.
pub(crate) struct Assets {
    js: Asset,
    css: Asset,
}

impl Assets {
    pub(crate) fn new() -> Self {
        Self {
            js: Asset::new("app", "js", APP_JS, "text/javascript; charset=utf-8"),
            css: Asset::new("style", "css", STYLE_CSS, "text/css; charset=utf-8"),
        }
    }

    /// Serves `/assets/…`: immutable, as the name changes with the content.
    pub(crate) fn serve(&self, path: &str, headers: &HeaderMap) -> Option<Response<Body>> {
        let asset = [&self.js, &self.css].into_iter().find(|a| a.path == path)?;
        // Each encoding is a representation of its own, with its own tag.
        let (chosen, encoding) = match &asset.gzipped {
            Some(gzipped) if accepts_gzip(headers) => (gzipped, Some("gzip")),
            _ => (&asset.identity, None),
        };
        let fresh = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| tag.trim().as_bytes() == chosen.etag.as_bytes() || tag.trim() == "*");
        let mut response = if fresh {
            empty(StatusCode::NOT_MODIFIED)
        } else {
            with_type(StatusCode::OK, chosen.body.clone(), asset.content_type)
        };
        let h = response.headers_mut();
        if let (false, Some(encoding)) = (fresh, encoding) {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        h.insert(header::ETAG, chosen.etag.clone());
        Some(response)
    }
}

/// What every page links to.
struct AssetPaths<'a> {
    js: &'a str,
    css: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    assets: AssetPaths<'a>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    assets: AssetPaths<'a>,
}

struct MessageView {
    id: i64,
    from: String,
    text: String,
    sent_at: String,
    mine: bool,
}

struct ConversationView {
    username: String,
    online: bool,
    preview: String,
    unread: u64,
    last_id: i64,
    peer_read: i64,
    /// When the newest message was sent (RFC 3339), empty if none.
    last_at: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    assets: AssetPaths<'a>,
    me: &'a str,
    csrf: String,
    peer: Option<String>,
    peer_online: bool,
    /// How far the peer has read this conversation (a message id).
    peer_read: i64,
    not_found: bool,
    search: String,
    messages: Vec<MessageView>,
    has_more: bool,
    conversations: Vec<ConversationView>,
    users: Vec<String>,
    last_message_id: i64,
}

fn render(page: &impl Template, status: StatusCode) -> Result<Response<Body>, HttpError> {
    let body = page
        .render()
        .map_err(|e| HttpError::Internal(Box::new(e)))?;
    Ok(html(status, body))
}

impl ChatHttp {
    fn asset_paths(&self) -> AssetPaths<'_> {
        AssetPaths {
            js: &self.assets().js.path,
            css: &self.assets().css.path,
        }
    }

    pub(crate) fn login_page(&self) -> Result<Response<Body>, HttpError> {
        render(
            &LoginPage {
                assets: self.asset_paths(),
            },
            StatusCode::OK,
        )
    }

    pub(crate) fn signup_page(&self) -> Result<Response<Body>, HttpError> {
        render(
            &SignupPage {
                assets: self.asset_paths(),
            },
            StatusCode::OK,
        )
    }

    /// `/`: the chat when logged in, else the login page.
    pub(crate) fn home(&self, auth: Option<Authenticated>) -> Response<Body> {
        match auth {
            Some(_) => redirect("/chat/"),
            None => redirect("/login"),
        }
    }

    /// `/chat/` and `/chat/{username}/?search=`: the room page.
    pub(crate) async fn chat_page<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        peer: Option<&str>,
    ) -> Result<Response<Body>, HttpError> {
        let chat = self.chat();
        let me = auth.session.user();
        let query = Query::of(&request);
        let search = query.text("search").unwrap_or("").trim().to_owned();
        let history = HistoryQuery {
            search: (!search.is_empty())
                .then(|| SearchPattern::parse(&search))
                .transpose()?,
            ..HistoryQuery::default()
        };
        let (peer, messages, has_more, not_found) = match peer {
            None => (None, Vec::new(), false, false),
            Some(peer) => match chat.history(&auth.session, peer, &history).await {
                Ok(page) => (Some(peer.to_owned()), page.items, page.has_more, false),
                Err(ChatError::NotFound | ChatError::InvalidInput { .. }) => {
                    (None, Vec::new(), false, true)
                }
                Err(other) => return Err(other.into()),
            },
        };
        let conversations = chat
            .conversations(
                &auth.session,
                &ConversationQuery {
                    before: None,
                    limit: PageLimit::LARGEST,
                },
            )
            .await?;
        let users = chat
            .directory(&auth.session, "", PageLimit::LARGEST)
            .await?;
        let last_message_id = chat.last_message_id(&auth.session).await?;
        // The page renders direct conversations; the script lists groups.
        let conversations: Vec<ConversationView> = conversations
            .items
            .iter()
            .filter_map(|c| Some((c, c.peer()?)))
            .map(|(c, peer_user)| ConversationView {
                username: peer_user.username().to_string(),
                online: c.online(),
                preview: c.last_message.as_ref().map(preview).unwrap_or_default(),
                unread: c.unread,
                last_id: c.last_message.as_ref().map_or(0, |m| m.id().get()),
                peer_read: c.peer_read_up_to().get(),
                last_at: c
                    .last_message
                    .as_ref()
                    .map(|m| m.sent_at().to_rfc3339())
                    .unwrap_or_default(),
                active: peer
                    .as_deref()
                    .is_some_and(|p| peer_user.username().canonical() == p.to_ascii_lowercase()),
            })
            .collect();
        let page = ChatPage {
            assets: self.asset_paths(),
            peer_online: conversations.iter().any(|c| c.active && c.online),
            peer_read: conversations
                .iter()
                .find(|c| c.active)
                .map_or(0, |c| c.peer_read),
            me: me.username().as_str(),
            csrf: auth.token.csrf_token(),
            not_found,
            search,
            messages: messages.iter().map(|m| view(m, me.id())).collect(),
            has_more,
            conversations,
            users: users.iter().map(|u| u.username().to_string()).collect(),
            last_message_id: last_message_id.get(),
            peer,
        };
        let status = if page.not_found {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        render(&page, status)
    }
}

fn view(message: &Message, me: chat_core::UserId) -> MessageView {
    MessageView {
        id: message.id().get(),
        from: message.sender().username().to_string(),
        text: message.text().as_str().to_owned(),
        sent_at: message.sent_at().to_rfc3339(),
        mine: message.sender().id() == me,
    }
}

/// The first line of a message, shortened for the conversation list.
fn preview(message: &Message) -> String {
    let text = message.text().as_str();
    let line = text.lines().next().unwrap_or("");
    let mut short: String = line.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}
