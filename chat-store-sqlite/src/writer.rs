//! Message appends, in batches for [`chat_core::GroupCommit`]: each batch
//! is one transaction, each message in it a savepoint, so one failing
//! message does not fail its batch-mates.

use async_trait::async_trait;
use chat_core::ports::Appended;
use chat_core::{
    BatchAppend, ClientMessageId, ConversationId, Message, MessageId, NewMessage, Result,
    fold_for_search,
};
use sqlx::AssertSqlSafe;
use sqlx::{SqliteConnection, SqlitePool};

use crate::error::to_chat;
use crate::rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, message};

/// The SQLite side of group commit: one transaction per batch, a savepoint
/// per message.
pub(crate) struct SqliteBatches {
    /// The writer pool (one connection).
    pub(crate) pool: SqlitePool,
}

#[async_trait]
impl BatchAppend for SqliteBatches {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        commit_batch(&self.pool, batch).await.map_err(to_chat)
    }
}

async fn commit_batch(
    pool: &SqlitePool,
    batch: &[NewMessage],
) -> Result<Vec<Result<Appended>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for message in batch {
        sqlx::query("SAVEPOINT append").execute(&mut *tx).await?;
        match append_one(&mut tx, message).await {
            Ok(appended) => {
                sqlx::query("RELEASE append").execute(&mut *tx).await?;
                results.push(Ok(appended));
            }
            Err(error) => {
                sqlx::query("ROLLBACK TO append").execute(&mut *tx).await?;
                sqlx::query("RELEASE append").execute(&mut *tx).await?;
                results.push(Err(to_chat(error)));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn append_one(
    conn: &mut SqliteConnection,
    new: &NewMessage,
) -> Result<Appended, sqlx::Error> {
    if let Some(client_id) = &new.client_id
        && let Some(existing) = find_by_client_id(conn, new, client_id).await?
    {
        return Ok(Appended::Existing(existing));
    }
    let conversation = direct_conversation(conn, new).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (conversation_id, sender_id, recipient_id, body, sent_at, client_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    )
    .bind(conversation.get())
    .bind(new.sender.id().get())
    .bind(new.recipient.id().get())
    .bind(new.text.as_str())
    .bind(new.sent_at.unix_micros())
    .bind(new.client_id.as_ref().map(ClientMessageId::as_str))
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO message_search (rowid, body_folded) VALUES (?1, ?2)")
        .bind(id)
        .bind(fold_for_search(new.text.as_str()))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE members SET last_message_id = ?2, \
             last_read_message_id = CASE WHEN user_id = ?3 THEN ?2 ELSE last_read_message_id END \
         WHERE conversation_id = ?1",
    )
    .bind(conversation.get())
    .bind(id)
    .bind(new.sender.id().get())
    .execute(&mut *conn)
    .await?;
    Ok(Appended::Created(Message::new(
        MessageId::new(id),
        conversation,
        new.sender.clone(),
        new.recipient.clone(),
        new.text.clone(),
        new.sent_at,
        new.client_id.clone(),
    )))
}

async fn find_by_client_id(
    conn: &mut SqliteConnection,
    new: &NewMessage,
    client_id: &ClientMessageId,
) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages msg {MESSAGE_JOINS} \
         WHERE msg.sender_id = ?1 AND msg.client_id = ?2"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(new.sender.id().get())
        .bind(client_id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref()
        .map(message)
        .transpose()
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))
}

async fn direct_conversation(
    conn: &mut SqliteConnection,
    new: &NewMessage,
) -> Result<ConversationId, sqlx::Error> {
    let (a, b) = (new.sender.id(), new.recipient.id());
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE kind = 'direct' AND direct_low = ?1 AND direct_high = ?2",
    )
    .bind(low.get())
    .bind(high.get())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = existing {
        return Ok(ConversationId::new(id));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO conversations (kind, direct_low, direct_high, created_at) \
         VALUES ('direct', ?1, ?2, ?3) RETURNING id",
    )
    .bind(low.get())
    .bind(high.get())
    .bind(new.sent_at.unix_micros())
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO members (conversation_id, user_id) VALUES (?1, ?2), (?1, ?3)")
        .bind(id)
        .bind(low.get())
        .bind(high.get())
        .execute(&mut *conn)
        .await?;
    Ok(ConversationId::new(id))
}
