//! Groups: their members, roles, invitations and changes, the same SQL on
//! every database. A change takes the clock first (as appends do, so two
//! writers never wait for each other's locks in opposite orders), then
//! moves the group's version only if it is still the one the service
//! decided from.

use chat_core::backend::corrupt;
use chat_core::ports::{GroupChange, GroupListing, NewGroup, PageLimit};
use chat_core::{
    ChatError, ConversationId, Group, GroupBan, GroupEvent, GroupMember, GroupSettings, GroupTitle,
    HistoryVisibility, Invitation, JoinPolicy, Membership, Message, MessageId, NewEvent, Position,
    Result, Role, SlowMode, Timestamp, UserId, fold_for_search,
};

use crate::SqlStore;
use crate::args;
use crate::db::{Commit, Sql, SqlPool, SqlRow};
use crate::messages::TAKE_POSITIONS;
use crate::rows::user;

fn role(row: &impl SqlRow) -> Result<Role> {
    row.text("role")?.parse().map_err(|e| corrupt("role", e))
}

fn settings(row: &impl SqlRow) -> Result<GroupSettings> {
    Ok(GroupSettings {
        history: row
            .text("history")?
            .parse::<HistoryVisibility>()
            .map_err(|e| corrupt("history", e))?,
        join_policy: row
            .text("join_policy")?
            .parse::<JoinPolicy>()
            .map_err(|e| corrupt("join policy", e))?,
        announcement: row.flag("announcement")?,
        slow_mode: slow_mode(row)?,
    })
}

fn slow_mode(row: &impl SqlRow) -> Result<Option<SlowMode>> {
    row.opt_int("slow_mode_secs")?
        .map(|secs| {
            u32::try_from(secs)
                .map_err(|e| corrupt("slow mode", e))
                .and_then(|secs| SlowMode::from_secs(secs).map_err(|e| corrupt("slow mode", e)))
        })
        .transpose()
}

fn title(row: &impl SqlRow) -> Result<GroupTitle> {
    GroupTitle::parse(row.text("title")?).map_err(|e| corrupt("title", e))
}

