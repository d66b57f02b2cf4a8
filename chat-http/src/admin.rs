//! `/api/admin/…`: what administrators do. The role is granted by the
//! operator (the server's command line), never through the API; everyone
//! else gets `403 forbidden`, and a key of the server API acting as a user
//! cannot call these routes. And `/api/reports`, where anyone files a
//! report into the administrators' queue.

use chat_core::MessageId;
use hyper::{Request, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody};
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::request::Query;
use crate::response::json;
use crate::wire::{
    AccountStandingBody, AccountStandingDto, AuditBody, AuditEntryDto, MessageBody, MessageDto,
    ModerationRequest, ReportBody, ReportDto, ReportRequest, ReportsBody, ResolveRequest,
};

impl ChatHttp {
    /// `GET /api/admin/audit`: the audit log, newest first (`before`, an
    /// entry's id; `limit`).
    pub(crate) async fn audit_log<B>(&self, auth: Authenticated, request: Request<B>) -> Handled {
        let query = Query::of(&request);
        let before = positive_id(&query, "before", "must be an audit entry's id")?;
        let page = self
            .chat()
            .audit_log(&auth.session, before, query.limit()?)
            .await?;
        let body = AuditBody {
            entries: page.items.iter().map(AuditEntryDto::from).collect(),
            has_more: page.has_more,
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `POST /api/admin/users/{username}/disable` and `…/enable`.
    pub(crate) async fn set_account_enabled<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        username: &str,
        enabled: bool,
    ) -> Handled {
        let form: ModerationRequest = self.body(request).await?;
        let account = if enabled {
            self.chat()
                .enable_account(&auth.session, username, form.reason)
                .await?
        } else {
            self.chat()
                .disable_account(&auth.session, username, form.reason)
                .await?
        };
        let body = AccountStandingBody {
            account: AccountStandingDto::from(&account),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `DELETE /api/admin/messages/{id}`: deletes anyone's message
    /// (`reason` in the query).
    pub(crate) async fn moderate_message<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: MessageId,
    ) -> Handled {
        let reason = Query::of(&request).text("reason").map(str::to_owned);
        let deleted = self
            .chat()
            .moderate_message(&auth.session, id, reason)
            .await?;
        let body = MessageBody {
            message: MessageDto::from(&deleted),
        };
        Ok(json(StatusCode::OK, &body))
    }
}

impl ChatHttp {
    /// `POST /api/reports`: reports a message or a user.
    pub(crate) async fn report<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
    ) -> Handled {
        let form: ReportRequest = self.body(request).await?;
        let chat = self.chat();
        let report = match (form.message_id, form.username) {
            (Some(id), None) => {
                chat.report_message(&auth.session, MessageId::new(id), form.reason)
                    .await?
            }
            (None, Some(username)) => {
                chat.report_user(&auth.session, &username, form.reason)
                    .await?
            }
            _ => {
                return Err(HttpError::BadParameter {
                    field: "message_id",
                    reason: "give a message_id or a username, one of them",
                });
            }
        };
        let body = ReportBody {
            report: ReportDto::from(&report),
        };
        Ok(json(StatusCode::CREATED, &body))
    }

    /// `GET /api/admin/reports`: the queue, newest first (`status`:
    /// `open`, the default, or `all`; `before`, a report's id; `limit`).
    pub(crate) async fn reports<B>(&self, auth: Authenticated, request: Request<B>) -> Handled {
        let query = Query::of(&request);
        let open = match query.text("status") {
            None | Some("open") => true,
            Some("all") => false,
            Some(_) => {
                return Err(HttpError::BadParameter {
                    field: "status",
                    reason: "must be open or all",
                });
            }
        };
        let before = positive_id(&query, "before", "must be a report's id")?;
        let page = self
            .chat()
            .reports(&auth.session, open, before, query.limit()?)
            .await?;
        let body = ReportsBody {
            reports: page.items.iter().map(ReportDto::from).collect(),
            has_more: page.has_more,
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `POST /api/admin/reports/{id}/resolve`.
    pub(crate) async fn resolve_report<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: &str,
    ) -> Handled {
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or(HttpError::NoRoute)?;
        let form: ResolveRequest = self.body(request).await?;
        let report = self
            .chat()
            .resolve_report(&auth.session, id, form.resolution)
            .await?;
        let body = ReportBody {
            report: ReportDto::from(&report),
        };
        Ok(json(StatusCode::OK, &body))
    }
}

/// A positive id in query parameter `name`, if given.
fn positive_id(
    query: &Query,
    name: &'static str,
    reason: &'static str,
) -> Result<Option<i64>, HttpError> {
    query
        .text(name)
        .map(|raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or(HttpError::BadParameter {
                    field: name,
                    reason,
                })
        })
        .transpose()
}
