//! What SQLite does its own way: the batch and recovery statements, and
//! search (a trigram index, or the conversation's own rows).

use chat_core::ports::{HistoryQuery, Page};
use chat_core::{ConversationId, Message, MessageId, Result};
use chat_store_sql::{
    MESSAGE_COLUMNS, MESSAGE_JOINS, SqlPool, SqlRow, SqlStore, Statements, args, history_page,
    message_columns, message_joins,
};

use crate::SqliteStore;

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
/// through the conversation's index: `$1` conversation, `$2` after, `$3`
/// before, `$4` the bound.
pub(crate) const RANGE_SIZE_SQL: &str = "SELECT count(*) AS rows FROM (SELECT 1 FROM messages \
     WHERE conversation_id = $1 AND id > $2 AND id < $3 LIMIT $4)";

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

/// History: `$1` conversation, `$2` after, `$3` before, `$4` limit, `$5` the
/// folded term, `$6` its trigram query.
pub(crate) fn history_sql(forward: bool, search: Search) -> String {
    let order = if forward { "ASC" } else { "DESC" };
    let (from, filter) = match search {
        Search::None => ("messages msg", ""),
        // CROSS JOIN fixes the join order: the trigram index finds the
        // matching rows first, then each is checked against the page.
        Search::Trigram => (
            "message_search s CROSS JOIN messages msg ON msg.id = s.rowid",
            "AND s.message_search MATCH $6 AND instr(msg.body_folded, $5) > 0",
        ),
        Search::Scan => ("messages msg", "AND instr(msg.body_folded, $5) > 0"),
    };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM {from} {MESSAGE_JOINS} \
         WHERE msg.conversation_id = $1 AND msg.id > $2 AND msg.id < $3 {filter} \
         ORDER BY msg.id {order} LIMIT $4"
    )
}

/// SQLite's statements: JSON arrays unpacked by `json_each` (an
/// `INSERT … SELECT` needs `WHERE true` before its `ON CONFLICT`); recovery
/// reads start from the user's members rows, which `CROSS JOIN` keeps
/// SQLite from reordering into a scan of every newer row of the store.
pub(crate) const STATEMENTS: Statements = Statements {
    stored_by_client_id: STORED_BY_CLIENT_ID,
    insert_messages: "INSERT INTO messages \
        (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id, \
         reply_to, thread_root, mentions) \
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
               value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10 \
        FROM json_each($1) WHERE true \
        ON CONFLICT (sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
    insert_mentions: "INSERT INTO mentions (user_id, conversation_id, message_id) \
        SELECT value ->> 2, value ->> 1, value ->> 0 FROM json_each($1) WHERE true \
        ON CONFLICT DO NOTHING",
    upsert_thread_reads: "INSERT INTO thread_reads (user_id, root_id, read_up_to) \
        SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each($1) WHERE true \
        ON CONFLICT (user_id, root_id) DO UPDATE SET read_up_to = \
            max(thread_reads.read_up_to, excluded.read_up_to)",
    index_messages: Some(
        "INSERT INTO message_search (rowid, body_folded) \
         SELECT id, body_folded FROM messages WHERE id BETWEEN $1 AND $2",
    ),
    move_heads: "UPDATE members SET last_message_id = max(last_message_id, h.value ->> 1) \
        FROM json_each($1) h WHERE members.conversation_id = h.value ->> 0",
    mark_senders: "UPDATE members \
        SET last_read_message_id = max(last_read_message_id, r.value ->> 2), has_spoken = 1 \
        FROM json_each($1) r \
        WHERE members.conversation_id = r.value ->> 0 AND members.user_id = r.value ->> 1",
    unindex_message: Some(
        "INSERT INTO message_search (message_search, rowid, body_folded) \
         SELECT 'delete', id, body_folded FROM messages WHERE id = $1 AND deleted_at IS NULL",
    ),
    messages_since: MESSAGES_SINCE,
    reads_since: READS_SINCE,
    revisions_since: concat!(
        "SELECT msg.revision, ",
        message_columns!(),
        " FROM members m \
         CROSS JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.revision > 0 \
            AND msg.revision > $2 AND msg.revision <= $4 ",
        message_joins!(),
        " WHERE m.user_id = $1 AND m.last_change > $2 ORDER BY msg.revision LIMIT $3"
    ),
    group_revisions_since: concat!(
        "SELECT msg.revision, ",
        message_columns!(),
        " FROM group_members g \
         CROSS JOIN messages msg ON msg.conversation_id = g.conversation_id AND msg.revision > 0 \
            AND msg.revision > $2 AND msg.revision <= $4 \
            AND msg.id >= g.visible_from \
            AND (g.left_at IS NULL OR msg.revision <= g.left_at) ",
        message_joins!(),
        " WHERE g.user_id = $1 AND (g.left_at IS NULL OR g.left_at > $2) \
         ORDER BY msg.revision LIMIT $3"
    ),
    outsiders: "SELECT p.value ->> 0 AS conversation_id, p.value ->> 1 AS sender_id \
        FROM json_each($1) p \
        WHERE NOT EXISTS (SELECT 1 FROM group_members g \
            WHERE g.conversation_id = p.value ->> 0 AND g.user_id = p.value ->> 1 \
              AND g.left_at IS NULL)",
    move_group_heads: MOVE_GROUP_HEADS,
    mark_group_senders: "UPDATE group_members \
        SET last_read_message_id = max(last_read_message_id, r.value ->> 2), has_spoken = 1 \
        FROM json_each($1) r \
        WHERE group_members.conversation_id = r.value ->> 0 \
          AND group_members.user_id = r.value ->> 1",
    group_messages_since: GROUP_MESSAGES_SINCE,
    group_reads_since: "SELECT c.position, c.conversation_id, c.message_id AS up_to, \
            c.user_id AS by_id, u.username AS by_username \
         FROM group_members g \
         CROSS JOIN changes c ON c.conversation_id = g.conversation_id AND c.user_id = g.user_id \
            AND c.kind = 'read' AND c.position > $2 AND c.position <= $4 \
         JOIN users u ON u.id = c.user_id \
         WHERE g.user_id = $1 AND g.last_change > $2 ORDER BY c.position LIMIT $3",
};

/// Moves groups' heads: `$1` a JSON array of `[conversation_id,
/// message_id]`.
const MOVE_GROUP_HEADS: &str = "UPDATE conversations \
    SET last_message_id = max(last_message_id, h.value ->> 1) \
    FROM json_each($1) h WHERE conversations.id = h.value ->> 0";

/// The user's groups, then each one's messages after `$2` that the user
/// may read (from `visible_from`, up to `left_at`).
const GROUP_MESSAGES_SINCE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM group_members g \
     CROSS JOIN messages msg ON msg.conversation_id = g.conversation_id AND msg.id > $2 AND msg.id <= $4 \
        AND msg.id >= g.visible_from AND (g.left_at IS NULL OR msg.id <= g.left_at) ",
    message_joins!(),
    " WHERE g.user_id = $1 AND (g.left_at IS NULL OR g.left_at > $2) ORDER BY msg.id LIMIT $3"
);

