//! Conversation and message reads, and read marks.

use async_trait::async_trait;
use chat_core::ports::{Appended, ConversationQuery, HistoryQuery, MessageStore, Page, PageLimit};
use chat_core::{
    ChatError, ConversationId, ConversationSummary, Message, MessageId, NewMessage, Result, UserId,
};
use sqlx::AssertSqlSafe;

use crate::PgStore;
use crate::error::to_chat;
use crate::rows::{MESSAGE_COLUMNS, MESSAGE_JOINS, get, message, user};

/// A `LIKE` pattern matching `term` anywhere, with `\`, `%` and `_` literal.
fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

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

/// Conversations: `$1` user, `$2` before (last message id), `$3` limit.
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
         WHERE m.user_id = $1 AND m.last_message_id < $2 \
         ORDER BY m.last_message_id DESC LIMIT $3"
    )
}

/// Recovery: `$1` user, `$2` after, `$3` limit.
pub(crate) fn since_sql() -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM members m \
         JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.id > $2 \
         {MESSAGE_JOINS} \
         WHERE m.user_id = $1 AND m.last_message_id > $2 \
         ORDER BY msg.id LIMIT $3"
    )
}

#[async_trait]
impl MessageStore for PgStore {
    async fn append_message(&self, message: NewMessage) -> Result<Appended> {
        self.appends().append(message).await
    }

    async fn find_direct_conversation(
        &self,
        a: UserId,
        b: UserId,
    ) -> Result<Option<ConversationId>> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM conversations WHERE kind = 'direct' AND direct_low = $1 AND direct_high = $2",
        )
        .bind(low.get())
        .bind(high.get())
        .fetch_optional(self.pool())
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
        let pattern = query
            .search
            .as_ref()
            .map(|term| contains_pattern(term.folded()));
        let sql = history_sql(forward, pattern.is_some());
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(conversation.get())
            .bind(query.after.unwrap_or(MessageId::ZERO).get())
            .bind(query.before.map_or(i64::MAX, MessageId::get))
            .bind(query.limit.overfetch())
            .bind(pattern)
            .fetch_all(self.pool())
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
        let rows = sqlx::query(AssertSqlSafe(conversations_sql()))
            .bind(user_id.get())
            .bind(query.before.map_or(i64::MAX, MessageId::get))
            .bind(query.limit.overfetch())
            .fetch_all(self.pool())
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
            "UPDATE members SET last_read_message_id = LEAST($3, last_message_id) \
             WHERE conversation_id = $1 AND user_id = $2 \
               AND last_read_message_id < LEAST($3, last_message_id) \
             RETURNING last_read_message_id",
        )
        .bind(conversation.get())
        .bind(user_id.get())
        .bind(up_to.get())
        .fetch_optional(self.pool())
        .await
        .map_err(to_chat)?;
        if let Some(mark) = moved {
            return Ok((MessageId::new(mark), true));
        }
        let current: Option<i64> = sqlx::query_scalar(
            "SELECT last_read_message_id FROM members WHERE conversation_id = $1 AND user_id = $2",
        )
        .bind(conversation.get())
        .bind(user_id.get())
        .fetch_optional(self.pool())
        .await
        .map_err(to_chat)?;
        current
            .map(|mark| (MessageId::new(mark), false))
            .ok_or(ChatError::NotFound)
    }

    async fn messages_since(
        &self,
        user_id: UserId,
        after: MessageId,
        limit: PageLimit,
    ) -> Result<Page<Message>> {
        let rows = sqlx::query(AssertSqlSafe(since_sql()))
            .bind(user_id.get())
            .bind(after.get())
            .bind(limit.overfetch())
            .fetch_all(self.pool())
            .await
            .map_err(to_chat)?;
        let messages = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(messages, limit))
    }

    async fn have_both_spoken(&self, a: UserId, b: UserId) -> Result<bool> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let both: Option<bool> = sqlx::query_scalar(
            "SELECT bool_and(m.has_spoken) FROM conversations c \
             JOIN members m ON m.conversation_id = c.id \
             WHERE c.kind = 'direct' AND c.direct_low = $1 AND c.direct_high = $2",
        )
        .bind(low.get())
        .bind(high.get())
        .fetch_one(self.pool())
        .await
        .map_err(to_chat)?;
        Ok(both.unwrap_or(false))
    }

    async fn conversation_peers(&self, user_id: UserId) -> Result<Vec<UserId>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT p.user_id FROM members m \
             JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id \
             WHERE m.user_id = $1 AND m.has_spoken AND p.has_spoken",
        )
        .bind(user_id.get())
        .fetch_all(self.pool())
        .await
        .map_err(to_chat)?;
        Ok(ids.into_iter().map(UserId::new).collect())
    }

    async fn last_message_id(&self, user_id: UserId) -> Result<MessageId> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT last_message_id FROM members WHERE user_id = $1 ORDER BY last_message_id DESC LIMIT 1",
        )
        .bind(user_id.get())
        .fetch_optional(self.pool())
        .await
        .map_err(to_chat)?;
        Ok(id.map_or(MessageId::ZERO, MessageId::new))
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
    }
}
