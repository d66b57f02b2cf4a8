//! Offline notices as webhooks: an HTTP `POST` of a JSON body to the host
//! application, signed the way GitHub and Stripe sign theirs, retried with
//! backoff, from a bounded queue.
//!
//! Each delivery carries `Chat-Webhook-Id` (the notice's stable id: the
//! same on every attempt, so that a receiver drops duplicates),
//! `Chat-Webhook-Attempt` (1, 2, …) and
//! `Chat-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//! under the shared secret. A receiver recomputes the HMAC over the raw
//! body, compares in constant time, and refuses a `t` more than five
//! minutes from its clock (each attempt is signed anew).
//!
//! Delivery is best effort, retried: a notice may arrive more than once
//! (drop repeated ids), and is lost when its attempts run out, when the
//! queue is full, or when the server stops with it queued (the queue is in
//! memory). A slot of the delivery concurrency is held for an attempt,
//! never for the wait before a retry.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Counter;
use async_trait::async_trait;
use bytes::Bytes;
use chat_core::{OfflineNotice, OfflineNotifier};
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::StatusCode;
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};
use zeroize::Zeroizing;

use crate::error::SetupError;
use crate::outbound::Endpoint;

/// How a webhook is delivered.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Where to `POST` (`http://` or `https://`).
    pub url: String,
    /// The shared secret the signature is made with.
    pub secret: Zeroizing<Vec<u8>>,
    /// How long one attempt may take (default 10 s).
    pub timeout: Duration,
    /// How many attempts a delivery gets (default 8).
    pub attempts: u32,
    /// The wait before the first retry (default 1 s), doubled after each,
    /// up to `max_retry` (default 5 min), each wait jittered down to half.
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// How many deliveries may wait (default 10 000); past it, new ones
    /// are dropped and counted.
    pub queue: usize,
    /// How many deliveries are in flight at once (default 8).
    pub concurrency: usize,
}

impl WebhookConfig {
    /// Deliveries to `url` signed with `secret`, with the defaults.
    pub fn new(url: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            url: url.into(),
            secret: Zeroizing::new(secret),
            timeout: Duration::from_secs(10),
            attempts: 8,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
            queue: 10_000,
            concurrency: 8,
        }
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The webhook's counters, registered in `/metrics` by the adapter it is
/// given to ([`HttpConfig::webhook`](crate::HttpConfig::webhook)).
#[derive(Clone, Default)]
pub(crate) struct WebhookCounters {
    pub(crate) sent: Counter,
    pub(crate) retried: Counter,
    pub(crate) dropped: Counter,
}

/// Offline notices delivered as signed webhooks: an [`OfflineNotifier`]
/// to give to [`ChatBuilder::offline_notifier`](chat_core::ChatBuilder::offline_notifier).
pub struct Webhook {
    queue: mpsc::Sender<OfflineNotice>,
    pub(crate) counters: WebhookCounters,
    /// `scheme://host:port`, for logs.
    destination: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({})", self.destination)
    }
}

impl std::fmt::Display for Webhook {
    /// Where deliveries go, without path or query (which may hold a
    /// secret of the receiver's).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.destination)
    }
}

/// The JSON body of an offline notice.
#[derive(Serialize)]
struct OfflineBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    recipient: Person<'a>,
    conversation_id: i64,
    message_id: i64,
    sender: Person<'a>,
    messages: u32,
    unread_total: u64,
    sent_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(Serialize)]
struct Person<'a> {
    id: i64,
    username: &'a str,
    /// The host's id, for a user the host brought.
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<&'a str>,
}

/// What one delivery needs: where, how, and the counters.
struct Target {
    /// Attempts in flight: a delivery holds one only while it attempts.
    slots: Semaphore,
    endpoint: Endpoint,
    config: WebhookConfig,
    counters: WebhookCounters,
}

impl Webhook {
    /// Starts the webhook's delivery task (on the current tokio runtime).
    ///
    /// # Errors
    /// [`SetupError::Webhook`] for a URL that is not `http(s)://host…`, or
    /// TLS roots that cannot be loaded for an `https` one.
    pub fn start(config: WebhookConfig) -> Result<Arc<Self>, SetupError> {
        let endpoint = Endpoint::parse(&config.url)
            .map_err(|reason| SetupError::Webhook(format!("the webhook URL: {reason}")))?;
        let counters = WebhookCounters::default();
        let destination = endpoint.destination();
        let (queue, mut waiting) = mpsc::channel(config.queue.max(1));
        let target = Arc::new(Target {
            slots: Semaphore::new(config.concurrency.max(1)),
            endpoint,
            counters: counters.clone(),
            config,
        });
        tokio::spawn(async move {
            // At most the queue's bound of deliveries at once (each holds
            // its notice, and a slot only while it attempts).
            let waiting_deliveries = Arc::new(Semaphore::new(target.config.queue.max(1)));
            while let Some(notice) = waiting.recv().await {
                let Ok(held) = Arc::clone(&waiting_deliveries).acquire_owned().await else {
                    return;
                };
                let target = Arc::clone(&target);
                tokio::spawn(async move {
                    target.deliver(&notice).await;
                    drop(held);
                });
            }
        });
        Ok(Arc::new(Self {
            queue,
            counters,
            destination,
        }))
    }
}

