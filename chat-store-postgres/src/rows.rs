//! Rows to domain values. Every stored value is re-validated; a row that
//! fails is reported as corrupt, never trusted and never a panic.

use chat_core::{
    ChatError, ClientMessageId, ConversationId, Message, MessageId, MessageText, Timestamp, User,
    UserId, Username,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error::{corrupt, to_chat};

/// The columns [`message`] reads, from `messages msg` joined with the
/// sender `su` and recipient `ru`.
pub(crate) const MESSAGE_COLUMNS: &str = "msg.id, msg.conversation_id, msg.sender_id, \
     su.username AS sender_username, msg.recipient_id, ru.username AS recipient_username, \
     msg.body, msg.sent_at, msg.client_id";

/// The joins [`MESSAGE_COLUMNS`] needs after `FROM messages msg`.
pub(crate) const MESSAGE_JOINS: &str =
    "JOIN users su ON su.id = msg.sender_id JOIN users ru ON ru.id = msg.recipient_id";

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, ChatError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column).map_err(to_chat)
}

pub(crate) fn user(row: &PgRow, id: &str, username: &str) -> Result<User, ChatError> {
    let name: String = get(row, username)?;
    let name = Username::parse(name).map_err(|e| corrupt("username", e))?;
    Ok(User::new(UserId::new(get(row, id)?), name))
}

pub(crate) fn message(row: &PgRow) -> Result<Message, ChatError> {
    let body: String = get(row, "body")?;
    let client_id: Option<String> = get(row, "client_id")?;
    Ok(Message::new(
        MessageId::new(get(row, "id")?),
        ConversationId::new(get(row, "conversation_id")?),
        user(row, "sender_id", "sender_username")?,
        user(row, "recipient_id", "recipient_username")?,
        MessageText::parse(body).map_err(|e| corrupt("message body", e))?,
        Timestamp::from_unix_micros(get(row, "sent_at")?),
        client_id
            .map(ClientMessageId::parse)
            .transpose()
            .map_err(|e| corrupt("client id", e))?,
    ))
}
