//! Device tokens, after OWASP's device cookies: a client that logged in to
//! an account successfully carries a token saying so, signed by the
//! service; its login attempts for that account count against the device's
//! own limit instead of the account's shared one. Someone else's failed
//! guesses (from clients the account does not know) then exhaust only the
//! shared limit, and the owner's known device still logs in.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::domain::{Timestamp, UserId};
use crate::error::{ChatError, Result};

/// How far ahead of this server's clock a token's issue time may be: the
/// servers of one chat share a key, not a clock.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A device token issued at a successful login: hand it to the client,
/// which presents it at its next logins (see
/// [`Client::with_device`](crate::Client::with_device)). `Debug` is
/// redacted.
#[derive(Clone)]
pub struct DeviceToken(Zeroizing<String>);

impl DeviceToken {
    /// The token, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceToken(..)")
    }
}

/// A device token that checked out: whose, and the device's own key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct KnownDevice {
    pub(crate) user: UserId,
    /// The device's random id, what its limit counts under.
    pub(crate) id: String,
}

/// The key that signs and checks device tokens (HMAC-SHA256).
pub(crate) struct DeviceKey(Zeroizing<Vec<u8>>);

/// The layout of a token before base64: a version byte, the user id, the
/// issue time (microseconds), 16 random bytes, then the MAC of all that.
const VERSION: u8 = 1;
const BODY: usize = 1 + 8 + 8 + 16;
const MAC: usize = 32;

impl DeviceKey {
    /// The name of the secret the key lives under in the store.
    pub(crate) const SECRET_NAME: &'static str = "device-token-key-v1";

    pub(crate) fn new(secret: Vec<u8>) -> Self {
        Self(Zeroizing::new(secret))
    }

    fn mac(&self) -> Result<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .map_err(|e| ChatError::internal(e.to_string()))?;
        mac.update(b"chat-device-token:");
        Ok(mac)
    }

    /// A fresh token for `user`, issued `at`.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`] if the OS cannot provide randomness.
    pub(crate) fn issue(&self, user: UserId, at: Timestamp) -> Result<DeviceToken> {
        let mut body = [0u8; BODY];
        body[0] = VERSION;
        body[1..9].copy_from_slice(&user.get().to_be_bytes());
        body[9..17].copy_from_slice(&at.unix_micros().to_be_bytes());
        getrandom::fill(&mut body[17..]).map_err(|e| ChatError::unavailable(e.to_string()))?;
        let mut mac = self.mac()?;
        mac.update(&body);
        let mut token = body.to_vec();
        token.extend_from_slice(&mac.finalize().into_bytes());
        Ok(DeviceToken(Zeroizing::new(URL_SAFE_NO_PAD.encode(token))))
    }

    /// The device `presented` stands for, if it is a token of this key,
    /// issued at most `lifetime` before `now` (and no more than
    /// [`CLOCK_SKEW`] after it: another server's clock may run a little
    /// ahead); `None` for anything else.
    pub(crate) fn verify(
        &self,
        presented: &str,
        now: Timestamp,
        lifetime: Duration,
    ) -> Option<KnownDevice> {
        if presented.len() > 2 * (BODY + MAC) {
            return None;
        }
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(presented).ok()?);
        if bytes.len() != BODY + MAC || bytes[0] != VERSION {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY);
        let mut mac = self.mac().ok()?;
        mac.update(body);
        mac.verify_slice(tag).ok()?;
        let user = i64::from_be_bytes(body[1..9].try_into().ok()?);
        let issued = Timestamp::from_unix_micros(i64::from_be_bytes(body[9..17].try_into().ok()?));
        if issued > now.plus(CLOCK_SKEW) || now.since(issued) > lifetime {
            return None;
        }
        let id: String = body[17..].iter().map(|b| format!("{b:02x}")).collect();
        Some(KnownDevice {
            user: UserId::new(user),
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn a_token_checks_out_for_its_user_within_its_lifetime_only() {
        let key = DeviceKey::new(vec![7; 32]);
        let at = Timestamp::from_unix_micros(1_767_225_600_000_000);
        let token = key.issue(UserId::new(42), at).unwrap();
        let known = key.verify(token.expose(), at.plus(DAY), 30 * DAY).unwrap();
        assert_eq!(known.user, UserId::new(42));
        assert_eq!(known.id.len(), 32);
        assert_eq!(
            key.verify(token.expose(), at.plus(31 * DAY), 30 * DAY),
            None,
            "expired"
        );
        assert_eq!(
            key.verify(token.expose(), at.minus(DAY), 30 * DAY),
            None,
            "from the future"
        );
        assert!(
            key.verify(token.expose(), at.minus(CLOCK_SKEW), 30 * DAY)
                .is_some(),
            "from a server whose clock runs a minute ahead"
        );
        let other = DeviceKey::new(vec![8; 32]);
        assert_eq!(
            other.verify(token.expose(), at, 30 * DAY),
            None,
            "another key"
        );
        // Any change to the token breaks it.
        let mut forged = token.expose().to_owned().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(key.verify(&forged, at, 30 * DAY), None);
        for junk in ["", "not a token", &"A".repeat(10_000)] {
            assert_eq!(key.verify(junk, at, 30 * DAY), None);
        }
        let again = key.issue(UserId::new(42), at).unwrap();
        assert_ne!(again.expose(), token.expose(), "each token is a new device");
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
