//! Keys of an identity provider, read from its JWKS URL (a JSON Web Key
//! Set, RFC 7517) and refreshed in the background: the provider rotates
//! its keys, and the chat follows without a restart.
//!
//! The set is fetched at start, then every few minutes, and soon after a
//! token names a `kid` the set does not hold (at most every 30 seconds, so
//! tokens with made-up `kid`s cannot make the chat hammer the provider).
//! A failed fetch keeps the keys held; only public keys of the kinds the
//! chat verifies are taken (RSA for RS256, P-256 for ES256, Ed25519 for
//! EdDSA); symmetric keys, encryption keys and other algorithms are
//! skipped, and at most 32 keys are taken. Until the first fetch succeeds,
//! tokens are answered `503` (try again), not `401`.

use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::SetupError;
use crate::outbound::Endpoint;
use crate::tokens::Key;

/// How often the set is fetched by default.
pub const JWKS_REFRESH: Duration = Duration::from_secs(5 * 60);

/// At most one fetch this often (or every refresh period, if shorter),
/// whatever asks for it.
const MIN_REFETCH: Duration = Duration::from_secs(30);

/// The largest key set read.
const MAX_SET_BYTES: usize = 256 * 1024;

/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The most keys taken from one set: a token without a `kid` is tried
/// against each key of its algorithm, so the set bounds that work.
const MAX_KEYS: usize = 32;

/// A JWKS URL's keys, kept fresh; give it to
/// [`TokenKeys::with_jwks`](crate::TokenKeys::with_jwks).
pub struct Jwks {
    endpoint: Endpoint,
    keys: RwLock<Vec<Arc<Key>>>,
    every: Duration,
    /// At most one fetch this often.
    floor: Duration,
    /// Wakes the refresher early.
    nudge: Arc<Notify>,
    /// When the last fetch started.
    fetched: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Jwks({}, {} keys)",
            self.endpoint.destination(),
            self.len()
        )
    }
}

impl Jwks {
    /// Fetches the set at `url` once, then keeps it fresh every `every`
    /// ([`JWKS_REFRESH`] is a good period) in a task on the current
    /// runtime, for as long as the `Jwks` lives. A token naming a `kid`
    /// the set lacks brings the next fetch forward, to no sooner than 30
    /// seconds (or `every`, if shorter) after the last. A first fetch that
    /// fails is logged and retried as often; tokens are refused until keys
    /// arrive.
    ///
    /// # Errors
    /// [`SetupError::Jwks`] for a URL that is not `https://host…` (or
    /// `http://` to a loopback address: keys fetched in the clear could be
    /// replaced on the way), or TLS roots that cannot be loaded.
    pub async fn start(url: &str, every: Duration) -> Result<Arc<Self>, SetupError> {
        let endpoint = Endpoint::parse(url)
            .map_err(|reason| SetupError::Jwks(format!("the URL: {reason}")))?;
        if !endpoint.is_https() && !endpoint.is_loopback() {
            return Err(SetupError::Jwks(
                "the URL must be https:// (http:// only to a loopback address): keys fetched in the clear could be replaced on the way".into(),
            ));
        }
        let every = every.max(Duration::from_secs(1));
        let jwks = Arc::new(Self {
            endpoint,
            keys: RwLock::new(Vec::new()),
            every,
            floor: every.min(MIN_REFETCH),
            nudge: Arc::new(Notify::new()),
            fetched: Mutex::new(None),
        });
        jwks.refresh().await;
        tokio::spawn(refresher(Arc::downgrade(&jwks)));
        Ok(jwks)
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is held (every token it would verify is refused).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys held now.
    pub(crate) fn keys(&self) -> Vec<Arc<Key>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A token named a key the set does not hold: perhaps the provider
    /// rotated; fetch soon.
    pub(crate) fn missed(&self) {
        self.nudge.notify_one();
    }

    /// Fetches the set and, if it holds keys, takes them.
    async fn refresh(&self) {
        *self.fetched.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) if keys.is_empty() => {
                warn!(url = %self.endpoint.destination(), "the JWKS holds no usable key; the keys held are kept");
            }
            Ok(keys) => {
                let count = keys.len();
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
                info!(url = %self.endpoint.destination(), keys = count, "JWKS keys loaded");
            }
            Err(error) => {
                warn!(url = %self.endpoint.destination(), %error, "could not fetch the JWKS; the keys held are kept");
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<Arc<Key>>, String> {
        let request = self
            .endpoint
            .request(hyper::Method::GET)
            .header(hyper::header::ACCEPT, "application/json")
            .header(hyper::header::USER_AGENT, "chat-server jwks")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let (status, body) = self
            .endpoint
            .send(request, MAX_SET_BYTES, FETCH_TIMEOUT)
            .await?;
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        parse_set(&body)
    }

    /// How long until the next fetch may start.
    fn wait_before_fetching(&self) -> Duration {
        let fetched = *self.fetched.lock().unwrap_or_else(PoisonError::into_inner);
        fetched.map_or(Duration::ZERO, |at| self.floor.saturating_sub(at.elapsed()))
    }
}

/// Refreshes the set every period, or sooner when nudged (never more
/// often than [`MIN_REFETCH`]), until the `Jwks` is dropped.
async fn refresher(jwks: Weak<Jwks>) {
    loop {
        let Some((nudge, period)) = jwks.upgrade().map(|j| {
            let period = if j.is_empty() { j.floor } else { j.every };
            (Arc::clone(&j.nudge), period)
        }) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = nudge.notified() => {}
        }
        let Some(wait) = jwks.upgrade().map(|j| j.wait_before_fetching()) else {
            return;
        };
        tokio::time::sleep(wait).await;
        let Some(jwks) = jwks.upgrade() else {
            return;
        };
        jwks.refresh().await;
    }
}

/// The usable keys of a JWKS document; a key the chat cannot use (or
/// cannot read) is skipped, not an error.
fn parse_set(body: &[u8]) -> Result<Vec<Arc<Key>>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|raw| serde_json::from_value::<Jwk>(raw).ok())
        .filter_map(|jwk| key_of(&jwk))
        .take(MAX_KEYS)
        .map(Arc::new)
        .collect())
}

/// The key of `jwk`, if it is a public signing key of a kind the chat
/// verifies, with the one algorithm it is taken for.
fn key_of(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let stated = jwk.common.key_algorithm;
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) if matches!(stated, None | Some(KeyAlgorithm::RS256)) => {
            Algorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(p)
            if p.curve == EllipticCurve::P256
                && matches!(stated, None | Some(KeyAlgorithm::ES256)) =>
        {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(p)
            if p.curve == EllipticCurve::Ed25519
                && matches!(stated, None | Some(KeyAlgorithm::EdDSA)) =>
        {
            Algorithm::EdDSA
        }
        // Symmetric keys (a shared secret published is no secret), other
        // curves and algorithms.
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_signing_keys_of_the_verified_kinds_are_taken() {
        let set = br#"{"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "wrong-alg", "alg": "RS256", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldA"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
            {"kty": "what", "kid": "unknown"},
            "not even an object"
        ]}"#;
        let keys = parse_set(set).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("ed")]);
        assert_eq!(keys[0].algorithm, Algorithm::EdDSA);
        assert!(parse_set(b"[]").is_err());
        assert!(parse_set(b"{}").is_err());
    }
}
