//! TLS for tests: a self-signed certificate for `localhost`, and a client
//! that trusts only it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::WAIT;

/// A self-signed certificate for `localhost` and its key.
pub struct SelfSigned {
    /// The certificate.
    pub cert: CertificateDer<'static>,
    /// Its private key.
    pub key: PrivateKeyDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl SelfSigned {
    /// A new one.
    pub fn new() -> Self {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        Self {
            cert: CertificateDer::from(pair.cert.der().to_vec()),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.signing_key.serialize_der())),
            cert_pem: pair.cert.pem(),
            key_pem: pair.signing_key.serialize_pem(),
        }
    }

    /// Writes the certificate and key as PEM files `cert.pem` and `key.pem`
    /// in `dir`; returns their paths.
    pub fn write_pem(&self, dir: &Path) -> (String, String) {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert.display().to_string(), key.display().to_string())
    }

    /// Sends `request` as is over TLS to `127.0.0.1:port` (as `localhost`,
    /// trusting only this certificate) and returns the whole answer; the
    /// request should say `Connection: close`.
    pub async fn raw(&self, port: u16, request: &str) -> String {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut stream = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }
}

/// A signup request for `name` with [`PASSWORD`](crate::PASSWORD).
pub fn signup_request(name: &str) -> String {
    let password = crate::PASSWORD;
    let body = format!(
        r#"{{"email":"{name}@example.test","username":"{name}","password":"{password}","confirm_password":"{password}"}}"#
    );
    json_request("POST", "/api/signup", &body)
}

impl Default for SelfSigned {
    fn default() -> Self {
        Self::new()
    }
}

/// A complete HTTP/1.1 request with a JSON body.
pub fn json_request(method: &str, path: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
