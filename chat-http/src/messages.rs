//! `/api/messages/{id}`: one message, edited or deleted by id, and its
//! reactions (`/api/messages/{id}/reactions/{emoji}`).

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

/// An emoji from the path, percent-decoded (the core validates it).
pub(crate) fn emoji(raw: &str) -> Result<String, HttpError> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| {
            HttpError::Chat(chat_core::ChatError::invalid(
                "emoji",
                "must be a single emoji",
            ))
        })
}

impl ChatHttp {
    /// `PUT` (`add`) or `DELETE /api/messages/{id}/reactions/{emoji}`: the
    /// caller's reaction; answers the message with its reactions.
    pub(crate) async fn react(
        &self,
        auth: Authenticated,
        id: MessageId,
        emoji: &str,
        add: bool,
    ) -> Handled {
        let message = self.chat().react(&auth.session, id, emoji, add).await?;
        self.note_active(&auth);
        let body = MessageBody {
            message: MessageDto::from(&message),
        };
        Ok(json(StatusCode::OK, &body))
    }
}
