use crate::domain::Timestamp;

/// Where the service reads the time: session expiry, message timestamps.
///
/// Contract: `now` never goes backwards by more than the system clock does.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
