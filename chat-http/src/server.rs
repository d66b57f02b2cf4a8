//! Serving the adapter on a TCP listener, plain or TLS, with graceful
//! shutdown; and the plain-HTTP listener that redirects to HTTPS.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
#[cfg(feature = "tls")]
use tokio_rustls::TlsAcceptor;

/// Without the `tls` feature no listener serves TLS: an acceptor that
/// cannot be made.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
enum TlsAcceptor {}

#[cfg(not(feature = "tls"))]
impl TlsAcceptor {
    #[allow(clippy::unused_async)]
    async fn accept<S>(&self, _: S) -> std::io::Result<S> {
        match *self {}
    }
}
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::ChatHttp;
use crate::response::{self, Body};

/// How long shutdown waits for requests and WebSockets to finish.
const DRAIN: Duration = Duration::from_secs(10);
/// At most this many request headers.
const MAX_HEADERS: usize = 64;
/// At most this many bytes of request head buffered.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Serves `http` on `listener` until `shutdown` completes, then stops
/// accepting, closes every WebSocket with "going away" (1001), and waits
/// up to ten seconds for requests and sockets to finish.
///
/// The library installs no signal handler: pass e.g. `tokio::signal::ctrl_c()`.
///
/// # Errors
/// None so far: accept errors (like running out of file descriptors) are
/// logged and retried after a pause.
pub async fn serve(
    listener: TcpListener,
    http: ChatHttp,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, http, None, shutdown).await
}

#[cfg(feature = "tls")]
/// Like [`serve`], over TLS (see [`load_tls`](crate::load_tls)). Configure the
/// adapter with `HttpConfig { tls: true, .. }` so that cookies are `Secure`
/// and responses carry HSTS.
///
/// # Errors
/// As [`serve`]; failed handshakes are logged and dropped.
pub async fn serve_tls(
    listener: TcpListener,
    http: ChatHttp,
    tls: TlsAcceptor,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, http, Some(tls), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    http: ChatHttp,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let handler = http.clone();
    let header_timeout = http.config().header_timeout;
    let requests = accept_loop(
        listener,
        tls,
        header_timeout,
        Capacity::of(&http),
        shutdown,
        move |request, peer| {
            let handler = handler.clone();
            async move {
                let mount = &handler.config().mount_path;
                match crate::service::below_mount(request, mount) {
                    Some(request) => handler.handle(request, peer).await,
                    None => handler.not_found(),
                }
            }
        },
    )
    .await;
    info!("shutting down: closing WebSockets and draining requests");
    http.close_websockets();
    let drained = async {
        requests.wait().await;
        http.connections().wait().await;
    };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        warn!("shutdown deadline passed with connections still open");
    }
    Ok(())
}

/// Answers every plain-HTTP request on `listener` with a permanent redirect
/// to the same host and path over HTTPS on `https_port`, until `shutdown`.
///
/// # Errors
/// As [`serve`].
pub async fn redirect_to_https(
    listener: TcpListener,
    https_port: u16,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let requests = accept_loop(
        listener,
        None,
        Duration::from_secs(10),
        Capacity::side(),
        shutdown,
        move |request, _peer| async move {
            response::finish(https_redirect(&request, https_port), true)
        },
    )
    .await;
    let _ = tokio::time::timeout(DRAIN, requests.wait()).await;
    Ok(())
}

#[cfg(feature = "metrics")]
/// Serves `GET /metrics` (the Prometheus text format) on `listener`, until
/// `shutdown`. Give it an address of its own, reachable by the monitoring
/// system only.
///
/// # Errors
/// As [`serve`].
pub async fn serve_metrics(
    listener: TcpListener,
    http: ChatHttp,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let requests = accept_loop(
        listener,
        None,
        Duration::from_secs(10),
        Capacity::side(),
        shutdown,
        move |request, _peer| {
            let http = http.clone();
            async move {
                let response = if request.uri().path() == "/metrics" {
                    response::with_type(
                        StatusCode::OK,
                        http.metrics_text().into(),
                        "text/plain; version=0.0.4; charset=utf-8",
                    )
                } else {
                    response::empty(StatusCode::NOT_FOUND)
                };
                response::finish(response, false)
            }
        },
    )
    .await;
    let _ = tokio::time::timeout(DRAIN, requests.wait()).await;
    Ok(())
}

