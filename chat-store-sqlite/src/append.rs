//! Appending a batch in two round trips to SQLite's connection thread
//! instead of one per statement.
//!
//! The shared flow (`chat_store_sql`) runs its statements one at a time,
//! each a hand-off to sqlx's connection thread and back: about eight per
//! batch, and on a busy machine each hand-off waits for two threads to be
//! scheduled. SQLite runs several statements sent as one (sqlx binds the
//! same numbered parameters in each), so the batch is:
//!
//! 1. `BEGIN IMMEDIATE` and the look-up of the batch's idempotency keys:
//!    the write lock is taken first, so no other writer can store one of
//!    those keys before the batch does;
//! 2. once planned ([`AppendPlan`]), everything else and `COMMIT`: the
//!    clock, the messages, their search index, the members' heads and the
//!    senders' read marks. The batch does not know its positions when it
//!    sends them: messages travel with ordinals (1, 2, …) and each
//!    statement adds the base the clock has just moved past.
//!
//! The insert has no `ON CONFLICT` clause: under the write lock a key seen
//! free stays free, and a conflict would fail the batch (which the group
//! commit then tries one message at a time) rather than skip a row.

use chat_core::backend::AppendPlan;
use chat_core::ports::Appended;
use chat_core::{ChatError, ConversationId, MessageId, NewMessage, Result, UserId};
use chat_store_sql::{
    Lent, SqlRow, SqlStore, connection_trouble, mention_rows, message, message_row, roll_back,
    sqlite_error, thread_read_rows,
};
use sqlx::SqliteConnection;

use crate::SqliteStore;
use crate::messages::stored_by_client_id;

/// Takes the write lock, then reads the messages stored under the keys:
/// `$1` a JSON array of `[sender_id, client_id]`.
const BEGIN_AND_LOOK_UP: &str = concat!("BEGIN IMMEDIATE; ", stored_by_client_id!());

/// Writes the planned batch and commits: `$1` how many new messages; `$2`
/// a JSON array of `[ordinal, conversation_id, sender_id, recipient_id,
/// body, body_folded, sent_at, client_id, reply_to, thread_root, mentions]`;
/// `$3` of `[conversation_id, ordinal]` (heads); `$4` of
/// `[conversation_id, user_id, ordinal]` (senders' read marks); `$5` of
/// `[conversation_id, ordinal]` (groups' heads); `$6` of
/// `[conversation_id, user_id, ordinal]` (senders' read marks in groups);
/// `$7` of `[ordinal, conversation_id, user_id]` (whom mentions reach);
/// `$8` of `[user_id, root_id, ordinal or 0]` (thread read marks).
/// Returns `last_id`, the batch's last position.
const WRITE_AND_COMMIT: &str = "\
    UPDATE message_clock SET last_id = last_id + $1 RETURNING last_id; \
    INSERT INTO messages \
        (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id, \
         reply_to, thread_root, mentions) \
        SELECT (SELECT last_id FROM message_clock) - $1 + (value ->> 0), value ->> 1, value ->> 2, \
               value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, \
               value ->> 9, value ->> 10 \
        FROM json_each($2); \
    INSERT INTO mentions (user_id, conversation_id, message_id) \
        SELECT value ->> 2, value ->> 1, (SELECT last_id FROM message_clock) - $1 + (value ->> 0) \
        FROM json_each($7); \
    INSERT INTO thread_reads (user_id, root_id, read_up_to) \
        SELECT value ->> 0, value ->> 1, CASE WHEN value ->> 2 = 0 THEN 0 \
            ELSE (SELECT last_id FROM message_clock) - $1 + (value ->> 2) END \
        FROM json_each($8) WHERE true \
        ON CONFLICT (user_id, root_id) DO UPDATE SET read_up_to = \
            max(thread_reads.read_up_to, excluded.read_up_to); \
    INSERT INTO message_search (rowid, body_folded) \
        SELECT id, body_folded FROM messages WHERE id > (SELECT last_id FROM message_clock) - $1; \
    UPDATE members SET last_message_id = \
            max(last_message_id, (SELECT last_id FROM message_clock) - $1 + (h.value ->> 1)) \
        FROM json_each($3) h WHERE members.conversation_id = h.value ->> 0; \
    UPDATE members SET last_read_message_id = \
            max(last_read_message_id, (SELECT last_id FROM message_clock) - $1 + (r.value ->> 2)), \
            has_spoken = 1 \
        FROM json_each($4) r \
        WHERE members.conversation_id = r.value ->> 0 AND members.user_id = r.value ->> 1; \
    UPDATE conversations SET last_message_id = \
            max(last_message_id, (SELECT last_id FROM message_clock) - $1 + (h.value ->> 1)) \
        FROM json_each($5) h WHERE conversations.id = h.value ->> 0; \
    UPDATE group_members SET last_read_message_id = \
            max(last_read_message_id, (SELECT last_id FROM message_clock) - $1 + (r.value ->> 2)), \
            has_spoken = 1 \
        FROM json_each($6) r \
        WHERE group_members.conversation_id = r.value ->> 0 \
          AND group_members.user_id = r.value ->> 1; \
    COMMIT";

