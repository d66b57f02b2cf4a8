//! Presence inside one process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::UserId;
use crate::error::{ChatError, Result};
use crate::ports::Presence;

/// [`Presence`] for a single process: a count of live connections per user.
#[derive(Debug, Default)]
pub struct LocalPresence {
    connections: Mutex<HashMap<UserId, usize>>,
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
