//! The whole bus conformance suite against a real Redis server, with a key
//! prefix of its own per test.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use chat_bus_redis::{RedisBus, RedisBusOptions};
use chat_core::Bus;

struct Fresh(Option<Arc<dyn Bus>>);

impl chat_core::testkit::Fresh<dyn Bus> for Fresh {
    fn get(&self) -> Option<Arc<dyn Bus>> {
        self.0.clone()
    }
}

async fn fresh() -> Fresh {
    let Some(url) = chat_test_support::services::redis().await else {
        return Fresh(None);
    };
    let prefix = chat_test_support::redis::prefix("bus");
    match RedisBus::connect_with(
        RedisBusOptions::new(&url)
            .prefix(prefix)
            .signing_key(vec![1; 32]),
    )
    .await
    {
        Ok(bus) => Fresh(Some(Arc::new(bus))),
        Err(error) => panic!("Redis answers at {url} but the bus does not connect: {error}"),
    }
}

chat_core::bus_conformance_suite!(fresh);
