//! Who is online, and telling the people who care.

use tracing::warn;

use super::Chat;
use crate::domain::{Timestamp, UserId};
use crate::error::Result;
use crate::event::{Event, EventKind};
use crate::ports::Topic;
use crate::session::Session;

impl Chat {
    /// Records a live connection of the session's user (a WebSocket). When
    /// it is their first anywhere, tells the people they have conversations
    /// with that they are online. Pair it with [`Chat::disconnected`].
    ///
    /// # Errors
    /// What the presence backend reports.
    pub async fn connected(&self, session: &Session) -> Result<()> {
        if self.inner.presence.connect(session.user().id()).await? {
            self.announce_presence(session, true).await;
        }
        self.mark_active(session).await
    }

    /// Notes that the session's user is there now (their page is in view,
    /// they sent, read or typed): for
    /// [`ChatConfig::active_window`](super::ChatConfig::active_window) after, their live connections
    /// count as present, and offline notices wait. A transport calls it
    /// when its client says so, at most every few seconds per connection.
    ///
    /// # Errors
    /// What the presence backend reports.
    pub async fn mark_active(&self, session: &Session) -> Result<()> {
        let now = self.inner.clock.now();
        self.inner.presence.touch(session.user().id(), now).await
    }

    /// Whether each of `users` is there to read what reaches them at `at`
    /// (now, or a moment to come): online now, and (with an
    /// [`active_window`](super::ChatConfig::active_window)) their last sign
    /// still within the window at `at`.
    pub(super) async fn present_at(&self, users: &[UserId], at: Timestamp) -> Result<Vec<bool>> {
        let online = self.inner.presence.online(users).await?;
        let Some(window) = self.inner.config.active_window else {
            return Ok(online);
        };
        if !online.contains(&true) {
            return Ok(online);
        }
        let since = at.minus(window);
        let active = self.inner.presence.last_active(users).await?;
        Ok(online
            .into_iter()
            .zip(active)
            .map(|(online, active)| online && active.is_some_and(|last| last > since))
            .collect())
    }

    /// Records the end of a live connection; when it was the user's last,
    /// tells their conversation peers they went offline.
    ///
    /// # Errors
    /// What the presence backend reports.
    pub async fn disconnected(&self, session: &Session) -> Result<()> {
        if self.inner.presence.disconnect(session.user().id()).await? {
            self.announce_presence(session, false).await;
        }
        Ok(())
    }

    /// Whether each of `users` is online.
    ///
    /// # Errors
    /// What the presence backend reports.
    pub async fn online(&self, users: &[UserId]) -> Result<Vec<bool>> {
        self.inner.presence.online(users).await
    }

    async fn announce_presence(&self, session: &Session, online: bool) {
        let peers = match self
            .inner
            .store
            .conversation_peers(session.user().id())
            .await
        {
            Ok(peers) => peers,
            Err(error) => {
                warn!(%error, "could not list whom to tell about a presence change");
                return;
            }
        };
        if peers.is_empty() {
            return;
        }
        let topics: Vec<Topic> = peers.into_iter().map(Topic::user).collect();
        let event = Event::new(EventKind::Presence {
            user: session.user().clone(),
            online,
        });
        if let Err(error) = self.inner.bus.publish(&topics, event).await {
            warn!(%error, "could not announce a presence change");
        }
    }
}
