//! Appends, read marks and the change log: one flow for every database,
//! with the set-based statements each database writes its own way.

use chat_core::backend::AppendPlan;
use chat_core::ports::{Appended, Page, PageLimit, ReadMark};
use chat_core::{
    Change, ChatError, ClientMessageId, ConversationId, Mentions, Message, MessageId, NewMessage,
    Position, Result, UserId, fold_for_search,
};
use tracing::debug;

use crate::SqlStore;
use crate::args;
use crate::db::{Commit, Sql, SqlPool, SqlRow};
use crate::revisions::{FEED_REVISIONS, revised};
use crate::rows::{message, user};

/// How often a batch starts again after losing idempotency races to
/// other processes.
const ATTEMPTS: usize = 3;

/// Takes `count` positions from the clock, inside the caller's transaction;
/// returns the last. The clock's row stays locked until the transaction
/// ends, so positions are handed out in commit order across every process.
pub const TAKE_POSITIONS: &str =
    "UPDATE message_clock SET last_id = last_id + $1 RETURNING last_id";

pub(crate) fn json<T: serde::Serialize + ?Sized>(rows: &T) -> Result<String> {
    serde_json::to_string(rows).map_err(ChatError::internal)
}

/// [`MessageStore::append_batch`](chat_core::ports::MessageStore::append_batch) in SQL.
pub async fn append_batch(
    store: &impl SqlStore,
    batch: &[NewMessage],
) -> Result<Vec<Result<Appended>>> {
    for attempt in 1..=ATTEMPTS {
        if let Some(results) = try_append(store, batch).await? {
            return Ok(results);
        }
        debug!(
            attempt,
            "a batch lost an idempotency race; starting it again"
        );
    }
    Err(ChatError::unavailable(
        "a batch kept losing idempotency races to other writers",
    ))
}

/// Writes the batch in one transaction; `None` if a message lost an
/// idempotency race to another process (nothing is committed then, and the
/// winner has committed, so the next attempt finds it).
async fn try_append(
    store: &impl SqlStore,
    batch: &[NewMessage],
) -> Result<Option<Vec<Result<Appended>>>> {
    let sql = store.statements();
    let mut tx = store.appender().begin().await?;
    let keys: Vec<(i64, &str)> = AppendPlan::idempotency_keys(batch)
        .into_iter()
        .map(|(sender, client)| (sender.get(), client.as_str()))
        .collect();
    let existing = if keys.is_empty() {
        Vec::new()
    } else {
        let rows = tx
            .fetch_all(sql.stored_by_client_id.into(), args![&json(&keys)?])
            .await?;
        rows.iter().map(message).collect::<Result<Vec<Message>>>()?
    };
    // The clock first, held to the commit: a removal from a group commits
    // before the check below or waits for this batch.
    let fresh = i64::try_from(batch.len()).map_err(ChatError::internal)?;
    let reserved = tx
        .fetch_one(TAKE_POSITIONS.into(), args![fresh])
        .await?
        .int("last_id")?;
    let outsiders =
        crate::groups::outsiders(&mut tx, sql.outsiders, &AppendPlan::group_senders(batch)).await?;
    let plan = AppendPlan::refusing(batch, existing, &outsiders);
    let count = plan.fresh().len();
    if count == 0 {
        tx.rollback().await?;
        return Ok(Some(plan.written(&[])?.into_results()));
    }
    let count = i64::try_from(count).map_err(ChatError::internal)?;
    // Give back the positions the batch does not use (repeats, refusals):
    // positions stay dense.
    let last = reserved - fresh + count;
    if last != reserved {
        tx.execute("UPDATE message_clock SET last_id = $1".into(), args![last])
            .await?;
    }
    let ids: Vec<MessageId> = (last - count + 1..=last).map(MessageId::new).collect();
    let rows = plan
        .fresh()
        .zip(&ids)
        .map(|(new, id)| message_row(id.get(), new))
        .collect::<Result<Vec<_>>>()?;
    let mentions: Vec<(i64, i64, i64)> = plan
        .fresh()
        .zip(&ids)
        .flat_map(|(new, id)| mention_rows(*id, new.conversation, &new.mentioned.reached))
        .collect();
    let inserted = tx
        .execute(sql.insert_messages.into(), args![&json(&rows)?])
        .await?;
    if i64::try_from(inserted).ok() != Some(count) {
        tx.rollback().await?;
        return Ok(None);
    }
    if !mentions.is_empty() {
        tx.execute(sql.insert_mentions.into(), args![&json(&mentions)?])
            .await?;
    }
    let thread_reads = thread_read_rows(plan.fresh().zip(ids.iter().copied()));
    if !thread_reads.is_empty() {
        tx.execute(sql.upsert_thread_reads.into(), args![&json(&thread_reads)?])
            .await?;
    }
    let written = plan.written(&ids)?;
    if let Some(index) = sql.index_messages {
        tx.execute(index.into(), args![last - count + 1, last])
            .await?;
    }
    let heads: Vec<(i64, i64)> = written
        .conversation_heads()
        .into_iter()
        .map(|(conversation, id)| (conversation.get(), id.get()))
        .collect();
    tx.execute(sql.move_heads.into(), args![&json(&heads)?])
        .await?;
    let marks: Vec<(i64, i64, i64)> = written
        .sender_read_marks()
        .into_iter()
        .map(|(conversation, user, id)| (conversation.get(), user.get(), id.get()))
        .collect();
    tx.execute(sql.mark_senders.into(), args![&json(&marks)?])
        .await?;
    let group_heads: Vec<(i64, i64)> = written
        .group_heads()
        .into_iter()
        .map(|(group, id)| (group.get(), id.get()))
        .collect();
    if !group_heads.is_empty() {
        tx.execute(sql.move_group_heads.into(), args![&json(&group_heads)?])
            .await?;
        let marks: Vec<(i64, i64, i64)> = written
            .group_sender_read_marks()
            .into_iter()
            .map(|(group, user, id)| (group.get(), user.get(), id.get()))
            .collect();
        tx.execute(sql.mark_group_senders.into(), args![&json(&marks)?])
            .await?;
    }
    tx.commit().await?;
    Ok(Some(written.into_results()))
}