/// Writes `event` as the system message at `position` and applies it.
async fn write_event<T: Sql>(
    tx: &mut T,
    group: ConversationId,
    event: &NewEvent,
    position: i64,
    at: Timestamp,
    shared_history: bool,
) -> Result<Message> {
    let text = event.text()?;
    let json = serde_json::to_string(&event.event).map_err(ChatError::internal)?;
    tx.execute(
        "INSERT INTO messages \
         (id, conversation_id, sender_id, recipient_id, body, body_folded, sent_at, client_id, event) \
         VALUES ($1, $2, $3, NULL, $4, '', $5, NULL, $6)"
            .into(),
        args![
            position,
            group.get(),
            event.actor.id().get(),
            text.as_str(),
            at.unix_micros(),
            json.as_str(),
        ],
    )
    .await?;
    let g = group.get();
    let actor = event.actor.id().get();
    match &event.event {
        GroupEvent::Created { .. } => {}
        GroupEvent::Renamed { title } => {
            let folded = fold_for_search(title.as_str());
            tx.execute(
                "UPDATE conversations SET title = $2, title_folded = $3 WHERE id = $1".into(),
                args![g, title.as_str(), folded.as_str()],
            )
            .await?;
        }
        GroupEvent::Added { user } => {
            join(tx, g, user.id().get(), position, shared_history).await?
        }
        GroupEvent::Joined => join(tx, g, actor, position, shared_history).await?,
        GroupEvent::Invited { user } => {
            tx.execute(
                "INSERT INTO invitations (conversation_id, user_id, invited_by, position) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (conversation_id, user_id) DO NOTHING"
                    .into(),
                args![g, user.id().get(), actor, position],
            )
            .await?;
        }
        GroupEvent::Banned { user, until } => {
            let who = user.id().get();
            tx.execute(
                "INSERT INTO group_bans (conversation_id, user_id, until, position) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (conversation_id, user_id) \
                 DO UPDATE SET until = excluded.until, position = excluded.position"
                    .into(),
                args![g, who, until.map(Timestamp::unix_micros), position],
            )
            .await?;
            tx.execute(
                "UPDATE group_members SET left_at = $3, removed = $4 \
                 WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL"
                    .into(),
                args![g, who, position, true],
            )
            .await?;
            tx.execute(
                "DELETE FROM invitations WHERE conversation_id = $1 AND user_id = $2".into(),
                args![g, who],
            )
            .await?;
        }
        GroupEvent::Unbanned { user } => {
            tx.execute(
                "DELETE FROM group_bans WHERE conversation_id = $1 AND user_id = $2".into(),
                args![g, user.id().get()],
            )
            .await?;
        }
        GroupEvent::SlowModeSet { slow_mode } => {
            tx.execute(
                "UPDATE conversations SET slow_mode_secs = $2 WHERE id = $1".into(),
                args![g, slow_mode.map(|s| i64::from(s.secs()))],
            )
            .await?;
        }
        GroupEvent::Left | GroupEvent::Removed { .. } => {
            let who = event.event.subject().map_or(actor, |u| u.id().get());
            let removed = matches!(event.event, GroupEvent::Removed { .. });
            tx.execute(
                "UPDATE group_members SET left_at = $3, removed = $4 \
                 WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL"
                    .into(),
                args![g, who, position, removed],
            )
            .await?;
            tx.execute(
                "DELETE FROM invitations WHERE conversation_id = $1 AND user_id = $2".into(),
                args![g, who],
            )
            .await?;
        }
        GroupEvent::Declined => {
            tx.execute(
                "DELETE FROM invitations WHERE conversation_id = $1 AND user_id = $2".into(),
                args![g, actor],
            )
            .await?;
        }
        GroupEvent::Muted { user, until } => {
            let until = until.map_or(i64::MAX, Timestamp::unix_micros);
            tx.execute(
                "UPDATE group_members SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2"
                    .into(),
                args![g, user.id().get(), until],
            )
            .await?;
        }
        GroupEvent::Unmuted { user } => {
            tx.execute(
                "UPDATE group_members SET muted_until = NULL \
                 WHERE conversation_id = $1 AND user_id = $2"
                    .into(),
                args![g, user.id().get()],
            )
            .await?;
        }
        GroupEvent::RoleChanged { user, role } => {
            tx.execute(
                "UPDATE group_members SET role = $3 \
                 WHERE conversation_id = $1 AND user_id = $2 AND left_at IS NULL"
                    .into(),
                args![g, user.id().get(), role.as_str()],
            )
            .await?;
        }
    }
    let message = Message::new(
        MessageId::new(position),
        group,
        event.actor.clone(),
        None,
        text,
        at,
        None,
    );
    Ok(message.with_event(Some(event.event.clone())))
}

/// `user` becomes a member at `position` (again, for a former member, who
/// sees what they saw before too), with a read mark there.
async fn join<T: Sql>(
    tx: &mut T,
    group: i64,
    user: i64,
    position: i64,
    shared_history: bool,
) -> Result<()> {
    let visible_from = if shared_history { 0 } else { position };
    tx.execute(
        "INSERT INTO group_members \
         (conversation_id, user_id, role, joined, visible_from, left_at, last_read_message_id) \
         VALUES ($1, $2, 'member', $3, $4, NULL, $3) \
         ON CONFLICT (conversation_id, user_id) DO UPDATE SET \
            role = 'member', joined = $3, left_at = NULL, removed = $5, last_read_message_id = $3, \
            visible_from = CASE WHEN group_members.visible_from < $4 \
                                THEN group_members.visible_from ELSE $4 END"
            .into(),
        args![group, user, position, visible_from, false],
    )
    .await?;
    tx.execute(
        "DELETE FROM invitations WHERE conversation_id = $1 AND user_id = $2".into(),
        args![group, user],
    )
    .await?;
    Ok(())
}

