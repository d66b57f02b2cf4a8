//! Rows to domain values. Every stored value is validated again; a row
//! that fails is reported as corrupt, never trusted and never a panic.

use chat_core::backend::{StoredMessage, corrupt, stored_user};
use chat_core::ports::{HistoryQuery, Page};
use chat_core::{Message, MessageId, Quote, Result, User};

use crate::db::SqlRow;

/// The columns [`message`] reads, from `messages msg` joined with the
/// sender `su` and the recipient `ru` ([`message_joins!`](crate::message_joins)),
/// as a literal for `concat!`.
#[macro_export]
macro_rules! message_columns {
    () => {
        "msg.id, msg.conversation_id, msg.sender_id, su.username AS sender_username, \
         msg.recipient_id, ru.username AS recipient_username, msg.body, msg.sent_at, msg.client_id, \
         msg.event, msg.reply_to, msg.thread_root, msg.edited_at, msg.deleted_at, msg.mentions, \
         qm.sender_id AS quoted_sender_id, qu.username AS quoted_sender_username, \
         substr(qm.body, 1, 100) AS quoted_body, qm.deleted_at AS quoted_deleted_at"
    };
}

/// The joins [`message_columns!`](crate::message_columns) needs after
/// `FROM messages msg` (the sender, the recipient, and a reply's parent
/// `qm` with its sender `qu`, for the quote), as a literal for `concat!`.
#[macro_export]
macro_rules! message_joins {
    () => {
        "JOIN users su ON su.id = msg.sender_id LEFT JOIN users ru ON ru.id = msg.recipient_id \
         LEFT JOIN messages qm ON qm.id = msg.reply_to AND qm.conversation_id = msg.conversation_id \
         LEFT JOIN users qu ON qu.id = qm.sender_id"
    };
}

/// [`message_columns!`](crate::message_columns) as a constant.
pub const MESSAGE_COLUMNS: &str = message_columns!();

/// [`message_joins!`](crate::message_joins) as a constant.
pub const MESSAGE_JOINS: &str = message_joins!();

/// The user whose id and name are in columns `id` and `username`.
pub fn user(row: &impl SqlRow, id: &str, username: &str) -> Result<User> {
    stored_user(row.int(id)?, row.text(username)?)
}

/// The message of a row with [`MESSAGE_COLUMNS`].
pub fn message(row: &impl SqlRow) -> Result<Message> {
    let message = StoredMessage {
        id: row.int("id")?,
        conversation_id: row.int("conversation_id")?,
        sender_id: row.int("sender_id")?,
        sender_username: row.text("sender_username")?,
        recipient_id: row.opt_int("recipient_id")?,
        recipient_username: row.opt_text("recipient_username")?,
        body: row.text("body")?,
        sent_at: row.int("sent_at")?,
        client_id: row.opt_text("client_id")?,
        edited_at: row.opt_int("edited_at")?,
        deleted_at: row.opt_int("deleted_at")?,
    }
    .into_message()?;
    let event = row
        .opt_text("event")?
        .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("group event", e)))
        .transpose()?;
    let quote = match (row.opt_int("reply_to")?, row.opt_int("quoted_sender_id")?) {
        (Some(id), Some(sender)) => Some(Quote::stored(
            MessageId::new(id),
            stored_user(sender, row.text("quoted_sender_username")?)?,
            &row.opt_text("quoted_body")?.unwrap_or_default(),
            row.opt_int("quoted_deleted_at")?.is_some(),
        )),
        _ => None,
    };
    let thread_root = row.opt_int("thread_root")?.map(MessageId::new);
    let mentions = row
        .opt_text("mentions")?
        .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("mentions", e)))
        .transpose()?
        .unwrap_or_default();
    Ok(message
        .with_event(event)
        .with_stored_reply(quote, thread_root)
        .with_mentions(mentions))
}

/// A history page from the rows of a history query (ordered by id, oldest
/// first when reading forward, newest first otherwise, one more than the
/// page): chronological, with `has_more` in the direction of reading.
pub fn history_page<R: SqlRow>(rows: &[R], query: &HistoryQuery) -> Result<Page<Message>> {
    let messages = rows.iter().map(message).collect::<Result<Vec<_>>>()?;
    let mut page = Page::from_overfetch(messages, query.limit);
    if !query.reads_forward() {
        page.items.reverse();
    }
    Ok(page)
}
