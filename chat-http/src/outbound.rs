//! Requests the server makes itself (webhooks, key sets): a URL checked
//! once, then one connection per request, over TLS with the system's roots
//! for `https`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go.
pub(crate) struct Endpoint {
    uri: Uri,
    host: String,
    port: u16,
    /// For `https`.
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsConnector>,
    https: bool,
}

impl Endpoint {
    /// Checks `url`: `http(s)://host[:port]/…`, with no credentials in it
    /// (they would go out in the `Host` header, and into logs).
    ///
    /// # Errors
    /// Why the URL is refused, or the TLS roots of an `https` one cannot be
    /// loaded.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|_| "not a URL".to_owned())?;
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err("the URL must not hold credentials (user:password@)".to_owned());
        }
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the URL must be http:// or https://".to_owned()),
        };
        let host = uri
            .host()
            .ok_or_else(|| "the URL has no host".to_owned())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        #[cfg(feature = "tls")]
        let tls = if https { Some(tls_connector()?) } else { None };
        #[cfg(not(feature = "tls"))]
        if https {
            return Err("https URLs need chat-http's `tls` feature".to_owned());
        }
        Ok(Self {
            uri,
            host,
            port,
            #[cfg(feature = "tls")]
            tls,
            https,
        })
    }

    /// Whether requests go over TLS.
    pub(crate) fn is_https(&self) -> bool {
        self.https
    }

    /// Whether the host is this machine (`localhost`, `127.0.0.0/8`, `::1`).
    pub(crate) fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// `scheme://host:port`: where requests go, without the path or query
    /// (which may hold a secret), for logs.
    pub(crate) fn destination(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// A request to the URL, with its `Host`.
    pub(crate) fn request(&self, method: hyper::Method) -> hyper::http::request::Builder {
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = self
            .uri
            .authority()
            .map_or(self.host.as_str(), |a| a.as_str());
        Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
    }

    /// Sends `request` on a connection of its own; the status and up to
    /// `max_body` bytes of body (more is an error), all within `timeout`.
    ///
    /// # Errors
    /// Why it failed, in words for the logs.
    pub(crate) async fn send(
        &self,
        request: Request<Full<Bytes>>,
        max_body: usize,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), String> {
        tokio::time::timeout(timeout, self.exchange(request, max_body))
            .await
            .map_err(|_| format!("no answer within {timeout:?}"))?
    }

    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        max_body: usize,
    ) -> Result<(StatusCode, Bytes), String> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let name = rustls_pki_types::ServerName::try_from(self.host.clone())
                .map_err(|e| e.to_string())?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            return exchange_on(TokioIo::new(stream), request, max_body).await;
        }
        exchange_on(TokioIo::new(tcp), request, max_body).await
    }
}

/// A TLS client with the system's root certificates.
#[cfg(feature = "tls")]
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err("no TLS root certificates found on this system".to_owned());
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls)))
}

/// Sends `request` over `io`, an HTTP/1.1 connection of its own.
async fn exchange_on<I>(
    io: I,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<(StatusCode, Bytes), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if max_body == 0 {
        return Ok((status, Bytes::new()));
    }
    let body = Limited::new(response.into_body(), max_body)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}