/// The group's member count, recounted after a change.
async fn recount<T: Sql>(tx: &mut T, group: i64) -> Result<()> {
    tx.execute(
        "UPDATE conversations SET member_count = \
            (SELECT count(*) FROM group_members WHERE conversation_id = $1 AND left_at IS NULL) \
         WHERE id = $1"
            .into(),
        args![group],
    )
    .await?;
    Ok(())
}

/// [`GroupStore::create_group`](chat_core::ports::GroupStore::create_group) in SQL.
pub async fn create_group(
    store: &impl SqlStore,
    group: NewGroup,
) -> Result<(ConversationId, Vec<Message>)> {
    let creator = group.creator.clone();
    let events = group.events();
    let count = i64::try_from(events.len()).map_err(ChatError::internal)?;
    let mut tx = store.writer().begin().await?;
    let last = tx
        .fetch_one(TAKE_POSITIONS.into(), args![count])
        .await?
        .int("last_id")?;
    let first = last - count + 1;
    let settings = group.settings;
    let folded = fold_for_search(group.title.as_str());
    let id = tx
        .fetch_one(
            "INSERT INTO conversations \
             (kind, created_at, title, creator_id, history, join_policy, announcement, \
              last_message_id, version, title_folded) \
             VALUES ('group', $1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id"
                .into(),
            args![
                group.at.unix_micros(),
                group.title.as_str(),
                creator.id().get(),
                settings.history.as_str(),
                settings.join_policy.as_str(),
                settings.announcement,
                last,
                folded.as_str(),
            ],
        )
        .await?
        .int("id")?;
    let conversation = ConversationId::new(id);
    let shared = settings.history == HistoryVisibility::Shared;
    let mut written = Vec::with_capacity(events.len());
    for (event, position) in events.iter().zip(first..) {
        written.push(write_event(&mut tx, conversation, event, position, group.at, shared).await?);
        if position == first {
            // The creator joins with the group, as its owner.
            tx.execute(
                "INSERT INTO group_members \
                 (conversation_id, user_id, role, joined, visible_from, last_read_message_id) \
                 VALUES ($1, $2, 'owner', $3, 0, $3)"
                    .into(),
                args![id, creator.id().get(), position],
            )
            .await?;
        }
    }
    recount(&mut tx, id).await?;
    tx.commit().await?;
    Ok((conversation, written))
}

const GROUP: &str = "SELECT c.id, c.title, c.creator_id, cu.username AS creator_username, \
        c.history, c.join_policy, c.announcement, c.slow_mode_secs, c.version \
     FROM conversations c JOIN users cu ON cu.id = c.creator_id \
     WHERE c.id = $1 AND c.kind = 'group'";

