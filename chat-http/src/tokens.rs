//! Tokens a host application signs for its users: verified here, then
//! handed to the core as the user they name.
//!
//! A token is a JWT (RFC 7519) signed with HS256 (a shared secret), RS256
//! (RSA), ES256 (P-256) or EdDSA (Ed25519), with `sub` (the host's id of the
//! user), `preferred_username` (the chat username on first sight), an
//! optional `name` (the display name), `exp`, and `iss` and `aud` when the
//! chat expects them. Each key accepts the one algorithm of its kind, so a
//! token can never choose how it is checked (`alg: none`, or an HMAC
//! "signed" with a public key, are refused). With several keys, the token's
//! `kid` picks one; without a `kid`, each key of the token's algorithm is
//! tried. Expiry and not-before are read on the service's clock, with a
//! leeway for clocks that drift.

use std::path::Path;
use std::time::Duration;

use chat_core::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The largest token accepted, in bytes: larger ones are refused before
/// any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The shortest HS256 secret accepted (bytes): a shorter one is guessable.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a token was refused. Never carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefused {
    /// It expired (beyond the leeway): get a new one.
    #[error("the token has expired")]
    Expired,
    /// Larger than [`MAX_TOKEN_BYTES`].
    #[error("the token is too large")]
    TooLarge,
    /// Anything else: not a JWT, a bad signature, an algorithm or key that
    /// is not accepted, a wrong issuer or audience, a missing claim.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
}

/// A key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    /// The file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An HS256 secret shorter than [`MIN_SECRET_BYTES`].
    #[error("an HS256 secret must be at least {MIN_SECRET_BYTES} bytes")]
    ShortSecret,
    /// A PEM file holding no RSA, P-256 or Ed25519 public key.
    #[error("not an RSA, P-256 or Ed25519 public key in PEM")]
    UnknownPem,
}

/// The claims read from a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The host's id of the user.
    pub subject: String,
    /// The chat username, taken on first sight.
    pub preferred_username: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// When the token expires.
    pub expires_at: Timestamp,
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The keys, issuer and audience tokens are verified against.
///
/// ```
/// use chat_http::TokenKeys;
///
/// let keys = TokenKeys::new()
///     .with_secret(Some("2026-12"), b"a secret of at least thirty-two bytes")
///     .unwrap()
///     .issuer("https://auth.example.com/")
///     .audience("chat");
/// assert_eq!(keys.len(), 1);
/// ```
pub struct TokenKeys {
    keys: Vec<Key>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
}

impl Default for TokenKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key material stays out of logs.
        f.debug_struct("TokenKeys")
            .field(
                "keys",
                &self
                    .keys
                    .iter()
                    .map(|k| (k.kid.as_deref(), k.algorithm))
                    .collect::<Vec<_>>(),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl TokenKeys {
    /// No keys (every token refused), no issuer or audience required, a
    /// leeway of 30 seconds.
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
        }
    }

    /// Adds an HS256 secret, named `kid`.
    ///
    /// # Errors
    /// [`TokenKeyError::ShortSecret`] below [`MIN_SECRET_BYTES`].
    pub fn with_secret(mut self, kid: Option<&str>, secret: &[u8]) -> Result<Self, TokenKeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenKeyError::ShortSecret);
        }
        self.keys.push(Key {
            kid: kid.map(str::to_owned),
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(secret),
        });
        Ok(self)
    }

    /// Adds a public key in PEM, named `kid`: RSA (RS256), P-256 (ES256)
    /// or Ed25519 (EdDSA).
    ///
    /// # Errors
    /// [`TokenKeyError::UnknownPem`] for anything else.
    pub fn with_public_pem(mut self, kid: Option<&str>, pem: &[u8]) -> Result<Self, TokenKeyError> {
        let (algorithm, key) = if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            (Algorithm::RS256, key)
        } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            (Algorithm::ES256, key)
        } else if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            (Algorithm::EdDSA, key)
        } else {
            return Err(TokenKeyError::UnknownPem);
        };
        self.keys.push(Key {
            kid: kid.map(str::to_owned),
            algorithm,
            key,
        });
        Ok(self)
    }

    /// Adds the key in `path`, named by the file's stem (`2026-12.pem` is
    /// `kid` "2026-12"): a PEM public key, or else the file's bytes as an
    /// HS256 secret (surrounding whitespace trimmed).
    ///
    /// # Errors
    /// [`TokenKeyError`] when the file cannot be read or holds no usable key.
    pub fn with_key_file(self, path: &Path) -> Result<Self, TokenKeyError> {
        let bytes = std::fs::read(path).map_err(|source| TokenKeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let kid = path.file_stem().and_then(|s| s.to_str());
        if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            self.with_public_pem(kid, &bytes)
        } else {
            self.with_secret(kid, bytes.trim_ascii())
        }
    }

    /// Requires `iss` to be `issuer`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to be (or include) `audience`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How far past `exp` (and before `nbf`) a token is still taken.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key (no token is accepted).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies `token` at `now`.
    ///
    /// # Errors
    /// [`TokenRefused`], saying why in words that reveal nothing of the keys.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Claims, TokenRefused> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRefused::TooLarge);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenRefused::Invalid("not a signed JWT"))?;
        let candidates: Vec<&Key> = match header.kid.as_deref() {
            Some(kid) => self
                .keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => self.keys.iter().collect(),
        };
        let candidates: Vec<&Key> = candidates
            .into_iter()
            .filter(|k| k.algorithm == header.alg)
            .collect();
        if candidates.is_empty() {
            return Err(TokenRefused::Invalid("no key for this kid and algorithm"));
        }
        let mut refused = TokenRefused::Invalid("bad signature");
        for key in candidates {
            match self.verify_with(token, key, now) {
                Ok(claims) => return Ok(claims),
                // A signature that fails one key may pass another; any
                // other refusal is the token's own.
                Err(TokenRefused::Invalid("bad signature")) => {}
                Err(other) => {
                    refused = other;
                    break;
                }
            }
        }
        Err(refused)
    }

    fn verify_with(&self, token: &str, key: &Key, now: Timestamp) -> Result<Claims, TokenRefused> {
        let mut validation = Validation::new(key.algorithm);
        // Times are checked below, on the service's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["exp", "sub"].iter().map(|c| (*c).to_owned()).collect();
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data =
            jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                TokenRefused::Invalid(match e.kind() {
                    K::InvalidSignature => "bad signature",
                    K::InvalidIssuer => "wrong issuer",
                    K::InvalidAudience => "wrong audience",
                    K::InvalidAlgorithm => "algorithm not accepted",
                    K::MissingRequiredClaim(_) => "a required claim is missing",
                    _ => "malformed",
                })
            })?;
        let claims = data.claims;
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let now = now.unix_micros().div_euclid(1_000_000);
        if claims.exp.saturating_add(leeway) <= now {
            return Err(TokenRefused::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(leeway) > now)
        {
            return Err(TokenRefused::Invalid("not valid yet"));
        }
        Ok(Claims {
            subject: claims.sub,
            preferred_username: claims.preferred_username,
            name: claims.name,
            expires_at: Timestamp::from_unix_micros(claims.exp.saturating_mul(1_000_000)),
        })
    }
}

/// Whether a bearer credential is a JWT (three dot-separated parts) rather
/// than one of the chat's own session tokens (which have no dot).
pub(crate) fn looks_like_jwt(raw: &str) -> bool {
    raw.bytes().filter(|b| *b == b'.').count() == 2
}