/// The messages stored under the keys of `$1`, a JSON array of
/// `[sender_id, client_id]`, as a literal for `concat!`.
macro_rules! stored_by_client_id {
    () => {
        concat!(
            "SELECT ",
            chat_store_sql::message_columns!(),
            " FROM json_each($1) k \
             CROSS JOIN messages msg ON msg.sender_id = k.value ->> 0 AND msg.client_id = k.value ->> 1 ",
            chat_store_sql::message_joins!()
        )
    };
}
pub(crate) use stored_by_client_id;

const STORED_BY_CLIENT_ID: &str = stored_by_client_id!();

/// Only the user's conversations with a message newer than `$2` (an index
/// range on members), then each one's tail by id.
pub(crate) const MESSAGES_SINCE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM members m \
     CROSS JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.id > $2 AND msg.id <= $4 ",
    message_joins!(),
    " WHERE m.user_id = $1 AND m.last_message_id > $2 ORDER BY msg.id LIMIT $3"
);

/// Only the user's conversations with a change newer than `$2` (an index
/// range on members), then each one's changes.
pub(crate) const READS_SINCE: &str = "SELECT c.position, c.conversation_id, c.message_id AS up_to, \
        c.user_id AS by_id, bu.username AS by_username, w.user_id AS with_id, wu.username AS with_username \
     FROM members m \
     CROSS JOIN changes c ON c.conversation_id = m.conversation_id AND c.position > $2 AND c.position <= $4 \
     JOIN members r ON r.conversation_id = c.conversation_id AND r.user_id = c.user_id \
     JOIN members w ON w.conversation_id = c.conversation_id AND w.user_id <> c.user_id \
     JOIN users bu ON bu.id = c.user_id \
     JOIN users wu ON wu.id = w.user_id \
     WHERE m.user_id = $1 AND m.last_change > $2 AND c.kind = 'read' \
       AND (c.user_id = $1 OR (r.has_spoken AND w.has_spoken)) \
     ORDER BY c.position LIMIT $3";

/// A page of one conversation's messages: a search counts the range first,
/// to read a small one in full and a large one through the index.
pub(crate) async fn list_messages(
    store: &SqliteStore,
    conversation: ConversationId,
    query: &HistoryQuery,
) -> Result<Page<Message>> {
    let forward = query.reads_forward();
    let after = query.after.unwrap_or(MessageId::ZERO).get();
    let before = query.before.map_or(i64::MAX, MessageId::get);
    let (search, term, trigrams) = match &query.search {
        None => (Search::None, None, None),
        Some(term) => {
            let rows = store
                .reader()
                .fetch_one(
                    RANGE_SIZE_SQL.into(),
                    args![conversation.get(), after, before, store.scan_limit() + 1],
                )
                .await?
                .int("rows")?;
            match strategy(term.char_len(), rows, store.scan_limit()) {
                Search::Trigram => (
                    Search::Trigram,
                    Some(term.folded()),
                    Some(fts_trigrams(term.folded())),
                ),
                other => (other, Some(term.folded()), None),
            }
        }
    };
    let sql = chat_store_sql::Stmt::assembled(history_sql(forward, search));
    let rows = store
        .reader()
        .fetch_all(
            sql,
            args![
                conversation.get(),
                after,
                before,
                query.limit.overfetch(),
                term,
                trigrams.as_deref(),
            ],
        )
        .await?;
    history_page(&rows, query)
}

#[cfg(test)]
mod tests {
    use super::{SCAN_LIMIT, Search, fts_trigrams, strategy};
    use chat_store_sql::SqlStore;

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
            .execute(&mut *store.writer().acquire().await.unwrap())
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
