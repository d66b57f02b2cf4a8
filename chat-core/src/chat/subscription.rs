//! A session's live event stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use super::Chat;
use crate::domain::ClientAddress;
use crate::domain::SessionId;
use crate::error::Result;
use crate::event::EventKind;
use crate::ports::{Action, Delivery, EventStream, Topic};
use crate::session::Session;

/// The live events of one session's user: messages in any of their
/// conversations (from any of their devices), read marks, typing.
///
/// Ends when the session logs out. A [`Delivery::Lagged`] means events may
/// be missing: recover with [`Chat::changes`]. [`Chat::live`] does that,
/// and everything else a transport needs.
pub struct Subscription {
    events: EventStream,
    session: SessionId,
    ended: bool,
}

impl Chat {
    /// Counts one live connection (a WebSocket, or another long-lived
    /// stream) opened by the session's user from `client`, against the
    /// user's limit and the client address's: a transport asks before it
    /// accepts one.
    ///
    /// # Errors
    /// [`ChatError::RateLimited`](crate::ChatError::RateLimited) when either is over its limit.
    pub async fn check_connection(&self, session: &Session, client: &ClientAddress) -> Result<()> {
        let limiter = &self.inner.limiter;
        limiter
            .check(Action::ConnectPerUser, &session.user().id().to_string())
            .await?;
        limiter
            .check(Action::ConnectPerClient, &client.address_key())
            .await
    }

    /// Subscribes to the session user's events. Everything published after
    /// this returns is delivered, so subscribe first, then read the store
    /// (e.g. [`Chat::changes`]) and de-duplicate by position; or let
    /// [`Chat::live`] do it.
    ///
    /// # Errors
    /// [`ChatError::Unavailable`](crate::ChatError::Unavailable) if the bus is down.
    pub async fn subscribe(&self, session: &Session) -> Result<Subscription> {
        let events = self
            .inner
            .bus
            .subscribe(&Topic::user(session.user().id()))
            .await?;
        Ok(Subscription {
            events,
            session: session.id(),
            ended: false,
        })
    }
}

impl Stream for Subscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            match self.events.as_mut().poll_next(cx) {
                Poll::Ready(Some(Delivery::Event(event))) => {
                    if let EventKind::SessionEnded { session } = event.kind() {
                        if *session == self.session {
                            self.ended = true;
                            return Poll::Ready(None);
                        }
                        // Another session of the same user ending is not ours.
                        continue;
                    }
                    return Poll::Ready(Some(Delivery::Event(event)));
                }
                other => return other,
            }
        }
    }
}