/// [`GroupStore::group`](chat_core::ports::GroupStore::group) in SQL.
pub async fn group(store: &impl SqlStore, id: ConversationId) -> Result<Option<Group>> {
    let reader = store.reader();
    let Some(row) = reader.fetch_optional(GROUP.into(), args![id.get()]).await? else {
        return Ok(None);
    };
    let members = reader
        .fetch_all(
            "SELECT g.user_id, u.username, g.role, g.joined, g.last_read_message_id, g.has_spoken, \
                g.muted_until \
             FROM group_members g JOIN users u ON u.id = g.user_id \
             WHERE g.conversation_id = $1 AND g.left_at IS NULL ORDER BY g.joined, g.user_id"
                .into(),
            args![id.get()],
        )
        .await?;
    let invited = reader
        .fetch_all(
            "SELECT i.user_id, u.username FROM invitations i JOIN users u ON u.id = i.user_id \
             WHERE i.conversation_id = $1 ORDER BY i.position"
                .into(),
            args![id.get()],
        )
        .await?;
    let former = reader
        .fetch_all(
            "SELECT user_id, removed FROM group_members \
             WHERE conversation_id = $1 AND left_at IS NOT NULL"
                .into(),
            args![id.get()],
        )
        .await?;
    let bans = reader
        .fetch_all(
            "SELECT b.user_id, u.username, b.until FROM group_bans b \
             JOIN users u ON u.id = b.user_id \
             WHERE b.conversation_id = $1 ORDER BY b.position"
                .into(),
            args![id.get()],
        )
        .await?;
    let (mut left, mut removed) = (Vec::new(), Vec::new());
    for row in &former {
        let user = UserId::new(row.int("user_id")?);
        if row.flag("removed")? {
            removed.push(user);
        } else {
            left.push(user);
        }
    }
    Ok(Some(Group {
        id,
        title: title(&row)?,
        creator: user(&row, "creator_id", "creator_username")?,
        settings: settings(&row)?,
        members: members
            .iter()
            .map(|m| {
                Ok(GroupMember {
                    user: user(m, "user_id", "username")?,
                    role: role(m)?,
                    joined: Position::new(m.int("joined")?),
                    read_up_to: MessageId::new(m.int("last_read_message_id")?),
                    has_spoken: m.flag("has_spoken")?,
                    muted_until: m.opt_int("muted_until")?.map(Timestamp::from_unix_micros),
                })
            })
            .collect::<Result<_>>()?,
        invited: invited
            .iter()
            .map(|i| user(i, "user_id", "username"))
            .collect::<Result<_>>()?,
        left,
        removed,
        bans: bans
            .iter()
            .map(|b| {
                Ok(GroupBan {
                    user: user(b, "user_id", "username")?,
                    until: b.opt_int("until")?.map(Timestamp::from_unix_micros),
                })
            })
            .collect::<Result<_>>()?,
        version: Position::new(row.int("version")?),
    }))
}

/// [`GroupStore::change_group`](chat_core::ports::GroupStore::change_group) in SQL.
pub async fn change_group(store: &impl SqlStore, change: GroupChange) -> Result<Vec<Message>> {
    let count = i64::try_from(change.events.len()).map_err(ChatError::internal)?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let g = change.group.get();
    let mut tx = store.writer().begin().await?;
    let last = tx
        .fetch_one(TAKE_POSITIONS.into(), args![count])
        .await?
        .int("last_id")?;
    let moved = tx
        .fetch_optional(
            "UPDATE conversations SET version = $3, last_message_id = $3 \
             WHERE id = $1 AND kind = 'group' AND version = $2 RETURNING history"
                .into(),
            args![g, change.version.get(), last],
        )
        .await?;
    let Some(moved) = moved else {
        let exists = tx
            .fetch_optional(
                "SELECT 1 AS found FROM conversations WHERE id = $1 AND kind = 'group'".into(),
                args![g],
            )
            .await?
            .is_some();
        tx.rollback().await?;
        return Err(if exists {
            ChatError::conflict("the group changed meanwhile")
        } else {
            ChatError::NotFound
        });
    };
    let shared = moved.text("history")? == HistoryVisibility::Shared.as_str();
    let mut written = Vec::with_capacity(change.events.len());
    for (event, position) in change.events.iter().zip(last - count + 1..) {
        written.push(write_event(&mut tx, change.group, event, position, change.at, shared).await?);
    }
    recount(&mut tx, g).await?;
    tx.commit().await?;
    Ok(written)
}

/// [`GroupStore::membership`](chat_core::ports::GroupStore::membership) in SQL.
pub async fn membership(
    store: &impl SqlStore,
    conversation: ConversationId,
    user_id: UserId,
) -> Result<Option<Membership>> {
    let row = store
        .reader()
        .fetch_optional(
            "SELECT g.role, g.visible_from, g.left_at, g.muted_until, c.announcement, \
             c.slow_mode_secs, g.last_read_message_id \
             FROM group_members g JOIN conversations c ON c.id = g.conversation_id \
             WHERE g.conversation_id = $1 AND g.user_id = $2"
                .into(),
            args![conversation.get(), user_id.get()],
        )
        .await?;
    row.map(|row| {
        Ok(Membership {
            role: role(&row)?,
            visible_from: Position::new(row.int("visible_from")?),
            left_at: row.opt_int("left_at")?.map(Position::new),
            muted_until: row.opt_int("muted_until")?.map(Timestamp::from_unix_micros),
            announcement: row.flag("announcement")?,
            slow_mode: slow_mode(&row)?,
            read_up_to: MessageId::new(row.int("last_read_message_id")?),
        })
    })
    .transpose()
}

