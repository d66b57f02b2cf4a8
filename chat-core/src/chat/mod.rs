//! The chat service: every use case, over the ports.

mod accounts;
mod api_keys;
mod blocks;
mod caches;
mod feed;
mod group_moderation;
mod groups;
mod identity;
mod in_flight;
mod live;
mod mentions;
mod messaging;
mod moderation;
mod mutes;
mod offline;
mod policy;
mod presence;
mod read_counts;
mod reports;
mod revisions;
mod subscription;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

pub use accounts::{Login, SignupForm};
pub use feed::FeedPage;
pub use groups::{GROUP_TYPING_LIMIT, GroupForm, GroupView, MemberView};
pub use identity::UserRef;
pub use live::{Item, Live, Resume};
pub use messaging::{Draft, Sending, Sent};
pub use policy::{PolicyFailure, PolicyObserver, PolicyOutcome};
pub use revisions::MAX_REACTIONS;
pub use subscription::Subscription;

use crate::domain::PasswordHash;
use crate::governor_limiter::GovernorLimiter;
use crate::group_commit::GroupCommit;
use crate::local_bus::LocalBus;
use crate::local_presence::LocalPresence;
use crate::ports::{
    AllowAll, Bus, Clock, PasswordHasher, Policy, Presence, RateLimiter, Store, SystemClock,
};
use caches::{EnabledCache, PairCache, UnblockedCache, UserCache};

/// Tunables of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatConfig {
    /// A session unused for this long ends. Default: 7 days.
    pub session_idle_timeout: Duration,
    /// A session ends this long after login, however active. Default: 30 days.
    pub session_absolute_timeout: Duration,
    /// A device token is honoured this long after the login that issued it.
    /// Default: 180 days.
    pub device_lifetime: Duration,
    /// IPv4 client addresses are grouped by a network prefix of this many
    /// bits for the limits per network (IPv6: a client is its /64, a network
    /// its /48). Default: 24.
    pub ipv4_prefix: u8,
    /// The most members a group may have (default 1 000): an add past it
    /// is refused with [`ChatError::TooManyMembers`](crate::ChatError::TooManyMembers).
    pub max_group_members: usize,
    /// How long a group's read marks are gathered before the senders of
    /// what they passed hear "read by N" (default 1 s): one tally of the
    /// group per period, however many members read.
    pub read_count_delay: Duration,
    /// How long the host's [`Policy`](crate::Policy) may take to decide
    /// (default 2 s); past it, the call counts as failed.
    pub policy_timeout: Duration,
    /// What a failed or late policy call means (default: refuse).
    pub policy_failure: PolicyFailure,
    /// How long a member may stay away with a message unread before the
    /// [`OfflineNotifier`](crate::OfflineNotifier) hears of it (default
    /// 30 s); every message of the conversation meanwhile joins the same
    /// notice.
    pub offline_delay: Duration,
    /// Whether notices carry the message's text (default: no; push
    /// payloads travel through third parties).
    pub offline_text: bool,
    /// How recently a member must have shown they are there
    /// ([`Chat::mark_active`]: a page in view, a send, a read) for a live
    /// connection to count as present when offline notices are decided
    /// (default 60 s): an open but idle tab does not keep notices away.
    /// `None`: any live connection counts.
    pub active_window: Option<Duration>,
    /// How long after sending a sender may edit a message (default one
    /// hour); `None`: for good. Deleting one's own message has no window.
    pub edit_window: Option<Duration>,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            session_idle_timeout: Duration::from_secs(7 * 24 * 3600),
            session_absolute_timeout: Duration::from_secs(30 * 24 * 3600),
            device_lifetime: Duration::from_secs(180 * 24 * 3600),
            ipv4_prefix: crate::domain::ClientAddress::DEFAULT_IPV4_PREFIX,
            max_group_members: 1_000,
            read_count_delay: Duration::from_secs(1),
            policy_timeout: Duration::from_secs(2),
            policy_failure: PolicyFailure::Refuse,
            offline_delay: Duration::from_secs(30),
            offline_text: false,
            active_window: Some(Duration::from_secs(60)),
            edit_window: Some(Duration::from_secs(3600)),
        }
    }
}

impl ChatConfig {
    /// Sets the idle timeout.
    pub fn with_session_idle_timeout(mut self, timeout: Duration) -> Self {
        self.session_idle_timeout = timeout;
        self
    }

