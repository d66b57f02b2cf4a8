//! Counters of what an operator watches, in the Prometheus text format.

#[cfg(not(feature = "metrics"))]
pub(crate) use off::{Counter, Gauge, Histogram, Registry, exponential_buckets};
#[cfg(feature = "metrics")]
use prometheus_client::encoding::text::encode;
#[cfg(feature = "metrics")]
pub(crate) use prometheus_client::metrics::counter::Counter;
#[cfg(feature = "metrics")]
use prometheus_client::metrics::gauge::Gauge;
#[cfg(feature = "metrics")]
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
#[cfg(feature = "metrics")]
use prometheus_client::registry::Registry;

/// The adapter's counters. Cheap to bump: each is one atomic add.
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) login_failures: Counter,
    pub(crate) rate_limited: Counter,
    pub(crate) origin_refused: Counter,
    pub(crate) csrf_refused: Counter,
    pub(crate) unavailable: Counter,
    pub(crate) ws_open: Gauge,
    pub(crate) ws_refused: Counter,
    pub(crate) ws_oversize: Counter,
    pub(crate) ws_flood: Counter,
    pub(crate) ws_slow_consumer: Counter,
    pub(crate) messages_sent: Counter,
    pub(crate) connections_open: Gauge,
    pub(crate) connections_refused: Counter,
    pub(crate) policy_seconds: Histogram,
    pub(crate) policy_refused: Counter,
    pub(crate) policy_failed: Counter,
}

impl Metrics {
    /// Counts a refused request in the counter its report names.
    pub(crate) fn count(&self, counted: crate::error::Counted) {
        use crate::error::Counted as C;
        let counter = match counted {
            C::LoginFailure => &self.login_failures,
            C::RateLimited => &self.rate_limited,
            C::Unavailable => &self.unavailable,
            C::OriginRefused => &self.origin_refused,
            C::CsrfRefused => &self.csrf_refused,
            C::SocketRefused => &self.ws_refused,
        };
        counter.inc();
    }

    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("chat");
        let mut counter = |name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let login_failures = counter("login_failures", "Failed login attempts");
        let rate_limited = counter(
            "rate_limited",
            "Requests and frames refused by a rate limit",
        );
        let origin_refused = counter(
            "origin_refused",
            "Requests and upgrades refused for their origin",
        );
        let csrf_refused = counter(
            "csrf_refused",
            "Cookie requests refused for a missing or wrong CSRF token",
        );
        let unavailable = counter(
            "unavailable",
            "Calls that failed because a dependency was down",
        );
        let ws_refused = counter(
            "websocket_refused",
            "WebSocket upgrades refused for too many open sockets",
        );
        let ws_oversize = counter(
            "websocket_oversize",
            "WebSockets closed for an oversize message",
        );
        let ws_flood = counter("websocket_flood", "WebSockets closed for flooding");
        let ws_slow_consumer = counter(
            "websocket_slow_consumer",
            "WebSockets closed for reading too slowly",
        );
        let messages_sent = counter("messages_sent", "Messages stored and published");
        let connections_refused = counter(
            "connections_refused",
            "Connections closed at once because the server was at its connection cap",
        );
        let policy_refused = counter(
            "policy_refused",
            "Actions the host application's policy refused",
        );
        let policy_failed = counter(
            "policy_failed",
            "Policy calls that failed or did not answer in time",
        );
        // 0.5 ms to about 4 s.
        let policy_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register(
            "policy_seconds",
            "How long the host application's policy took to decide",
            policy_seconds.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Open connections (HTTP and WebSocket)",
            connections_open.clone(),
        );
        let ws_open = Gauge::default();
        registry.register("websockets_open", "Open WebSockets", ws_open.clone());
        Self {
            registry,
            login_failures,
            rate_limited,
            origin_refused,
            csrf_refused,
            unavailable,
            ws_open,
            ws_refused,
            ws_oversize,
            ws_flood,
            ws_slow_consumer,
            messages_sent,
            connections_open,
            connections_refused,
            policy_seconds,
            policy_refused,
            policy_failed,
        }
    }

    /// Counts the webhook's deliveries too.
    pub(crate) fn register_webhook(&mut self, counters: &crate::webhook::WebhookCounters) {
        self.registry.register(
            "webhook_sent",
            "Webhook deliveries taken by the receiver",
            counters.sent.clone(),
        );
        self.registry.register(
            "webhook_retried",
            "Webhook attempts that failed and were retried",
            counters.retried.clone(),
        );
        self.registry.register(
            "webhook_dropped",
            "Webhook deliveries given up (attempts spent, or the queue full)",
            counters.dropped.clone(),
        );
    }

    /// Records a policy call (the service's [`chat_core::PolicyObserver`]).
    pub(crate) fn policy_call(&self, took: std::time::Duration, outcome: chat_core::PolicyOutcome) {
        self.policy_seconds.observe(took.as_secs_f64());
        match outcome {
            chat_core::PolicyOutcome::Refused => self.policy_refused.inc(),
            chat_core::PolicyOutcome::Failed => self.policy_failed.inc(),
            _ => 0,
        };
    }

    /// Everything, in the Prometheus text exposition format.
    #[cfg(feature = "metrics")]
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

/// Built without the `metrics` feature: counters that count nothing, so
/// that the code that bumps them is the same either way.
#[cfg(not(feature = "metrics"))]
mod off {
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Counter;

    impl Counter {
        pub(crate) fn inc(&self) -> u64 {
            0
        }
    }

    #[derive(Clone, Debug, Default)]
    pub(crate) struct Gauge;

    impl Gauge {
        pub(crate) fn inc(&self) -> i64 {
            0
        }

        pub(crate) fn dec(&self) -> i64 {
            0
        }
    }

    #[derive(Clone, Debug)]
    pub(crate) struct Histogram;

    impl Histogram {
        pub(crate) fn new(_: impl Iterator<Item = f64>) -> Self {
            Self
        }

        pub(crate) fn observe(&self, _: f64) {}
    }

    pub(crate) fn exponential_buckets(_: f64, _: f64, _: u16) -> std::iter::Empty<f64> {
        std::iter::empty()
    }

    pub(crate) struct Registry;

    impl Registry {
        pub(crate) fn with_prefix(_: &str) -> Self {
            Self
        }

        pub(crate) fn register<M>(&mut self, _: &str, _: &str, _: M) {}
    }
}
