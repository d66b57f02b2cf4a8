//! Operators' moderation: administrators, disabled accounts and the audit
//! log; the same SQL on every database.

use chat_core::backend::corrupt;
use chat_core::ports::{Page, PageLimit};
use chat_core::{AuditAction, AuditEntry, NewAuditEntry, Reason, Result, Timestamp, User, UserId};

use crate::SqlStore;
use crate::args;
use crate::db::{Commit, Sql, SqlPool, SqlRow};
use crate::rows::user;

/// [`ModerationStore::set_admin`](chat_core::ports::ModerationStore::set_admin) in SQL.
pub async fn set_admin(store: &impl SqlStore, user: UserId, admin: bool) -> Result<bool> {
    let changed = store
        .writer()
        .execute(
            "UPDATE users SET is_admin = $2 WHERE id = $1 AND is_admin <> $2".into(),
            args![user.get(), admin],
        )
        .await?;
    Ok(changed > 0)
}

/// [`ModerationStore::admins`](chat_core::ports::ModerationStore::admins) in SQL.
pub async fn admins(store: &impl SqlStore) -> Result<Vec<User>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT id, username FROM users WHERE is_admin ORDER BY id".into(),
            args![],
        )
        .await?;
    rows.iter().map(|row| user(row, "id", "username")).collect()
}

/// [`ModerationStore::set_disabled`](chat_core::ports::ModerationStore::set_disabled) in SQL:
/// the account's flag and, when disabling, its sessions, in one
/// transaction.
pub async fn set_disabled(
    store: &impl SqlStore,
    user: UserId,
    at: Option<Timestamp>,
) -> Result<bool> {
    let mut tx = store.writer().begin().await?;
    let changed = match at {
        Some(at) => {
            tx.execute(
                "UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL".into(),
                args![user.get(), at.unix_micros()],
            )
            .await?
        }
        None => {
            tx.execute(
                "UPDATE users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL"
                    .into(),
                args![user.get()],
            )
            .await?
        }
    };
    if changed > 0 && at.is_some() {
        tx.execute(
            "DELETE FROM sessions WHERE user_id = $1".into(),
            args![user.get()],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(changed > 0)
}

/// [`ModerationStore::record`](chat_core::ports::ModerationStore::record) in SQL.
pub async fn record(store: &impl SqlStore, entry: NewAuditEntry) -> Result<AuditEntry> {
    let row = store
        .writer()
        .fetch_one(
            "INSERT INTO audit_log (at, actor_id, action, user_id, message_id, reason) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
                .into(),
            args![
                entry.at.unix_micros(),
                entry.actor.as_ref().map(|u| u.id().get()),
                entry.action.as_str(),
                entry.user.as_ref().map(|u| u.id().get()),
                entry.message.map(|m| m.get()),
                entry.reason.as_ref().map(Reason::as_str),
            ],
        )
        .await?;
    Ok(AuditEntry {
        id: row.int("id")?,
        at: entry.at,
        actor: entry.actor,
        action: entry.action,
        user: entry.user,
        message: entry.message,
        reason: entry.reason,
    })
}

/// [`ModerationStore::audit_log`](chat_core::ports::ModerationStore::audit_log) in SQL:
/// newest first, by the primary key.
pub async fn audit_log(
    store: &impl SqlStore,
    before: Option<i64>,
    limit: PageLimit,
) -> Result<Page<AuditEntry>> {
    let rows = store
        .reader()
        .fetch_all(
            "SELECT a.id, a.at, a.action, a.message_id, a.reason, \
                a.actor_id, au.username AS actor_username, \
                a.user_id, uu.username AS user_username \
             FROM audit_log a \
             LEFT JOIN users au ON au.id = a.actor_id \
             LEFT JOIN users uu ON uu.id = a.user_id \
             WHERE a.id < $1 ORDER BY a.id DESC LIMIT $2"
                .into(),
            args![before.unwrap_or(i64::MAX), limit.overfetch()],
        )
        .await?;
    let entries = rows
        .iter()
        .map(|row| {
            let action = row.text("action")?;
            Ok(AuditEntry {
                id: row.int("id")?,
                at: Timestamp::from_unix_micros(row.int("at")?),
                actor: match row.opt_int("actor_id")? {
                    Some(_) => Some(user(row, "actor_id", "actor_username")?),
                    None => None,
                },
                action: AuditAction::from_name(&action)
                    .ok_or_else(|| corrupt("audit action", action.clone()))?,
                user: match row.opt_int("user_id")? {
                    Some(_) => Some(user(row, "user_id", "user_username")?),
                    None => None,
                },
                message: row.opt_int("message_id")?.map(chat_core::MessageId::new),
                reason: row
                    .opt_text("reason")?
                    .map(|r| Reason::parse(r).map_err(|e| corrupt("audit reason", e)))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(entries, limit))
}