    /// Sets the absolute timeout.
    pub fn with_session_absolute_timeout(mut self, timeout: Duration) -> Self {
        self.session_absolute_timeout = timeout;
        self
    }

    /// Sets how long device tokens are honoured.
    pub fn with_device_lifetime(mut self, lifetime: Duration) -> Self {
        self.device_lifetime = lifetime;
        self
    }

    /// Sets the IPv4 prefix length (at most 32) client networks are counted by.
    pub fn with_ipv4_prefix(mut self, bits: u8) -> Self {
        self.ipv4_prefix = bits.min(32);
        self
    }

    /// Sets the most members a group may have (at least 2).
    pub fn with_max_group_members(mut self, members: usize) -> Self {
        self.max_group_members = members.max(2);
        self
    }

    /// Sets how long the policy may take, and what its failure means.
    pub fn with_policy_limits(mut self, timeout: Duration, failure: PolicyFailure) -> Self {
        self.policy_timeout = timeout;
        self.policy_failure = failure;
        self
    }

    /// Sets how long a member stays away before a notice, and whether
    /// notices carry the text.
    pub fn with_offline_notices(mut self, delay: Duration, text: bool) -> Self {
        self.offline_delay = delay;
        self.offline_text = text;
        self
    }

    /// Sets how recently a member must have been active for a live
    /// connection to keep offline notices away (`None`: any connection).
    pub fn with_active_window(mut self, window: Option<Duration>) -> Self {
        self.active_window = window;
        self
    }

    /// Sets how long after sending a message may be edited (`None`: for
    /// good).
    pub fn with_edit_window(mut self, window: Option<Duration>) -> Self {
        self.edit_window = window;
        self
    }

    /// Sets how long a group's read marks are gathered before a tally.
    pub fn with_read_count_delay(mut self, delay: Duration) -> Self {
        self.read_count_delay = delay;
        self
    }

    /// How stale a session's last-seen time may get before a request
    /// refreshes it: a write at most once a minute per session.
    fn touch_interval(&self) -> Duration {
        (self.session_idle_timeout / 10).min(Duration::from_secs(60))
    }
}

/// The chat service: accounts, sessions, messages and live events.
///
/// Cheap to clone (one `Arc`); every clone is the same service. Build one
/// with [`Chat::builder`].
///
/// Every method validates its raw input into the domain types, so bad input
/// is a [`ChatError::InvalidInput`](crate::ChatError::InvalidInput) naming the
/// field, and nothing is written unless the whole call succeeds.
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    hasher: Arc<dyn PasswordHasher>,
    limiter: Arc<dyn RateLimiter>,
    clock: Arc<dyn Clock>,
    presence: Arc<dyn Presence>,
    policy: Arc<dyn Policy>,
    /// Who hears of members away, if anyone.
    notifier: Option<Arc<dyn crate::OfflineNotifier>>,
    /// Members away, waiting for their notice.
    away: offline::Away,
    /// Who hears how each policy call went (the transport's metrics).
    policy_observer: std::sync::OnceLock<PolicyObserver>,
    config: ChatConfig,
    /// A hash of a random password, verified against when the username is
    /// unknown so that both failures take the same time.
    dummy_hash: OnceCell<PasswordHash>,
    /// The key of device tokens, read from the store once.
    device_key: OnceCell<crate::device::DeviceKey>,
    /// Password hashes in flight per client address.
    hashing: Arc<in_flight::InFlight>,
    /// Users found by name before: a send's recipient without a store
    /// round trip.
    users: UserCache,
    /// Direct conversations found before: a send's conversation without a
    /// store round trip.
    pairs: PairCache,
    /// Pairs found a moment ago not to block each other: a stream of
    /// direct sends asks the store once every few seconds.
    unblocked: UnblockedCache,
    /// Users found a moment ago with their account enabled: a host's
    /// token asks the store once every few seconds per user.
    enabled: EnabledCache,
    /// The queue that batches appends into the store's transactions.
    appends: GroupCommit,
    /// The store's epoch (see [`Cursor`](crate::Cursor)), read once.
    epoch: OnceCell<u32>,
    /// Groups whose read marks moved since their last tally.
    tallies: read_counts::PendingTallies,
}

impl Chat {
    /// Starts building a service on `store`, with the in-process bus, the
    /// argon2id hasher, the governor limiter and the system clock unless
    /// replaced.
    pub fn builder(store: Arc<dyn Store>) -> ChatBuilder {
        ChatBuilder {
            store,
            bus: None,
            hasher: None,
            limiter: None,
            clock: None,
            presence: None,
            policy: None,
            notifier: None,
            config: ChatConfig::default(),
        }
    }

