//! Conversation and message reads, and read marks.

use async_trait::async_trait;
use chat_core::ports::{Appended, ConversationQuery, HistoryQuery, MessageStore, Page, PageLimit};
use chat_core::{
    ConversationId, ConversationSummary, Message, MessageId, NewMessage, Result, UserId,
};

use sqlx::AssertSqlSafe;

use crate::SqliteStore;
use crate::error::to_chat;
use crate::rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, get, message, user};

/// Trigram indexes need three characters; shorter terms filter the
/// conversation's own rows instead.
const TRIGRAM: usize = 3;

/// Up to this many messages in the range searched (by default), a search
/// reads the conversation's own rows, whatever the term: its cost and its
/// timing then follow the conversation alone, not how often the term occurs
/// in the rest of the store (the trigram index is store-wide). Larger
/// ranges use the index.
pub(crate) const SCAN_LIMIT: i64 = 10_000;

/// The search strategy for a term of `term_len` characters over a range
/// of `rows` messages (counted up to `scan_limit` + 1).
pub(crate) fn strategy(term_len: usize, rows: i64, scan_limit: i64) -> Search {
    if term_len >= TRIGRAM && rows > scan_limit {
        Search::Trigram
    } else {
        Search::Scan
    }
}

/// How many messages a history range holds, counted up to `SCAN_LIMIT + 1`
/// through the conversation's index: `?1` conversation, `?2` after, `?3`
/// before, `?4` the bound.
pub(crate) const RANGE_SIZE_SQL: &str = "SELECT count(*) FROM (SELECT 1 FROM messages \
     WHERE conversation_id = ?1 AND id > ?2 AND id < ?3 LIMIT ?4)";

