//! Edits and deletes of stored messages, and how the change log replays
//! them: a message's newest change is its `revision`, a position taken
//! from the clock. And what a reader sees beside a message: its reactions,
//! the thread it roots.

use chat_core::backend::corrupt;
use chat_core::ports::{HistoryQuery, Page, PageLimit, ReactionChange, Revision, RevisionKind};
use chat_core::{
    Change, ClientMessageId, ConversationId, Emoji, Message, MessageId, Position, Reaction, Result,
    ThreadActivity, ThreadSummary, Timestamp, UserId, fold_for_search,
};

use crate::SqlStore;
use crate::args;
use crate::db::{Arg, Commit, Sql, SqlPool, SqlRow, Stmt};
use crate::messages::{TAKE_POSITIONS, json, mention_rows, mentions_json};
use crate::rows::message;

/// One message by id, with the message columns: `$1` the id.
const MESSAGE_BY_ID: &str = concat!(
    "SELECT ",
    crate::message_columns!(),
    " FROM messages msg ",
    crate::message_joins!(),
    " WHERE msg.id = $1"
);

/// [`MessageStore::message_by_client_id`](chat_core::ports::MessageStore::message_by_client_id)
/// in SQL, through the dialect's idempotency lookup.
pub async fn message_by_client_id(
    store: &impl SqlStore,
    sender: UserId,
    client_id: &ClientMessageId,
) -> Result<Option<Message>> {
    let keys = [(sender.get(), client_id.as_str())];
    store
        .reader()
        .fetch_optional(
            store.statements().stored_by_client_id.into(),
            args![&json(&keys)?],
        )
        .await?
        .as_ref()
        .map(message)
        .transpose()
}

/// [`MessageStore::message`](chat_core::ports::MessageStore::message) in SQL.
pub async fn message_by_id(store: &impl SqlStore, id: MessageId) -> Result<Option<Message>> {
    store
        .reader()
        .fetch_optional(MESSAGE_BY_ID.into(), args![id.get()])
        .await?
        .as_ref()
        .map(message)
        .transpose()
}

/// [`MessageStore::revise_message`](chat_core::ports::MessageStore::revise_message)
/// in SQL: the clock, the row (only a message not deleted, and not a
/// system message), the search index where it does not follow by itself,
/// and for a direct conversation its members' newest change, so that
/// recovery looks at it.
pub async fn revise_message(
    store: &impl SqlStore,
    revision: &Revision,
) -> Result<Option<(Position, Message)>> {
    let sql = store.statements();
    let id = revision.message.get();
    let at = revision.at.unix_micros();
    let mut tx = store.writer().begin().await?;
    // The clock first, as every writer takes it first.
    let position = tx
        .fetch_one(TAKE_POSITIONS.into(), args![1_i64])
        .await?
        .int("last_id")?;
    if let Some(unindex) = sql.unindex_message {
        tx.execute(unindex.into(), args![id]).await?;
    }
    let changed = match &revision.kind {
        RevisionKind::Edit { text, mentioned } => {
            let folded = fold_for_search(text.as_str());
            let mentions = mentions_json(&mentioned.mentions)?;
            tx.fetch_optional(
                "UPDATE messages SET body = $2, body_folded = $3, edited_at = $4, revision = $5, \
                    mentions = $6 \
                 WHERE id = $1 AND deleted_at IS NULL AND event IS NULL \
                 RETURNING conversation_id, recipient_id"
                    .into(),
                args![id, text.as_str(), &folded, at, position, mentions.as_deref()],
            )
            .await?
        }
        RevisionKind::Delete { by } => {
            tx.fetch_optional(
                "UPDATE messages SET body = '', body_folded = '', mentions = NULL, deleted_at = $2, \
                    deleted_by = $3, revision = $4 \
                 WHERE id = $1 AND deleted_at IS NULL AND event IS NULL \
                 RETURNING conversation_id, recipient_id"
                    .into(),
                args![id, at, by.get(), position],
            )
            .await?
        }
    };
    let Some(changed) = changed else {
        // Nothing to change: the clock's position and the index go back.
        tx.rollback().await?;
        return Ok(None);
    };
    // An edit's mentions replace the old ones; a delete takes them away.
    tx.execute(
        "DELETE FROM mentions WHERE message_id = $1".into(),
        args![id],
    )
    .await?;
    match &revision.kind {
        RevisionKind::Delete { .. } => {
            tx.execute(
                "DELETE FROM reactions WHERE message_id = $1".into(),
                args![id],
            )
            .await?;
        }
        RevisionKind::Edit { mentioned, .. } => {
            let conversation = ConversationId::new(changed.int("conversation_id")?);
            let rows: Vec<_> =
                mention_rows(revision.message, conversation, &mentioned.reached).collect();
            if !rows.is_empty() {
                tx.execute(sql.insert_mentions.into(), args![&json(&rows)?])
                    .await?;
            }
            if let Some(index) = sql.index_messages {
                tx.execute(index.into(), args![id, id]).await?;
            }
        }
    }
    if changed.opt_int("recipient_id")?.is_some() {
        tx.execute(
            "UPDATE members SET last_change = $2 WHERE conversation_id = $1".into(),
            args![changed.int("conversation_id")?, position],
        )
        .await?;
    }
    let row = tx.fetch_one(MESSAGE_BY_ID.into(), args![id]).await?;
    let revised = message(&row)?;
    tx.commit().await?;
    Ok(Some((Position::new(position), revised)))
}