/// [`GroupStore::invitations`](chat_core::ports::GroupStore::invitations) in SQL.
pub async fn invitations(store: &impl SqlStore, user_id: UserId) -> Result<Vec<Invitation>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT i.conversation_id, c.title, i.invited_by, u.username AS invited_by_username \
             FROM invitations i JOIN conversations c ON c.id = i.conversation_id \
             JOIN users u ON u.id = i.invited_by \
             WHERE i.user_id = $1 ORDER BY i.position DESC"
                .into(),
            args![user_id.get()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Invitation {
                group: ConversationId::new(row.int("conversation_id")?),
                title: title(row)?,
                by: user(row, "invited_by", "invited_by_username")?,
            })
        })
        .collect()
}

/// `term` as a `LIKE` pattern matching it anywhere, with `\`, `%` and
/// `_` literal (for `LIKE … ESCAPE '\'`).
pub fn contains_pattern(term: &str) -> String {
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

/// [`GroupStore::discoverable_groups`](chat_core::ports::GroupStore::discoverable_groups) in SQL.
pub async fn discoverable_groups(
    store: &impl SqlStore,
    term: &str,
    limit: PageLimit,
) -> Result<Vec<GroupListing>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT id, title, member_count FROM conversations \
             WHERE join_policy = 'discoverable' AND member_count > 0 \
               AND title_folded LIKE $1 ESCAPE '\\' \
             ORDER BY member_count DESC, id LIMIT $2"
                .into(),
            args![contains_pattern(term).as_str(), i64::from(limit.get())],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(GroupListing {
                id: ConversationId::new(row.int("id")?),
                title: title(row)?,
                members: u64::try_from(row.int("member_count")?).unwrap_or(0),
            })
        })
        .collect()
}

/// [`GroupStore::groups_of`](chat_core::ports::GroupStore::groups_of) in SQL.
pub async fn groups_of(store: &impl SqlStore, user_id: UserId) -> Result<Vec<ConversationId>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT conversation_id FROM group_members WHERE user_id = $1 AND left_at IS NULL"
                .into(),
            args![user_id.get()],
        )
        .await?;
    rows.iter()
        .map(|row| Ok(ConversationId::new(row.int("conversation_id")?)))
        .collect()
}

/// Reads the outsiders of `pairs` with `statement` (each database unpacks
/// the JSON array its own way), inside the batch's transaction.
pub async fn outsiders<T: Sql>(
    tx: &mut T,
    statement: &'static str,
    pairs: &[(ConversationId, UserId)],
) -> Result<Vec<(ConversationId, UserId)>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let json: Vec<(i64, i64)> = pairs.iter().map(|(g, u)| (g.get(), u.get())).collect();
    let json = serde_json::to_string(&json).map_err(ChatError::internal)?;
    let rows = tx.fetch_all(statement.into(), args![json.as_str()]).await?;
    rows.iter()
        .map(|row| {
            Ok((
                ConversationId::new(row.int("conversation_id")?),
                UserId::new(row.int("sender_id")?),
            ))
        })
        .collect()
}

