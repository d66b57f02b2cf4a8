//! Operators' moderation: administrators, disabled accounts and the audit
//! log, and the reports queue; the same SQL on every database.

use chat_core::backend::corrupt;
use chat_core::ports::{Page, PageLimit};
use chat_core::{
    AuditAction, AuditEntry, ConversationId, MessageId, NewAuditEntry, NewReport, Reason, Report,
    ReportTarget, Resolution, Result, Timestamp, User, UserId,
};

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
            "INSERT INTO audit_log (at, actor_id, action, user_id, message_id, report_id, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
                .into(),
            args![
                entry.at.unix_micros(),
                entry.actor.as_ref().map(|u| u.id().get()),
                entry.action.as_str(),
                entry.user.as_ref().map(|u| u.id().get()),
                entry.message.map(|m| m.get()),
                entry.report,
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
        report: entry.report,
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
            "SELECT a.id, a.at, a.action, a.message_id, a.report_id, a.reason, \
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
                report: row.opt_int("report_id")?,
                reason: row
                    .opt_text("reason")?
                    .map(|r| Reason::parse(r).map_err(|e| corrupt("audit reason", e)))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(entries, limit))
}

/// The columns of a report, with its people's names.
const REPORT: &str = "SELECT r.id, r.at, r.reason, r.message_id, r.conversation_id, r.excerpt, \
        r.resolved_at, r.resolution, \
        r.reporter_id, ru.username AS reporter_username, \
        r.user_id, uu.username AS user_username, \
        r.resolved_by, bu.username AS resolved_by_username \
     FROM reports r \
     JOIN users ru ON ru.id = r.reporter_id \
     JOIN users uu ON uu.id = r.user_id \
     LEFT JOIN users bu ON bu.id = r.resolved_by";

fn report(row: &impl SqlRow) -> Result<Report> {
    let user = user(row, "user_id", "user_username")?;
    let target = match row.opt_int("message_id")? {
        Some(id) => ReportTarget::Message {
            id: MessageId::new(id),
            conversation: ConversationId::new(row.opt_int("conversation_id")?.unwrap_or(0)),
            sender: user,
            excerpt: row.opt_text("excerpt")?.unwrap_or_default(),
        },
        None => ReportTarget::User(user),
    };
    let parse = |what: &str, text: String| Reason::parse(text).map_err(|e| corrupt(what, e));
    let resolution = match (row.opt_int("resolved_at")?, row.opt_int("resolved_by")?) {
        (Some(at), Some(_)) => Some(Resolution {
            by: crate::rows::user(row, "resolved_by", "resolved_by_username")?,
            at: Timestamp::from_unix_micros(at),
            note: row
                .opt_text("resolution")?
                .map(|t| parse("resolution", t))
                .transpose()?,
        }),
        _ => None,
    };
    Ok(Report {
        id: row.int("id")?,
        at: Timestamp::from_unix_micros(row.int("at")?),
        reporter: crate::rows::user(row, "reporter_id", "reporter_username")?,
        target,
        reason: parse("report reason", row.text("reason")?)?,
        resolution,
    })
}

/// [`ModerationStore::file_report`](chat_core::ports::ModerationStore::file_report) in SQL:
/// an insert that the partial unique indexes turn into nothing when the
/// reporter has an open report of the same target, then that report.
pub async fn file_report(store: &impl SqlStore, new: NewReport) -> Result<Report> {
    let (message, conversation, excerpt) = match &new.target {
        ReportTarget::Message {
            id,
            conversation,
            excerpt,
            ..
        } => (
            Some(id.get()),
            Some(conversation.get()),
            Some(excerpt.as_str()),
        ),
        ReportTarget::User(_) => (None, None, None),
    };
    let reporter = new.reporter.id().get();
    let target_user = new.target.user().id().get();
    let inserted = store
        .writer()
        .fetch_optional(
            "INSERT INTO reports (at, reporter_id, user_id, message_id, conversation_id, excerpt, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id"
                .into(),
            args![
                new.at.unix_micros(),
                reporter,
                target_user,
                message,
                conversation,
                excerpt,
                new.reason.as_str(),
            ],
        )
        .await?;
    let row = match (inserted, message) {
        (Some(row), _) => {
            store
                .writer()
                .fetch_one(
                    crate::Stmt::assembled(format!("{REPORT} WHERE r.id = $1")),
                    args![row.int("id")?],
                )
                .await?
        }
        (None, Some(message)) => {
            store
                .writer()
                .fetch_one(
                    crate::Stmt::assembled(format!(
                        "{REPORT} WHERE r.reporter_id = $1 AND r.message_id = $2 \
                         AND r.resolved_at IS NULL"
                    )),
                    args![reporter, message],
                )
                .await?
        }
        (None, None) => {
            store
                .writer()
                .fetch_one(
                    crate::Stmt::assembled(format!(
                        "{REPORT} WHERE r.reporter_id = $1 AND r.user_id = $2 \
                         AND r.message_id IS NULL AND r.resolved_at IS NULL"
                    )),
                    args![reporter, target_user],
                )
                .await?
        }
    };
    report(&row)
}

/// [`ModerationStore::reports`](chat_core::ports::ModerationStore::reports) in SQL:
/// newest first, open ones by their partial index.
pub async fn reports(
    store: &impl SqlStore,
    open: bool,
    before: Option<i64>,
    limit: PageLimit,
) -> Result<Page<Report>> {
    let filter = if open {
        "WHERE r.id < $1 AND r.resolved_at IS NULL"
    } else {
        "WHERE r.id < $1"
    };
    let rows = store
        .reader()
        .fetch_all(
            crate::Stmt::assembled(format!("{REPORT} {filter} ORDER BY r.id DESC LIMIT $2")),
            args![before.unwrap_or(i64::MAX), limit.overfetch()],
        )
        .await?;
    let reports = rows.iter().map(report).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(reports, limit))
}

/// [`ModerationStore::resolve_report`](chat_core::ports::ModerationStore::resolve_report) in SQL.
pub async fn resolve_report(
    store: &impl SqlStore,
    id: i64,
    resolution: Resolution,
) -> Result<Option<Report>> {
    store
        .writer()
        .execute(
            "UPDATE reports SET resolved_at = $2, resolved_by = $3, resolution = $4 \
             WHERE id = $1 AND resolved_at IS NULL"
                .into(),
            args![
                id,
                resolution.at.unix_micros(),
                resolution.by.id().get(),
                resolution.note.as_ref().map(Reason::as_str),
            ],
        )
        .await?;
    let row = store
        .writer()
        .fetch_optional(
            crate::Stmt::assembled(format!("{REPORT} WHERE r.id = $1")),
            args![id],
        )
        .await?;
    row.as_ref().map(report).transpose()
}
