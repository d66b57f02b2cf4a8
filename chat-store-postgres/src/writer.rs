//! Message appends, in batches for [`chat_core::GroupCommit`].
//!
//! A batch is one transaction of a handful of set-based statements,
//! whatever its size; rows travel as arrays, unpacked by `unnest`:
//!
//! 1. the messages already stored under the batch's idempotency keys;
//! 2. the batch's direct conversations, created if new;
//! 3. ids from the message clock, whose row lock is held until commit, so
//!    ids grow in commit order across every process;
//! 4. the rows, the members' marks, commit.
//!
//! A message that loses an idempotency race to another process (the unique
//! index, step 4) makes the batch start again: the winner has committed by
//! then, so step 1 finds it.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::ports::Appended;
use chat_core::{
    AppendPlan, BatchAppend, ChatError, ClientMessageId, ConversationId, Message, MessageId,
    NewMessage, Result, UserId, WrittenBatch, direct_pair, fold_for_search,
};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use tracing::debug;

use crate::error::to_chat;
use crate::rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, message};

/// How often a batch starts again after losing idempotency races.
const ATTEMPTS: usize = 3;

/// The PostgreSQL side of group commit.
pub(crate) struct PgBatches {
    pub(crate) pool: PgPool,
}

#[async_trait]
impl BatchAppend for PgBatches {
    async fn append_batch(&self, batch: &[NewMessage]) -> Result<Vec<Result<Appended>>> {
        for attempt in 1..=ATTEMPTS {
            if let Some(results) = commit(&self.pool, batch).await? {
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
}

/// Writes the batch; `None` if a message lost an idempotency race and
/// nothing was committed.
async fn commit(pool: &PgPool, batch: &[NewMessage]) -> Result<Option<Vec<Result<Appended>>>> {
    let mut tx = pool.begin().await.map_err(to_chat)?;
    let existing = stored_by_client_id(&mut tx, batch).await?;
    let plan = AppendPlan::new(batch, existing);
    let conversations = direct_conversations(&mut tx, &plan)
        .await
        .map_err(to_chat)?;
    let Some(ids) = insert_messages(&mut tx, &plan, &conversations)
        .await
        .map_err(to_chat)?
    else {
        tx.rollback().await.map_err(to_chat)?;
        return Ok(None);
    };
    let written = plan.written(&conversations, &ids)?;
    mark(&mut tx, &written).await.map_err(to_chat)?;
    tx.commit().await.map_err(to_chat)?;
    Ok(Some(written.into_results()))
}

/// The stored messages under the batch's idempotency keys.
async fn stored_by_client_id(
    conn: &mut PgConnection,
    batch: &[NewMessage],
) -> Result<Vec<Message>> {
    let keys = AppendPlan::idempotency_keys(batch);
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let senders: Vec<i64> = keys.iter().map(|(sender, _)| sender.get()).collect();
    let clients: Vec<&str> = keys.iter().map(|(_, client)| client.as_str()).collect();
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM unnest($1::bigint[], $2::text[]) AS k (sender_id, client_id) \
         JOIN messages msg ON msg.sender_id = k.sender_id AND msg.client_id = k.client_id \
         {MESSAGE_JOINS}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(senders)
        .bind(clients)
        .fetch_all(&mut *conn)
        .await
        .map_err(to_chat)?;
    rows.iter().map(message).collect()
}

/// The conversation of every pair the plan writes to, created if new. Pairs
/// are taken in order so that two writers creating the same ones cannot
/// deadlock.
async fn direct_conversations(
    conn: &mut PgConnection,
    plan: &AppendPlan<'_>,
) -> Result<HashMap<(UserId, UserId), ConversationId>, sqlx::Error> {
    let mut pairs = plan.direct_pairs();
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    pairs.sort_unstable();
    let lows: Vec<i64> = pairs.iter().map(|(low, _)| low.get()).collect();
    let highs: Vec<i64> = pairs.iter().map(|(_, high)| high.get()).collect();
    let created_at = plan
        .fresh()
        .map(|m| m.sent_at.unix_micros())
        .min()
        .unwrap_or_default();
    let created: Vec<(i64, i64, i64)> = sqlx::query_as(
        "INSERT INTO conversations (kind, direct_low, direct_high, created_at) \
         SELECT 'direct', low, high, $3 FROM unnest($1::bigint[], $2::bigint[]) AS p (low, high) \
         ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING \
         RETURNING id, direct_low, direct_high",
    )
    .bind(&lows)
    .bind(&highs)
    .bind(created_at)
    .fetch_all(&mut *conn)
    .await?;
    if !created.is_empty() {
        let (ids, users): (Vec<i64>, Vec<i64>) = created
            .iter()
            .flat_map(|&(id, low, high)| [(id, low), (id, high)])
            .unzip();
        sqlx::query(
            "INSERT INTO members (conversation_id, user_id) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
        )
        .bind(ids)
        .bind(users)
        .execute(&mut *conn)
        .await?;
    }
    let found: Vec<(i64, i64, i64)> = if created.len() == pairs.len() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT c.id, c.direct_low, c.direct_high \
             FROM unnest($1::bigint[], $2::bigint[]) AS p (low, high) \
             JOIN conversations c ON c.kind = 'direct' AND c.direct_low = p.low AND c.direct_high = p.high",
        )
        .bind(&lows)
        .bind(&highs)
        .fetch_all(&mut *conn)
        .await?
    };
    Ok(created
        .into_iter()
        .chain(found)
        .map(|(id, low, high)| {
            (
                (UserId::new(low), UserId::new(high)),
                ConversationId::new(id),
            )
        })
        .collect())
}

/// Takes ids from the clock and inserts the fresh messages with them, in
/// order; `None` if one lost an idempotency race.
async fn insert_messages(
    conn: &mut PgConnection,
    plan: &AppendPlan<'_>,
    conversations: &HashMap<(UserId, UserId), ConversationId>,
) -> Result<Option<Vec<MessageId>>, sqlx::Error> {
    let count = plan.fresh().len();
    if count == 0 {
        return Ok(Some(Vec::new()));
    }
    let count_i64 = i64::try_from(count).unwrap_or(i64::MAX);
    let last: i64 =
        sqlx::query_scalar("UPDATE message_clock SET last_id = last_id + $1 RETURNING last_id")
            .bind(count_i64)
            .fetch_one(&mut *conn)
            .await?;
    let ids: Vec<i64> = (last - count_i64 + 1..=last).collect();
    let mut columns = Columns::with_capacity(count);
    for new in plan.fresh() {
        let pair = direct_pair(new.sender.id(), new.recipient.id());
        let conversation = conversations
            .get(&pair)
            .ok_or_else(|| sqlx::Error::Protocol("a conversation was not created".into()))?;
        columns.push(*conversation, new);
    }
    let inserted: u64 = sqlx::query(
        "INSERT INTO messages (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id) \
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], \
                              $5::text[], $6::text[], $7::bigint[], $8::text[]) \
         ON CONFLICT (sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING",
    )
    .bind(&ids)
    .bind(columns.conversations)
    .bind(columns.senders)
    .bind(columns.recipients)
    .bind(columns.bodies)
    .bind(columns.folded)
    .bind(columns.sent_at)
    .bind(columns.client_ids)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if usize::try_from(inserted).ok() != Some(count) {
        return Ok(None);
    }
    Ok(Some(ids.into_iter().map(MessageId::new).collect()))
}

/// The fresh messages' columns, as arrays for `unnest`.
struct Columns<'a> {
    conversations: Vec<i64>,
    senders: Vec<i64>,
    recipients: Vec<i64>,
    bodies: Vec<&'a str>,
    folded: Vec<String>,
    sent_at: Vec<i64>,
    client_ids: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            conversations: Vec::with_capacity(n),
            senders: Vec::with_capacity(n),
            recipients: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            folded: Vec::with_capacity(n),
            sent_at: Vec::with_capacity(n),
            client_ids: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, conversation: ConversationId, new: &'a NewMessage) {
        self.conversations.push(conversation.get());
        self.senders.push(new.sender.id().get());
        self.recipients.push(new.recipient.id().get());
        self.bodies.push(new.text.as_str());
        self.folded.push(fold_for_search(new.text.as_str()));
        self.sent_at.push(new.sent_at.unix_micros());
        self.client_ids
            .push(new.client_id.as_ref().map(ClientMessageId::as_str));
    }
}