/// A group's line of a conversation list: `$1` user, `$2` before, `$3`
/// limit. The last message a member may read: the group's newest, or for a
/// former member the newest up to their leaving.
pub const GROUP_CONVERSATIONS: &str = concat!(
    "SELECT g.conversation_id, c.title, c.member_count, g.role, g.left_at, \
        (SELECT count(*) FROM messages x \
          WHERE x.conversation_id = g.conversation_id AND x.id > g.last_read_message_id \
            AND x.id <= msg.id AND x.sender_id <> g.user_id) \
        - (SELECT count(*) FROM messages d \
          WHERE d.deleted_at IS NOT NULL AND d.conversation_id = g.conversation_id \
            AND d.id > g.last_read_message_id AND d.id <= msg.id AND d.sender_id <> g.user_id) \
          AS unread, \
        (SELECT count(*) FROM mentions n \
          WHERE n.user_id = g.user_id AND n.conversation_id = g.conversation_id \
            AND n.message_id > g.last_read_message_id AND n.message_id <= msg.id) \
          AS mention_count, ",
    crate::message_columns!(),
    " FROM group_members g \
     JOIN conversations c ON c.id = g.conversation_id \
     JOIN messages msg ON msg.id = (SELECT max(y.id) FROM messages y \
        WHERE y.conversation_id = g.conversation_id \
          AND y.id <= CASE WHEN g.left_at IS NULL THEN c.last_message_id ELSE g.left_at END) ",
    crate::message_joins!(),
    " WHERE g.user_id = $1 AND msg.id < $2 \
     ORDER BY msg.id DESC LIMIT $3"
);

/// The newest message the user may read in any of their groups.
pub const LAST_GROUP_MESSAGE: &str = "SELECT max(CASE WHEN g.left_at IS NULL \
        THEN c.last_message_id ELSE g.left_at END) AS last_message_id \
     FROM group_members g JOIN conversations c ON c.id = g.conversation_id \
     WHERE g.user_id = $1";

/// Moves the user's read mark in a group forward (clamped to the group's
/// newest message, or a former member's leaving), records the change at
/// `position` (taken by the caller) and the member's `last_change`; `None`
/// if the user never was a member.
pub async fn mark_group_read<T: Sql>(
    tx: &mut T,
    group: ConversationId,
    user_id: UserId,
    up_to: MessageId,
    position: i64,
) -> Result<Option<(MessageId, bool)>> {
    let (g, u) = (group.get(), user_id.get());
    let Some(row) = tx
        .fetch_optional(
            "SELECT g.last_read_message_id, \
                CASE WHEN g.left_at IS NULL THEN c.last_message_id ELSE g.left_at END AS head \
             FROM group_members g JOIN conversations c ON c.id = g.conversation_id \
             WHERE g.conversation_id = $1 AND g.user_id = $2"
                .into(),
            args![g, u],
        )
        .await?
    else {
        return Ok(None);
    };
    let current = row.int("last_read_message_id")?;
    let mark = up_to.get().min(row.int("head")?);
    if mark <= current {
        return Ok(Some((MessageId::new(current), false)));
    }
    tx.execute(
        "UPDATE group_members SET last_read_message_id = $3, last_change = $4 \
         WHERE conversation_id = $1 AND user_id = $2"
            .into(),
        args![g, u, mark, position],
    )
    .await?;
    tx.execute(
        "DELETE FROM changes WHERE conversation_id = $1 AND user_id = $2 AND kind = 'read'".into(),
        args![g, u],
    )
    .await?;
    tx.execute(
        "INSERT INTO changes (position, conversation_id, kind, user_id, message_id) \
         VALUES ($1, $2, 'read', $3, $4)"
            .into(),
        args![position, g, u, mark],
    )
    .await?;
    Ok(Some((MessageId::new(mark), true)))
}

/// Group lines of a conversation list, from rows of
/// [`GROUP_CONVERSATIONS`].
pub fn group_summary(row: &impl SqlRow) -> Result<chat_core::ConversationSummary> {
    let left = row.opt_int("left_at")?.is_some();
    Ok(chat_core::ConversationSummary {
        conversation: ConversationId::new(row.int("conversation_id")?),
        last_message: Some(crate::rows::message(row)?),
        unread: u64::try_from(row.int("unread")?).unwrap_or(0),
        mentions: u64::try_from(row.int("mention_count")?).unwrap_or(0),
        kind: chat_core::SummaryKind::Group {
            title: title(row)?,
            members: u64::try_from(row.int("member_count")?).unwrap_or(0),
            role: if left { None } else { Some(role(row)?) },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
    }
}
