//! Tokens a host application signs for its users: verified here, then
//! handed to the core as the user they name.
//!
//! A token is a JWT (RFC 7519) signed with HS256 (a shared secret), RS256
//! (RSA), ES256 (P-256) or EdDSA (Ed25519), with `sub` (the host's id of the
//! user), `preferred_username` (the chat username on first sight), an
//! optional `name` (the display name), `exp`, and `iss` and `aud` when the
//! chat expects them. Each key accepts the one algorithm of its kind, so a
//! token can never choose how it is checked (`alg: none`, or an HMAC
//! "signed" with a public key, are refused), and a key file that holds
//! public material in a form other than PEM is refused rather than taken
//! as a secret. With several keys, the token's `kid` picks one (or, if no
//! key has that name, the keys loaded without one); without a `kid`, each
//! key of the token's algorithm is tried. Expiry and not-before are read
//! on the service's clock, with a leeway for clocks that drift; a
//! configured issuer and audience must be present and right.
//!
//! Every key is one trust domain: a token's `sub` names the same user
//! whichever key signed it. Keys of identity providers that do not share
//! their users' ids must not serve one chat.

use std::path::Path;
use std::sync::Arc;
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
    /// A file that is neither PEM nor a secret: a JWKS, an SSH public key,
    /// DER. (Taken as an HMAC secret, public material would let anyone
    /// sign.)
    #[error("neither a PEM public key nor an HS256 secret (JWKS, SSH and DER keys are not read)")]
    NotASecret,
}

/// Whether `bytes` is one DER SEQUENCE spanning the whole file, as a
/// public key in DER is (`30 len …` or `30 81 len …` or `30 82 len len …`).
/// A text secret that starts with `0` (byte 0x30) almost never also
/// carries its own exact length.
fn looks_like_der(bytes: &[u8]) -> bool {
    match bytes {
        [0x30, 0x82, high, low, rest @ ..] => {
            usize::from(*high) << 8 | usize::from(*low) == rest.len()
        }
        [0x30, 0x81, length, rest @ ..] => usize::from(*length) == rest.len(),
        [0x30, length, rest @ ..] if *length < 0x80 => usize::from(*length) == rest.len(),
        _ => false,
    }
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
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
    /// When the session it opens ends: its `exp`, plus the leeway within
    /// which it is still taken.
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

/// One verifying key: its name, the one algorithm it is taken for, the key.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
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
    keys: Vec<Arc<Key>>,
    /// Keys of an identity provider's JWKS URL, kept fresh.
    jwks: Option<Arc<crate::Jwks>>,
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
            .field("jwks", &self.jwks)
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
            jwks: None,
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
        self.keys.push(Arc::new(Key {
            kid: kid.map(str::to_owned),
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(secret),
        }));
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
        self.keys.push(Arc::new(Key {
            kid: kid.map(str::to_owned),
            algorithm,
            key,
        }));
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
        if contains(&bytes, b"-----BEGIN") {
            return self.with_public_pem(kid, &bytes);
        }
        // Public key material in another form must never become a shared
        // secret: anyone could then sign with it.
        let trimmed = bytes.trim_ascii();
        if trimmed.starts_with(b"{")
            || trimmed.starts_with(b"ssh-")
            || trimmed.starts_with(b"ecdsa-")
            || looks_like_der(&bytes)
            || contains(trimmed, b"PUBLIC KEY")
        {
            return Err(TokenKeyError::NotASecret);
        }
        self.with_secret(kid, trimmed)
    }

    /// Adds the keys of an identity provider's JWKS URL, kept fresh by
    /// `jwks` (see [`Jwks::start`](crate::Jwks::start)).
    pub fn with_jwks(mut self, jwks: Arc<crate::Jwks>) -> Self {
        self.jwks = Some(jwks);
        self
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

    /// How many keys there are now (a JWKS's included).
    pub fn len(&self) -> usize {
        self.keys.len() + self.jwks.as_ref().map_or(0, |jwks| jwks.len())
    }

    /// Whether keys come from a JWKS URL.
    pub(crate) fn has_jwks(&self) -> bool {
        self.jwks.is_some()
    }

    /// Whether there is no key now (no token is accepted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let fetched = self
            .jwks
            .as_ref()
            .map(|jwks| jwks.keys())
            .unwrap_or_default();
        let keys: Vec<&Key> = self.keys.iter().chain(&fetched).map(|key| &**key).collect();
        // The key the token names; else, or without a name, every key
        // that has none (a key loaded without a `kid` stands for any).
        let named: Vec<&Key> = match header.kid.as_deref() {
            Some(kid) => keys
                .iter()
                .copied()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .collect(),
            None => Vec::new(),
        };
        if named.is_empty()
            && header.kid.is_some()
            && let Some(jwks) = &self.jwks
        {
            // Perhaps the provider rotated its keys: fetch them soon.
            jwks.missed();
        }
        let candidates: Vec<&Key> = if named.is_empty() {
            keys.iter()
                .copied()
                .filter(|k| header.kid.is_none() || k.kid.is_none())
                .collect()
        } else {
            named
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
        // A configured issuer or audience must be present, not only
        // right when present: a token of the same key made for another
        // audience (or none) is not one for the chat.
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.required_spec_claims = required.into_iter().map(str::to_owned).collect();
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
        // The session lasts as long as the token is taken, leeway included:
        // a token taken must not open a session that has already ended.
        let ends = claims.exp.saturating_add(leeway);
        Ok(Claims {
            subject: claims.sub,
            preferred_username: claims.preferred_username,
            name: claims.name,
            expires_at: Timestamp::from_unix_micros(ends.saturating_mul(1_000_000)),
        })
    }
}

