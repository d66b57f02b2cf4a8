//! `/api/mutes`: conversations the caller muted for themselves (no offline
//! notice about them reaches the host while muted).

use chat_core::{ConversationId, Timestamp};
use hyper::{Request, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody};
use crate::auth::Authenticated;
use crate::response::{empty, json};
use crate::wire::{MuteBody, MuteDto, MuteRequest, MutesBody};

impl ChatHttp {
    /// `GET /api/mutes`: the caller's mutes in force.
    pub(crate) async fn mutes(&self, auth: Authenticated) -> Handled {
        let mutes = self.chat().mutes(&auth.session).await?;
        let body = MutesBody {
            mutes: mutes.iter().map(MuteDto::from).collect(),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `PUT /api/mutes/{id}`: mutes the conversation, until `until` or
    /// until unmuted.
    pub(crate) async fn mute<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
    ) -> Handled {
        let form: MuteRequest = self.body(request).await?;
        let until = form
            .until
            .as_deref()
            .map(|raw| Timestamp::parse_rfc3339(raw, "until"))
            .transpose()?;
        let mute = self.chat().mute(&auth.session, id, until).await?;
        let body = MuteBody {
            mute: MuteDto::from(&mute),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `DELETE /api/mutes/{id}`: unmutes the conversation.
    pub(crate) async fn unmute(&self, auth: Authenticated, id: ConversationId) -> Handled {
        self.chat().unmute(&auth.session, id).await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }
}
