//! The ports: what the chat service needs from the outside world.
//!
//! Every port is an object-safe `async_trait` so that backends can be chosen
//! at run time (from a URL) and held as `Arc<dyn Port>`.

mod bus;
mod clock;
mod hasher;
mod limiter;
mod notifier;
mod policy;
mod presence;
mod store;

pub use bus::{Bus, Delivery, EventStream, Topic};
pub use clock::{Clock, SystemClock};
pub use hasher::PasswordHasher;
pub use limiter::{Action, RateLimiter};
pub use notifier::{OfflineNotice, OfflineNotifier};
pub use policy::{AllowAll, Policy, Proposal, Verdict};
pub use presence::{ACTIVITY_KEPT, Presence};
pub use store::{
    ApiKeyStore, Appended, ConversationQuery, ConversationStore, ExternalUser, GroupChange,
    GroupListing, GroupStore, HistoryQuery, MessageStore, ModerationStore, NewApiKey, NewGroup,
    NewUser, Page, PageLimit, ReactionChange, ReadMark, Revision, RevisionKind, SessionRecord,
    SessionStore, Store, StoredUser, UserStore,
};
