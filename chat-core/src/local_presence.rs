//! Presence inside one process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::{Timestamp, UserId};
use crate::error::{ChatError, Result};
use crate::ports::Presence;

/// [`Presence`] for a single process: a count of live connections per
/// user, and when each was last active.
#[derive(Debug, Default)]
pub struct LocalPresence {
    connections: Mutex<HashMap<UserId, usize>>,
    activity: Mutex<Activity>,
}

/// When each user was last active; entries older than a day are dropped
/// every few thousand notes.
#[derive(Debug, Default)]
struct Activity {
    last: HashMap<UserId, Timestamp>,
    notes: u32,
}

fn poisoned() -> ChatError {
    ChatError::internal("presence lock poisoned")
}

#[async_trait]
impl Presence for LocalPresence {
    async fn connect(&self, user: UserId) -> Result<bool> {
        let mut connections = self.connections.lock().map_err(|_| poisoned())?;
        let count = connections.entry(user).or_insert(0);
        *count += 1;
        Ok(*count == 1)
    }

    async fn disconnect(&self, user: UserId) -> Result<bool> {
        let mut connections = self.connections.lock().map_err(|_| poisoned())?;
        let Some(count) = connections.get_mut(&user) else {
            return Ok(false);
        };
        *count = count.saturating_sub(1);
        if *count == 0 {
            connections.remove(&user);
            return Ok(true);
        }
        Ok(false)
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>> {
        let connections = self.connections.lock().map_err(|_| poisoned())?;
        Ok(users.iter().map(|u| connections.contains_key(u)).collect())
    }

    async fn touch(&self, user: UserId, at: Timestamp) -> Result<()> {
        let mut activity = self.activity.lock().map_err(|_| poisoned())?;
        let last = activity.last.entry(user).or_insert(at);
        *last = (*last).max(at);
        activity.notes = activity.notes.wrapping_add(1);
        if activity.notes % 4096 == 0 {
            let oldest = at.minus(crate::ports::ACTIVITY_KEPT);
            activity.last.retain(|_, last| *last >= oldest);
        }
        Ok(())
    }

    async fn last_active(&self, users: &[UserId]) -> Result<Vec<Option<Timestamp>>> {
        let activity = self.activity.lock().map_err(|_| poisoned())?;
        Ok(users
            .iter()
            .map(|u| activity.last.get(u).copied())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_connection_comes_online_and_last_goes_offline() {
        let presence = LocalPresence::default();
        let (alice, bob) = (UserId::new(1), UserId::new(2));
        assert!(presence.connect(alice).await.unwrap());
        assert!(!presence.connect(alice).await.unwrap());
        assert_eq!(presence.online(&[alice, bob]).await.unwrap(), [true, false]);
        assert!(!presence.disconnect(alice).await.unwrap());
        assert!(presence.disconnect(alice).await.unwrap());
        assert!(
            !presence.disconnect(alice).await.unwrap(),
            "an extra disconnect is harmless"
        );
        assert_eq!(presence.online(&[alice]).await.unwrap(), [false]);
    }
}

#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use crate::ports::Presence;

    async fn fresh() -> Arc<dyn Presence> {
        Arc::new(super::LocalPresence::default())
    }

    crate::presence_conformance_suite!(fresh);
}
