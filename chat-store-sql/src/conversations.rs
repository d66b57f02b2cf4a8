//! Conversations, members and the conversation list: the same SQL on every
//! database.

use chat_core::ports::{ConversationQuery, Page};
use chat_core::{
    Block, ConversationId, ConversationSummary, Member, MessageId, Mute, Result, SummaryKind,
    Timestamp, UserId,
};

use crate::SqlStore;
use crate::args;
use crate::db::{Commit, Sql, SqlPool, SqlRow};
use crate::rows::{message, user};

/// The pair in the order the `conversations` table keeps it.
fn ordered(a: UserId, b: UserId) -> (i64, i64) {
    if a <= b {
        (a.get(), b.get())
    } else {
        (b.get(), a.get())
    }
}

const FIND_DIRECT: &str = "SELECT id FROM conversations \
     WHERE kind = 'direct' AND direct_low = $1 AND direct_high = $2";

/// [`ConversationStore::find_direct_conversation`](chat_core::ports::ConversationStore::find_direct_conversation) in SQL.
pub async fn find_direct_conversation(
    store: &impl SqlStore,
    a: UserId,
    b: UserId,
) -> Result<Option<ConversationId>> {
    let (low, high) = ordered(a, b);
    let row = store
        .reader()
        .fetch_optional(FIND_DIRECT.into(), args![low, high])
        .await?;
    row.map(|row| Ok(ConversationId::new(row.int("id")?)))
        .transpose()
}

/// [`ConversationStore::direct_conversation`](chat_core::ports::ConversationStore::direct_conversation) in SQL.
pub async fn direct_conversation(
    store: &impl SqlStore,
    a: UserId,
    b: UserId,
    at: Timestamp,
) -> Result<ConversationId> {
    if let Some(found) = find_direct_conversation(store, a, b).await? {
        return Ok(found);
    }
    let (low, high) = ordered(a, b);
    let mut tx = store.writer().begin().await?;
    let created = tx
        .fetch_optional(
            "INSERT INTO conversations (kind, direct_low, direct_high, created_at) \
             VALUES ('direct', $1, $2, $3) \
             ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING \
             RETURNING id"
                .into(),
            args![low, high, at.unix_micros()],
        )
        .await?;
    let id = match created {
        Some(row) => {
            let id = row.int("id")?;
            tx.execute(
                "INSERT INTO members (conversation_id, user_id) VALUES ($1, $2), ($1, $3)".into(),
                args![id, low, high],
            )
            .await?;
            id
        }
        // Another writer created it first; it has committed by now.
        None => tx
            .fetch_one(FIND_DIRECT.into(), args![low, high])
            .await?
            .int("id")?,
    };
    tx.commit().await?;
    Ok(ConversationId::new(id))
}

/// [`ConversationStore::members`](chat_core::ports::ConversationStore::members) in SQL.
pub async fn members(store: &impl SqlStore, conversation: ConversationId) -> Result<Vec<Member>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT m.user_id, u.username, m.has_spoken, m.last_read_message_id \
             FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.conversation_id = $1 \
             UNION ALL \
             SELECT g.user_id, u.username, g.has_spoken, g.last_read_message_id \
             FROM group_members g JOIN users u ON u.id = g.user_id \
             WHERE g.conversation_id = $1 AND g.left_at IS NULL \
             ORDER BY user_id"
                .into(),
            args![conversation.get()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Member {
                user: user(row, "user_id", "username")?,
                has_spoken: row.flag("has_spoken")?,
                read_up_to: MessageId::new(row.int("last_read_message_id")?),
            })
        })
        .collect()
}

/// [`ConversationStore::list_conversations`](chat_core::ports::ConversationStore::list_conversations) in SQL.
pub async fn list_conversations(
    store: &impl SqlStore,
    user_id: UserId,
    query: &ConversationQuery,
) -> Result<Page<ConversationSummary>> {
    let rows = store
        .reader()
        .fetch_all(
            CONVERSATIONS.into(),
            args![
                user_id.get(),
                query.before.map_or(i64::MAX, MessageId::get),
                query.limit.overfetch(),
            ],
        )
        .await?;
    let groups = store
        .reader()
        .fetch_all(
            crate::groups::GROUP_CONVERSATIONS.into(),
            args![
                user_id.get(),
                query.before.map_or(i64::MAX, MessageId::get),
                query.limit.overfetch(),
            ],
        )
        .await?;
    let mut summaries = rows
        .iter()
        .map(|row| {
            Ok(ConversationSummary {
                conversation: ConversationId::new(row.int("conversation_id")?),
                last_message: Some(message(row)?),
                unread: u64::try_from(row.int("unread")?).unwrap_or(0),
                mentions: u64::try_from(row.int("mention_count")?).unwrap_or(0),
                kind: SummaryKind::Direct {
                    peer: user(row, "peer_id", "peer_username")?,
                    peer_read_up_to: MessageId::new(row.int("peer_read_up_to")?),
                    mutual: row.flag("mutual")?,
                    online: false,
                },
            })
        })
        .chain(groups.iter().map(crate::groups::group_summary))
        .collect::<Result<Vec<_>>>()?;
    // Each list is in order and holds at most one page and one more: so
    // does their merge, cut at one page.
    summaries.sort_by_key(|s| std::cmp::Reverse(s.last_message_id()));
    summaries.truncate(usize::try_from(query.limit.overfetch()).unwrap_or(usize::MAX));
    Ok(Page::from_overfetch(summaries, query.limit))
}