/// An FTS5 query for the rows that contain every trigram of `term`
/// (at least three characters): a superset of the rows containing `term`,
/// which the caller narrows with `instr`. Non-overlapping trigrams and the
/// last one cover every character, and are enough.
fn fts_trigrams(term: &str) -> String {
    let chars: Vec<char> = term.chars().collect();
    let last = chars.len().saturating_sub(TRIGRAM);
    (0..=last)
        .step_by(TRIGRAM)
        .chain((!last.is_multiple_of(TRIGRAM)).then_some(last))
        .map(|start| {
            let trigram: String = chars[start..start + TRIGRAM].iter().collect();
            format!("\"{}\"", trigram.replace('"', "\"\""))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// How a history query filters by text.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Search {
    /// No filter.
    None,
    /// Terms of three characters or more in a large range: the trigram
    /// index finds the rows.
    Trigram,
    /// Shorter terms, or a range of at most [`SCAN_LIMIT`] messages: the
    /// conversation's rows, filtered.
    Scan,
}

/// History: `?1` conversation, `?2` after, `?3` before, `?4` limit, `?5` the
/// folded term, `?6` its trigram query.
pub(crate) fn history_sql(forward: bool, search: Search) -> String {
    let order = if forward { "ASC" } else { "DESC" };
    let (from, filter) = match search {
        Search::None => ("messages msg", ""),
        // CROSS JOIN fixes the join order: the trigram index finds the
        // matching rows first, then each is checked against the page.
        Search::Trigram => (
            "message_search s CROSS JOIN messages msg ON msg.id = s.rowid",
            "AND s.message_search MATCH ?6 AND instr(msg.body_folded, ?5) > 0",
        ),
        Search::Scan => ("messages msg", "AND instr(msg.body_folded, ?5) > 0"),
    };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM {from} {MESSAGE_JOINS} \
         WHERE msg.conversation_id = ?1 AND msg.id > ?2 AND msg.id < ?3 {filter} \
         ORDER BY msg.id {order} LIMIT ?4"
    )
}

/// Conversations: `?1` user, `?2` before (last message id), `?3` limit.
pub(crate) fn conversations_sql() -> String {
    format!(
        "SELECT m.conversation_id, p.user_id AS peer_id, pu.username AS peer_username, \
            p.last_read_message_id AS peer_read_up_to, \
            (m.has_spoken AND p.has_spoken) AS mutual, \
            (SELECT count(*) FROM messages x \
              WHERE x.conversation_id = m.conversation_id \
                AND x.id > m.last_read_message_id AND x.sender_id <> m.user_id) AS unread, \
            {MESSAGE_COLUMNS} \
         FROM members m \
         JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id \
         JOIN users pu ON pu.id = p.user_id \
         JOIN messages msg ON msg.id = m.last_message_id {MESSAGE_JOINS} \
         WHERE m.user_id = ?1 AND m.last_message_id < ?2 \
         ORDER BY m.last_message_id DESC LIMIT ?3"
    )
}

/// Whom a user has conversations with in which both have spoken: `?1` user.
pub(crate) const PEERS_SQL: &str = "SELECT p.user_id FROM members m \
     JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id \
     WHERE m.user_id = ?1 AND m.has_spoken AND p.has_spoken";

/// Recovery: `?1` user, `?2` after, `?3` limit. Only the user's
/// conversations with something newer than `after` (an index range on
/// members), then each one's tail by id; CROSS JOIN keeps SQLite from
/// scanning every newer message of the store instead.
pub(crate) fn since_sql() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM members m \
         CROSS JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.id > ?2 \
         {MESSAGE_JOINS} \
         WHERE m.user_id = ?1 AND m.last_message_id > ?2 \
         ORDER BY msg.id LIMIT ?3"
    )
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn append_message(&self, message: NewMessage) -> Result<Appended> {
        self.writer_queue().append(message).await
    }

    async fn find_direct_conversation(
        &self,
        a: UserId,
        b: UserId,
    ) -> Result<Option<ConversationId>> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE kind = 'direct' AND direct_low = ?1 AND direct_high = ?2",
        )
        .bind(low.get())
        .bind(high.get())
        .fetch_optional(self.reader())
        .await
        .map_err(to_chat)?;
        Ok(id.map(ConversationId::new))
    }

    async fn list_messages(
        &self,
        conversation: ConversationId,
        query: &HistoryQuery,
    ) -> Result<Page<Message>> {
        let forward = query.reads_forward();
        let after = query.after.unwrap_or(MessageId::ZERO).get();
        let before = query.before.map_or(i64::MAX, MessageId::get);
        let (search, term, trigrams) = match &query.search {
            None => (Search::None, None, None),
            Some(term) => {
                let rows: i64 = sqlx::query_scalar(RANGE_SIZE_SQL)
                    .bind(conversation.get())
                    .bind(after)
                    .bind(before)
                    .bind(self.scan_limit() + 1)
                    .fetch_one(self.reader())
                    .await
                    .map_err(to_chat)?;
                match strategy(term.char_len(), rows, self.scan_limit()) {
                    Search::Trigram => (
                        Search::Trigram,
                        Some(term.folded()),
                        Some(fts_trigrams(term.folded())),
                    ),
                    other => (other, Some(term.folded()), None),
                }
            }
        };
        let sql = history_sql(forward, search);
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(conversation.get())
            .bind(after)
            .bind(before)
            .bind(query.limit.overfetch())
            .bind(term)
            .bind(trigrams)
            .fetch_all(self.reader())
            .await
            .map_err(to_chat)?;
        let messages = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
        let mut page = Page::from_overfetch(messages, query.limit);
        if !forward {
            page.items.reverse();
        }
        Ok(page)
    }

    async fn list_conversations(
        &self,
        user_id: UserId,
        query: &ConversationQuery,
    ) -> Result<Page<ConversationSummary>> {
        let sql = conversations_sql();
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.get())
            .bind(query.before.map_or(i64::MAX, MessageId::get))
            .bind(query.limit.overfetch())
            .fetch_all(self.reader())
            .await
            .map_err(to_chat)?;
        let summaries = rows
            .iter()
            .map(|row| {
                let unread: i64 = get(row, "unread")?;
                Ok(ConversationSummary {
                    conversation: ConversationId::new(get(row, "conversation_id")?),
                    peer: user(row, "peer_id", "peer_username")?,
                    last_message: Some(message(row)?),
                    unread: u64::try_from(unread).unwrap_or(0),
                    peer_read_up_to: MessageId::new(get(row, "peer_read_up_to")?),
                    mutual: get::<bool>(row, "mutual")?,
                    online: false,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(summaries, query.limit))
    }

    async fn mark_read(
        &self,
        conversation: ConversationId,
        user_id: UserId,
        up_to: MessageId,
    ) -> Result<(MessageId, bool)> {
        let moved: Option<i64> = sqlx::query_scalar(
            "UPDATE members SET last_read_message_id = min(?3, last_message_id) \
             WHERE conversation_id = ?1 AND user_id = ?2 \
               AND last_read_message_id < min(?3, last_message_id) \
             RETURNING last_read_message_id",
        )
        .bind(conversation.get())
        .bind(user_id.get())
        .bind(up_to.get())
        .fetch_optional(self.writer())
        .await
        .map_err(to_chat)?;
        if let Some(mark) = moved {
            return Ok((MessageId::new(mark), true));
        }
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT last_read_message_id FROM members WHERE conversation_id = ?1 AND user_id = ?2",
        )
        .bind(conversation.get())
        .bind(user_id.get())
        .fetch_optional(self.writer())
        .await
        .map_err(to_chat)?;
        match current {
            Some(mark) => Ok((MessageId::new(mark), false)),
            None => Err(chat_core::ChatError::NotFound),
        }
    }

    async fn messages_since(
        &self,
        user_id: UserId,
        after: MessageId,
        limit: PageLimit,
    ) -> Result<Page<Message>> {
        let sql = since_sql();
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.get())
            .bind(after.get())
            .bind(limit.overfetch())
            .fetch_all(self.reader())
            .await
            .map_err(to_chat)?;
        let messages = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(messages, limit))
    }

    async fn have_both_spoken(&self, a: UserId, b: UserId) -> Result<bool> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let both: Option<bool> = sqlx::query_scalar(
            "SELECT min(m.has_spoken) FROM conversations c \
             JOIN members m ON m.conversation_id = c.id \
             WHERE c.kind = 'direct' AND c.direct_low = ?1 AND c.direct_high = ?2",
        )
        .bind(low.get())
        .bind(high.get())
        .fetch_one(self.reader())
        .await
        .map_err(to_chat)?;
        Ok(both.unwrap_or(false))
    }

    async fn conversation_peers(&self, user_id: UserId) -> Result<Vec<UserId>> {
        let ids: Vec<i64> = sqlx::query_scalar(PEERS_SQL)
            .bind(user_id.get())
            .fetch_all(self.reader())
            .await
            .map_err(to_chat)?;
        Ok(ids.into_iter().map(UserId::new).collect())
    }

    async fn last_message_id(&self, user_id: UserId) -> Result<MessageId> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT last_message_id FROM members WHERE user_id = ?1 \
             ORDER BY last_message_id DESC LIMIT 1",
        )
        .bind(user_id.get())
        .fetch_optional(self.reader())
        .await
        .map_err(to_chat)?;
        Ok(id.map_or(MessageId::ZERO, MessageId::new))
    }
}

