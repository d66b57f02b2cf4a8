//! Message appends, in batches for [`chat_core::GroupCommit`].
//!
//! One transaction per batch, in three phases: idempotency checks and
//! conversations first; then ids from the message clock, whose row lock is
//! held until commit, so ids grow in commit order across every process;
//! then the rows. A message that loses an idempotency race to another
//! process (the unique index) returns the winner's row.

use async_trait::async_trait;
use chat_core::ports::Appended;
use chat_core::{
    BatchAppend, ClientMessageId, ConversationId, Message, MessageId, NewMessage, Result, UserId,
    fold_for_search,
};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use chat_core::domain::corrupt;

use crate::error::to_chat;
use crate::rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, message};

/// The PostgreSQL side of group commit.
pub(crate) struct PgBatches {
    pub(crate) pool: PgPool,
}

#[async_trait]
impl BatchAppend for PgBatches {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        let mut tx = self.pool.begin().await.map_err(to_chat)?;
        let mut results: Vec<Option<Appended>> = vec![None; batch.len()];
        let mut fresh = Vec::with_capacity(batch.len());
        for (index, new) in batch.iter().enumerate() {
            if let Some(client_id) = &new.client_id
                && let Some(existing) =
                    find_by_client_id(&mut tx, new.sender.id(), client_id).await?
            {
                results[index] = Some(Appended::Existing(existing));
                continue;
            }
            fresh.push((
                index,
                direct_conversation(&mut tx, new).await.map_err(to_chat)?,
            ));
        }
        if !fresh.is_empty() {
            let count = i64::try_from(fresh.len()).unwrap_or(i64::MAX);
            let last: i64 = sqlx::query_scalar(
                "UPDATE message_clock SET last_id = last_id + $1 RETURNING last_id",
            )
            .bind(count)
            .fetch_one(&mut *tx)
            .await
            .map_err(to_chat)?;
            for (offset, (index, conversation)) in (0..).zip(fresh) {
                let id = MessageId::new(last - count + 1 + offset);
                let new = &batch[index];
                results[index] = Some(insert(&mut tx, new, conversation, id).await?);
            }
        }
        tx.commit().await.map_err(to_chat)?;
        Ok(results
            .into_iter()
            .map(|r| {
                r.ok_or_else(|| {
                    chat_core::ChatError::internal("a message of the batch was not handled")
                })
            })
            .collect())
    }
}

async fn insert(
    conn: &mut PgConnection,
    new: &NewMessage,
    conversation: ConversationId,
    id: MessageId,
) -> Result<Appended> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(id.get())
    .bind(conversation.get())
    .bind(new.sender.id().get())
    .bind(new.recipient.id().get())
    .bind(new.text.as_str())
    .bind(fold_for_search(new.text.as_str()))
    .bind(new.sent_at.unix_micros())
    .bind(new.client_id.as_ref().map(ClientMessageId::as_str))
    .fetch_optional(&mut *conn)
    .await
    .map_err(to_chat)?;
    if inserted.is_none() {
        // Another sender (in this batch or another process) stored this
        // client id first: theirs is the message.
        let client_id = new
            .client_id
            .as_ref()
            .ok_or_else(|| corrupt("message", "insert skipped without a client id"))?;
        let existing = find_by_client_id(conn, new.sender.id(), client_id)
            .await?
            .ok_or_else(|| corrupt("message", "client id conflict without a row"))?;
        return Ok(Appended::Existing(existing));
    }
    sqlx::query(
        "UPDATE members SET last_message_id = GREATEST(last_message_id, $2), \
             last_read_message_id = CASE WHEN user_id = $3 THEN GREATEST(last_read_message_id, $2) \
                                         ELSE last_read_message_id END \
         WHERE conversation_id = $1",
    )
    .bind(conversation.get())
    .bind(id.get())
    .bind(new.sender.id().get())
    .execute(&mut *conn)
    .await
    .map_err(to_chat)?;
    Ok(Appended::Created(Message::new(
        id,
        conversation,
        new.sender.clone(),
        new.recipient.clone(),
        new.text.clone(),
        new.sent_at,
        new.client_id.clone(),
    )))
}

async fn find_by_client_id(
    conn: &mut PgConnection,
    sender: UserId,
    client_id: &ClientMessageId,
) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages msg {MESSAGE_JOINS} \
         WHERE msg.sender_id = $1 AND msg.client_id = $2"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(sender.get())
        .bind(client_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(to_chat)?;
    row.as_ref().map(message).transpose()
}

async fn direct_conversation(
    conn: &mut PgConnection,
    new: &NewMessage,
) -> Result<ConversationId, sqlx::Error> {
    let (a, b) = (new.sender.id(), new.recipient.id());
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let created: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversations (kind, direct_low, direct_high, created_at) VALUES ('direct', $1, $2, $3) \
         ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING RETURNING id",
    )
    .bind(low.get())
    .bind(high.get())
    .bind(new.sent_at.unix_micros())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = created {
        sqlx::query("INSERT INTO members (conversation_id, user_id) VALUES ($1, $2), ($1, $3) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(low.get())
            .bind(high.get())
            .execute(&mut *conn)
            .await?;
        return Ok(ConversationId::new(id));
    }
    let id: i64 = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE kind = 'direct' AND direct_low = $1 AND direct_high = $2",
    )
    .bind(low.get())
    .bind(high.get())
    .fetch_one(&mut *conn)
    .await?;
    Ok(ConversationId::new(id))
}
