//! The web UI: server-rendered pages (auto-escaped templates) and the
//! static assets, fingerprinted for caching.

use std::io::Write;

use askama::Template;
use bytes::Bytes;
use chat_core::{
    ChatError, ConversationQuery, HistoryQuery, Message, PageLimit, SearchPattern, SessionToken,
    SummaryKind,
};
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

/// The script's native ES modules, each after the modules it imports: a
/// module's `"./name.js"` imports are rewritten to the fingerprinted paths
/// of the modules before it, so every file is cached for good and a change
/// to one renames every module that depends on it. The last is the entry.
const MODULES: [(&str, &str); 6] = [
    ("api", include_str!("../assets/api.js")),
    ("dom", include_str!("../assets/dom.js")),
    ("connection", include_str!("../assets/connection.js")),
    ("groups", include_str!("../assets/groups.js")),
    ("chat", include_str!("../assets/chat.js")),
    ("app", include_str!("../assets/app.js")),
];
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
    fn new(stem: &str, extension: &str, body: String, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        // Hex digits and quotes: always a valid header value.
        let tag = |suffix: &str| HeaderValue::from_str(&format!("\"{hash}{suffix}\"")).ok();
        let gzipped = gzip(body.as_bytes());
        let identity = Representation {
            body: Bytes::from(body),
            etag: tag("").unwrap_or_else(|| HeaderValue::from_static("\"asset\"")),
        };
        let gzipped = gzipped
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
    /// The script's modules, the entry last.
    modules: Vec<Asset>,
    css: Asset,
}

/// `source` with each `"./name.js"` of `built` (name, fingerprinted path)
/// replaced by its fingerprinted file name, still relative: modules find
/// each other wherever the chat is mounted.
fn link(source: &str, built: &[(&str, String)]) -> String {
    built.iter().fold(source.to_owned(), |text, (name, path)| {
        let file = path.rsplit('/').next().unwrap_or(path);
        text.replace(&format!("\"./{name}.js\""), &format!("\"./{file}\""))
    })
}

impl Assets {
    pub(crate) fn new() -> Self {
        let mut built: Vec<(&str, String)> = Vec::new();
        let mut modules = Vec::new();
        for (name, source) in MODULES {
            let asset = Asset::new(
                name,
                "js",
                link(source, &built),
                "text/javascript; charset=utf-8",
            );
            built.push((name, asset.path.clone()));
            modules.push(asset);
        }
        Self {
            modules,
            css: Asset::new(
                "style",
                "css",
                STYLE_CSS.to_owned(),
                "text/css; charset=utf-8",
            ),
        }
    }

    /// The entry module, which the pages load.
    fn entry(&self) -> &Asset {
        // MODULES is not empty.
        &self.modules[self.modules.len() - 1]
    }

