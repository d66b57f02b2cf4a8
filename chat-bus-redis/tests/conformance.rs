//! The whole bus conformance suite against a real Redis server, with a key
//! prefix of its own per test.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chat_bus_redis::{RedisBus, RedisBusOptions};
use chat_core::Bus;

struct Fresh(Option<Arc<dyn Bus>>);

impl chat_core::testkit::Fresh<dyn Bus> for Fresh {
    fn get(&self) -> Option<Arc<dyn Bus>> {
        self.0.clone()
    }
}

async fn fresh() -> Fresh {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url =
        std::env::var("CHAT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!(
        "chat-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    match RedisBus::connect_with(RedisBusOptions::new(&url).prefix(prefix)).await {
        Ok(bus) => Fresh(Some(Arc::new(bus))),
        Err(error)
            if std::env::var("CHAT_TEST_REQUIRE_SERVICES")
                .is_ok_and(|v| !v.is_empty() && v != "0") =>
        {
            panic!("Redis is required but not usable at {url}: {error}")
        }
        Err(error) => {
            eprintln!(
                "skipped: no Redis at {url} ({error}); set CHAT_TEST_REQUIRE_SERVICES=1 to fail instead"
            );
            Fresh(None)
        }
    }
}

chat_core::bus_conformance_suite!(fresh);