/// [`MessageStore::react`](chat_core::ports::MessageStore::react) in SQL:
/// the clock, the reaction's row (only on a message not deleted, and not a
/// system message), the message's revision, and for a direct conversation
/// its members' newest change.
pub async fn react(store: &impl SqlStore, change: &ReactionChange) -> Result<Option<Position>> {
    let id = change.message.get();
    let mut tx = store.writer().begin().await?;
    let position = tx
        .fetch_one(TAKE_POSITIONS.into(), args![1_i64])
        .await?
        .int("last_id")?;
    let changed = if change.add {
        tx.execute(
            "INSERT INTO reactions (message_id, emoji, user_id, created_at, position) \
             SELECT $1, $2, $3, $4, $5 \
             WHERE EXISTS (SELECT 1 FROM messages \
                WHERE id = $1 AND deleted_at IS NULL AND event IS NULL) \
             ON CONFLICT DO NOTHING"
                .into(),
            args![
                id,
                change.emoji.as_str(),
                change.user.get(),
                change.at.unix_micros(),
                position
            ],
        )
        .await?
    } else {
        tx.execute(
            "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3".into(),
            args![id, change.emoji.as_str(), change.user.get()],
        )
        .await?
    };
    if changed == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let row = tx
        .fetch_one(
            "UPDATE messages SET revision = $2 WHERE id = $1 \
             RETURNING conversation_id, recipient_id"
                .into(),
            args![id, position],
        )
        .await?;
    if row.opt_int("recipient_id")?.is_some() {
        tx.execute(
            "UPDATE members SET last_change = $2 WHERE conversation_id = $1".into(),
            args![row.int("conversation_id")?, position],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Some(Position::new(position)))
}

/// The reactions of `count` messages: `$1` the reader (or NULL), `$2`…
/// the message ids; served by the primary key.
pub fn reactions_sql(count: usize) -> String {
    let list: Vec<String> = (0..count).map(|n| format!("${}", n + 2)).collect();
    format!(
        "SELECT message_id, emoji, count(*) AS n, \
            count(CASE WHEN user_id = $1 THEN 1 END) AS mine, min(position) AS first_position \
         FROM reactions WHERE message_id IN ({}) \
         GROUP BY message_id, emoji ORDER BY message_id, first_position",
        list.join(", ")
    )
}

/// [`MessageStore::reactions`](chat_core::ports::MessageStore::reactions)
/// in SQL: one query over the primary key, its list of ids written out.
pub async fn reactions(
    store: &impl SqlStore,
    reader: Option<UserId>,
    messages: &[MessageId],
) -> Result<Vec<(MessageId, Vec<Reaction>)>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let sql = reactions_sql(messages.len());
    let mut args = vec![Arg::from(reader.map(UserId::get))];
    args.extend(messages.iter().map(|id| Arg::from(id.get())));
    let rows = store
        .reader()
        .fetch_all(Stmt::assembled(sql), &args)
        .await?;
    let mut found: Vec<(MessageId, Vec<Reaction>)> = Vec::new();
    for row in &rows {
        let id = MessageId::new(row.int("message_id")?);
        let reaction = Reaction {
            emoji: Emoji::parse(row.text("emoji")?).map_err(|e| corrupt("emoji", e))?,
            count: u64::try_from(row.int("n")?).unwrap_or(0),
            me: reader
                .map(|_| row.int("mine").map(|mine| mine != 0))
                .transpose()?,
        };
        match found.last_mut() {
            Some((last, reactions)) if *last == id => reactions.push(reaction),
            _ => found.push((id, vec![reaction])),
        }
    }
    Ok(found)
}

