//! Serving the adapter on a TCP listener, with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::ChatHttp;

/// How long shutdown waits for requests and WebSockets to finish.
const DRAIN: Duration = Duration::from_secs(10);
/// How long a client may take to send the request head (slowloris).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
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
    let requests = TaskTracker::new();
    let stop = CancellationToken::new();
    let mut shutdown = std::pin::pin!(shutdown);
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
        let _ = stream.set_nodelay(true);
        let handler = http.clone();
        let service = service_fn(move |request| {
            let handler = handler.clone();
            async move { Ok::<_, Infallible>(handler.handle(request, peer).await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEAD_BYTES.max(8192))
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let stop = stop.clone();
        requests.spawn(async move {
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
        });
    }
    drop(listener);
    info!("shutting down: closing WebSockets and draining requests");
    http.close_websockets();
    stop.cancel();
    requests.close();
    let drained = async {
        requests.wait().await;
        http.connections().wait().await;
    };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        warn!("shutdown deadline passed with connections still open");
    }
    Ok(())
}
