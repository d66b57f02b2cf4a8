//! Rows to domain values. Every stored value is re-validated; a row that
//! fails is reported as corrupt, never trusted and never a panic.

use chat_core::domain::{StoredMessage, stored_user};
use chat_core::{ChatError, Message, User};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error::to_chat;

/// The columns [`message`] reads, from `messages msg` joined with the
/// sender `su` and recipient `ru`.
pub(crate) const MESSAGE_COLUMNS: &str = "msg.id, msg.conversation_id, msg.sender_id, \
     su.username AS sender_username, msg.recipient_id, ru.username AS recipient_username, \
     msg.body, msg.sent_at, msg.client_id";

/// The joins [`MESSAGE_COLUMNS`] needs after `FROM messages msg`.
pub(crate) const MESSAGE_JOINS: &str =
    "JOIN users su ON su.id = msg.sender_id JOIN users ru ON ru.id = msg.recipient_id";

pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, ChatError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column).map_err(to_chat)
}

pub(crate) fn user(row: &SqliteRow, id: &str, username: &str) -> Result<User, ChatError> {
    stored_user(get(row, id)?, get(row, username)?)
}

pub(crate) fn message(row: &SqliteRow) -> Result<Message, ChatError> {
    StoredMessage {
        id: get(row, "id")?,
        conversation_id: get(row, "conversation_id")?,
        sender_id: get(row, "sender_id")?,
        sender_username: get(row, "sender_username")?,
        recipient_id: get(row, "recipient_id")?,
        recipient_username: get(row, "recipient_username")?,
        body: get(row, "body")?,
        sent_at: get(row, "sent_at")?,
        client_id: get(row, "client_id")?,
    }
    .into_message()
}