/// [`MessageStore::mark_read`](chat_core::ports::MessageStore::mark_read) in SQL.
pub async fn mark_read(
    store: &impl SqlStore,
    conversation: ConversationId,
    user_id: UserId,
    up_to: MessageId,
) -> Result<ReadMark> {
    let mut tx = store.writer().begin().await?;
    // The clock first, as appends take it first: two writers never wait
    // for each other's locks in opposite orders. A mark that does not move
    // rolls the position back.
    let position = tx
        .fetch_one(TAKE_POSITIONS.into(), args![1_i64])
        .await?
        .int("last_id")?;
    let moved = tx
        .fetch_optional(
            "UPDATE members SET last_read_message_id = \
                CASE WHEN $3 < last_message_id THEN $3 ELSE last_message_id END \
             WHERE conversation_id = $1 AND user_id = $2 AND last_read_message_id < \
                CASE WHEN $3 < last_message_id THEN $3 ELSE last_message_id END \
             RETURNING last_read_message_id"
                .into(),
            args![conversation.get(), user_id.get(), up_to.get()],
        )
        .await?;
    let Some(moved) = moved else {
        let current = tx
            .fetch_optional(
                "SELECT last_read_message_id FROM members WHERE conversation_id = $1 AND user_id = $2".into(),
                args![conversation.get(), user_id.get()],
            )
            .await?;
        if let Some(row) = current {
            tx.rollback().await?;
            return Ok(ReadMark {
                up_to: MessageId::new(row.int("last_read_message_id")?),
                moved: None,
            });
        }
        // Not a direct conversation of the user's: a group's, or none.
        let group =
            crate::groups::mark_group_read(&mut tx, conversation, user_id, up_to, position).await?;
        return match group {
            Some((mark, true)) => {
                tx.commit().await?;
                Ok(ReadMark {
                    up_to: mark,
                    moved: Some(Position::new(position)),
                })
            }
            Some((mark, false)) => {
                tx.rollback().await?;
                Ok(ReadMark {
                    up_to: mark,
                    moved: None,
                })
            }
            None => {
                tx.rollback().await?;
                Err(ChatError::NotFound)
            }
        };
    };
    let mark = moved.int("last_read_message_id")?;
    // Only the newest read change of a member matters.
    tx.execute(
        "DELETE FROM changes WHERE conversation_id = $1 AND user_id = $2 AND kind = 'read'".into(),
        args![conversation.get(), user_id.get()],
    )
    .await?;
    tx.execute(
        "INSERT INTO changes (position, conversation_id, kind, user_id, message_id) \
         VALUES ($1, $2, 'read', $3, $4)"
            .into(),
        args![position, conversation.get(), user_id.get(), mark],
    )
    .await?;
    tx.execute(
        "UPDATE members SET last_change = $2 WHERE conversation_id = $1".into(),
        args![conversation.get(), position],
    )
    .await?;
    tx.commit().await?;
    Ok(ReadMark {
        up_to: MessageId::new(mark),
        moved: Some(Position::new(position)),
    })
}