#[cfg(test)]
mod tests {
    use super::{SCAN_LIMIT, Search, fts_trigrams, strategy};

    #[test]
    fn small_ranges_are_read_in_full_and_large_ones_through_the_index() {
        assert!(matches!(strategy(6, 1, SCAN_LIMIT), Search::Scan));
        assert!(matches!(strategy(6, SCAN_LIMIT, SCAN_LIMIT), Search::Scan));
        assert!(matches!(
            strategy(6, SCAN_LIMIT + 1, SCAN_LIMIT),
            Search::Trigram
        ));
        assert!(
            matches!(strategy(2, SCAN_LIMIT + 1, SCAN_LIMIT), Search::Scan),
            "too short for trigrams"
        );
        assert!(
            matches!(strategy(3, 1, 0), Search::Trigram),
            "0: always the index"
        );
    }

    /// With the store-wide index emptied, a search in a small conversation
    /// still finds its message: it read the conversation, not the index.
    #[tokio::test]
    async fn a_search_in_a_small_conversation_reads_its_rows_not_the_store_wide_index() {
        use std::sync::Arc;

        use chat_core::testkit::Harness;
        use chat_core::{HistoryQuery, SearchPattern};

        let store = crate::SqliteStore::memory().await.unwrap();
        let h = Harness::new(Arc::new(store.clone()));
        let alice = h.user("alice").await;
        h.signup("bob").await;
        h.send(&alice, "bob", "a needle in a small haystack").await;
        sqlx::query("INSERT INTO message_search (message_search) VALUES ('delete-all')")
            .execute(store.writer())
            .await
            .unwrap();
        let query = HistoryQuery {
            search: Some(SearchPattern::parse("NEEDLE").unwrap()),
            ..HistoryQuery::default()
        };
        let found = h.chat.history(&alice, "bob", &query).await.unwrap();
        assert_eq!(found.items.len(), 1);
    }

    #[test]
    fn trigram_queries_cover_every_character_with_quotes_doubled() {
        assert_eq!(fts_trigrams("abc"), "\"abc\"");
        assert_eq!(fts_trigrams("abcd"), "\"abc\" AND \"bcd\"");
        assert_eq!(fts_trigrams("abcdef"), "\"abc\" AND \"def\"");
        assert_eq!(
            fts_trigrams("a\"bcdefg"),
            "\"a\"\"b\" AND \"cde\" AND \"efg\""
        );
        assert_eq!(fts_trigrams("äöüß"), "\"äöü\" AND \"öüß\"");
    }
}
