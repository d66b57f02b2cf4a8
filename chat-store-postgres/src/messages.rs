//! What PostgreSQL does its own way: the batch and recovery statements
//! (JSON arrays unpacked by `jsonb_array_elements`, with casts), and
//! search (`LIKE` over the trigram index, or the conversation's rows,
//! whichever the planner finds smaller).

use chat_core::ports::{HistoryQuery, Page};
use chat_core::{ConversationId, Message, MessageId, Result};
use chat_store_sql::{
    MESSAGE_COLUMNS, MESSAGE_JOINS, SqlPool, SqlStore, Statements, args, contains_pattern,
    history_page, message_columns, message_joins,
};

use crate::PgStore;

/// PostgreSQL's statements.
pub(crate) const STATEMENTS: Statements = Statements {
    stored_by_client_id: STORED_BY_CLIENT_ID,
    insert_messages: "INSERT INTO messages \
        (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id, \
         reply_to, thread_root, mentions) \
        SELECT (r.value ->> 0)::bigint, (r.value ->> 1)::bigint, (r.value ->> 2)::bigint, \
               (r.value ->> 3)::bigint, r.value ->> 4, r.value ->> 5, (r.value ->> 6)::bigint, \
               r.value ->> 7, (r.value ->> 8)::bigint, (r.value ->> 9)::bigint, r.value ->> 10 \
        FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS r (value, n) ORDER BY r.n \
        ON CONFLICT (sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
    upsert_thread_reads: "INSERT INTO thread_reads (user_id, root_id, read_up_to) \
        SELECT (r.value ->> 0)::bigint, (r.value ->> 1)::bigint, (r.value ->> 2)::bigint \
        FROM jsonb_array_elements($1::jsonb) r \
        ON CONFLICT (user_id, root_id) DO UPDATE SET read_up_to = \
            GREATEST(thread_reads.read_up_to, excluded.read_up_to)",
    insert_mentions: "INSERT INTO mentions (user_id, conversation_id, message_id) \
        SELECT (r.value ->> 2)::bigint, (r.value ->> 1)::bigint, (r.value ->> 0)::bigint \
        FROM jsonb_array_elements($1::jsonb) r \
        ON CONFLICT DO NOTHING",
    index_messages: None,
    unindex_message: None,
    move_heads: "UPDATE members m \
        SET last_message_id = GREATEST(m.last_message_id, (h.value ->> 1)::bigint) \
        FROM jsonb_array_elements($1::jsonb) h \
        WHERE m.conversation_id = (h.value ->> 0)::bigint",
    mark_senders: "UPDATE members m \
        SET last_read_message_id = GREATEST(m.last_read_message_id, (r.value ->> 2)::bigint), \
            has_spoken = TRUE \
        FROM jsonb_array_elements($1::jsonb) r \
        WHERE m.conversation_id = (r.value ->> 0)::bigint AND m.user_id = (r.value ->> 1)::bigint",
    messages_since: MESSAGES_SINCE,
    reads_since: READS_SINCE,
    revisions_since: concat!(
        "SELECT msg.revision, ",
        message_columns!(),
        " FROM members m \
         JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.revision > 0 \
            AND msg.revision > $2 AND msg.revision <= $4 ",
        message_joins!(),
        " WHERE m.user_id = $1 AND m.last_change > $2 ORDER BY msg.revision LIMIT $3"
    ),
    group_revisions_since: concat!(
        "SELECT msg.revision, ",
        message_columns!(),
        " FROM group_members g \
         JOIN messages msg ON msg.conversation_id = g.conversation_id AND msg.revision > 0 \
            AND msg.revision > $2 AND msg.revision <= $4 \
            AND msg.id >= g.visible_from \
            AND (g.left_at IS NULL OR msg.revision <= g.left_at) ",
        message_joins!(),
        " WHERE g.user_id = $1 AND (g.left_at IS NULL OR g.left_at > $2) \
         ORDER BY msg.revision LIMIT $3"
    ),
    outsiders: "SELECT (p.value ->> 0)::bigint AS conversation_id, (p.value ->> 1)::bigint AS sender_id \
        FROM jsonb_array_elements($1::jsonb) p \
        WHERE NOT EXISTS (SELECT 1 FROM group_members g \
            WHERE g.conversation_id = (p.value ->> 0)::bigint \
              AND g.user_id = (p.value ->> 1)::bigint AND g.left_at IS NULL)",
    move_group_heads: "UPDATE conversations c \
        SET last_message_id = GREATEST(c.last_message_id, (h.value ->> 1)::bigint) \
        FROM jsonb_array_elements($1::jsonb) h WHERE c.id = (h.value ->> 0)::bigint",
    mark_group_senders: "UPDATE group_members g \
        SET last_read_message_id = GREATEST(g.last_read_message_id, (r.value ->> 2)::bigint), \
            has_spoken = TRUE \
        FROM jsonb_array_elements($1::jsonb) r \
        WHERE g.conversation_id = (r.value ->> 0)::bigint AND g.user_id = (r.value ->> 1)::bigint",
    group_messages_since: GROUP_MESSAGES_SINCE,
    group_reads_since: "SELECT c.position, c.conversation_id, c.message_id AS up_to, \
            c.user_id AS by_id, u.username AS by_username \
         FROM group_members g \
         JOIN changes c ON c.conversation_id = g.conversation_id AND c.user_id = g.user_id \
            AND c.kind = 'read' AND c.position > $2 AND c.position <= $4 \
         JOIN users u ON u.id = c.user_id \
         WHERE g.user_id = $1 AND g.last_change > $2 ORDER BY c.position LIMIT $3",
};

