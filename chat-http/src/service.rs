//! The adapter as a tower `Service`, for axum routers and other tower or
//! hyper stacks; and the mount path, for servers that do not strip it.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use hyper::{Request, Response, Uri};

use crate::ChatHttp;
use crate::api::RequestBody;
use crate::response::Body;

/// The client's address, put in a request's extensions by the stack that
/// accepted the connection, for the adapter's per-client rate limits
/// (signup, login, event streams, WebSockets). Without it, every client
/// counts as one (`0.0.0.0`), so a stack that knows the peer should say:
/// with axum, copy `ConnectInfo<SocketAddr>` into it in a middleware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Serves a request whose path is below the mount path (as axum's
/// `nest_service` hands it), as [`ChatHttp::handle`] does; the peer comes
/// from the request's [`ClientAddr`].
///
/// ```no_run
/// # fn demo(http: chat_http::ChatHttp) {
/// let app: axum::Router = axum::Router::new().nest_service("/chat", http);
/// # }
/// ```
impl<B> tower_service::Service<Request<B>> for ChatHttp
where
    B: RequestBody + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let http = self.clone();
        let peer = match request.extensions().get::<ClientAddr>() {
            Some(addr) => addr.0,
            None => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    tracing::warn!(
                        "requests carry no chat_http::ClientAddr: every client shares one \
                         address's rate limits (signups, logins, connections)"
                    );
                });
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
            }
        };
        let request = request.map(Exclusive::new);
        Box::pin(async move { Ok(http.handle(request, peer).await) })
    }
}

/// A request body that is `Sync` whatever it wraps (axum's is not): it is
/// polled through `&mut` (no locking); only the size hints lock it.
struct Exclusive<B>(Mutex<Pin<Box<B>>>);

impl<B> Exclusive<B> {
    fn new(body: B) -> Self {
        Self(Mutex::new(Box::pin(body)))
    }
}

impl<B: hyper::body::Body> hyper::body::Body for Exclusive<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        // A mutex is poisoned only by a panic while locked: at worst a size
        // hint's.
        match self.get_mut().0.get_mut() {
            Ok(body) => body.as_mut().poll_frame(cx),
            Err(poisoned) => poisoned.into_inner().as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().is_ok_and(|body| body.is_end_stream())
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.0
            .lock()
            .map(|body| body.size_hint())
            .unwrap_or_default()
    }
}

/// `request` with `mount` taken off the front of its path, or `None` when
/// its path is not below `mount` (`/chat` holds `/chat` and `/chat/…`,
/// not `/chatter`).
pub(crate) fn below_mount<B>(mut request: Request<B>, mount: &str) -> Option<Request<B>> {
    if mount.is_empty() {
        return Some(request);
    }
    let uri = request.uri();
    let rest = uri.path().strip_prefix(mount)?;
    let path = match rest {
        "" => "/",
        rest if rest.starts_with('/') => rest,
        _ => return None,
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    *request.uri_mut() = Uri::from_parts(parts).ok()?;
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_below(uri: &str, mount: &str) -> Option<String> {
        let request = Request::builder().uri(uri).body(()).unwrap();
        below_mount(request, mount).map(|r| r.uri().to_string())
    }

    #[test]
    fn the_mount_path_comes_off_whole_segments_only() {
        assert_eq!(
            path_below("/chat/api/me", "/chat").as_deref(),
            Some("/api/me")
        );
        assert_eq!(path_below("/chat", "/chat").as_deref(), Some("/"));
        assert_eq!(path_below("/chat/", "/chat").as_deref(), Some("/"));
        assert_eq!(
            path_below("/chat/ws?since=3", "/chat").as_deref(),
            Some("/ws?since=3")
        );
        assert_eq!(
            path_below("/chat/chat/", "/chat").as_deref(),
            Some("/chat/")
        );
        assert_eq!(path_below("/chatter", "/chat"), None);
        assert_eq!(path_below("/api/me", "/chat"), None);
        assert_eq!(path_below("/api/me", "").as_deref(), Some("/api/me"));
    }

    /// axum's request body is `Send` but not `Sync`: the service must take
    /// it.
    #[test]
    fn the_service_takes_bodies_that_are_not_sync() {
        fn is_service<S: tower_service::Service<Request<B>>, B>() {}
        type Unsync = http_body_util::combinators::UnsyncBoxBody<
            bytes::Bytes,
            Box<dyn std::error::Error + Send + Sync>,
        >;
        is_service::<ChatHttp, Unsync>();
        fn sends<F: Future + Send>(_: F) {}
        let http: ChatHttp = unreachable_http();
        let request = Request::new(Unsync::default());
        sends(tower_service::Service::call(&mut http.clone(), request));
    }

    fn unreachable_http() -> ChatHttp {
        let store = futures::executor::block_on(chat_store_sqlite::SqliteStore::memory());
        let chat = chat_core::Chat::builder(std::sync::Arc::new(store.unwrap())).build();
        ChatHttp::new(chat, crate::HttpConfig::default()).unwrap()
    }
}
