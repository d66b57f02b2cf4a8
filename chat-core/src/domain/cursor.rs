use std::fmt;

use super::Position;
use crate::error::{ChatError, Result};

/// A client's place in the change log, as it travels: an opaque string
/// naming a [`Position`] of one store.
///
/// The store is named by its *epoch*, a number drawn when the store was
/// created: a cursor kept from another database (one wiped and created
/// again, say) is recognised as foreign instead of silently pointing into
/// the new one's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    position: Position,
    epoch: u32,
}

impl Cursor {
    /// The cursor at `position` of the store with `epoch`.
    pub fn new(position: Position, epoch: u32) -> Self {
        Self { position, epoch }
    }

    /// Reads a cursor a client sent back.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on field `cursor` for anything this type
    /// did not write.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = || ChatError::invalid("cursor", "not a cursor this server gave out");
        let (position, epoch) = raw.split_once('-').ok_or_else(invalid)?;
        if position.is_empty()
            || position.len() > 19
            || !position.bytes().all(|b| b.is_ascii_digit())
            || epoch.len() != 8
        {
            return Err(invalid());
        }
        let position: i64 = position.parse().map_err(|_| invalid())?;
        let epoch = u32::from_str_radix(epoch, 16).map_err(|_| invalid())?;
        Ok(Self::new(Position::new(position), epoch))
    }

    /// Where it points.
    pub fn position(self) -> Position {
        self.position
    }

    /// The store it points into.
    pub fn epoch(self) -> u32 {
        self.epoch
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:08x}", self.position.get(), self.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_itself_and_nothing_else_reads() {
        for (position, epoch) in [(0, 0), (42, 0xdead_beef), (i64::MAX, u32::MAX)] {
            let cursor = Cursor::new(Position::new(position), epoch);
            assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
        }
        assert_eq!(
            Cursor::new(Position::new(42), 0xab).to_string(),
            "42-000000ab"
        );
        for bad in [
            "",
            "42",
            "-000000ab",
            "42-ab",
            "42-0000000g",
            "+42-000000ab",
            "99999999999999999999-000000ab",
            "42-000000ab-",
            " 42-000000ab",
        ] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
    }
}