/// The conversation list: `$1` user, `$2` before (last message id), `$3`
/// limit.
pub const CONVERSATIONS: &str = concat!(
    "SELECT m.conversation_id, p.user_id AS peer_id, pu.username AS peer_username, \
        p.last_read_message_id AS peer_read_up_to, \
        (m.has_spoken AND p.has_spoken) AS mutual, \
        (SELECT count(*) FROM messages x \
          WHERE x.conversation_id = m.conversation_id \
            AND x.id > m.last_read_message_id AND x.sender_id <> m.user_id) \
        - (SELECT count(*) FROM messages d \
          WHERE d.deleted_at IS NOT NULL AND d.conversation_id = m.conversation_id \
            AND d.id > m.last_read_message_id AND d.sender_id <> m.user_id) AS unread, \
        (SELECT count(*) FROM mentions n \
          WHERE n.user_id = m.user_id AND n.conversation_id = m.conversation_id \
            AND n.message_id > m.last_read_message_id) AS mention_count, ",
    crate::message_columns!(),
    " FROM members m \
     JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id \
     JOIN users pu ON pu.id = p.user_id \
     JOIN messages msg ON msg.id = m.last_message_id ",
    crate::message_joins!(),
    " WHERE m.user_id = $1 AND m.last_message_id < $2 \
     ORDER BY m.last_message_id DESC LIMIT $3"
);

/// Whom a user has conversations with in which both have spoken.
pub const PEERS: &str = "SELECT p.user_id FROM members m \
     JOIN members p ON p.conversation_id = m.conversation_id AND p.user_id <> m.user_id \
     WHERE m.user_id = $1 AND m.has_spoken AND p.has_spoken";

/// [`ConversationStore::conversation_peers`](chat_core::ports::ConversationStore::conversation_peers) in SQL.
pub async fn conversation_peers(store: &impl SqlStore, user_id: UserId) -> Result<Vec<UserId>> {
    let rows = store
        .reader()
        .fetch_all(PEERS.into(), args![user_id.get()])
        .await?;
    rows.iter()
        .map(|row| Ok(UserId::new(row.int("user_id")?)))
        .collect()
}

/// [`ConversationStore::set_mute`](chat_core::ports::ConversationStore::set_mute) in SQL.
pub async fn set_mute(store: &impl SqlStore, user: UserId, mute: Mute) -> Result<()> {
    store
        .writer()
        .execute(
            "INSERT INTO conversation_mutes (user_id, conversation_id, until) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, conversation_id) DO UPDATE SET until = excluded.until"
                .into(),
            args![
                user.get(),
                mute.conversation.get(),
                mute.until.map(Timestamp::unix_micros)
            ],
        )
        .await?;
    Ok(())
}

/// [`ConversationStore::clear_mute`](chat_core::ports::ConversationStore::clear_mute) in SQL.
pub async fn clear_mute(
    store: &impl SqlStore,
    user: UserId,
    conversation: ConversationId,
) -> Result<bool> {
    let cleared = store
        .writer()
        .execute(
            "DELETE FROM conversation_mutes WHERE user_id = $1 AND conversation_id = $2".into(),
            args![user.get(), conversation.get()],
        )
        .await?;
    Ok(cleared > 0)
}

/// [`ConversationStore::mutes`](chat_core::ports::ConversationStore::mutes) in SQL.
pub async fn mutes(store: &impl SqlStore, user: UserId) -> Result<Vec<Mute>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT conversation_id, until FROM conversation_mutes \
             WHERE user_id = $1 ORDER BY conversation_id"
                .into(),
            args![user.get()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Mute {
                conversation: ConversationId::new(row.int("conversation_id")?),
                until: row.opt_int("until")?.map(Timestamp::from_unix_micros),
            })
        })
        .collect()
}

/// [`ConversationStore::set_block`](chat_core::ports::ConversationStore::set_block) in SQL.
pub async fn set_block(
    store: &impl SqlStore,
    blocker: UserId,
    blocked: UserId,
    at: Timestamp,
) -> Result<bool> {
    let added = store
        .writer()
        .execute(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING"
                .into(),
            args![blocker.get(), blocked.get(), at.unix_micros()],
        )
        .await?;
    Ok(added > 0)
}

/// [`ConversationStore::clear_block`](chat_core::ports::ConversationStore::clear_block) in SQL.
pub async fn clear_block(store: &impl SqlStore, blocker: UserId, blocked: UserId) -> Result<bool> {
    let cleared = store
        .writer()
        .execute(
            "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2".into(),
            args![blocker.get(), blocked.get()],
        )
        .await?;
    Ok(cleared > 0)
}

/// [`ConversationStore::blocks`](chat_core::ports::ConversationStore::blocks) in SQL.
pub async fn blocks(store: &impl SqlStore, blocker: UserId) -> Result<Vec<Block>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT b.blocked_id, u.username, b.created_at FROM blocks b \
             JOIN users u ON u.id = b.blocked_id \
             WHERE b.blocker_id = $1 ORDER BY b.created_at, b.blocked_id"
                .into(),
            args![blocker.get()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Block {
                user: user(row, "blocked_id", "username")?,
                since: Timestamp::from_unix_micros(row.int("created_at")?),
            })
        })
        .collect()
}

/// [`ConversationStore::blocked_between`](chat_core::ports::ConversationStore::blocked_between) in SQL.
pub async fn blocked_between(store: &impl SqlStore, a: UserId, b: UserId) -> Result<(bool, bool)> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT blocker_id FROM blocks \
             WHERE (blocker_id = $1 AND blocked_id = $2) OR (blocker_id = $2 AND blocked_id = $1)"
                .into(),
            args![a.get(), b.get()],
        )
        .await?;
    let blockers: Vec<i64> = rows
        .iter()
        .map(|row| row.int("blocker_id"))
        .collect::<Result<_>>()?;
    Ok((blockers.contains(&a.get()), blockers.contains(&b.get())))
}