/// The user's groups, then each one's messages after `$2` that the user
/// may read (from `visible_from`, up to `left_at`).
const GROUP_MESSAGES_SINCE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM group_members g \
     JOIN messages msg ON msg.conversation_id = g.conversation_id AND msg.id > $2 AND msg.id <= $4 \
        AND msg.id >= g.visible_from AND (g.left_at IS NULL OR msg.id <= g.left_at) ",
    message_joins!(),
    " WHERE g.user_id = $1 AND (g.left_at IS NULL OR g.left_at > $2) ORDER BY msg.id LIMIT $3"
);

const STORED_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM jsonb_array_elements($1::jsonb) k \
     JOIN messages msg ON msg.sender_id = (k.value ->> 0)::bigint AND msg.client_id = k.value ->> 1 ",
    message_joins!()
);

/// Recovery: `$1` user, `$2` after, `$3` limit.
pub(crate) const MESSAGES_SINCE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM members m \
     JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.id > $2 AND msg.id <= $4 ",
    message_joins!(),
    " WHERE m.user_id = $1 AND m.last_message_id > $2 ORDER BY msg.id LIMIT $3"
);

/// Recovery of read marks: `$1` user, `$2` after, `$3` limit.
pub(crate) const READS_SINCE: &str = "SELECT c.position, c.conversation_id, c.message_id AS up_to, \
        c.user_id AS by_id, bu.username AS by_username, w.user_id AS with_id, wu.username AS with_username \
     FROM members m \
     JOIN changes c ON c.conversation_id = m.conversation_id AND c.position > $2 AND c.position <= $4 \
     JOIN members r ON r.conversation_id = c.conversation_id AND r.user_id = c.user_id \
     JOIN members w ON w.conversation_id = c.conversation_id AND w.user_id <> c.user_id \
     JOIN users bu ON bu.id = c.user_id \
     JOIN users wu ON wu.id = w.user_id \
     WHERE m.user_id = $1 AND m.last_change > $2 AND c.kind = 'read' \
       AND (c.user_id = $1 OR (r.has_spoken AND w.has_spoken)) \
     ORDER BY c.position LIMIT $3";

/// History: `$1` conversation, `$2` after, `$3` before, `$4` limit, `$5`
/// the `LIKE` pattern or NULL. The planner serves the pattern from the
/// trigram index or the conversation's rows, whichever is smaller.
pub(crate) fn history_sql(forward: bool, search: bool) -> String {
    let order = if forward { "ASC" } else { "DESC" };
    let filter = if search {
        "AND msg.body_folded LIKE $5 ESCAPE '\\'"
    } else {
        ""
    };
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages msg {MESSAGE_JOINS} \
         WHERE msg.conversation_id = $1 AND msg.id > $2 AND msg.id < $3 {filter} \
         ORDER BY msg.id {order} LIMIT $4"
    )
}

pub(crate) async fn list_messages(
    store: &PgStore,
    conversation: ConversationId,
    query: &HistoryQuery,
) -> Result<Page<Message>> {
    let forward = query.reads_forward();
    let pattern = query
        .search
        .as_ref()
        .map(|term| contains_pattern(term.folded()));
    let sql = chat_store_sql::Stmt::assembled(history_sql(forward, pattern.is_some()));
    let rows = store
        .reader()
        .fetch_all(
            sql,
            args![
                conversation.get(),
                query.after.unwrap_or(MessageId::ZERO).get(),
                query.before.map_or(i64::MAX, MessageId::get),
                query.limit.overfetch(),
                pattern.as_deref(),
            ],
        )
        .await?;
    history_page(&rows, query)
}
