//! Reports: any user reports a message they may read, or a user, with a
//! reason; administrators list the queue and resolve reports (each
//! resolution in the audit log). A reported message's text is kept with
//! the report as it was, for the administrators, should it be edited or
//! deleted after.

use tracing::{info, instrument};

use super::Chat;
use crate::domain::{
    AuditAction, MessageId, NewReport, Reason, Report, ReportTarget, Resolution, Username,
};
use crate::error::{ChatError, Result};
use crate::ports::{Action, Page, PageLimit};
use crate::session::Session;

impl Chat {
    /// Reports message `id`, one the user may read, with `reason`.
    /// Reporting it again while the report is open returns that report.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `reason` (1 to 500 characters), or
    /// on `message_id` for one's own message; [`ChatError::NotFound`] for
    /// a message the user may not read; [`ChatError::Forbidden`] for a
    /// group's system message; [`ChatError::RateLimited`] (reports count
    /// as sends).
    #[instrument(skip_all, fields(user = %session.user().id(), message = %id))]
    pub async fn report_message(
        &self,
        session: &Session,
        id: MessageId,
        reason: String,
    ) -> Result<Report> {
        let reason = Reason::parse(reason)?;
        let message = self.readable_message(session, id).await?;
        if message.event().is_some() {
            return Err(ChatError::Forbidden);
        }
        if message.sender().id() == session.user().id() {
            return Err(ChatError::invalid(
                "message_id",
                "you cannot report your own message",
            ));
        }
        let excerpt: String = message
            .text()
            .as_str()
            .chars()
            .take(ReportTarget::EXCERPT_LEN)
            .collect();
        let target = ReportTarget::Message {
            id,
            conversation: message.conversation(),
            sender: message.sender().clone(),
            excerpt,
        };
        self.file(session, target, reason).await
    }

    /// Reports `username` with `reason`. Reporting them again while the
    /// report is open returns that report.
    ///
    /// # Errors
    /// [`ChatError::InvalidInput`] on `username` (oneself included) or
    /// `reason`; [`ChatError::NotFound`] for no such user;
    /// [`ChatError::RateLimited`].
    #[instrument(skip_all, fields(user = %session.user().id()))]
    pub async fn report_user(
        &self,
        session: &Session,
        username: &str,
        reason: String,
    ) -> Result<Report> {
        let reason = Reason::parse(reason)?;
        let name = Username::parse_field(username, "username")?;
        if name.canonical() == session.user().username().canonical() {
            return Err(ChatError::invalid("username", "you cannot report yourself"));
        }
        let user = self.find_user(&name).await?;
        self.file(session, ReportTarget::User(user), reason).await
    }

    async fn file(
        &self,
        session: &Session,
        target: ReportTarget,
        reason: Reason,
    ) -> Result<Report> {
        let reporter = session.user();
        self.inner
            .limiter
            .check(Action::SendPerUser, &reporter.id().to_string())
            .await?;
        let report = self
            .inner
            .store
            .file_report(NewReport {
                at: self.inner.clock.now(),
                reporter: reporter.clone(),
                target,
                reason,
            })
            .await?;
        info!(report = report.id, "report filed");
        Ok(report)
    }

    /// The reports, newest first, for an administrator: open ones only
    /// (`open`) or all, older than `before` (a report's id), at most
    /// `limit`.
    ///
    /// # Errors
    /// [`ChatError::Forbidden`] unless the session's user is an
    /// administrator.
    pub async fn reports(
        &self,
        session: &Session,
        open: bool,
        before: Option<i64>,
        limit: PageLimit,
    ) -> Result<Page<Report>> {
        self.administrator(session).await?;
        self.inner.store.reports(open, before, limit).await
    }

    /// Resolves report `id`, as an administrator, with an optional note
    /// (what was done); the audit log records it. Resolving a resolved
    /// report changes nothing and returns it as it was resolved.
    ///
    /// # Errors
    /// [`ChatError::Forbidden`] unless the session's user is an
    /// administrator; [`ChatError::InvalidInput`] on `note`;
    /// [`ChatError::NotFound`] for no such report.
    #[instrument(skip_all, fields(admin = %session.user().id(), report = id))]
    pub async fn resolve_report(
        &self,
        session: &Session,
        id: i64,
        note: Option<String>,
    ) -> Result<Report> {
        let admin = self.administrator(session).await?;
        let note = note.map(Reason::parse).transpose()?;
        let resolution = Resolution {
            by: admin.user().clone(),
            at: self.inner.clock.now(),
            note: note.clone(),
        };
        let report = self
            .inner
            .store
            .resolve_report(id, resolution.clone())
            .await?
            .ok_or(ChatError::NotFound)?;
        if report.resolution.as_ref() == Some(&resolution) {
            self.audit(Some(&admin), AuditAction::ResolveReport, |entry| {
                let entry = entry
                    .on_user(report.target.user().clone())
                    .on_report(report.id)
                    .because(note);
                match report.target.message() {
                    Some(message) => entry.on_message(message),
                    None => entry,
                }
            })
            .await?;
        }
        Ok(report)
    }
}
