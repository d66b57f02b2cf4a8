//! Values as a store reads them back, validated again: a row that breaks a
//! rule is reported as corrupt (an internal error), never trusted and never
//! a panic. Every store maps its rows through these.

use crate::domain::{
    ClientMessageId, ConversationId, Message, MessageId, MessageText, Timestamp, User, UserId,
    Username,
};
use crate::error::{ChatError, Result};

/// A row that does not hold what the schema promises.
pub fn corrupt(what: &str, error: impl std::fmt::Display) -> ChatError {
    ChatError::internal(format!("corrupt row ({what}): {error}"))
}

/// A user from its stored id and name.
///
/// # Errors
/// [`ChatError::Internal`] if the name is not a valid username.
pub fn stored_user(id: i64, username: String) -> Result<User> {
    let username = Username::parse(username).map_err(|e| corrupt("username", e))?;
    Ok(User::new(UserId::new(id), username))
}

/// A message row's columns, before validation.
#[derive(Debug)]
pub struct StoredMessage {
    /// `id`.
    pub id: i64,
    /// `conversation_id`.
    pub conversation_id: i64,
    /// `sender_id`.
    pub sender_id: i64,
    /// The sender's name.
    pub sender_username: String,
    /// `recipient_id` (direct conversations only).
    pub recipient_id: Option<i64>,
    /// The recipient's name.
    pub recipient_username: Option<String>,
    /// `body`.
    pub body: String,
    /// `sent_at`, microseconds since the epoch.
    pub sent_at: i64,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `edited_at`, microseconds since the epoch.
    pub edited_at: Option<i64>,
    /// `deleted_at`, microseconds since the epoch: a tombstone, whose
    /// body is not read.
    pub deleted_at: Option<i64>,
}

impl StoredMessage {
    /// The message, every value validated again.
    ///
    /// # Errors
    /// [`ChatError::Internal`] naming the corrupt column.
    pub fn into_message(self) -> Result<Message> {
        let deleted_at = self.deleted_at.map(Timestamp::from_unix_micros);
        let body = if deleted_at.is_some() {
            // Any placeholder: the tombstone drops it.
            "deleted".to_owned()
        } else {
            self.body
        };
        let message = Message::new(
            MessageId::new(self.id),
            ConversationId::new(self.conversation_id),
            stored_user(self.sender_id, self.sender_username)?,
            match (self.recipient_id, self.recipient_username) {
                (Some(id), Some(name)) => Some(stored_user(id, name)?),
                (None, None) => None,
                _ => return Err(corrupt("recipient", "an id without a name")),
            },
            MessageText::parse(body).map_err(|e| corrupt("message body", e))?,
            Timestamp::from_unix_micros(self.sent_at),
            self.client_id
                .map(ClientMessageId::parse)
                .transpose()
                .map_err(|e| corrupt("client id", e))?,
        )
        .with_edited_at(self.edited_at.map(Timestamp::from_unix_micros));
        Ok(match deleted_at {
            Some(at) => message.deleted(at),
            None => message,
        })
    }
}
