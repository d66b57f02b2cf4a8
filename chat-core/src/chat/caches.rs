//! What the service remembers so that a send does not ask the store the
//! same question every time: users by name, direct conversations by pair,
//! pairs that do not block each other and accounts that are enabled.
//!
//! The first two answers are for good. Accounts are never renamed or deleted, so a
//! name, once found, names the same user in every process sharing the
//! store; a direct conversation, once created, is the pair's for good.
//! Entries never go stale and need no invalidation. What was not found is
//! not cached (it may exist a moment later). Each cache is bounded and
//! drops its least recently used entry when full.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::domain::{ConversationId, Timestamp, User, UserId, Username};

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

/// How long a good answer (a pair found not to block each other, an
/// account found enabled) is believed without asking the store again: how
/// long a block or a disable made by another process may take to apply
/// here.
pub(super) const UNBLOCKED_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// Keys found, a moment ago, in good standing, so that a stream of calls
/// asks the store once every [`UNBLOCKED_FOR`], not once per call. A bad
/// answer is never remembered (it is asked again each time), and a change
/// made by this process forgets its key at once.
pub(super) struct Believed<K: Hash + Eq> {
    keys: Bounded<K, Timestamp>,
    /// Bumped by every change made here: an answer read before one is not
    /// remembered after it.
    generation: std::sync::atomic::AtomicU64,
}

impl<K: Hash + Eq> Default for Believed<K> {
    fn default() -> Self {
        Self {
            keys: Bounded::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl<K: Hash + Eq> Believed<K> {
    /// The generation to hand back to [`Believed::put`] with an answer
    /// read from now on.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether `key` was found in good standing within [`UNBLOCKED_FOR`]
    /// before `now`.
    pub(super) fn knows(&self, key: &K, now: Timestamp) -> bool {
        let window = i64::try_from(UNBLOCKED_FOR.as_micros()).unwrap_or(i64::MAX);
        self.keys
            .get(key)
            .is_some_and(|at| (0..window).contains(&(now.unix_micros() - at.unix_micros())))
    }

    /// Remembers `key` in good standing as of `now`, an answer read at
    /// `generation`: unless a change was made here since (the answer may
    /// be older than it).
    pub(super) fn put(&self, key: K, now: Timestamp, generation: u64) {
        let mut keys = self.keys.entries.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() == generation {
            keys.put(key, now);
        }
    }

    /// Forgets what was known of `key`, and every answer being read.
    pub(super) fn forget(&self, key: &K) {
        let mut keys = self.keys.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        keys.pop(key);
    }
}

/// Pairs of users found, a moment ago, not to block each other.
#[derive(Default)]
pub(super) struct UnblockedCache(Believed<(UserId, UserId)>);

impl UnblockedCache {
    /// See [`Believed::generation`].
    pub(super) fn generation(&self) -> u64 {
        self.0.generation()
    }

    /// Whether `a` and `b` were found not to block each other within
    /// [`UNBLOCKED_FOR`] before `now`.
    pub(super) fn knows(&self, a: UserId, b: UserId, now: Timestamp) -> bool {
        self.0.knows(&pair(a, b), now)
    }

    /// Remembers that `a` and `b` do not block each other (see
    /// [`Believed::put`]).
    pub(super) fn put(&self, a: UserId, b: UserId, now: Timestamp, generation: u64) {
        self.0.put(pair(a, b), now, generation);
    }

    /// Forgets what was known of `a` and `b`, and every answer being read.
    pub(super) fn forget(&self, a: UserId, b: UserId) {
        self.0.forget(&pair(a, b));
    }
}

/// Accounts found enabled a moment ago: sessions no store holds (a host's
/// token) ask the store once every [`UNBLOCKED_FOR`] per user.
pub(super) type EnabledCache = Believed<UserId>;

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
    fn a_pair_without_blocks_is_believed_for_a_while_and_forgotten_on_demand() {
        let cache = UnblockedCache::default();
        let at = Timestamp::from_unix_micros(1_000_000_000);
        let (a, b) = (UserId::new(1), UserId::new(2));
        assert!(!cache.knows(a, b, at));
        cache.put(b, a, at, cache.generation());
        assert!(cache.knows(a, b, at));
        let later = |d: std::time::Duration| {
            Timestamp::from_unix_micros(at.unix_micros() + i64::try_from(d.as_micros()).unwrap())
        };
        assert!(cache.knows(a, b, later(UNBLOCKED_FOR / 2)));
        assert!(!cache.knows(a, b, later(UNBLOCKED_FOR)));
        cache.forget(a, b);
        assert!(!cache.knows(a, b, at));
        // An answer read before a block made here is not remembered.
        let before = cache.generation();
        cache.forget(UserId::new(8), UserId::new(9));
        cache.put(a, b, at, before);
        assert!(!cache.knows(a, b, at));
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
