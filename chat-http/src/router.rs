//! Which handler serves a request.

use std::net::SocketAddr;

use hyper::{Method, Request, Response};

use crate::ChatHttp;
use crate::api::RequestBody;
use crate::auth::{Authenticated, authenticate, check_csrf, check_origin, client_ip};
use crate::error::HttpError;
use crate::groups::group_id;
use crate::messages::{emoji, message_id};
#[cfg(feature = "ui")]
use crate::pages::PageRoom;
use crate::request::require_json;
use crate::response::{self, Body};

/// The API routes the OpenAPI document describes, as (method, path); a test
/// checks the two agree (`openapi.rs`). A new API route goes here, in
/// `Route::of` and in the document.
#[cfg(test)]
pub(crate) const API_ROUTES: [(&str, &str); 48] = [
    ("POST", "/api/signup"),
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("GET", "/api/me"),
    ("GET", "/api/conversations"),
    ("GET", "/api/users"),
    ("GET", "/api/conversations/{username}/messages"),
    ("POST", "/api/conversations/{username}/messages"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/events"),
    ("POST", "/api/groups"),
    ("GET", "/api/groups"),
    ("GET", "/api/groups/{id}"),
    ("PATCH", "/api/groups/{id}"),
    ("POST", "/api/groups/{id}/members"),
    ("PATCH", "/api/groups/{id}/members/{username}"),
    ("DELETE", "/api/groups/{id}/members/{username}"),
    ("POST", "/api/groups/{id}/join"),
    ("GET", "/api/groups/{id}/messages"),
    ("POST", "/api/groups/{id}/messages"),
    ("POST", "/api/groups/{id}/read"),
    ("GET", "/api/invitations"),
    ("GET", "/api/feed"),
    ("POST", "/api/server/users"),
    ("GET", "/api/mutes"),
    ("PUT", "/api/mutes/{id}"),
    ("DELETE", "/api/mutes/{id}"),
    ("PATCH", "/api/messages/{id}"),
    ("DELETE", "/api/messages/{id}"),
    ("PUT", "/api/messages/{id}/reactions/{emoji}"),
    ("DELETE", "/api/messages/{id}/reactions/{emoji}"),
    ("GET", "/api/blocks"),
    ("PUT", "/api/blocks/{username}"),
    ("DELETE", "/api/blocks/{username}"),
    ("GET", "/api/admin/audit"),
    ("POST", "/api/admin/users/{username}/disable"),
    ("POST", "/api/admin/users/{username}/enable"),
    ("DELETE", "/api/admin/messages/{id}"),
    ("POST", "/api/reports"),
    ("GET", "/api/admin/reports"),
    ("POST", "/api/admin/reports/{id}/resolve"),
    ("PUT", "/api/groups/{id}/bans/{username}"),
    ("DELETE", "/api/groups/{id}/bans/{username}"),
    ("GET", "/api/messages/{id}/thread"),
    ("POST", "/api/messages/{id}/thread/read"),
    ("GET", "/api/threads"),
];

/// The methods `path` answers, if it is routed at all.
#[cfg(test)]
pub(crate) fn allowed_methods(path: &str) -> Option<&'static str> {
    Route::of(path).map(|route| route.allow())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the routes meant for strangers are public; every change needs
    /// a session and its CSRF token; live connections check the origin.
    #[test]
    fn every_api_route_declares_who_may_call_it() {
        for (method, path) in API_ROUTES {
            let route = Route::of(path).unwrap();
            let access = route.access(&method.parse().unwrap());
            let expected = match (method, path) {
                (
                    _,
                    "/api/signup" | "/api/login" | "/healthz" | "/readyz" | "/api/openapi.json",
                ) => Access::Public,
                (_, "/api/feed") => Access::Key(chat_core::ApiScope::Feed),
                (_, "/api/server/users") => Access::Key(chat_core::ApiScope::Users),
                ("POST" | "PATCH" | "PUT", _) => Access::WriteSession,
                ("DELETE", _) => Access::DeleteSession,
                (_, "/api/events") => Access::LiveSession,
                _ => Access::Session,
            };
            assert_eq!(access, expected, "{method} {path}");
        }
        assert_eq!(
            Route::of("/ws").unwrap().access(&Method::GET),
            Access::LiveSession
        );
    }

    /// A key of the server API acts as a user on sends, edits and deletes
    /// (`send`) and on
    /// group management (`groups`), and nowhere else: never a read of
    /// someone's conversations, history or events.
    #[test]
    fn keys_act_as_users_only_where_their_scope_opens() {
        use chat_core::ApiScope;
        for (method, path) in API_ROUTES {
            let concrete = path
                .replace("{username}", "bob")
                .replace("{id}", "7")
                .replace("{emoji}", "%F0%9F%91%8D");
            let route = Route::of(&concrete).unwrap();
            let expected = match (method, path) {
                (
                    "POST",
                    "/api/conversations/{username}/messages" | "/api/groups/{id}/messages",
                )
                | ("PATCH" | "DELETE", "/api/messages/{id}")
                | ("PUT" | "DELETE", "/api/messages/{id}/reactions/{emoji}") => {
                    Some(ApiScope::Send)
                }
                (
                    _,
                    "/api/groups"
                    | "/api/groups/{id}"
                    | "/api/groups/{id}/members"
                    | "/api/groups/{id}/members/{username}"
                    | "/api/groups/{id}/bans/{username}"
                    | "/api/groups/{id}/join",
                ) => Some(ApiScope::Groups),
                _ => None,
            };
            assert_eq!(
                route.key_scope(&method.parse().unwrap()),
                expected,
                "{method} {path}"
            );
        }
        assert_eq!(Route::of("/ws").unwrap().key_scope(&Method::GET), None);
        assert_eq!(
            Route::of("/chat/").unwrap().access(&Method::GET),
            Access::MaybeSession
        );
    }
}

