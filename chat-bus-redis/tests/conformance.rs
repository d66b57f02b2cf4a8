//! The bus, presence and rate-limiter conformance suites against a real
//! Redis server, with a key prefix of their own per test.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chat_bus_redis::{RedisBus, RedisBusOptions, RedisLimiter, RedisPresence};
use chat_core::{Bus, Presence, RateLimiter};

mod presence {
    use super::*;

    async fn fresh() -> Option<Arc<dyn Presence>> {
        let url = chat_test_support::services::redis().await?;
        let prefix = chat_test_support::redis::prefix("presence-suite");
        let presence = RedisPresence::connect(&url, &prefix, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("Redis answers at {url} but presence does not: {e}"));
        Some(presence)
    }

    chat_core::presence_conformance_suite!(fresh);
}

mod limiter {
    use super::*;

    async fn fresh() -> Option<Arc<dyn RateLimiter>> {
        let url = chat_test_support::services::redis().await?;
        let prefix = chat_test_support::redis::prefix("limiter-suite");
        let limits = chat_core::testkit::limits::suite_limits();
        let limiter = RedisLimiter::connect(&url, &prefix, limits)
            .await
            .unwrap_or_else(|e| panic!("Redis answers at {url} but the limiter does not: {e}"));
        Some(Arc::new(limiter))
    }

    chat_core::limiter_conformance_suite!(fresh);
}

async fn fresh() -> Option<Arc<dyn Bus>> {
    let url = chat_test_support::services::redis().await?;
    let prefix = chat_test_support::redis::prefix("bus");
    match RedisBus::connect_with(
        RedisBusOptions::new(&url)
            .prefix(prefix)
            .signing_key(vec![1; 32]),
    )
    .await
    {
        Ok(bus) => Some(Arc::new(bus)),
        Err(error) => panic!("Redis answers at {url} but the bus does not connect: {error}"),
    }
}

chat_core::bus_conformance_suite!(fresh);