/// The rows of a revisions query (`revision` and the message columns) as
/// changes.
pub(crate) fn revised<R: SqlRow>(rows: &[R]) -> impl Iterator<Item = Result<Change>> + '_ {
    rows.iter().map(|row| {
        Ok(Change::Revised {
            position: Position::new(row.int("revision")?),
            message: message(row)?,
        })
    })
}

/// Every message's newest change above `$1` up to `$3`, by position, at
/// most `$2`: the feed's share of revisions.
pub const FEED_REVISIONS: &str = concat!(
    "SELECT msg.revision, ",
    crate::message_columns!(),
    " FROM messages msg ",
    crate::message_joins!(),
    " WHERE msg.revision > 0 AND msg.revision > $1 AND msg.revision <= $3 \
     ORDER BY msg.revision LIMIT $2"
);

/// The summaries of the threads rooted at `count` messages: `$1`… the
/// roots, written out (the index on `(thread_root, id)` serves it).
pub fn thread_summaries_sql(count: usize) -> String {
    let list: Vec<String> = (0..count).map(|n| format!("${}", n + 1)).collect();
    format!(
        "SELECT t.root, t.replies, t.last_id, m.sent_at AS last_at \
         FROM (SELECT thread_root AS root, count(*) AS replies, max(id) AS last_id \
               FROM messages WHERE thread_root IN ({}) AND deleted_at IS NULL \
               GROUP BY thread_root) t \
         JOIN messages m ON m.id = t.last_id",
        list.join(", ")
    )
}

/// [`MessageStore::thread_summaries`](chat_core::ports::MessageStore::thread_summaries)
/// in SQL.
pub async fn thread_summaries(
    store: &impl SqlStore,
    roots: &[MessageId],
) -> Result<Vec<(MessageId, ThreadSummary)>> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let args: Vec<Arg<'_>> = roots.iter().map(|id| Arg::from(id.get())).collect();
    let rows = store
        .reader()
        .fetch_all(Stmt::assembled(thread_summaries_sql(roots.len())), &args)
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                MessageId::new(row.int("root")?),
                ThreadSummary {
                    replies: u64::try_from(row.int("replies")?).unwrap_or(0),
                    last_reply: MessageId::new(row.int("last_id")?),
                    last_reply_at: Timestamp::from_unix_micros(row.int("last_at")?),
                },
            ))
        })
        .collect()
}

/// A thread's replies: `$1` the root, `$2` after, `$3` before, `$4` the
/// limit; `ASC` or `DESC` as the page reads.
pub fn thread_messages_sql(forward: bool) -> String {
    let order = if forward { "ASC" } else { "DESC" };
    format!(
        "SELECT {} FROM messages msg {} \
         WHERE msg.thread_root = $1 AND msg.id > $2 AND msg.id < $3 \
         ORDER BY msg.id {order} LIMIT $4",
        crate::MESSAGE_COLUMNS,
        crate::MESSAGE_JOINS
    )
}

