//! At most a few password hashes in flight per client address: a flood
//! from one client then holds only that many places in the hashing queue
//! (which serves in order), so it cannot starve everyone else's logins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{ChatError, Result};

/// How many hashes one client address may have waiting or running.
pub(crate) const PER_CLIENT: usize = 2;

/// The clients with hashes in flight, and how many each.
#[derive(Default)]
pub(crate) struct InFlight(Mutex<HashMap<String, usize>>);

/// One hash in flight; its place is given back when dropped. Owned, so that
/// it can stay with the hash when the request that asked for it is gone.
pub(crate) struct Entered {
    set: Arc<InFlight>,
    key: String,
}

impl InFlight {
    /// Takes a place for `key`.
    ///
    /// # Errors
    /// [`ChatError::RateLimited`] (retry in a second) when the client has
    /// [`PER_CLIENT`] hashes in flight already.
    pub(crate) fn enter(self: &Arc<Self>, key: String) -> Result<Entered> {
        let mut clients = self
            .0
            .lock()
            .map_err(|_| ChatError::internal("in-flight lock poisoned"))?;
        let count = clients.entry(key.clone()).or_insert(0);
        if *count >= PER_CLIENT {
            return Err(ChatError::RateLimited {
                retry_after: Duration::from_secs(1),
            });
        }
        *count += 1;
        Ok(Entered {
            set: Arc::clone(self),
            key,
        })
    }

    /// How many clients have hashes in flight.
    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.0.lock().map_or(0, |c| c.len())
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Ok(mut clients) = self.set.0.lock()
            && let Some(count) = clients.get_mut(&self.key)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_holds_at_most_two_places_and_gives_them_back() {
        let set = Arc::new(InFlight::default());
        let one = set.enter("a".into()).unwrap();
        let two = set.enter("a".into()).unwrap();
        assert!(matches!(
            set.enter("a".into()),
            Err(ChatError::RateLimited { .. })
        ));
        let other = set.enter("b".into()).unwrap();
        drop(one);
        let three = set.enter("a".into()).unwrap();
        drop((two, three, other));
        assert_eq!(set.clients(), 0, "nothing is kept once done");
    }
}