    /// Serves `/assets/…`: immutable, as the name changes with the content.
    pub(crate) fn serve(&self, path: &str, headers: &HeaderMap) -> Option<Response<Body>> {
        let asset = self
            .modules
            .iter()
            .chain([&self.css])
            .find(|a| a.path == path)?;
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

/// What every page links to: the mount path, the script and the style.
struct Site {
    base: String,
    login: String,
    js: String,
    css: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    site: Site,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    site: Site,
}

struct MessageView {
    id: i64,
    from: String,
    /// The text, in pieces: the `@name`s it mentions apart.
    text: Vec<TextPiece>,
    /// Whether it mentions the reader.
    mentioned: bool,
    sent_at: String,
    mine: bool,
    /// A group's system message (someone joined, left…).
    system: bool,
    /// In a group: how many members have read it.
    read_by: Option<u64>,
    /// Whether its sender edited it.
    edited: bool,
    /// Whether it was deleted (its text is then empty).
    deleted: bool,
    /// For a reply: the message it answers, quoted.
    quote: Option<QuoteView>,
    /// Its reactions, with whether the reader is among each.
    reactions: Vec<ReactionView>,
    /// For the root of a thread: how many replies it has.
    replies: u64,
}

/// A piece of a message's text: a mention, or the text between.
struct TextPiece {
    text: String,
    mention: bool,
}

/// `message`'s text cut around the `@` words that are its mentions.
fn pieces(message: &Message) -> Vec<TextPiece> {
    let text = message.text().as_str();
    let mentions = message.mentions();
    let mut pieces = Vec::new();
    let mut at = 0;
    if !mentions.is_empty() {
        for (range, word) in chat_core::at_words(text) {
            if !mentions.covers(word) {
                continue;
            }
            if range.start > at {
                pieces.push(TextPiece {
                    text: text[at..range.start].to_owned(),
                    mention: false,
                });
            }
            pieces.push(TextPiece {
                text: text[range.clone()].to_owned(),
                mention: true,
            });
            at = range.end;
        }
    }
    pieces.push(TextPiece {
        text: text[at..].to_owned(),
        mention: false,
    });
    pieces
}

/// One emoji's reactions, as a page shows them.
struct ReactionView {
    emoji: String,
    count: u64,
    me: bool,
}

/// The message a reply answers, as a page shows it.
struct QuoteView {
    id: i64,
    from: String,
    /// The start of its text; `None` once it was deleted.
    text: Option<String>,
}

/// The conversation a page shows.
struct RoomView {
    /// The peer's name or the group's title.
    label: String,
    /// The page's own path.
    href: String,
    group: Option<GroupHead>,
}

/// The open room's mute, for its button: the conversation, and whether
/// the user muted it.
struct MuteView {
    conversation: i64,
    muted: bool,
}

struct GroupHead {
    id: i64,
    member_count: usize,
    /// Whether the viewer adds and removes members.
    manages: bool,
}

struct ConversationView {
    /// The peer's name or the group's title.
    label: String,
    /// 0 for a direct conversation.
    group_id: i64,
    /// The conversation's id.
    conversation: i64,
    href: String,
    online: bool,
    preview: String,
    unread: u64,
    /// How many unread messages mention the viewer.
    mentions: u64,
    last_id: i64,
    peer_read: i64,
    /// When the newest message was sent (RFC 3339), empty if none.
    last_at: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    site: Site,
    me: &'a str,
    csrf: String,
    /// A session of the chat's own (password login, or one the host
    /// opened): the page offers to log out. The host's own login ends
    /// with the host.
    own_session: bool,
    peer: Option<String>,
    room: Option<RoomView>,
    peer_online: bool,
    /// How far the peer has read this conversation (a message id).
    peer_read: i64,
    not_found: bool,
    search: String,
    messages: Vec<MessageView>,
    has_more: bool,
    conversations: Vec<ConversationView>,
    /// The open room's mute (none before its first message).
    mute: Option<MuteView>,
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
    fn site(&self) -> Site {
        Site {
            base: self.config().mount_path.clone(),
            login: self.login_location(),
            js: self.url(&self.assets().entry().path),
            css: self.url(&self.assets().css.path),
        }
    }

    pub(crate) fn login_page(&self) -> Result<Response<Body>, HttpError> {
        render(&LoginPage { site: self.site() }, StatusCode::OK)
    }

    pub(crate) fn signup_page(&self) -> Result<Response<Body>, HttpError> {
        render(&SignupPage { site: self.site() }, StatusCode::OK)
    }

    /// `/`: the chat when logged in, else the login page.
    pub(crate) fn home(&self, auth: Option<Authenticated>) -> Response<Body> {
        match auth {
            Some(_) => redirect(&self.url("/chat/")),
            None => redirect(&self.login_location()),
        }
    }

    /// `/chat/`, `/chat/{username}/?search=` and `/groups/{id}/?search=`:
    /// the room page.
    pub(crate) async fn chat_page<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        target: PageRoom<'_>,
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
        let found = match target {
            PageRoom::None => Ok(None),
            PageRoom::Direct(peer) => {
                chat.history(&auth.session, peer, &history)
                    .await
                    .map(|page| {
                        let room = RoomView {
                            label: peer.to_owned(),
                            href: self.url(&format!("/chat/{peer}/")),
                            group: None,
                        };
                        Some((room, page))
                    })
            }
            PageRoom::Group(raw) => match crate::groups::group_id(raw) {
                Err(_) => Err(ChatError::NotFound),
                Ok(id) => match chat.group(&auth.session, id).await {
                    Ok(group) => {
                        chat.group_history(&auth.session, id, &history)
                            .await
                            .map(|page| {
                                let room = RoomView {
                                    label: group.title.to_string(),
                                    href: self.url(&format!("/groups/{}/", id.get())),
                                    group: Some(GroupHead {
                                        id: id.get(),
                                        member_count: group.members.len(),
                                        manages: group
                                            .role
                                            .is_some_and(chat_core::Role::manages_the_group),
                                    }),
                                };
                                Some((room, page))
                            })
                    }
                    Err(error) => Err(error),
                },
            },
        };
        let (room, messages, has_more, not_found) = match found {
            Ok(Some((room, page))) => (Some(room), page.items, page.has_more, false),
            Ok(None) => (None, Vec::new(), false, false),
            Err(ChatError::NotFound | ChatError::InvalidInput { .. }) => {
                (None, Vec::new(), false, true)
            }
            Err(other) => return Err(other.into()),
        };
        let peer = match target {
            PageRoom::Direct(peer) if room.is_some() => Some(peer.to_owned()),
            _ => None,
        };
        let active_group = room.as_ref().and_then(|r| r.group.as_ref()).map(|g| g.id);
        let read_by = match active_group {
            Some(id) => {
                chat.read_by(&auth.session, chat_core::ConversationId::new(id), &messages)
                    .await?
            }
            None => Vec::new(),
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
        let conversations: Vec<ConversationView> = conversations
            .items
            .iter()
            .map(|c| {
                let (label, group_id, href, active) = match &c.kind {
                    SummaryKind::Direct { peer: user, .. } => (
                        user.username().to_string(),
                        0,
                        self.url(&format!("/chat/{}/", user.username())),
                        peer.as_deref()
                            .is_some_and(|p| user.username().canonical() == p.to_ascii_lowercase()),
                    ),
                    SummaryKind::Group { title, .. } => (
                        title.to_string(),
                        c.conversation.get(),
                        self.url(&format!("/groups/{}/", c.conversation.get())),
                        active_group == Some(c.conversation.get()),
                    ),
                };
                ConversationView {
                    label,
                    group_id,
                    conversation: c.conversation.get(),
                    href,
                    online: c.online(),
                    preview: c.last_message.as_ref().map(preview).unwrap_or_default(),
                    unread: c.unread,
                    mentions: c.mentions,
                    last_id: c.last_message.as_ref().map_or(0, |m| m.id().get()),
                    peer_read: c.peer_read_up_to().get(),
                    last_at: c
                        .last_message
                        .as_ref()
                        .map(|m| m.sent_at().to_rfc3339())
                        .unwrap_or_default(),
                    active,
                }
            })
            .collect();
        let direct_active = |c: &&ConversationView| c.active && c.group_id == 0;
        let room_conversation = active_group.or_else(|| {
            conversations
                .iter()
                .find(direct_active)
                .map(|c| c.conversation)
        });
        let mute = match room_conversation {
            Some(conversation) => {
                let mutes = chat.mutes(&auth.session).await?;
                Some(MuteView {
                    conversation,
                    muted: mutes.iter().any(|m| m.conversation.get() == conversation),
                })
            }
            None => None,
        };
        let page = ChatPage {
            site: self.site(),
            peer_online: conversations.iter().filter(direct_active).any(|c| c.online),
            peer_read: conversations
                .iter()
                .find(direct_active)
                .map_or(0, |c| c.peer_read),
            me: me.username().as_str(),
            own_session: auth.token.is_some(),
            csrf: auth
                .token
                .as_ref()
                .map(SessionToken::csrf_token)
                .unwrap_or_default(),
            not_found,
            search,
            messages: messages
                .iter()
                .enumerate()
                .map(|(i, m)| view(m, me.id(), read_by.get(i).copied().flatten()))
                .collect(),
            has_more,
            conversations,
            mute,
            users: users.iter().map(|u| u.username().to_string()).collect(),
            last_message_id: last_message_id.get(),
            peer,
            room,
        };
        let status = if page.not_found {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        render(&page, status)
    }
}

/// Which room a chat page opens.
#[derive(Clone, Copy)]
pub(crate) enum PageRoom<'a> {
    /// The list alone.
    None,
    /// The direct conversation with this user.
    Direct(&'a str),
    /// The group with this id (as the path gives it).
    Group(&'a str),
}

fn view(message: &Message, me: chat_core::UserId, read_by: Option<u64>) -> MessageView {
    MessageView {
        id: message.id().get(),
        from: message.sender().username().to_string(),
        text: pieces(message),
        mentioned: message.sender().id() != me
            && (message.mentions().everyone.is_some() || message.mentions().names(me)),
        sent_at: message.sent_at().to_rfc3339(),
        mine: message.sender().id() == me && message.event().is_none(),
        system: message.event().is_some(),
        read_by,
        edited: message.edited_at().is_some(),
        deleted: message.is_deleted(),
        replies: message.thread().map_or(0, |t| t.replies),
        quote: message.reply_to().map(|quote| QuoteView {
            id: quote.id.get(),
            from: quote.sender.username().to_string(),
            text: quote.excerpt.clone(),
        }),
        reactions: message
            .reactions()
            .iter()
            .map(|r| ReactionView {
                emoji: r.emoji.to_string(),
                count: r.count,
                me: r.me == Some(true),
            })
            .collect(),
    }
}

/// The first line of a message, shortened for the conversation list.
fn preview(message: &Message) -> String {
    if message.is_deleted() {
        return "Message deleted".to_owned();
    }
    let text = message.text().as_str();
    let line = text.lines().next().unwrap_or("");
    let mut short: String = line.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module imports the others by their fingerprinted names,
    /// relative (so that they resolve under any mount path), each of which
    /// is served: no `./name.js` is left for a browser to fetch
    /// unfingerprinted, and a module changing renames those that import it.
    #[test]
    fn modules_import_each_other_by_fingerprinted_paths_that_are_served() {
        let assets = Assets::new();
        let served: Vec<&str> = assets.modules.iter().map(|m| m.path.as_str()).collect();
        let mut imports = 0;
        for module in &assets.modules {
            let text = std::str::from_utf8(&module.identity.body).unwrap();
            let imports_of = |l: &&str| {
                let l = l.trim_start();
                (l.starts_with("import ") || l.starts_with("} from ")) && l.contains(" from \"")
            };
            for line in text.lines().filter(imports_of) {
                let file = line.split('"').nth(1).unwrap();
                let path = format!("/assets/{}", file.strip_prefix("./").unwrap());
                assert!(
                    served.contains(&path.as_str()),
                    "{}: imports {file}",
                    module.path
                );
                imports += 1;
            }
        }
        assert!(imports >= 5, "the entry and the chat page import the rest");
        assert!(assets.entry().path.starts_with("/assets/app-"));
        // The linking itself: a dependency's path goes in place of its name.
        let linked = link(
            "import { a } from \"./api.js\";",
            &[("api", "/assets/api-1.js".into())],
        );
        assert_eq!(linked, "import { a } from \"./api-1.js\";");
    }
}
