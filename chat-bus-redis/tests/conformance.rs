//! The bus, presence and rate-limiter conformance suites against a real
//! Redis server, with a key prefix of their own per test.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chat_bus_redis::Redis;
use chat_core::{Bus, Presence, RateLimiter};

mod presence {
    use super::*;

    async fn fresh() -> Option<Arc<dyn Presence>> {
        let url = chat_test_support::services::redis().await?;
        let prefix = chat_test_support::redis::prefix("presence-suite");
        let redis = Redis::builder(&url)
            .prefix(prefix)
            .presence_ttl(Duration::from_secs(30))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("Redis answers at {url} but does not connect: {e}"));
        Some(redis.presence())
    }

    chat_core::presence_conformance_suite!(fresh);
}

mod limiter {
    use super::*;

    async fn fresh() -> Option<Arc<dyn RateLimiter>> {
        let url = chat_test_support::services::redis().await?;
        let prefix = chat_test_support::redis::prefix("limiter-suite");
        let limits = chat_core::testkit::limits::suite_limits();
        let redis = Redis::builder(&url)
            .prefix(prefix)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("Redis answers at {url} but does not connect: {e}"));
        Some(Arc::new(redis.limiter(limits)))
    }

    chat_core::limiter_conformance_suite!(fresh);
}

async fn fresh() -> Option<Arc<dyn Bus>> {
    let url = chat_test_support::services::redis().await?;
    let prefix = chat_test_support::redis::prefix("bus");
    let connected = async {
        Redis::builder(&url)
            .prefix(prefix)
            .signing_key(vec![1; 32])
            .connect()
            .await?
            .bus()
            .await
    };
    match connected.await {
        Ok(bus) => Some(Arc::new(bus)),
        Err(error) => panic!("Redis answers at {url} but the bus does not connect: {error}"),
    }
}

chat_core::bus_conformance_suite!(fresh);
