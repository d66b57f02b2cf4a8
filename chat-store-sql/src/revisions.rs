//! Edits and deletes of stored messages, and how the change log replays
//! them: a message's newest change is its `revision`, a position taken
//! from the clock.

use chat_core::ports::{Revision, RevisionKind};
use chat_core::{Change, Message, MessageId, Position, Result, fold_for_search};

use crate::SqlStore;
use crate::args;
use crate::db::{Commit, Sql, SqlPool, SqlRow};
use crate::messages::TAKE_POSITIONS;
use crate::rows::message;

/// One message by id, with the message columns: `$1` the id.
const MESSAGE_BY_ID: &str = concat!(
    "SELECT ",
    crate::message_columns!(),
    " FROM messages msg ",
    crate::message_joins!(),
    " WHERE msg.id = $1"
);

/// [`MessageStore::message`](chat_core::ports::MessageStore::message) in SQL.
pub async fn message_by_id(store: &impl SqlStore, id: MessageId) -> Result<Option<Message>> {
    store
        .reader()
        .fetch_optional(MESSAGE_BY_ID.into(), args![id.get()])
        .await?
        .as_ref()
        .map(message)
        .transpose()
}

/// [`MessageStore::revise_message`](chat_core::ports::MessageStore::revise_message)
/// in SQL: the clock, the row (only a message not deleted, and not a
/// system message), the search index where it does not follow by itself,
/// and for a direct conversation its members' newest change, so that
/// recovery looks at it.
pub async fn revise_message(
    store: &impl SqlStore,
    revision: &Revision,
) -> Result<Option<(Position, Message)>> {
    let sql = store.statements();
    let id = revision.message.get();
    let at = revision.at.unix_micros();
    let mut tx = store.writer().begin().await?;
    // The clock first, as every writer takes it first.
    let position = tx
        .fetch_one(TAKE_POSITIONS.into(), args![1_i64])
        .await?
        .int("last_id")?;
    if let Some(unindex) = sql.unindex_message {
        tx.execute(unindex.into(), args![id]).await?;
    }
    let changed = match &revision.kind {
        RevisionKind::Edit(text) => {
            let folded = fold_for_search(text.as_str());
            tx.fetch_optional(
                "UPDATE messages SET body = $2, body_folded = $3, edited_at = $4, revision = $5 \
                 WHERE id = $1 AND deleted_at IS NULL AND event IS NULL \
                 RETURNING conversation_id, recipient_id"
                    .into(),
                args![id, text.as_str(), &folded, at, position],
            )
            .await?
        }
        RevisionKind::Delete { by } => {
            tx.fetch_optional(
                "UPDATE messages SET body = '', body_folded = '', deleted_at = $2, \
                    deleted_by = $3, revision = $4 \
                 WHERE id = $1 AND deleted_at IS NULL AND event IS NULL \
                 RETURNING conversation_id, recipient_id"
                    .into(),
                args![id, at, by.get(), position],
            )
            .await?
        }
    };
    let Some(changed) = changed else {
        // Nothing to change: the clock's position and the index go back.
        tx.rollback().await?;
        return Ok(None);
    };
    if let (Some(index), RevisionKind::Edit(_)) = (sql.index_messages, &revision.kind) {
        tx.execute(index.into(), args![id, id]).await?;
    }
    if changed.opt_int("recipient_id")?.is_some() {
        tx.execute(
            "UPDATE members SET last_change = $2 WHERE conversation_id = $1".into(),
            args![changed.int("conversation_id")?, position],
        )
        .await?;
    }
    let row = tx.fetch_one(MESSAGE_BY_ID.into(), args![id]).await?;
    let revised = message(&row)?;
    tx.commit().await?;
    Ok(Some((Position::new(position), revised)))
}

/// The rows of a revisions query (`revision` and the message columns) as
/// changes.
pub(crate) fn revised<R: SqlRow>(rows: &[R]) -> impl Iterator<Item = Result<Change>> + '_ {
    rows.iter().map(|row| {
        Ok(Change::Revised {
            position: Position::new(row.int("revision")?),
            message: message(row)?,
        })
    })
}

/// Every message's newest change above `$1` up to `$3`, by position, at
/// most `$2`: the feed's share of revisions.
pub const FEED_REVISIONS: &str = concat!(
    "SELECT msg.revision, ",
    crate::message_columns!(),
    " FROM messages msg ",
    crate::message_joins!(),
    " WHERE msg.revision > 0 AND msg.revision > $1 AND msg.revision <= $3 \
     ORDER BY msg.revision LIMIT $2"
);
