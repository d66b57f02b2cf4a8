//! What the service remembers so that a send does not ask the store the
//! same question every time: users by name, direct conversations by pair.
//!
//! Both answers are for good. Accounts are never renamed or deleted, so a
//! name, once found, names the same user in every process sharing the
//! store; a direct conversation, once created, is the pair's for good.
//! Entries never go stale and need no invalidation. What was not found is
//! not cached (it may exist a moment later). Each cache is bounded and
//! drops its least recently used entry when full.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::domain::{ConversationId, User, UserId, Username};

/// How many entries each cache holds.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(16_384).unwrap();

/// A bounded map of answers that never go stale.
struct Bounded<K: Hash + Eq, V> {
    entries: Mutex<LruCache<K, V>>,
}

impl<K: Hash + Eq, V: Clone> Default for Bounded<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Bounded<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        // A poisoned lock only means a panic elsewhere mid-access; the map
        // itself is always whole, so keep using it.
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).cloned()
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.put(key, value);
    }
}

/// Users found by name.
#[derive(Default)]
pub(super) struct UserCache(Bounded<String, User>);

impl UserCache {
    /// The user named `username`, if looked up before.
    pub(super) fn get(&self, username: &Username) -> Option<User> {
        self.0.get(&username.canonical())
    }

    /// Remembers `user`, found under its own name.
    pub(super) fn put(&self, user: &User) {
        self.0.put(user.username().canonical(), user.clone());
    }
}

/// Direct conversations found by their pair of members.
#[derive(Default)]
pub(super) struct PairCache(Bounded<(UserId, UserId), ConversationId>);

impl PairCache {
    /// The direct conversation of `a` and `b`, if looked up before.
    pub(super) fn get(&self, a: UserId, b: UserId) -> Option<ConversationId> {
        self.0.get(&pair(a, b))
    }

    /// Remembers the direct conversation of `a` and `b`.
    pub(super) fn put(&self, a: UserId, b: UserId, conversation: ConversationId) {
        self.0.put(pair(a, b), conversation);
    }
}

/// The pair in one order, whoever asks.
fn pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn finds_a_pair_in_either_order() {
        let cache = PairCache::default();
        cache.put(UserId::new(2), UserId::new(1), ConversationId::new(9));
        assert_eq!(
            cache.get(UserId::new(1), UserId::new(2)),
            Some(ConversationId::new(9))
        );
        assert_eq!(cache.get(UserId::new(1), UserId::new(3)), None);
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = UserCache::default();
        for i in 0..CAPACITY.get() as i64 + 10 {
            cache.put(&user(i, &format!("user{i}")));
        }
        assert_eq!(cache.0.entries.lock().unwrap().len(), CAPACITY.get());
        assert!(cache.get(&Username::parse("user0").unwrap()).is_none());
        assert!(cache.get(&Username::parse("user16393").unwrap()).is_some());
    }
}
