//! Loading a certificate chain and key for [`serve_tls`](crate::serve_tls).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::SetupError;

/// Builds a TLS acceptor from PEM files: the certificate chain (leaf first)
/// and its private key (PKCS#8, PKCS#1 or SEC1). HTTP/1.1 only, as the
/// WebSocket upgrade needs it.
///
/// # Errors
/// [`SetupError`] naming the file at fault.
pub fn load_tls(certificates: &Path, key: &Path) -> Result<TlsAcceptor, SetupError> {
    let chain = CertificateDer::pem_file_iter(certificates)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| SetupError::Certificates {
            path: certificates.display().to_string(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(SetupError::Certificates {
            path: certificates.display().to_string(),
            reason: "no certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| SetupError::Key {
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    tls_acceptor(chain, key)
}

/// Builds a TLS acceptor from a DER certificate chain and key.
///
/// # Errors
/// [`SetupError::Tls`] if rustls refuses them.
pub fn tls_acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