/// [`MessageStore::thread_messages`](chat_core::ports::MessageStore::thread_messages)
/// in SQL.
pub async fn thread_messages(
    store: &impl SqlStore,
    root: MessageId,
    query: &HistoryQuery,
) -> Result<Page<Message>> {
    let rows = store
        .reader()
        .fetch_all(
            Stmt::assembled(thread_messages_sql(query.reads_forward())),
            args![
                root.get(),
                query.after.map_or(0, MessageId::get),
                query.before.map_or(i64::MAX, MessageId::get),
                query.limit.overfetch(),
            ],
        )
        .await?;
    crate::rows::history_page(&rows, query)
}

/// [`MessageStore::mark_thread_read`](chat_core::ports::MessageStore::mark_thread_read)
/// in SQL: the upsert appends use, then the mark as it is.
pub async fn mark_thread_read(
    store: &impl SqlStore,
    user: UserId,
    root: MessageId,
    up_to: MessageId,
) -> Result<MessageId> {
    let row = json(&[(user.get(), root.get(), up_to.get().max(0))])?;
    let mut tx = store.writer().begin().await?;
    tx.execute(
        store.statements().upsert_thread_reads.into(),
        args![row.as_str()],
    )
    .await?;
    let mark = tx
        .fetch_one(
            "SELECT read_up_to FROM thread_reads WHERE user_id = $1 AND root_id = $2".into(),
            args![user.get(), root.get()],
        )
        .await?
        .int("read_up_to")?;
    tx.commit().await?;
    Ok(MessageId::new(mark))
}

/// The threads a user takes part in, with their summaries and unread
/// counts, in their direct conversations and the groups they are a member
/// of now: `$1` the user, `$2` the limit. Each count walks the thread's
/// replies by the `(thread_root, id)` index.
pub const THREADS_OF: &str = concat!(
    "SELECT ",
    crate::message_columns!(),
    ", s.read_up_to, s.replies, s.last_id, lm.sent_at AS last_at, s.unread \
     FROM (SELECT t.root_id, t.read_up_to, \
             (SELECT count(*) FROM messages x \
               WHERE x.thread_root = t.root_id AND x.deleted_at IS NULL) AS replies, \
             (SELECT max(x.id) FROM messages x \
               WHERE x.thread_root = t.root_id AND x.deleted_at IS NULL) AS last_id, \
             (SELECT count(*) FROM messages x \
               WHERE x.thread_root = t.root_id AND x.deleted_at IS NULL \
                 AND x.id > t.read_up_to AND x.sender_id <> t.user_id) AS unread \
           FROM thread_reads t JOIN messages r ON r.id = t.root_id \
           WHERE t.user_id = $1 AND (r.recipient_id IS NOT NULL OR EXISTS ( \
             SELECT 1 FROM group_members g WHERE g.conversation_id = r.conversation_id \
               AND g.user_id = $1 AND g.left_at IS NULL))) s \
     JOIN messages lm ON lm.id = s.last_id \
     JOIN messages msg ON msg.id = s.root_id ",
    crate::message_joins!(),
    " ORDER BY s.last_id DESC LIMIT $2"
);

/// [`MessageStore::threads_of`](chat_core::ports::MessageStore::threads_of) in SQL.
pub async fn threads_of(
    store: &impl SqlStore,
    user: UserId,
    limit: PageLimit,
) -> Result<Vec<ThreadActivity>> {
    let rows = store
        .reader()
        .fetch_all(THREADS_OF.into(), args![user.get(), i64::from(limit.get())])
        .await?;
    rows.iter()
        .map(|row| {
            let mut root = message(row)?;
            root.set_thread_summary(ThreadSummary {
                replies: u64::try_from(row.int("replies")?).unwrap_or(0),
                last_reply: MessageId::new(row.int("last_id")?),
                last_reply_at: Timestamp::from_unix_micros(row.int("last_at")?),
            });
            Ok(ThreadActivity {
                root,
                read_up_to: MessageId::new(row.int("read_up_to")?),
                unread: u64::try_from(row.int("unread")?).unwrap_or(0),
            })
        })
        .collect()
}