/// Whether a bearer credential is a JWT (three dot-separated parts) rather
/// than one of the chat's own session tokens (which have no dot).
pub(crate) fn looks_like_jwt(raw: &str) -> bool {
    raw.bytes().filter(|b| *b == b'.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs256(kid: Option<&str>, secret: &[u8], claims: &serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    const SECRET: &[u8] = b"a secret of at least thirty-two bytes";

    fn claims() -> serde_json::Value {
        serde_json::json!({ "sub": "u1", "exp": 2_000_000_000 })
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_micros(1_900_000_000_000_000)
    }

    #[test]
    fn public_material_in_a_key_file_is_never_taken_for_a_secret() {
        let dir = std::env::temp_dir().join(format!("chat-token-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // An Ed25519 public key in DER: a SEQUENCE of 42 bytes.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend([7_u8; 32]);
        let refused = [
            ("jwks.json", b"{\"keys\": [{\"kty\": \"RSA\", \"n\": \"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W\", \"e\": \"AQAB\"}]}".as_slice()),
            ("id_ed25519.pub", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGr0Jv5b3Qx7P0u8mW2c2dZ9rU0vQk2jH6yR0P7a0xYz host".as_slice()),
            ("key.der", der.as_slice()),
            ("short.secret", b"too short".as_slice()),
        ];
        for (name, bytes) in refused {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            assert!(TokenKeys::new().with_key_file(&path).is_err(), "{name}");
        }
        // A text secret that starts with "0" is a secret.
        let zero = dir.join("zero.secret");
        std::fs::write(&zero, b"0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d").unwrap();
        assert!(TokenKeys::new().with_key_file(&zero).is_ok());
        let path = dir.join("main.secret");
        std::fs::write(&path, [SECRET, b"\n"].concat()).unwrap();
        let keys = TokenKeys::new().with_key_file(&path).unwrap();
        assert!(
            keys.verify(&hs256(Some("main"), SECRET, &claims()), now())
                .is_ok()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_key_loaded_without_a_kid_takes_tokens_that_name_one() {
        let keys = TokenKeys::new().with_secret(None, SECRET).unwrap();
        assert!(
            keys.verify(&hs256(Some("2026"), SECRET, &claims()), now())
                .is_ok()
        );
        assert!(keys.verify(&hs256(None, SECRET, &claims()), now()).is_ok());
        // A named key takes only its own name.
        let keys = TokenKeys::new().with_secret(Some("a"), SECRET).unwrap();
        assert!(
            keys.verify(&hs256(Some("b"), SECRET, &claims()), now())
                .is_err()
        );
        assert!(keys.verify(&hs256(None, SECRET, &claims()), now()).is_ok());
    }

    #[test]
    fn the_session_ends_with_the_leeway_and_expiry_is_read_in_seconds() {
        let keys = TokenKeys::new()
            .with_secret(None, SECRET)
            .unwrap()
            .leeway(Duration::from_secs(30));
        let at = |seconds: i64| Timestamp::from_unix_micros(seconds * 1_000_000);
        let token = hs256(None, SECRET, &claims());
        let claims = keys.verify(&token, at(2_000_000_029)).unwrap();
        assert_eq!(claims.expires_at, at(2_000_000_030));
        assert_eq!(
            keys.verify(&token, at(2_000_000_030)),
            Err(TokenRefused::Expired)
        );
    }
}