#[async_trait]
impl OfflineNotifier for Webhook {
    async fn notify(&self, notice: OfflineNotice) {
        if self.queue.try_send(notice).is_err() {
            self.counters.dropped.inc();
            warn!("webhook queue full: an offline notice is dropped");
        }
    }
}

impl Target {
    /// Delivers `notice`, retrying until it is taken or the attempts run out.
    async fn deliver(&self, notice: &OfflineNotice) {
        let body = OfflineBody {
            kind: "message.offline",
            id: &notice.id,
            recipient: Person {
                id: notice.recipient.id().get(),
                username: notice.recipient.username().as_str(),
                external_id: notice.recipient_external_id.as_ref().map(|id| id.as_str()),
            },
            conversation_id: notice.conversation.get(),
            message_id: notice.message.get(),
            sender: Person {
                id: notice.sender.id().get(),
                username: notice.sender.username().as_str(),
                external_id: None,
            },
            messages: notice.messages,
            unread_total: notice.unread_total,
            sent_at: notice.sent_at.to_rfc3339(),
            text: notice.text.as_ref().map(|t| t.as_str()),
        };
        let Ok(body) = serde_json::to_vec(&body) else {
            return;
        };
        let body = Bytes::from(body);
        let attempts = self.config.attempts.max(1);
        for attempt in 1..=attempts {
            let outcome = {
                let Ok(_slot) = self.slots.acquire().await else {
                    return;
                };
                self.post(&notice.id, attempt, body.clone()).await
            };
            let failure = match outcome {
                Ok(status) if status.is_success() => {
                    self.counters.sent.inc();
                    debug!(id = notice.id, attempt, "webhook delivered");
                    return;
                }
                // The receiver refuses this delivery for good: asking
                // again would get the same answer.
                Ok(status)
                    if status.is_client_error()
                        && status != StatusCode::REQUEST_TIMEOUT
                        && status != StatusCode::TOO_MANY_REQUESTS =>
                {
                    self.counters.dropped.inc();
                    warn!(id = notice.id, attempt, %status, "webhook refused by the receiver");
                    return;
                }
                Ok(status) => format!("answered {status}"),
                Err(error) => error,
            };
            if attempt == attempts {
                self.counters.dropped.inc();
                warn!(id = notice.id, attempt, failure, "webhook given up");
                return;
            }
            self.counters.retried.inc();
            debug!(id = notice.id, attempt, failure, "webhook to be retried");
            tokio::time::sleep(self.backoff(attempt)).await;
        }
    }

    /// The wait after failed attempt `attempt`: doubling from the first,
    /// up to the longest, jittered to between half and all of it.
    fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self
            .config
            .first_retry
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let wait = doubled.min(self.config.max_retry);
        // Jitter from the standard library's random hashing keys: no need
        // for a cryptographic generator to spread retries.
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let fraction = 0.5 + (random % 1_000) as f64 / 2_000.0;
        wait.mul_f64(fraction)
    }

    /// One attempt: a fresh connection, one signed `POST`, within the
    /// timeout.
    async fn post(&self, id: &str, attempt: u32, body: Bytes) -> Result<StatusCode, String> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let signature = sign(&self.config.secret, stamp, &body);
        let request = self
            .endpoint
            .request(hyper::Method::POST)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "chat-server webhook")
            .header("chat-webhook-id", id)
            .header("chat-webhook-attempt", attempt.to_string())
            .header(
                "chat-webhook-signature",
                format!("t={stamp},v1={signature}"),
            )
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let (status, _) = self.endpoint.send(request, 0, self.config.timeout).await?;
        Ok(status)
    }
}

/// The hex HMAC-SHA256 of `"<stamp>.<body>"` under `secret`.
pub fn sign(secret: &[u8], stamp: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(stamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_stamp_and_body() {
        // RFC 4231's first case, with the message split as "<t>.<body>".
        let key = [0x0b_u8; 20];
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(b"12.{}");
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sign(&key, 12, b"{}"), expected);
        assert_eq!(sign(&key, 12, b"{}").len(), 64);
        assert_ne!(sign(&key, 13, b"{}"), expected);
    }

    #[tokio::test]
    async fn only_http_and_https_urls_with_a_host_are_taken() {
        for bad in [
            "ftp://example.com/",
            "not a url",
            "/relative",
            "https://user:secret@example.com/hook",
        ] {
            assert!(
                Webhook::start(WebhookConfig::new(bad, b"s".to_vec())).is_err(),
                "{bad}"
            );
        }
        assert!(
            Webhook::start(WebhookConfig::new("http://127.0.0.1:9/hook", b"s".to_vec())).is_ok()
        );
    }
}