/// [`MessageStore::append_batch`](chat_core::ports::MessageStore::append_batch)
/// on SQLite; see the [module](self) docs.
pub(crate) async fn append_batch(
    store: &SqliteStore,
    batch: &[NewMessage],
) -> Result<Vec<Result<Appended>>> {
    let mut writer = store.writer().acquire().await.map_err(sqlite_error)?;
    // Until the batch commits or rolls back: a caller that stops waiting
    // leaves the transaction to be rolled back by the next borrower.
    writer.unsettle();
    match write(&mut writer, batch).await {
        Ok(results) => {
            writer.settled();
            Ok(results)
        }
        Err(Failure::Sql(error)) => Err(failed(writer, error).await),
        Err(Failure::Chat(error)) => {
            if roll_back(&mut *writer).await.is_ok() {
                writer.settled();
            }
            Err(error)
        }
    }
}

/// Why a batch failed: the database, or the batch itself.
enum Failure {
    Sql(sqlx::Error),
    Chat(ChatError),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Self::Sql(error)
    }
}

impl From<ChatError> for Failure {
    fn from(error: ChatError) -> Self {
        Self::Chat(error)
    }
}

async fn write(
    writer: &mut SqliteConnection,
    batch: &[NewMessage],
) -> std::result::Result<Vec<Result<Appended>>, Failure> {
    let keys: Vec<(i64, &str)> = AppendPlan::idempotency_keys(batch)
        .into_iter()
        .map(|(sender, client)| (sender.get(), client.as_str()))
        .collect();
    let existing = if keys.is_empty() {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *writer).await?;
        Vec::new()
    } else {
        let rows = sqlx::query(BEGIN_AND_LOOK_UP)
            .bind(json(&keys)?)
            .fetch_all(&mut *writer)
            .await?;
        rows.iter().map(message).collect::<Result<Vec<_>>>()?
    };
    // Under the write lock, whether each group message's sender is still
    // a member (a removal committed before this batch is seen).
    let group_senders = AppendPlan::group_senders(batch);
    let outsiders = if group_senders.is_empty() {
        Vec::new()
    } else {
        let pairs: Vec<(i64, i64)> = group_senders
            .iter()
            .map(|(g, u)| (g.get(), u.get()))
            .collect();
        let rows = sqlx::query(crate::messages::STATEMENTS.outsiders)
            .bind(json(&pairs)?)
            .fetch_all(&mut *writer)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    ConversationId::new(row.int("conversation_id")?),
                    UserId::new(row.int("sender_id")?),
                ))
            })
            .collect::<Result<Vec<_>>>()?
    };
    let plan = AppendPlan::refusing(batch, existing, &outsiders);
    let count = plan.fresh().len();
    if count == 0 {
        sqlx::query("ROLLBACK").execute(&mut *writer).await?;
        return Ok(plan.written(&[])?.into_results());
    }
    let rows = plan
        .fresh()
        .zip(1_i64..)
        .map(|(new, ordinal)| message_row(ordinal, new))
        .collect::<Result<Vec<_>>>()?;
    let mentions: Vec<(i64, i64, i64)> = plan
        .fresh()
        .zip(1_i64..)
        .flat_map(|(new, ordinal)| {
            mention_rows(
                MessageId::new(ordinal),
                new.conversation,
                &new.mentioned.reached,
            )
        })
        .collect();
    let thread_reads = thread_read_rows(plan.fresh().zip((1_i64..).map(MessageId::new)));
    let count = i64::try_from(count).map_err(ChatError::internal)?;
    let ordinals: Vec<MessageId> = (1..=count).map(MessageId::new).collect();
    let written = plan.written(&ordinals)?;
    let heads: Vec<(i64, i64)> = written
        .conversation_heads()
        .into_iter()
        .map(|(conversation, ordinal)| (conversation.get(), ordinal.get()))
        .collect();
    let marks: Vec<(i64, i64, i64)> = written
        .sender_read_marks()
        .into_iter()
        .map(|(conversation, user, ordinal)| (conversation.get(), user.get(), ordinal.get()))
        .collect();
    let group_heads: Vec<(i64, i64)> = written
        .group_heads()
        .into_iter()
        .map(|(group, ordinal)| (group.get(), ordinal.get()))
        .collect();
    let group_marks: Vec<(i64, i64, i64)> = written
        .group_sender_read_marks()
        .into_iter()
        .map(|(group, user, ordinal)| (group.get(), user.get(), ordinal.get()))
        .collect();
    // Every row, so that every statement runs (a stream dropped after its
    // first row would stop before the rest).
    let committed = sqlx::query(WRITE_AND_COMMIT)
        .bind(count)
        .bind(json(&rows)?)
        .bind(json(&heads)?)
        .bind(json(&marks)?)
        .bind(json(&group_heads)?)
        .bind(json(&group_marks)?)
        .bind(json(&mentions)?)
        .bind(json(&thread_reads)?)
        .fetch_all(&mut *writer)
        .await?;
    let last = match committed.as_slice() {
        [clock] => clock.int("last_id").ok(),
        _ => None,
    };
    let Some(last) = last else {
        // Committed, but which ids the messages got is unknown: not a
        // failure to retry (that would store them again), but an outcome
        // the senders learn by sending again with their client ids.
        return Err(ChatError::unavailable(
            "a batch committed, but its ids could not be read back",
        )
        .into());
    };
    Ok(written.offset_ids(last - count).into_results())
}

/// A failed batch's transaction is rolled back at once (the write lock is
/// held until then); a broken connection is closed instead.
async fn failed(mut writer: Lent<SqliteConnection>, error: sqlx::Error) -> ChatError {
    if connection_trouble(&error) {
        writer.discard().await;
    } else if roll_back(&mut *writer).await.is_ok() {
        writer.settled();
    }
    sqlite_error(error)
}

fn json<T: serde::Serialize + ?Sized>(rows: &T) -> Result<String> {
    serde_json::to_string(rows).map_err(ChatError::internal)
}
