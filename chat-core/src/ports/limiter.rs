use async_trait::async_trait;

use crate::error::Result;

/// What a rate limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Login attempts against one username from clients it does not know.
    LoginPerUsername,
    /// Login attempts from one device that logged in before (its token).
    LoginPerDevice,
    /// Login attempts from one client address (or other key the transport
    /// chooses).
    LoginPerClient,
    /// Login attempts from one network (an IPv6 /48, an IPv4 prefix).
    LoginPerNetwork,
    /// Signups from one client address.
    SignupPerClient,
    /// Signups from one network.
    SignupPerNetwork,
    /// Messages sent by one user.
    SendPerUser,
    /// Typing notices sent by one user.
    TypingPerUser,
    /// Searches by one user.
    SearchPerUser,
    /// Live connections (WebSockets) opened by one user.
    ConnectPerUser,
    /// Live connections opened from one client address.
    ConnectPerClient,
}

impl Action {
    /// Every action, for backends that set up each one.
    pub const ALL: [Action; 11] = [
        Action::LoginPerUsername,
        Action::LoginPerDevice,
        Action::LoginPerClient,
        Action::LoginPerNetwork,
        Action::SignupPerClient,
        Action::SignupPerNetwork,
        Action::SendPerUser,
        Action::TypingPerUser,
        Action::SearchPerUser,
        Action::ConnectPerUser,
        Action::ConnectPerClient,
    ];

    /// A short stable name (for keys in a shared backend, and logs).
    pub fn name(self) -> &'static str {
        match self {
            Action::LoginPerUsername => "login-user",
            Action::LoginPerDevice => "login-device",
            Action::LoginPerClient => "login-client",
            Action::LoginPerNetwork => "login-network",
            Action::SignupPerClient => "signup-client",
            Action::SignupPerNetwork => "signup-network",
            Action::SendPerUser => "send",
            Action::TypingPerUser => "typing",
            Action::SearchPerUser => "search",
            Action::ConnectPerUser => "connect-user",
            Action::ConnectPerClient => "connect-client",
        }
    }
}

/// Counts attempts and says when there were too many.
///
/// Contract: `check` records one attempt of `action` by `key` and fails with
/// [`ChatError::RateLimited`](crate::ChatError::RateLimited), carrying when
/// to retry, if that exceeds the action's quota. Memory stays bounded however
/// many keys are seen.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Records one attempt.
    async fn check(&self, action: Action, key: &str) -> Result<()>;

    /// Records one attempt by `key` of something allowed once per `every`
    /// (a group's slow mode: one message per member per period, a period
    /// each group chooses): fails with
    /// [`ChatError::RateLimited`](crate::ChatError::RateLimited) until
    /// `every` has passed since the last attempt allowed. Keys of different
    /// periods never share a count.
    async fn check_every(&self, key: &str, every: std::time::Duration) -> Result<()>;
}
