//! The group endpoints under `/api/groups`: each handler decodes, calls
//! one `Chat` method, encodes. A caller who is not a member gets 404 from
//! every one of them, whether or not the group exists (the core decides).

use chat_core::{ConversationId, GroupForm, GroupView, MessageId, Timestamp};
use hyper::{Request, Response, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody, history_query};
use crate::auth::Authenticated;
use crate::error::HttpError;
use crate::request::Query;
use crate::response::{Body, empty, json};
use crate::wire::{
    AddMemberRequest, BanRequest, CreateGroupRequest, GroupBody, GroupDto, GroupListingDto,
    GroupsBody, InvitationDto, InvitationsBody, MessageDto, MessagesBody, ReadBody, ReadRequest,
    RenameGroupRequest, SendRequest, SetRoleRequest,
};

/// A group id from the path: anything but a positive integer names no
/// group, and gets the same 404 as a group the caller may not see.
pub(crate) fn group_id(raw: &str) -> Result<ConversationId, HttpError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ConversationId::new)
        .ok_or(HttpError::Chat(chat_core::ChatError::NotFound))
}

fn group(status: StatusCode, view: &GroupView) -> Response<Body> {
    json(
        status,
        &GroupBody {
            conversation: GroupDto::from(view),
        },
    )
}

impl ChatHttp {
    pub(crate) async fn create_group<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
    ) -> Handled {
        let form: CreateGroupRequest = self.body(request).await?;
        let form = GroupForm {
            title: form.title,
            members: form.members,
            history: form
                .history
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            join_policy: form
                .join_policy
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            announcement: form.announcement,
        };
        let view = self.chat().create_group(&auth.session, form).await?;
        Ok(group(StatusCode::CREATED, &view))
    }

    pub(crate) async fn group(&self, auth: Authenticated, id: ConversationId) -> Handled {
        let view = self.chat().group(&auth.session, id).await?;
        Ok(group(StatusCode::OK, &view))
    }

    pub(crate) async fn rename_group<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
    ) -> Handled {
        let form: RenameGroupRequest = self.body(request).await?;
        let chat = self.chat();
        let mut view = None;
        if let Some(title) = form.title {
            view = Some(chat.rename_group(&auth.session, id, title).await?);
        }
        if let Some(seconds) = form.slow_mode_seconds {
            let slow_mode = seconds.map(chat_core::SlowMode::from_secs).transpose()?;
            view = Some(chat.set_slow_mode(&auth.session, id, slow_mode).await?);
        }
        let view = view.ok_or(HttpError::Chat(chat_core::ChatError::invalid(
            "title",
            "give a title, or slow_mode_seconds",
        )))?;
        Ok(group(StatusCode::OK, &view))
    }

    /// `PUT /api/groups/{id}/bans/{username}`: bans them (until `until`).
    pub(crate) async fn ban<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
        username: &str,
    ) -> Handled {
        let form: BanRequest = self.body(request).await?;
        let until = form
            .until
            .as_deref()
            .map(|raw| Timestamp::parse_rfc3339(raw, "until"))
            .transpose()?;
        let view = self
            .chat()
            .ban_member(&auth.session, id, username, until)
            .await?;
        Ok(group(StatusCode::OK, &view))
    }

    /// `DELETE /api/groups/{id}/bans/{username}`: lifts their ban.
    pub(crate) async fn unban(
        &self,
        auth: Authenticated,
        id: ConversationId,
        username: &str,
    ) -> Handled {
        let view = self
            .chat()
            .unban_member(&auth.session, id, username)
            .await?;
        Ok(group(StatusCode::OK, &view))
    }

    pub(crate) async fn add_member<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
    ) -> Handled {
        let form: AddMemberRequest = self.body(request).await?;
        let view = self
            .chat()
            .add_member(&auth.session, id, &form.username)
            .await?;
        Ok(group(StatusCode::OK, &view))
    }

    pub(crate) async fn set_role<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
        username: &str,
    ) -> Handled {
        let form: SetRoleRequest = self.body(request).await?;
        let chat = self.chat();
        let mut view = None;
        if let Some(role) = form.role {
            view = Some(
                chat.set_role(&auth.session, id, username, role.parse()?)
                    .await?,
            );
        }
        match form.muted {
            Some(true) => {
                let until = form
                    .muted_until
                    .as_deref()
                    .map(|raw| Timestamp::parse_rfc3339(raw, "muted_until"))
                    .transpose()?;
                view = Some(chat.mute_member(&auth.session, id, username, until).await?);
            }
            Some(false) => view = Some(chat.unmute_member(&auth.session, id, username).await?),
            None => {}
        }
        let view = view.ok_or(HttpError::Chat(chat_core::ChatError::invalid(
            "role",
            "give a role, or muted",
        )))?;
        Ok(group(StatusCode::OK, &view))
    }

    pub(crate) async fn remove_member(
        &self,
        auth: Authenticated,
        id: ConversationId,
        username: &str,
    ) -> Handled {
        self.chat()
            .remove_member(&auth.session, id, username)
            .await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    pub(crate) async fn join_group(&self, auth: Authenticated, id: ConversationId) -> Handled {
        let view = self.chat().join_group(&auth.session, id).await?;
        Ok(group(StatusCode::OK, &view))
    }

    pub(crate) async fn group_history<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
    ) -> Handled {
        let query = history_query(&Query::of(&request))?;
        let chat = self.chat();
        let page = chat.group_history(&auth.session, id, &query).await?;
        let read_by = chat.read_by(&auth.session, id, &page.items).await?;
        let body = MessagesBody {
            messages: page
                .items
                .iter()
                .zip(read_by)
                .map(|(message, read_by)| MessageDto {
                    read_by,
                    ..MessageDto::from(message)
                })
                .collect(),
            has_more: page.has_more,
        };
        Ok(json(StatusCode::OK, &body))
    }

    pub(crate) async fn send_to_group<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
    ) -> Handled {
        let form: SendRequest = self.body(request).await?;
        let sent = self
            .chat()
            .send_draft_to_group(&auth.session, id, form.into_draft())
            .await?;
        self.note_active(&auth);
        Ok(self.sent(&sent))
    }

    pub(crate) async fn read_group<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: ConversationId,
    ) -> Handled {
        let form: ReadRequest = self.body(request).await?;
        let mark = self
            .chat()
            .mark_group_read(&auth.session, id, MessageId::new(form.up_to))
            .await?;
        self.note_active(&auth);
        Ok(json(StatusCode::OK, &ReadBody { up_to: mark.get() }))
    }

    pub(crate) async fn group_directory<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
    ) -> Handled {
        let query = Query::of(&request);
        let found = self
            .chat()
            .group_directory(&auth.session, query.text("q").unwrap_or(""), query.limit()?)
            .await?;
        let body = GroupsBody {
            groups: found.iter().map(GroupListingDto::from).collect(),
        };
        Ok(json(StatusCode::OK, &body))
    }

    pub(crate) async fn invitations(&self, auth: Authenticated) -> Handled {
        let invitations = self.chat().invitations(&auth.session).await?;
        let body = InvitationsBody {
            invitations: invitations.iter().map(InvitationDto::from).collect(),
        };
        Ok(json(StatusCode::OK, &body))
    }
}
