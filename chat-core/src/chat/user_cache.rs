//! Users already looked up by name, so that a send does not ask the store
//! who its recipient is every time.
//!
//! Accounts are never renamed or deleted, so a name, once found, names the
//! same user for good, in every process sharing the store: entries never
//! go stale and need no invalidation. Names not found are not cached (the
//! account may be created a moment later). The cache is bounded and drops
//! the least recently used name when full.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::domain::{User, Username};

/// How many names the cache holds.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(16_384).unwrap();

pub(super) struct UserCache {
    users: Mutex<LruCache<String, User>>,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            users: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl UserCache {
    /// The user named `username`, if looked up before.
    pub(super) fn get(&self, username: &Username) -> Option<User> {
        // A poisoned lock only means a panic elsewhere mid-access; the map
        // itself is always whole, so keep using it.
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.get(&username.canonical()).cloned()
    }

    /// Remembers `user`, found under its own name.
    pub(super) fn put(&self, user: &User) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.put(user.username().canonical(), user.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn user(id: i64, name: &str) -> User {
        User::new(UserId::new(id), Username::parse(name).unwrap())
    }

    #[test]
    fn finds_a_user_by_any_spelling_of_the_name() {
        let cache = UserCache::default();
        cache.put(&user(7, "Alice"));
        let found = cache.get(&Username::parse("alice").unwrap()).unwrap();
        assert_eq!(found.id(), UserId::new(7));
        assert!(cache.get(&Username::parse("bob").unwrap()).is_none());
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = UserCache::default();
        for i in 0..CAPACITY.get() as i64 + 10 {
            cache.put(&user(i, &format!("user{i}")));
        }
        assert_eq!(cache.users.lock().unwrap().len(), CAPACITY.get());
        assert!(cache.get(&Username::parse("user0").unwrap()).is_none());
        assert!(cache.get(&Username::parse("user16393").unwrap()).is_some());
    }
}
