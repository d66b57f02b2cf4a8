//! Which handler serves a request.

use std::net::SocketAddr;

use hyper::{Method, Request, Response};

use crate::ChatHttp;
use crate::api::RequestBody;
use crate::auth::{check_origin, client_ip};
use crate::error::HttpError;
use crate::response::{self, Body};

/// The API routes the OpenAPI document describes, as (method, path); a test
/// checks the two agree (`openapi.rs`). A new API route goes here, in
/// `Route::of` and in the document.
#[cfg(test)]
pub(crate) const API_ROUTES: [(&str, &str); 12] = [
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
];

/// The methods `path` answers, if it is routed at all.
#[cfg(test)]
pub(crate) fn allowed_methods(path: &str) -> Option<&'static str> {
    Route::of(path).map(|route| route.allow())
}

/// The routes, with their path parameters.
enum Route<'a> {
    Signup,
    Login,
    Logout,
    Me,
    Conversations,
    Users,
    Messages(&'a str),
    Health,
    Ready,
    OpenApi,
    Events,
    WebSocket,
    Home,
    LoginPage,
    SignupPage,
    ChatPage(Option<&'a str>),
    Asset,
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
            ["healthz"] => Self::Health,
            ["readyz"] => Self::Ready,
            ["api", "openapi.json"] => Self::OpenApi,
            ["api", "events"] => Self::Events,
            ["ws"] => Self::WebSocket,
            [""] => Self::Home,
            ["login"] => Self::LoginPage,
            ["signup"] => Self::SignupPage,
            ["chat"] => Self::ChatPage(None),
            ["chat", peer] => Self::ChatPage(Some(peer)),
            ["assets", _] => Self::Asset,
            _ => return None,
        })
    }

    /// The methods the route answers.
    fn allow(&self) -> &'static str {
        match self {
            Self::Signup | Self::Login | Self::Logout => "POST",
            Self::Messages(_) => "GET, HEAD, POST",
            _ => "GET, HEAD",
        }
    }
}

impl ChatHttp {
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
                self.count(&error);
                response::error(&error)
            }
        };
        response::finish(response, self.config().tls)
    }

    /// Counts a refused request for `/metrics`.
    fn count(&self, error: &HttpError) {
        use chat_core::ChatError as C;
        let metrics = self.metrics();
        match error {
            HttpError::Chat(C::InvalidCredentials) => metrics.login_failures.inc(),
            HttpError::Chat(C::RateLimited { .. }) => metrics.rate_limited.inc(),
            HttpError::Chat(C::Unavailable { .. }) => metrics.unavailable.inc(),
            HttpError::ForeignOrigin => metrics.origin_refused.inc(),
            HttpError::Csrf => metrics.csrf_refused.inc(),
            HttpError::TooManySockets { .. } => metrics.ws_refused.inc(),
            _ => 0,
        };
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
        let write = method == Method::POST;
        if !(read && route.allow().contains("GET") || write && route.allow().contains("POST")) {
            return Err(HttpError::MethodNotAllowed {
                allow: route.allow(),
            });
        }
        if write {
            check_origin(request.headers(), self.config())?;
        }
        match route {
            Route::Signup => {
                let client = client_ip(request.headers(), peer, self.config());
                self.signup(request, client).await
            }
            Route::Login => {
                let client = client_ip(request.headers(), peer, self.config());
                self.login(request, client).await
            }
            Route::Logout => self.logout(request).await,
            Route::Me => self.me(request).await,
            Route::Conversations => self.conversations(request).await,
            Route::Users => self.users(request).await,
            Route::Messages(peer) if write => self.send(request, peer).await,
            Route::Messages(peer) => self.history(request, peer).await,
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
                self.events(request, client).await
            }
            Route::WebSocket => {
                let client = client_ip(request.headers(), peer, self.config());
                self.websocket(request, client).await
            }
            Route::Home => self.home(request).await,
            Route::LoginPage => self.login_page(),
            Route::SignupPage => self.signup_page(),
            Route::ChatPage(peer) => self.chat_page(request, peer).await,
            Route::Asset => self
                .assets()
                .serve(&path, request.headers())
                .ok_or(HttpError::NoRoute),
        }
    }
}
