//! # chat-client
//!
//! A client of the chat's public protocol (`docs/api.md`,
//! `docs/protocol.md`), for Rust programs that talk to a chat server:
//! bots, back ends, tests, load generators.
//!
//! - [`Client`] speaks the JSON API: signup, login (or a token your
//!   application signed), and a [`Session`]'s calls (send, groups,
//!   history).
//! - [`Session::live`] opens a [`Live`] connection: a WebSocket that
//!   reconnects with jittered back-off, resumes from the cursor of the last
//!   change it delivered (so nothing is lost across a drop, and messages
//!   replayed twice are dropped by id), and keeps an outbox of sends that
//!   goes out again under the same `client_id` until each is acknowledged
//!   (so a send is stored once however often it is resent).
//! - Frames are typed: [`ServerEvent`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), chat_client::Error> {
//! use chat_client::{Client, LiveEvent, ServerEvent, To};
//!
//! let client = Client::new("http://127.0.0.1:8080")?;
//! let alice = client.login("alice", "correct horse battery").await?;
//! let mut live = alice.live().await?;
//! live.send(To::User("bob".into()), "hi bob").await?;
//! while let Some(event) = live.next().await {
//!     if let LiveEvent::Event(ServerEvent::Message { message, .. }) = event {
//!         println!("{}: {}", message.from, message.text);
//!     }
//! }
//! # Ok(()) }
//! ```

mod api;
mod error;
mod events;
mod live;

pub use api::{Client, Session};
pub use error::{ApiError, Error};
pub use events::{Message, Quote, Reaction, ReadCount, ServerEvent, Thread, User};
pub use live::{Live, LiveEvent, LiveOptions, To};
