//! Message appends, in batches for [`chat_core::GroupCommit`].
//!
//! A batch is one transaction written with a handful of set-based
//! statements, whatever its size: the rows travel as one JSON array each,
//! unpacked by `json_each`, so a batch costs a few round trips to SQLite's
//! connection thread instead of several per message. (If a statement fails
//! on one message's account, `GroupCommit` tries each message alone.)

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::ports::Appended;
use chat_core::{
    AppendPlan, BatchAppend, ClientMessageId, ConversationId, Message, MessageId, NewMessage,
    Result, UserId, WrittenBatch, direct_pair, fold_for_search,
};
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use crate::error::to_chat;
use crate::rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, message};

/// The SQLite side of group commit.
pub(crate) struct SqliteBatches {
    /// The writer pool (one connection).
    pub(crate) pool: SqlitePool,
}

#[async_trait]
impl BatchAppend for SqliteBatches {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        commit(&self.pool, batch).await.map_err(to_chat)
    }
}

/// `ChatError` from the plan, carried through sqlx's error type.
fn broken(error: chat_core::ChatError) -> sqlx::Error {
    sqlx::Error::Protocol(error.to_string())
}

fn json<T: serde::Serialize>(rows: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

async fn commit(
    pool: &SqlitePool,
    batch: &[NewMessage],
) -> Result<Vec<Result<Appended>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let existing = stored_by_client_id(&mut tx, batch).await?;
    let plan = AppendPlan::new(batch, existing);
    let conversations = direct_conversations(&mut tx, &plan).await?;
    let ids = insert_messages(&mut tx, &plan, &conversations).await?;
    let written = plan.written(&conversations, &ids).map_err(broken)?;
    index_and_mark(&mut tx, &written).await?;
    tx.commit().await?;
    Ok(written.into_results())
}

/// The stored messages under the batch's idempotency keys.
async fn stored_by_client_id(
    conn: &mut SqliteConnection,
    batch: &[NewMessage],
) -> Result<Vec<Message>, sqlx::Error> {
    let keys: Vec<(i64, &str)> = AppendPlan::idempotency_keys(batch)
        .into_iter()
        .map(|(sender, client)| (sender.get(), client.as_str()))
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM json_each(?1) k \
         CROSS JOIN messages msg ON msg.sender_id = k.value ->> 0 AND msg.client_id = k.value ->> 1 \
         {MESSAGE_JOINS}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(json(&keys)?)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| message(row).map_err(broken))
        .collect()
}

/// The conversation of every pair the plan writes to, created if new.
async fn direct_conversations(
    conn: &mut SqliteConnection,
    plan: &AppendPlan<'_>,
) -> Result<HashMap<(UserId, UserId), ConversationId>, sqlx::Error> {
    let pairs = plan.direct_pairs();
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<(i64, i64)> = pairs.iter().map(|(a, b)| (a.get(), b.get())).collect();
    let found: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT c.id, c.direct_low, c.direct_high FROM json_each(?1) p \
         CROSS JOIN conversations c \
           ON c.kind = 'direct' AND c.direct_low = p.value ->> 0 AND c.direct_high = p.value ->> 1",
    )
    .bind(json(&keys)?)
    .fetch_all(&mut *conn)
    .await?;
    let mut conversations: HashMap<(UserId, UserId), ConversationId> = found
        .into_iter()
        .map(|(id, low, high)| {
            (
                (UserId::new(low), UserId::new(high)),
                ConversationId::new(id),
            )
        })
        .collect();
    let first_sent = |pair: &(UserId, UserId)| {
        plan.fresh()
            .find(|m| direct_pair(m.sender.id(), m.recipient.id()) == *pair)
            .map_or(0, |m| m.sent_at.unix_micros())
    };
    let missing: Vec<(i64, i64, i64)> = pairs
        .iter()
        .filter(|pair| !conversations.contains_key(pair))
        .map(|pair| (pair.0.get(), pair.1.get(), first_sent(pair)))
        .collect();
    if missing.is_empty() {
        return Ok(conversations);
    }
    let created: Vec<(i64, i64, i64)> = sqlx::query_as(
        "INSERT INTO conversations (kind, direct_low, direct_high, created_at) \
         SELECT 'direct', value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1) \
         RETURNING id, direct_low, direct_high",
    )
    .bind(json(&missing)?)
    .fetch_all(&mut *conn)
    .await?;
    let members: Vec<(i64, i64)> = created
        .iter()
        .flat_map(|&(id, low, high)| [(id, low), (id, high)])
        .collect();
    sqlx::query(
        "INSERT INTO members (conversation_id, user_id) \
         SELECT value ->> 0, value ->> 1 FROM json_each(?1)",
    )
    .bind(json(&members)?)
    .execute(&mut *conn)
    .await?;
    conversations.extend(created.into_iter().map(|(id, low, high)| {
        (
            (UserId::new(low), UserId::new(high)),
            ConversationId::new(id),
        )
    }));
    Ok(conversations)
}