/// [`MessageStore::changes_since`](chat_core::ports::MessageStore::changes_since) in SQL.
pub async fn changes_since(
    store: &impl SqlStore,
    user_id: UserId,
    after: Position,
    limit: PageLimit,
) -> Result<Page<Change>> {
    let sql = store.statements();
    let reader = store.reader();
    // Every read stops at the head read first: positions grow in commit
    // order, so everything at or below it is committed and visible to each
    // of the reads below, which otherwise see the store at different
    // moments (a change committed between two of them could be in one
    // page and an older one missing from it).
    let head = reader
        .fetch_one("SELECT last_id FROM message_clock".into(), args![])
        .await?
        .int("last_id")?;
    let bounds = args![user_id.get(), after.get(), limit.overfetch(), head];
    let messages = reader.fetch_all(sql.messages_since.into(), bounds).await?;
    let reads = reader.fetch_all(sql.reads_since.into(), bounds).await?;
    let group_messages = reader
        .fetch_all(sql.group_messages_since.into(), bounds)
        .await?;
    let group_reads = reader
        .fetch_all(sql.group_reads_since.into(), bounds)
        .await?;
    let revisions = reader.fetch_all(sql.revisions_since.into(), bounds).await?;
    let group_revisions = reader
        .fetch_all(sql.group_revisions_since.into(), bounds)
        .await?;
    let mut changes = messages
        .iter()
        .chain(&group_messages)
        .map(|row| Ok(Change::Message(message(row)?)))
        .chain(reads.iter().map(|row| {
            Ok(Change::Read {
                position: Position::new(row.int("position")?),
                conversation: ConversationId::new(row.int("conversation_id")?),
                by: user(row, "by_id", "by_username")?,
                with: Some(user(row, "with_id", "with_username")?),
                up_to: MessageId::new(row.int("up_to")?),
            })
        }))
        .chain(group_reads.iter().map(|row| {
            Ok(Change::Read {
                position: Position::new(row.int("position")?),
                conversation: ConversationId::new(row.int("conversation_id")?),
                by: user(row, "by_id", "by_username")?,
                with: None,
                up_to: MessageId::new(row.int("up_to")?),
            })
        }))
        .chain(revised(&revisions))
        .chain(revised(&group_revisions))
        .collect::<Result<Vec<Change>>>()?;
    // Each list is in order and holds at most one page and one more: so
    // does their merge, cut at one page.
    changes.sort_by_key(Change::position);
    Ok(Page::from_overfetch(changes, limit))
}

/// [`MessageStore::feed_since`](chat_core::ports::MessageStore::feed_since) in SQL:
/// messages and read changes above `after`, each read by its primary key's
/// order up to the head read first (as in [`changes_since`]), merged.
pub async fn feed_since(
    store: &impl SqlStore,
    after: Position,
    limit: PageLimit,
) -> Result<Page<Change>> {
    let reader = store.reader();
    let head = reader
        .fetch_one("SELECT last_id FROM message_clock".into(), args![])
        .await?
        .int("last_id")?;
    let bounds = args![after.get(), limit.overfetch(), head];
    let messages = reader
        .fetch_all(
            concat!(
                "SELECT ",
                crate::message_columns!(),
                " FROM messages msg ",
                crate::message_joins!(),
                " WHERE msg.id > $1 AND msg.id <= $3 ORDER BY msg.id LIMIT $2"
            )
            .into(),
            bounds,
        )
        .await?;
    let reads = reader
        .fetch_all(
            "SELECT c.position, c.conversation_id, c.message_id AS up_to, \
                c.user_id AS by_id, bu.username AS by_username, \
                w.user_id AS with_id, wu.username AS with_username \
             FROM changes c \
             JOIN users bu ON bu.id = c.user_id \
             LEFT JOIN members w ON w.conversation_id = c.conversation_id AND w.user_id <> c.user_id \
             LEFT JOIN users wu ON wu.id = w.user_id \
             WHERE c.position > $1 AND c.position <= $3 AND c.kind = 'read' \
             ORDER BY c.position LIMIT $2"
                .into(),
            bounds,
        )
        .await?;
    let revisions = reader.fetch_all(FEED_REVISIONS.into(), bounds).await?;
    let mut changes = messages
        .iter()
        .map(|row| Ok(Change::Message(message(row)?)))
        .chain(reads.iter().map(|row| {
            let with = match row.opt_int("with_id")? {
                Some(_) => Some(user(row, "with_id", "with_username")?),
                None => None,
            };
            Ok(Change::Read {
                position: Position::new(row.int("position")?),
                conversation: ConversationId::new(row.int("conversation_id")?),
                by: user(row, "by_id", "by_username")?,
                with,
                up_to: MessageId::new(row.int("up_to")?),
            })
        }))
        .chain(revised(&revisions))
        .collect::<Result<Vec<Change>>>()?;
    changes.sort_by_key(Change::position);
    Ok(Page::from_overfetch(changes, limit))
}