    /// The service's configuration.
    pub fn config(&self) -> &ChatConfig {
        &self.inner.config
    }

    /// The service's clock. A transport times its own rules by it (frame
    /// rates, when a live connection's session expires), so that they follow
    /// the same time as the service's.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
}

/// Assembles a [`Chat`] from its ports.
#[must_use]
pub struct ChatBuilder {
    store: Arc<dyn Store>,
    bus: Option<Arc<dyn Bus>>,
    hasher: Option<Arc<dyn PasswordHasher>>,
    limiter: Option<Arc<dyn RateLimiter>>,
    clock: Option<Arc<dyn Clock>>,
    presence: Option<Arc<dyn Presence>>,
    policy: Option<Arc<dyn Policy>>,
    notifier: Option<Arc<dyn crate::OfflineNotifier>>,
    config: ChatConfig,
}

impl ChatBuilder {
    /// Tells `notifier` of members away when messages reach them (see
    /// [`ChatConfig::offline_delay`]).
    pub fn offline_notifier(mut self, notifier: Arc<dyn crate::OfflineNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Asks `policy` before sends, group creations and adds, instead of
    /// allowing everything ([`AllowAll`]).
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Uses `bus` instead of a [`LocalBus`].
    pub fn bus(mut self, bus: Arc<dyn Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Uses `hasher` instead of the default (argon2id, with the
    /// `password-accounts` feature).
    pub fn hasher(mut self, hasher: Arc<dyn PasswordHasher>) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// Uses `limiter` instead of a [`GovernorLimiter`] with the default
    /// [`RateLimits`](crate::RateLimits) on the service's clock.
    pub fn limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `presence` instead of a [`LocalPresence`] (share it between
    /// processes along with the bus).
    pub fn presence(mut self, presence: Arc<dyn Presence>) -> Self {
        self.presence = Some(presence);
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: ChatConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds the service.
    pub fn build(self) -> Chat {
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let limiter = self.limiter.unwrap_or_else(|| {
            Arc::new(GovernorLimiter::with_clock(
                crate::RateLimits::default(),
                Arc::clone(&clock),
            ))
        });
        let appends = GroupCommit::new(Arc::clone(&self.store) as _);
        Chat {
            inner: Arc::new(Inner {
                appends,
                store: self.store,
                bus: self.bus.unwrap_or_else(|| Arc::new(LocalBus::default())),
                hasher: self.hasher.unwrap_or_else(default_hasher),
                limiter,
                clock,
                presence: self
                    .presence
                    .unwrap_or_else(|| Arc::new(LocalPresence::default())),
                policy: self.policy.unwrap_or_else(|| Arc::new(AllowAll)),
                notifier: self.notifier,
                away: offline::Away::default(),
                policy_observer: std::sync::OnceLock::new(),
                config: self.config,
                dummy_hash: OnceCell::new(),
                device_key: OnceCell::new(),
                hashing: Arc::default(),
                users: UserCache::default(),
                pairs: PairCache::default(),
                unblocked: UnblockedCache::default(),
                enabled: EnabledCache::default(),
                epoch: OnceCell::new(),
                tallies: Default::default(),
            }),
        }
    }
}

/// The password hasher a builder uses unless given one: argon2id.
#[cfg(feature = "password-accounts")]
fn default_hasher() -> Arc<dyn crate::ports::PasswordHasher> {
    Arc::new(crate::Argon2Hasher::new())
}

/// Without the `password-accounts` feature there is no password hasher
/// unless the builder is given one: signup is refused (`Forbidden`), and
/// password login matches nothing.
#[cfg(not(feature = "password-accounts"))]
fn default_hasher() -> Arc<dyn crate::ports::PasswordHasher> {
    Arc::new(NoPasswords)
}

#[cfg(not(feature = "password-accounts"))]
struct NoPasswords;

#[cfg(not(feature = "password-accounts"))]
#[async_trait::async_trait]
impl crate::ports::PasswordHasher for NoPasswords {
    async fn hash(&self, _: &crate::Password) -> crate::Result<crate::PasswordHash> {
        // Password accounts are not built in: refused, not a failure.
        Err(crate::ChatError::Forbidden)
    }

    async fn verify(&self, _: &crate::Password, _: &crate::PasswordHash) -> crate::Result<bool> {
        Ok(false)
    }
}