fn https_redirect(request: &Request<Incoming>, https_port: u16) -> Response<Body> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':')
                .filter(|(_, port)| port.parse::<u16>().is_ok())
                .map_or(h, |(name, _)| name)
        })
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        });
    let Some(host) = host else {
        return response::empty(StatusCode::BAD_REQUEST);
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut response = response::empty(StatusCode::PERMANENT_REDIRECT);
    if let Ok(location) = HeaderValue::from_str(&format!("https://{host}{port}{path}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// How many connections a listener serves at once, and what it does at
/// the cap.
#[derive(Clone)]
struct Capacity {
    /// One permit per connection being served.
    slots: Arc<Semaphore>,
    /// How long a write may make no progress before the connection is
    /// dropped.
    write_timeout: Duration,
    /// The adapter whose metrics count connections, for the main listener.
    counted: Option<ChatHttp>,
}

impl Capacity {
    /// The small fixed capacity of the side listeners (redirect, metrics).
    fn side() -> Self {
        Self {
            slots: Arc::new(Semaphore::new(256)),
            write_timeout: Duration::from_secs(30),
            counted: None,
        }
    }

    /// The main listener's, from the adapter's configuration.
    fn of(http: &ChatHttp) -> Self {
        let config = http.config();
        Self {
            slots: Arc::new(Semaphore::new(
                config.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            )),
            write_timeout: config.write_timeout,
            counted: Some(http.clone()),
        }
    }
}

/// Accepts connections until `shutdown`, serving each with `handler` (after
/// a TLS handshake when `tls` is set), at most as many at once as
/// `capacity` allows: past it, a new connection is closed at once (and
/// counted, and logged at most once a second). Returns the tracker of the
/// connections still running, already told to finish.
async fn accept_loop<H, F>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    capacity: Capacity,
    shutdown: impl Future<Output = ()>,
    handler: H,
) -> TaskTracker
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let requests = TaskTracker::new();
    let stop = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warnings = Throttle::new(Duration::from_secs(1));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(%error, "accept failed; pausing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&capacity.slots).try_acquire_owned() else {
            drop(stream);
            if let Some(http) = &capacity.counted {
                http.metrics().connections_refused.inc();
            }
            if warnings.allow(tokio::time::Instant::now()) {
                warn!(%peer, "connection refused: the server is at its connection cap");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        // A write that makes no progress (a client that reads nothing, its
        // window shut) ends the connection, on plain HTTP, TLS and
        // WebSockets alike.
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(capacity.write_timeout));
        let stream = Box::pin(stream);
        let handler = handler.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        // The connection's place under the cap: held by this task, and by a
        // WebSocket the connection is upgraded to (which outlives the task).
        let held = HeldConnection(Arc::new(Place {
            _slot: slot,
            _open: capacity.counted.as_ref().map(OpenConnection::new),
        }));
        requests.spawn(async move {
            match tls {
                None => {
                    let io = TokioIo::new(stream);
                    serve_connection(io, peer, header_timeout, handler, stop, held).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let io = TokioIo::new(stream);
                            serve_connection(io, peer, header_timeout, handler, stop, held).await
                        }
                        Ok(Err(error)) => debug!(%error, %peer, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    stop.cancel();
    requests.close();
    requests
}

/// A connection's place under the connection cap (and in the gauge), given
/// back when the last holder lets go.
struct Place {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _open: Option<OpenConnection>,
}

/// A share of a connection's [`Place`]: every request of the connection
/// carries one in its extensions, and a WebSocket keeps it for its life.
/// Never read: holding it is the point.
#[derive(Clone)]
pub(crate) struct HeldConnection(#[allow(dead_code)] Arc<Place>);

/// A connection counted in the open-connections gauge while it lives.
struct OpenConnection(ChatHttp);

impl OpenConnection {
    fn new(http: &ChatHttp) -> Self {
        http.metrics().connections_open.inc();
        Self(http.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics().connections_open.dec();
    }
}

async fn serve_connection<I, H, F>(
    io: I,
    peer: SocketAddr,
    header_timeout: Duration,
    handler: H,
    stop: CancellationToken,
    held: HeldConnection,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, SocketAddr) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(held.clone());
        let response = handler(request, peer);
        async move { Ok::<_, Infallible>(response.await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        .serve_connection(io, service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop.cancelled() => {
            // Finish the request in flight, then close.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        debug!(%error, %peer, "connection ended with an error");
    }
}

/// Lets something through at most once per period: a log line that a
/// flood would otherwise repeat for every connection.
struct Throttle {
    period: Duration,
    last: Option<tokio::time::Instant>,
}

impl Throttle {
    fn new(period: Duration) -> Self {
        Self { period, last: None }
    }

    /// Whether to let it through `now`.
    fn allow(&mut self, now: tokio::time::Instant) -> bool {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.period)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_through_per_period() {
        let start = tokio::time::Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(1));
        let at = |ms| start + Duration::from_millis(ms);
        let let_through: Vec<u64> = [0, 1, 500, 999, 1000, 1001, 1999, 2500, 2501]
            .into_iter()
            .filter(|ms| throttle.allow(at(*ms)))
            .collect();
        assert_eq!(let_through, [0, 1000, 2500]);
    }
}