/// The members' marks of a written batch. Ids from other processes may
/// have landed first, hence `GREATEST`.
async fn mark(conn: &mut PgConnection, written: &WrittenBatch) -> Result<(), sqlx::Error> {
    if written.created().is_empty() {
        return Ok(());
    }
    let (conversations, heads): (Vec<i64>, Vec<i64>) = written
        .conversation_heads()
        .into_iter()
        .map(|(conversation, id)| (conversation.get(), id.get()))
        .unzip();
    sqlx::query(
        "UPDATE members m SET last_message_id = GREATEST(m.last_message_id, h.id) \
         FROM unnest($1::bigint[], $2::bigint[]) AS h (conversation_id, id) \
         WHERE m.conversation_id = h.conversation_id",
    )
    .bind(conversations)
    .bind(heads)
    .execute(&mut *conn)
    .await?;
    let mut marks = (Vec::new(), Vec::new(), Vec::new());
    for (conversation, user, id) in written.sender_read_marks() {
        marks.0.push(conversation.get());
        marks.1.push(user.get());
        marks.2.push(id.get());
    }
    sqlx::query(
        "UPDATE members m SET last_read_message_id = GREATEST(m.last_read_message_id, r.id), has_spoken = TRUE \
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS r (conversation_id, user_id, id) \
         WHERE m.conversation_id = r.conversation_id AND m.user_id = r.user_id",
    )
    .bind(marks.0)
    .bind(marks.1)
    .bind(marks.2)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
