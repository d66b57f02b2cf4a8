//! `/api/admin/…`: what administrators do. The role is granted by the
//! operator (the server's command line), never through the API; everyone
//! else gets `403 forbidden`, and a key of the server API acting as a user
//! cannot call these routes.

use chat_core::MessageId;
use hyper::{Request, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody};
use crate::auth::Authenticated;
use crate::request::Query;
use crate::response::json;
use crate::wire::{
    AccountStandingBody, AccountStandingDto, AuditBody, AuditEntryDto, MessageBody, MessageDto,
    ModerationRequest,
};

impl ChatHttp {
    /// `GET /api/admin/audit`: the audit log, newest first (`before`, an
    /// entry's id; `limit`).
    pub(crate) async fn audit_log<B>(&self, auth: Authenticated, request: Request<B>) -> Handled {
        let query = Query::of(&request);
        let before = query
            .text("before")
            .map(|raw| {
                raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or(
                    crate::error::HttpError::BadParameter {
                        field: "before",
                        reason: "must be an audit entry's id",
                    },
                )
            })
            .transpose()?;
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
