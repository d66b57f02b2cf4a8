//! # chat-test-support
//!
//! What the tests of several chat crates share, written once:
//!
//! - [`services`]: whether the real PostgreSQL and Redis servers are there,
//!   and what a test does when one is not (skip, saying so where the test
//!   runner shows it; or fail, in CI).
//! - [`postgres`] and [`redis`]: a fresh schema or database per test, key
//!   prefixes, and a Redis server of a test's own that it can stop and start.
//! - [`server`]: the adapter served in process on a loopback port, built
//!   with the limits a test asks for (generous, or the real defaults).
//! - [`process`]: the reference `chat-server` binary as a child process.
//! - [`client`]: the HTTP and WebSocket client helpers every server test uses.
//! - [`faults`]: a store that fails or holds chosen calls on purpose.
//! - [`tls`]: a self-signed certificate and a client that trusts it.
//! - [`upgrade`]: what a release's database answered, recorded, so that a
//!   later release can prove it migrates that database without loss.
//!
//! Not published; every item panics on what would be a failed test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

pub mod client;
pub mod faults;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod server;
pub mod services;
pub mod tls;
pub mod upgrade;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use chat_core::testkit::{ManualClock, PASSWORD, generous_limits};
pub use client::{
    Client, Login, Ws, expect_close, expect_frame, next_frame, raw, send_frame, try_send_frame,
};
pub use server::TestServer;

/// The longest a test waits for something that must happen.
pub const WAIT: Duration = Duration::from_secs(15);

/// A name unique to this process and call: for schemas, databases and key
/// prefixes that tests running side by side must not share.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits, bounded by [`WAIT`], until `condition` holds; polls every 20 ms.
///
/// For state that has no event to wait on (a counter of open sockets); a
/// frame or a message is awaited directly instead.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The time fixtures and defaults tests start at: 2026-01-01T00:00:00Z.
pub const EPOCH_MICROS: i64 = 1_767_225_600_000_000;
