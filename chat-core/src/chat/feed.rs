//! The host application's durable feed: every committed change of the
//! chat, in commit order, read from the store (not the live bus) after a
//! cursor the consumer keeps, so that it survives restarts on both sides.

use super::Chat;
use crate::domain::{Change, Cursor, Position};
use crate::error::{ChatError, Result};
use crate::ports::PageLimit;

/// A page of the feed.
#[derive(Clone, Debug)]
pub struct FeedPage {
    /// The changes, in commit order, each with the cursor to resume from
    /// once it is handled.
    pub changes: Vec<(Change, Cursor)>,
    /// Where the next page starts: after the last change of this one, or
    /// where the request started when there was none.
    pub cursor: Cursor,
    /// Whether more changes were already waiting.
    pub has_more: bool,
}

impl Chat {
    /// Every committed change of the chat after `after` (from the start
    /// when `None`), whoever it concerns, in commit order, at most `limit`:
    /// messages (a group's membership changes among them, as system
    /// messages) and read marks. For a host's back end (notifications,
    /// analytics, moderation, search) that keeps its cursor and reads on
    /// from it: delivery is at least once (a consumer that stops before
    /// storing its cursor reads the same changes again). Of a member's
    /// read marks in a conversation, only the newest is kept.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `cursor` for a cursor of another
    /// store, or beyond the newest change; what the store reports.
    pub async fn feed(&self, after: Option<Cursor>, limit: PageLimit) -> Result<FeedPage> {
        let after = match after {
            None => Position::ZERO,
            Some(cursor) => {
                let position = self.position_of(cursor).await?.ok_or_else(|| {
                    ChatError::invalid("cursor", "not a cursor of this chat's store")
                })?;
                if position > self.inner.store.head().await? {
                    return Err(ChatError::invalid(
                        "cursor",
                        "beyond the newest change of this chat",
                    ));
                }
                position
            }
        };
        let page = self.inner.store.feed_since(after, limit).await?;
        let start = self.cursor_at(after).await?;
        let mut changes = Vec::with_capacity(page.items.len());
        for change in page.items {
            let cursor = Cursor::new(change.position(), start.epoch());
            changes.push((change, cursor));
        }
        let cursor = changes.last().map_or(start, |(_, cursor)| *cursor);
        Ok(FeedPage {
            changes,
            cursor,
            has_more: page.has_more,
        })
    }
}