/// The routes, with their path parameters (those of the pages are read
/// only by the web UI).
#[cfg_attr(not(feature = "ui"), allow(dead_code))]
enum Route<'a> {
    Signup,
    Login,
    Logout,
    Me,
    Conversations,
    Users,
    Messages(&'a str),
    Message(&'a str),
    Reaction(&'a str, &'a str),
    Thread(&'a str),
    ThreadRead(&'a str),
    Threads,
    Health,
    Ready,
    OpenApi,
    Events,
    Groups,
    Group(&'a str),
    GroupMembers(&'a str),
    GroupMember(&'a str, &'a str),
    GroupBan(&'a str, &'a str),
    GroupJoin(&'a str),
    GroupMessages(&'a str),
    GroupRead(&'a str),
    Invitations,
    Feed,
    ServerUsers,
    Mutes,
    Mute(&'a str),
    Blocks,
    Block(&'a str),
    AdminAudit,
    /// A user, and whether to enable (or disable) their account.
    AdminAccount(&'a str, bool),
    AdminMessage(&'a str),
    Reports,
    AdminReports,
    AdminResolve(&'a str),
    WebSocket,
    Home,
    LoginPage,
    SignupPage,
    ChatPage(Option<&'a str>),
    GroupPage(&'a str),
    Asset,
}

/// Who may call a route, declared once per route (and per method): the
/// router checks it before the handler runs, and hands the handler the
/// session it found, as an extractor would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Anyone: signup, login, health, the login pages, assets.
    Public,
    /// A session if there is one (pages that redirect to the login page
    /// without one).
    MaybeSession,
    /// A session (bearer token or cookie): reads.
    Session,
    /// A session, from an allowed origin: live connections (WebSocket,
    /// event stream), which browsers open cross-site without a preflight.
    LiveSession,
    /// A session, a JSON body, and the CSRF token when the session came by
    /// cookie: changes.
    WriteSession,
    /// A session and the CSRF token when the session came by cookie:
    /// deletions, which carry no body.
    DeleteSession,
    /// A key of the server API with this scope (bearer only): the host
    /// application's back end.
    Key(chat_core::ApiScope),
}

/// What the router found out about the caller, by the route's [`Access`].
#[cfg_attr(not(feature = "ui"), allow(dead_code))]
enum Caller {
    Anyone,
    Maybe(Option<Authenticated>),
    Known(Authenticated),
    Key(chat_core::ApiKey),
}

impl Caller {
    /// The session a [`Access::Session`]-like route was given.
    fn known(self) -> Result<Authenticated, HttpError> {
        match self {
            Self::Known(auth) => Ok(auth),
            Self::Anyone | Self::Maybe(_) | Self::Key(_) => Err(HttpError::Internal(
                "a route that needs a session was declared otherwise".into(),
            )),
        }
    }

    /// The key an [`Access::Key`] route was given.
    fn key(self) -> Result<chat_core::ApiKey, HttpError> {
        match self {
            Self::Key(key) => Ok(key),
            Self::Anyone | Self::Maybe(_) | Self::Known(_) => Err(HttpError::Internal(
                "a route that needs an API key was declared otherwise".into(),
            )),
        }
    }

    #[cfg(feature = "ui")]
    fn maybe(self) -> Option<Authenticated> {
        match self {
            Self::Known(auth) | Self::Maybe(Some(auth)) => Some(auth),
            Self::Anyone | Self::Maybe(None) | Self::Key(_) => None,
        }
    }
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Option<Self> {
        let segments: Vec<&str> = path
            .trim_start_matches('/')
            .trim_end_matches('/')
            .split('/')
            .collect();
        Some(match segments.as_slice() {
            ["api", "signup"] => Self::Signup,
            ["api", "login"] => Self::Login,
            ["api", "logout"] => Self::Logout,
            ["api", "me"] => Self::Me,
            ["api", "conversations"] => Self::Conversations,
            ["api", "users"] => Self::Users,
            ["api", "conversations", peer, "messages"] => Self::Messages(peer),
            ["api", "messages", id] => Self::Message(id),
            ["api", "messages", id, "reactions", emoji] => Self::Reaction(id, emoji),
            ["api", "messages", id, "thread"] => Self::Thread(id),
            ["api", "messages", id, "thread", "read"] => Self::ThreadRead(id),
            ["api", "threads"] => Self::Threads,
            ["healthz"] => Self::Health,
            ["readyz"] => Self::Ready,
            ["api", "openapi.json"] => Self::OpenApi,
            ["api", "events"] => Self::Events,
            ["api", "groups"] => Self::Groups,
            ["api", "groups", id] => Self::Group(id),
            ["api", "groups", id, "members"] => Self::GroupMembers(id),
            ["api", "groups", id, "members", username] => Self::GroupMember(id, username),
            ["api", "groups", id, "bans", username] => Self::GroupBan(id, username),
            ["api", "groups", id, "join"] => Self::GroupJoin(id),
            ["api", "groups", id, "messages"] => Self::GroupMessages(id),
            ["api", "groups", id, "read"] => Self::GroupRead(id),
            ["api", "invitations"] => Self::Invitations,
            ["api", "feed"] => Self::Feed,
            ["api", "server", "users"] => Self::ServerUsers,
            ["api", "mutes"] => Self::Mutes,
            ["api", "mutes", id] => Self::Mute(id),
            ["api", "blocks"] => Self::Blocks,
            ["api", "blocks", username] => Self::Block(username),
            ["api", "admin", "audit"] => Self::AdminAudit,
            ["api", "admin", "users", username, "disable"] => Self::AdminAccount(username, false),
            ["api", "admin", "users", username, "enable"] => Self::AdminAccount(username, true),
            ["api", "admin", "messages", id] => Self::AdminMessage(id),
            ["api", "reports"] => Self::Reports,
            ["api", "admin", "reports"] => Self::AdminReports,
            ["api", "admin", "reports", id, "resolve"] => Self::AdminResolve(id),
            ["ws"] => Self::WebSocket,
            [""] => Self::Home,
            ["login"] => Self::LoginPage,
            ["signup"] => Self::SignupPage,
            ["chat"] => Self::ChatPage(None),
            ["chat", peer] => Self::ChatPage(Some(peer)),
            ["groups", id] => Self::GroupPage(id),
            ["assets", _] => Self::Asset,
            _ => return None,
        })
    }

    /// Who may call the route with `method` (one it answers).
    fn access(&self, method: &Method) -> Access {
        let write = !(method == Method::GET || method == Method::HEAD);
        match self {
            Self::Signup | Self::Login | Self::Health | Self::Ready | Self::OpenApi => {
                Access::Public
            }
            Self::LoginPage | Self::SignupPage | Self::Asset => Access::Public,
            Self::Home | Self::ChatPage(_) | Self::GroupPage(_) => Access::MaybeSession,
            Self::WebSocket | Self::Events => Access::LiveSession,
            Self::Feed => Access::Key(chat_core::ApiScope::Feed),
            Self::ServerUsers => Access::Key(chat_core::ApiScope::Users),
            _ if method == Method::DELETE => Access::DeleteSession,
            _ if write => Access::WriteSession,
            _ => Access::Session,
        }
    }

    /// The scope an API key needs to call the route with `method` acting as
    /// a user (`Chat-Act-As`), if a key may call it at all: sends, edits
    /// and deletes need `send`; making, reading and managing groups need
    /// `groups`.
    fn key_scope(&self, method: &Method) -> Option<chat_core::ApiScope> {
        use chat_core::ApiScope;
        let write = !(method == Method::GET || method == Method::HEAD);
        match self {
            Self::Messages(_) | Self::GroupMessages(_) if write => Some(ApiScope::Send),
            Self::Message(_) | Self::Reaction(..) => Some(ApiScope::Send),
            Self::Groups
            | Self::Group(_)
            | Self::GroupMembers(_)
            | Self::GroupMember(..)
            | Self::GroupBan(..)
            | Self::GroupJoin(_) => Some(ApiScope::Groups),
            _ => None,
        }
    }

    /// The methods the route answers.
    fn allow(&self) -> &'static str {
        match self {
            Self::Signup | Self::Login | Self::Logout | Self::ServerUsers => "POST",
            Self::AdminAccount(..) | Self::Reports | Self::AdminResolve(_) => "POST",
            Self::ThreadRead(_) => "POST",
            Self::AdminMessage(_) => "DELETE",
            Self::GroupMembers(_) | Self::GroupJoin(_) | Self::GroupRead(_) => "POST",
            Self::Messages(_) | Self::GroupMessages(_) | Self::Groups => "GET, HEAD, POST",
            Self::Group(_) => "GET, HEAD, PATCH",
            Self::Mute(_) | Self::Reaction(..) | Self::Block(_) | Self::GroupBan(..) => {
                "PUT, DELETE"
            }
            Self::GroupMember(..) | Self::Message(_) => "PATCH, DELETE",
            _ => "GET, HEAD",
        }
    }
}

impl ChatHttp {
    /// Checks what `access` asks of the caller, once, before any handler.
    async fn caller(
        &self,
        access: Access,
        key_scope: Option<chat_core::ApiScope>,
        headers: &hyper::HeaderMap,
    ) -> Result<Caller, HttpError> {
        // The host's back end, with an API key, acting as one of the users.
        if matches!(
            access,
            Access::Session | Access::WriteSession | Access::DeleteSession
        ) && let Some(raw) = crate::auth::bearer(headers)
            && chat_core::ApiKeySecret::looks_like(&raw)
        {
            if access == Access::WriteSession {
                require_json(headers)?;
            }
            return Ok(Caller::Known(
                self.acting_caller(&raw, key_scope, headers).await?,
            ));
        }
        Ok(match access {
            Access::Public => Caller::Anyone,
            // No credentials, or ones that are no longer good, show the
            // login page; anything else (the host's authenticator down, a
            // name the chat cannot take) is an error page, not a redirect
            // back to a login that would send the visitor here again.
            Access::MaybeSession => match authenticate(self, headers).await {
                Ok(auth) => Caller::Maybe(Some(auth)),
                Err(
                    HttpError::Chat(chat_core::ChatError::Unauthenticated) | HttpError::Token(_),
                ) => Caller::Maybe(None),
                Err(other) => return Err(other),
            },
            Access::Session => Caller::Known(authenticate(self, headers).await?),
            Access::LiveSession => {
                check_origin(headers, self.config())?;
                Caller::Known(authenticate(self, headers).await?)
            }
            Access::WriteSession => {
                require_json(headers)?;
                let auth = authenticate(self, headers).await?;
                check_csrf(&auth, headers, self.config())?;
                Caller::Known(auth)
            }
            Access::DeleteSession => {
                let auth = authenticate(self, headers).await?;
                check_csrf(&auth, headers, self.config())?;
                Caller::Known(auth)
            }
            Access::Key(scope) => {
                let raw =
                    crate::auth::bearer(headers).ok_or(chat_core::ChatError::Unauthenticated)?;
                Caller::Key(self.chat().api_key(&raw, scope).await?)
            }
        })
    }

    /// Serves one request. `peer` is the connection's remote address (used,
    /// with the trusted proxies, for per-client rate limits).
    ///
    /// Mount this under your own router to embed the chat in a hyper
    /// service; [`serve`](crate::serve) does it for you.
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: RequestBody + 'static,
    {
        let response = match self.route(request, peer).await {
            Ok(response) => response,
            Err(error) => {
                let reported = error.report();
                if let Some(counted) = reported.counted {
                    self.metrics().count(counted);
                }
                response::reported(reported)
            }
        };
        response::finish(response, self.config().tls)
    }

    async fn route<B: RequestBody + 'static>(
        &self,
        request: Request<B>,
        peer: SocketAddr,
    ) -> Result<Response<Body>, HttpError> {
        let path = request.uri().path().to_owned();
        let route = Route::of(&path).ok_or(HttpError::NoRoute)?;
        let method = request.method().clone();
        let read = method == Method::GET || method == Method::HEAD;
        let answered = if read { "GET" } else { method.as_str() };
        if !route.allow().split(", ").any(|m| m == answered) {
            return Err(HttpError::MethodNotAllowed {
                allow: route.allow(),
            });
        }
        let write = !read;
        if write {
            check_origin(request.headers(), self.config())?;
        }
        let caller = self
            .caller(
                route.access(&method),
                route.key_scope(&method),
                request.headers(),
            )
            .await?;
        match route {
            Route::Signup => {
                let client = client_ip(request.headers(), peer, self.config());
                self.signup(request, client).await
            }
            Route::Login => {
                let client = client_ip(request.headers(), peer, self.config());
                self.login(request, client).await
            }
            Route::Logout => self.logout(caller.known()?).await,
            Route::Me => self.me(caller.known()?).await,
            Route::Conversations => self.conversations(caller.known()?, request).await,
            Route::Users => self.users(caller.known()?, request).await,
            Route::Messages(peer) if write => self.send(caller.known()?, request, peer).await,
            Route::Messages(peer) => self.history(caller.known()?, request, peer).await,
            Route::Message(id) if method == Method::DELETE => {
                self.delete_message(caller.known()?, message_id(id)?).await
            }
            Route::Message(id) => {
                self.edit_message(caller.known()?, request, message_id(id)?)
                    .await
            }
            Route::Reaction(id, raw) => {
                let add = method != Method::DELETE;
                self.react(caller.known()?, message_id(id)?, &emoji(raw)?, add)
                    .await
            }
            Route::Health => Ok(response::json(
                hyper::StatusCode::OK,
                &crate::wire::StatusBody { status: "ok" },
            )),
            Route::Ready => self.ready().await,
            Route::OpenApi => Ok(response::with_type(
                hyper::StatusCode::OK,
                self.openapi_document(),
                "application/json",
            )),
            Route::Events => {
                let client = client_ip(request.headers(), peer, self.config());
                self.events(caller.known()?, request, client).await
            }
            Route::Groups if write => self.create_group(caller.known()?, request).await,
            Route::Groups => self.group_directory(caller.known()?, request).await,
            Route::Group(id) if write => {
                self.rename_group(caller.known()?, request, group_id(id)?)
                    .await
            }
            Route::Group(id) => self.group(caller.known()?, group_id(id)?).await,
            Route::GroupMembers(id) => {
                self.add_member(caller.known()?, request, group_id(id)?)
                    .await
            }
            Route::GroupMember(id, username) if method == Method::DELETE => {
                self.remove_member(caller.known()?, group_id(id)?, username)
                    .await
            }
            Route::GroupMember(id, username) => {
                self.set_role(caller.known()?, request, group_id(id)?, username)
                    .await
            }
            Route::GroupBan(id, username) if method == Method::DELETE => {
                self.unban(caller.known()?, group_id(id)?, username).await
            }
            Route::GroupBan(id, username) => {
                self.ban(caller.known()?, request, group_id(id)?, username)
                    .await
            }
            Route::GroupJoin(id) => self.join_group(caller.known()?, group_id(id)?).await,
            Route::GroupMessages(id) if write => {
                self.send_to_group(caller.known()?, request, group_id(id)?)
                    .await
            }
            Route::GroupMessages(id) => {
                self.group_history(caller.known()?, request, group_id(id)?)
                    .await
            }
            Route::GroupRead(id) => {
                self.read_group(caller.known()?, request, group_id(id)?)
                    .await
            }
            Route::Invitations => self.invitations(caller.known()?).await,
            Route::Mutes => self.mutes(caller.known()?).await,
            Route::Mute(id) if method == Method::DELETE => {
                self.unmute(caller.known()?, group_id(id)?).await
            }
            Route::Mute(id) => self.mute(caller.known()?, request, group_id(id)?).await,
            Route::Blocks => self.blocks(caller.known()?).await,
            Route::Block(username) if method == Method::DELETE => {
                self.unblock(caller.known()?, username).await
            }
            Route::Block(username) => self.block(caller.known()?, username).await,
            Route::AdminAudit => self.audit_log(caller.known()?, request).await,
            Route::AdminAccount(username, enabled) => {
                self.set_account_enabled(caller.known()?, request, username, enabled)
                    .await
            }
            Route::Thread(id) => self.thread(caller.known()?, request, message_id(id)?).await,
            Route::ThreadRead(id) => {
                self.read_thread(caller.known()?, request, message_id(id)?)
                    .await
            }
            Route::Threads => self.threads(caller.known()?, request).await,
            Route::Reports => self.report(caller.known()?, request).await,
            Route::AdminReports => self.reports(caller.known()?, request).await,
            Route::AdminResolve(id) => self.resolve_report(caller.known()?, request, id).await,
            Route::AdminMessage(id) => {
                self.moderate_message(caller.known()?, request, message_id(id)?)
                    .await
            }
            Route::Feed => self.feed(&caller.key()?, &request).await,
            Route::ServerUsers => {
                caller.key()?;
                self.upsert_user(request).await
            }
            Route::WebSocket => {
                let client = client_ip(request.headers(), peer, self.config());
                self.websocket(caller.known()?, request, client).await
            }
            #[cfg(feature = "ui")]
            Route::Home => Ok(self.home(caller.maybe())),
            #[cfg(feature = "ui")]
            Route::LoginPage => self.login_page(),
            #[cfg(feature = "ui")]
            Route::SignupPage => self.signup_page(),
            #[cfg(feature = "ui")]
            Route::ChatPage(peer) => match caller.maybe() {
                Some(auth) => {
                    let room = peer.map_or(PageRoom::None, PageRoom::Direct);
                    self.chat_page(auth, request, room).await
                }
                None => Ok(response::redirect(&self.login_location())),
            },
            #[cfg(feature = "ui")]
            Route::GroupPage(id) => match caller.maybe() {
                Some(auth) => self.chat_page(auth, request, PageRoom::Group(id)).await,
                None => Ok(response::redirect(&self.login_location())),
            },
            #[cfg(feature = "ui")]
            Route::Asset => self
                .assets()
                .serve(&path, request.headers())
                .ok_or(HttpError::NoRoute),
            // Built without the web UI: its pages and files are not here.
            #[cfg(not(feature = "ui"))]
            Route::Home
            | Route::LoginPage
            | Route::SignupPage
            | Route::ChatPage(_)
            | Route::GroupPage(_)
            | Route::Asset => {
                let _ = (caller, &path);
                Err(HttpError::NoRoute)
            }
        }
    }
}
