//! The server API: the host application's back end, holding an API key,
//! creates and updates users (`POST /api/server/users`) and acts as any of
//! them on the user endpoints it may (`Chat-Act-As`).

use chat_core::{ApiScope, ChatError, UserRef};
use hyper::{HeaderMap, Request, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody};
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::response::json;
use crate::wire::{UpsertUserRequest, UserBody, UserDto};

/// The header naming, by username, the user a server API call acts as.
pub const ACT_AS_HEADER: &str = "chat-act-as";
/// The header naming, by the host's own id, the user a server API call
/// acts as.
pub const ACT_AS_EXTERNAL_HEADER: &str = "chat-act-as-external";

/// How long the session of one server API call lasts: the call.
const ACTING: std::time::Duration = std::time::Duration::from_secs(60);

impl ChatHttp {
    /// The caller of a user endpoint called with an API key: the key checked
    /// for `scope`, the user it acts as found by its `Chat-Act-As` or
    /// `Chat-Act-As-External` header (exactly one).
    ///
    /// # Errors
    /// `401`/`403` for a key that is not one or lacks the scope; `400`
    /// without exactly one acting header or for a user that does not exist.
    pub(crate) async fn acting_caller(
        &self,
        raw: &str,
        scope: Option<ApiScope>,
        headers: &HeaderMap,
    ) -> Result<Authenticated, HttpError> {
        // An endpoint no scope opens takes no key, whatever its scopes; a
        // key that is not one is told so first.
        let Some(scope) = scope else {
            return Err(match self.chat().api_key(raw, ApiScope::Feed).await {
                Err(ChatError::Unauthenticated) => ChatError::Unauthenticated,
                _ => ChatError::Forbidden,
            }
            .into());
        };
        let key = self.chat().api_key(raw, scope).await?;
        let header = |name: &str| headers.get(name).map(|value| value.to_str().ok());
        let who = match (header(ACT_AS_HEADER), header(ACT_AS_EXTERNAL_HEADER)) {
            (Some(Some(name)), None) => UserRef::Username(name),
            (None, Some(Some(id))) => UserRef::External(id),
            _ => {
                return Err(HttpError::BadParameter {
                    field: "chat-act-as",
                    reason: "name the user to act as in Chat-Act-As or Chat-Act-As-External, one of them",
                });
            }
        };
        let account = self
            .chat()
            .lookup_user(who)
            .await
            .map_err(|error| match error {
                ChatError::NotFound => HttpError::BadParameter {
                    field: "chat-act-as",
                    reason: "no such user",
                },
                other => other.into(),
            })?;
        if account.disabled_at().is_some() {
            return Err(ChatError::AccountDisabled.into());
        }
        tracing::info!(key = key.id, user = %account.user().id(), "server API call acting as a user");
        let expires_at = self.chat().clock().now().plus(ACTING);
        Ok(Authenticated {
            session: self.chat().session_for(account.user().clone(), expires_at),
            token: None,
            via_cookie: false,
            subject: None,
            ambient_host: false,
            acting: true,
        })
    }

    /// `POST /api/server/users`: creates the host's user on first sight,
    /// updates its display name after.
    pub(crate) async fn upsert_user<B: RequestBody>(&self, request: Request<B>) -> Handled {
        let form: UpsertUserRequest = self.body(request).await?;
        let account = self
            .chat()
            .upsert_user(
                &form.external_id,
                form.username.as_deref().unwrap_or_default(),
                form.display_name.as_deref(),
            )
            .await?;
        self.remember_host_user(&form.external_id, &account);
        let body = UserBody {
            user: UserDto::from(&account),
        };
        Ok(json(StatusCode::OK, &body))
    }
}
