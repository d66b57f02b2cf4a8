use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time with microsecond precision, in UTC: what every store
/// keeps losslessly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The current time, from the system clock.
    pub fn now() -> Self {
        Self::from_offset_date_time(OffsetDateTime::now_utc())
    }

    /// Wraps microseconds since the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// Converts from `time`'s type, truncating to microseconds.
    pub fn from_offset_date_time(at: OffsetDateTime) -> Self {
        let nanos = at.unix_timestamp_nanos();
        Self(i64::try_from(nanos / 1_000).unwrap_or(i64::MAX))
    }

    /// Converts to `time`'s type, in UTC.
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// This instant moved `by` into the future (saturating).
    pub fn plus(self, by: Duration) -> Self {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(micros))
    }

    /// This instant moved `by` into the past (saturating).
    pub fn minus(self, by: Duration) -> Self {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(micros))
    }

    /// How long after `earlier` this instant is (zero if it is not later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// Reads an RFC 3339 date and time (any offset), as a client sends it.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`](crate::ChatError::InvalidInput) on
    /// `field` if it is not one.
    pub fn parse_rfc3339(raw: &str, field: crate::error::Field) -> crate::error::Result<Self> {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(Self::from_offset_date_time)
            .map_err(|_| crate::ChatError::invalid(field, "must be an RFC 3339 date and time"))
    }

    /// RFC 3339 in UTC, e.g. `2026-11-26T11:00:00.123456Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_offset_date_time()
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.0.to_string())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_time_and_formats_as_rfc3339() {
        let at = Timestamp::from_unix_micros(1_764_154_800_123_456);
        assert_eq!(
            Timestamp::from_offset_date_time(at.to_offset_date_time()),
            at
        );
        assert_eq!(at.to_rfc3339(), "2025-11-26T11:00:00.123456Z");
    }

    #[test]
    fn rfc3339_is_read_in_any_offset_and_nothing_else_is() {
        let at = Timestamp::parse_rfc3339("2025-11-26T12:00:00.123456+01:00", "until").unwrap();
        assert_eq!(at.to_rfc3339(), "2025-11-26T11:00:00.123456Z");
        for bad in ["", "tomorrow", "2025-11-26", "2025-13-01T00:00:00Z"] {
            assert!(Timestamp::parse_rfc3339(bad, "until").is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let at = Timestamp::from_unix_micros(10);
        assert_eq!(at.plus(Duration::from_micros(5)).unix_micros(), 15);
        assert_eq!(at.since(Timestamp::from_unix_micros(20)), Duration::ZERO);
    }
}
