//! Sealed events: what one process publishes carries an HMAC-SHA256 of its
//! channel and its bytes, under a key every process of the chat shares (the
//! reference server keeps it in the database). A process accepts only events
//! sealed with that key, for the channel they arrive on, and no larger than
//! any event can be: whoever else can write to Redis cannot make a
//! connection deliver, or skip its recovery cursor past, a forged message.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The largest payload accepted from Redis: a message of the longest text,
/// escaped, with its envelope, is a fraction of it.
pub(crate) const MAX_EVENT_BYTES: usize = 64 * 1024;

const TAG: usize = 32;

/// Seals and opens events; without a key, events travel bare (trusting
/// everyone who can publish on the Redis server).
pub(crate) struct Seal(Option<Zeroizing<Vec<u8>>>);

impl Seal {
    pub(crate) fn new(key: Option<Vec<u8>>) -> Self {
        Self(key.map(Zeroizing::new))
    }

    fn mac(key: &[u8], channel: &str, event: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(b"chat-bus-event-v1:");
        mac.update(&(channel.len() as u64).to_be_bytes());
        mac.update(channel.as_bytes());
        mac.update(event);
        Some(mac)
    }

    /// The payload to publish `event` (its JSON) on `channel`.
    pub(crate) fn seal(&self, channel: &str, event: &[u8]) -> Vec<u8> {
        match self
            .0
            .as_deref()
            .and_then(|key| Self::mac(key, channel, event))
        {
            Some(mac) => {
                let mut payload = mac.finalize().into_bytes().to_vec();
                payload.extend_from_slice(event);
                payload
            }
            None => event.to_vec(),
        }
    }

    /// The event in `payload`, if it is within bounds and, with a key,
    /// sealed for `channel`.
    pub(crate) fn open<'a>(&self, channel: &str, payload: &'a [u8]) -> Option<&'a [u8]> {
        if payload.len() > MAX_EVENT_BYTES {
            return None;
        }
        let Some(key) = self.0.as_deref() else {
            return Some(payload);
        };
        if payload.len() < TAG {
            return None;
        }
        let (tag, event) = payload.split_at(TAG);
        Self::mac(key, channel, event)?.verify_slice(tag).ok()?;
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_sealed_with_the_key_for_their_channel_open() {
        let seal = Seal::new(Some(vec![1; 32]));
        let sealed = seal.seal("chat:user:1", br#"{"x":1}"#);
        assert_eq!(seal.open("chat:user:1", &sealed), Some(&br#"{"x":1}"#[..]));
        assert_eq!(seal.open("chat:user:2", &sealed), None, "another channel");
        assert_eq!(seal.open("chat:user:1", br#"{"x":1}"#), None, "unsealed");
        let other = Seal::new(Some(vec![2; 32]));
        assert_eq!(other.open("chat:user:1", &sealed), None, "another key");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(seal.open("chat:user:1", &tampered), None);
        let huge = seal.seal("c", &vec![b' '; MAX_EVENT_BYTES]);
        assert_eq!(seal.open("c", &huge), None, "too large");
        let bare = Seal::new(None);
        assert_eq!(bare.open("c", b"{}"), Some(&b"{}"[..]));
        assert_eq!(bare.open("c", &vec![b' '; MAX_EVENT_BYTES + 1]), None);
    }
}
