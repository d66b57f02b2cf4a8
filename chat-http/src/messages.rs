//! `/api/messages/{id}`: one message, edited or deleted by id.

use chat_core::MessageId;
use hyper::{Request, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody};
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::response::json;
use crate::wire::{EditRequest, MessageBody, MessageDto};

/// A message id from the path; anything else is a message that does not
/// exist.
pub(crate) fn message_id(raw: &str) -> Result<MessageId, HttpError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(MessageId::new)
        .ok_or(HttpError::Chat(chat_core::ChatError::NotFound))
}

impl ChatHttp {
    /// `PATCH /api/messages/{id}`: the caller's own message, with a new
    /// text; answers the message as edited.
    pub(crate) async fn edit_message<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: MessageId,
    ) -> Handled {
        let form: EditRequest = self.body(request).await?;
        let edited = self
            .chat()
            .edit_message(&auth.session, id, form.text)
            .await?;
        self.note_active(&auth);
        let body = MessageBody {
            message: MessageDto::from(&edited),
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `DELETE /api/messages/{id}`: deletes the message for everyone (again:
    /// no change); answers its tombstone.
    pub(crate) async fn delete_message(&self, auth: Authenticated, id: MessageId) -> Handled {
        let deleted = self.chat().delete_message(&auth.session, id).await?;
        let body = MessageBody {
            message: MessageDto::from(&deleted),
        };
        Ok(json(StatusCode::OK, &body))
    }
}