/// Inserts the fresh messages in order and returns their ids, in the same
/// order.
async fn insert_messages(
    conn: &mut SqliteConnection,
    plan: &AppendPlan<'_>,
    conversations: &HashMap<(UserId, UserId), ConversationId>,
) -> Result<Vec<MessageId>, sqlx::Error> {
    if plan.fresh().len() == 0 {
        return Ok(Vec::new());
    }
    let rows = plan
        .fresh()
        .map(|m| {
            let pair = direct_pair(m.sender.id(), m.recipient.id());
            let conversation = conversations
                .get(&pair)
                .ok_or_else(|| sqlx::Error::Protocol("a conversation was not created".into()))?;
            Ok((
                conversation.get(),
                m.sender.id().get(),
                m.recipient.id().get(),
                m.text.as_str(),
                fold_for_search(m.text.as_str()),
                m.sent_at.unix_micros(),
                m.client_id.as_ref().map(ClientMessageId::as_str),
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let inserted = sqlx::query(
        "INSERT INTO messages (conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6 \
         FROM json_each(?1) ORDER BY key",
    )
    .bind(json(&rows)?)
    .execute(&mut *conn)
    .await?;
    // One writer and AUTOINCREMENT: the rows took consecutive ids, in order,
    // ending at the last one inserted.
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    if i64::try_from(inserted.rows_affected()).ok() != Some(count) {
        return Err(sqlx::Error::Protocol(
            "not every message was inserted".into(),
        ));
    }
    let last = inserted.last_insert_rowid();
    Ok((last - count + 1..=last).map(MessageId::new).collect())
}

/// The search index rows and the members' marks of a written batch.
async fn index_and_mark(
    conn: &mut SqliteConnection,
    written: &WrittenBatch,
) -> Result<(), sqlx::Error> {
    if written.created().is_empty() {
        return Ok(());
    }
    // The batch's ids are the only ones in their range: one writer.
    let first = written.created().first().map(|m| m.id().get());
    let last = written.created().last().map(|m| m.id().get());
    sqlx::query(
        "INSERT INTO message_search (rowid, body_folded) \
         SELECT id, body_folded FROM messages WHERE id BETWEEN ?1 AND ?2",
    )
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await?;
    let heads: Vec<(i64, i64)> = written
        .conversation_heads()
        .into_iter()
        .map(|(conversation, id)| (conversation.get(), id.get()))
        .collect();
    sqlx::query(
        "UPDATE members SET last_message_id = h.value ->> 1 FROM json_each(?1) h \
         WHERE members.conversation_id = h.value ->> 0",
    )
    .bind(json(&heads)?)
    .execute(&mut *conn)
    .await?;
    let marks: Vec<(i64, i64, i64)> = written
        .sender_read_marks()
        .into_iter()
        .map(|(conversation, user, id)| (conversation.get(), user.get(), id.get()))
        .collect();
    sqlx::query(
        "UPDATE members SET last_read_message_id = r.value ->> 2, has_spoken = 1 FROM json_each(?1) r \
         WHERE members.conversation_id = r.value ->> 0 AND members.user_id = r.value ->> 1",
    )
    .bind(json(&marks)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