/// [`MessageStore::head`](chat_core::ports::MessageStore::head) in SQL.
pub async fn head(store: &impl SqlStore) -> Result<Position> {
    let row = store
        .reader()
        .fetch_one("SELECT last_id FROM message_clock".into(), args![])
        .await?;
    Ok(Position::new(row.int("last_id")?))
}

/// [`MessageStore::last_message_id`](chat_core::ports::MessageStore::last_message_id) in SQL.
pub async fn last_message_id(store: &impl SqlStore, user_id: UserId) -> Result<MessageId> {
    let row = store
        .reader()
        .fetch_optional(
            "SELECT last_message_id FROM members WHERE user_id = $1 \
             ORDER BY last_message_id DESC LIMIT 1"
                .into(),
            args![user_id.get()],
        )
        .await?;
    let direct = row.map_or(Ok(0), |row| row.int("last_message_id"))?;
    let group = store
        .reader()
        .fetch_one(
            crate::groups::LAST_GROUP_MESSAGE.into(),
            args![user_id.get()],
        )
        .await?
        .opt_int("last_message_id")?
        .unwrap_or(0);
    Ok(MessageId::new(direct.max(group)))
}

/// One new message as the batch statements read it (a JSON array): `id`
/// (or the ordinal the statement turns into one), conversation, sender,
/// recipient, text, text folded for search, sent at, client id, the
/// parent of a reply, its thread's root, its mentions (JSON).
pub type MessageRow<'a> = (
    i64,
    i64,
    i64,
    Option<i64>,
    &'a str,
    String,
    i64,
    Option<&'a str>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// `new` as a [`MessageRow`] with `id`.
///
/// # Errors
/// Never in practice: mentions always encode as JSON.
pub fn message_row(id: i64, new: &NewMessage) -> Result<MessageRow<'_>> {
    Ok((
        id,
        new.conversation.get(),
        new.sender.id().get(),
        new.recipient.as_ref().map(|r| r.id().get()),
        new.text.as_str(),
        fold_for_search(new.text.as_str()),
        new.sent_at.unix_micros(),
        new.client_id.as_ref().map(ClientMessageId::as_str),
        new.reply.as_ref().map(|r| r.quote.id.get()),
        new.reply.as_ref().map(|r| r.thread_root.get()),
        mentions_json(&new.mentioned.mentions)?,
    ))
}

/// A message's mentions as the `mentions` column stores them: `None` for
/// none.
///
/// # Errors
/// Never in practice: mentions always encode as JSON.
pub fn mentions_json(mentions: &Mentions) -> Result<Option<String>> {
    if mentions.is_empty() {
        return Ok(None);
    }
    json(mentions).map(Some)
}

/// A batch's thread read marks as rows `[user_id, root_id, read_up_to]`
/// (see [`chat_core::backend::thread_reads`]); `read_up_to` is an id, or
/// the ordinal a statement turns into one.
pub fn thread_read_rows<'a>(
    fresh: impl IntoIterator<Item = (&'a NewMessage, MessageId)>,
) -> Vec<(i64, i64, i64)> {
    chat_core::backend::thread_reads(fresh)
        .into_iter()
        .map(|r| (r.user.get(), r.root.get(), r.up_to.get()))
        .collect()
}

/// The rows of the `mentions` table for message `id` of `conversation`,
/// reaching `users`.
pub fn mention_rows(
    id: MessageId,
    conversation: ConversationId,
    users: &[UserId],
) -> impl Iterator<Item = (i64, i64, i64)> + '_ {
    users
        .iter()
        .map(move |user| (id.get(), conversation.get(), user.get()))
}
