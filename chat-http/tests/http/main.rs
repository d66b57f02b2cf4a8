//! The adapter over real sockets: a real server on a loopback port, real
//! HTTP and WebSocket clients. One test binary, so the workspace links it
//! once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod api;
mod browser_safety;
mod defaults;
mod events;
mod feed;
mod groups;
mod headers;
mod lifecycle;
mod limits;
mod logs;
mod metrics;
mod moderation;
mod mount;
mod mutes;
mod policy;
mod recovery;
mod server_api;
mod tls;
mod tokens;
mod webhook;
mod websocket;
