//! The HTTP API as an OpenAPI 3.1 document, generated (utoipa) from the wire
//! types the handlers answer with, and served at `GET /api/openapi.json`.
//!
//! Each operation below names the route's method and path, its parameters,
//! its request and success bodies; the errors every operation can answer
//! (each an [`ErrorBody`]) are added to all of them in one place. A test
//! checks that the operations are exactly the API routes the router serves.

// The derives name the wire types without their (borrowed) lifetimes.
#![allow(elided_lifetimes_in_paths)]

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::wire::{
    AccountStandingBody, AccountStandingDto, AddMemberRequest, AuditBody, AuditEntryDto, BanDto,
    BanRequest, BlockBody, BlockDto, BlocksBody, ConversationDto, ConversationsBody,
    CreateGroupRequest, EditRequest, FeedBody, GroupBody, GroupDto, GroupEventDto, GroupListingDto,
    GroupsBody, InvitationDto, InvitationsBody, LoginBody, LoginRequest, MemberDto, MessageBody,
    MessageDto, MessagesBody, ModerationRequest, MuteBody, MuteDto, MuteRequest, MutesBody,
    QuoteDto, ReactionDto, ReadBody, ReadRequest, RenameGroupRequest, ReportBody, ReportDto,
    ReportRequest, ReportedMessageDto, ReportsBody, ResolutionDto, ResolveRequest, SendRequest,
    SetRoleRequest, SignupRequest, StatusBody, ThreadBody, ThreadDto, ThreadLineDto, ThreadsBody,
    UpsertUserRequest, UserBody, UserDto, UsersBody,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "chat",
        description = "The chat's HTTP API (docs/api.md). Live delivery is the WebSocket at `/ws` (docs/protocol.md).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        signup, login, logout, me, conversations, users, history, send, events, health, ready,
        openapi, create_group, group_directory, group, rename_group, add_member, set_role, remove_member,
        join_group, group_history, send_to_group, read_group, invitations, feed, upsert_user,
        mutes, mute, unmute, edit_message, delete_message, add_reaction, remove_reaction,
        blocks, block, unblock, audit_log, disable_account, enable_account, moderate_message,
        report, reports, resolve_report, ban, unban, thread, read_thread, threads
    ),
    components(schemas(
        ErrorBody, ErrorDetail, UserDto, MessageDto, ConversationDto, UserBody, LoginBody,
        ConversationsBody, MessagesBody, MessageBody, UsersBody, StatusBody, SignupRequest,
        LoginRequest, SendRequest, GroupEventDto, MemberDto, GroupDto, GroupBody, InvitationDto,
        InvitationsBody, CreateGroupRequest, RenameGroupRequest, AddMemberRequest,
        SetRoleRequest, ReadRequest, ReadBody, GroupListingDto, GroupsBody, FeedBody,
        UpsertUserRequest, MuteRequest, MuteDto, MuteBody, MutesBody, EditRequest, QuoteDto,
        ReactionDto, BlockDto, BlockBody, BlocksBody, ModerationRequest, AccountStandingDto,
        AccountStandingBody, AuditEntryDto, AuditBody, ReportRequest, ResolveRequest,
        ReportedMessageDto, ResolutionDto, ReportDto, ReportBody, ReportsBody, BanRequest, BanDto,
        ThreadDto, ThreadBody, ThreadLineDto, ThreadsBody
    )),
    modifiers(&Security, &Errors),
)]
pub(crate) struct ApiDoc;

/// The document as JSON, once.
pub(crate) fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| String::from("{}"))
}

/// The two ways to present a session.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "a key of the server API (`chat_key_…`, made by `chat-server api-key create`). \
                         On a user endpoint, the call acts as the user named by the `Chat-Act-As` \
                         (username) or `Chat-Act-As-External` (the host's id) header, with that \
                         user's rights: sends need the `send` scope, groups the `groups` scope.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "chat_session",
                "the session cookie (`__Host-chat_session` over TLS); changes also need `X-CSRF-Token`",
            ))),
        );
    }
}

/// The errors any operation may answer, each an [`ErrorBody`] (the
/// operation's own list names those specific to it).
struct Errors;

const COMMON_ERRORS: [(&str, &str); 8] = [
    (
        "400",
        "invalid input, malformed JSON or a bad query parameter (`invalid_input`)",
    ),
    (
        "401",
        "no valid session (`unauthenticated`), or a failed login (`invalid_credentials`)",
    ),
    (
        "403",
        "a foreign origin (`forbidden`), or a cookie request without its CSRF token (`csrf`)",
    ),
    (
        "405",
        "the method is not one the path answers (`method_not_allowed`), with `Allow`",
    ),
    ("413", "the body is over 64 KiB (`too_large`)"),
    (
        "429",
        "over a rate limit (`rate_limited`), with `Retry-After` in seconds",
    ),
    (
        "500",
        "a bug; the cause is logged, never returned (`internal`)",
    ),
    ("503", "a dependency is down or saturated (`unavailable`)"),
];

const BODY_ERRORS: [(&str, &str); 2] = [
    (
        "408",
        "the body did not arrive within 10 s (`request_timeout`)",
    ),
    (
        "415",
        "a change without `Content-Type: application/json` (`unsupported_media_type`)",
    ),
];

fn error_response(description: &str) -> RefOr<Response> {
    let content = utoipa::openapi::ContentBuilder::new()
        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
            "ErrorBody",
        ))))
        .build();
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build(),
    )
}

fn add_errors(operation: &mut Operation, errors: &[(&str, &str)]) {
    for (status, description) in errors {
        let responses = &mut operation.responses.responses;
        if !responses.contains_key(*status) {
            responses.insert((*status).to_owned(), error_response(description));
        }
    }
}

impl Modify for Errors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            if let Some(get) = item.get.as_mut() {
                add_errors(get, &COMMON_ERRORS);
            }
            for change in [item.post.as_mut(), item.patch.as_mut(), item.put.as_mut()]
                .into_iter()
                .flatten()
            {
                add_errors(change, &COMMON_ERRORS);
                add_errors(change, &BODY_ERRORS);
            }
            if let Some(delete) = item.delete.as_mut() {
                add_errors(delete, &COMMON_ERRORS);
            }
        }
    }
}

/// Creates an account.
#[utoipa::path(post, path = "/api/signup", tag = "accounts", request_body = SignupRequest,
    responses(
        (status = 201, description = "the account", body = UserBody),
        (status = 409, description = "the username (or one that reads like it) or the email is taken (`username_taken`, `email_taken`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn signup() {}

/// Opens a session.
#[utoipa::path(post, path = "/api/login", tag = "accounts", request_body = LoginRequest,
    responses(
        (status = 200, description = "the session's tokens, also set as the `chat_session` and `chat_device` cookies", body = LoginBody),
    ))]
#[allow(dead_code)]
fn login() {}

/// Ends the session.
#[utoipa::path(post, path = "/api/logout", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "logged out; the cookie is cleared")))]
#[allow(dead_code)]
fn logout() {}

/// The session's user, with the email.
#[utoipa::path(get, path = "/api/me", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "the user", body = UserBody)))]
#[allow(dead_code)]
fn me() {}

/// The user's conversations, most recent first.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50", minimum = 1, maximum = 200),
        ("before" = Option<i64>, Query, description = "the last message id of the previous page's last item", minimum = 0),
    ),
    responses((status = 200, description = "a page", body = ConversationsBody)))]
#[allow(dead_code)]
fn conversations() {}

/// Other users whose name starts with `q`, by name.
#[utoipa::path(get, path = "/api/users", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("q" = Option<String>, Query, description = "the start of a username", pattern = "^[A-Za-z0-9_.-]{0,32}$"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50", minimum = 1, maximum = 200),
    ),
    responses((status = 200, description = "the users", body = UsersBody)))]
#[allow(dead_code)]
fn users() {}

/// A page of the conversation with `username`, chronological.
#[utoipa::path(get, path = "/api/conversations/{username}/messages", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("username" = String, Path, description = "the other member", pattern = "^[A-Za-z0-9_.-]{3,32}$"),
        ("before" = Option<i64>, Query, description = "only messages with a smaller id", minimum = 0),
        ("after" = Option<i64>, Query, description = "only messages with a larger id", minimum = 0),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50", minimum = 1, maximum = 200),
        ("search" = Option<String>, Query, description = "only messages containing this, case-insensitively (at most 100 characters)", max_length = 100),
    ),
    responses(
        (status = 200, description = "a page", body = MessagesBody),
        (status = 404, description = "no such user, or the user themself (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn history() {}

/// Sends a message to `username`.
#[utoipa::path(post, path = "/api/conversations/{username}/messages", tag = "conversations",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("username" = String, Path, description = "the recipient", pattern = "^[A-Za-z0-9_.-]{3,32}$")),
    request_body = SendRequest,
    responses(
        (status = 201, description = "stored and sent", body = MessageBody),
        (status = 200, description = "a retry of a known `client_id`: the original, nothing stored", body = MessageBody),
        (status = 404, description = "no such user (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn send() {}

/// The session's live events as Server-Sent Events: each event's `data` is
/// a JSON object shaped like the WebSocket's server frames (`ready` first),
/// and a committed change's `id` is its cursor. Resumes after the cursor in
/// `Last-Event-ID` (or `cursor`), or after the message id `since`.
#[utoipa::path(get, path = "/api/events", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "the cursor to resume after"),
        ("cursor" = Option<String>, Query, description = "the cursor to resume after"),
        ("since" = Option<i64>, Query, description = "the message id to resume after", minimum = 0),
    ),
    responses(
        (status = 200, description = "the event stream", content_type = "text/event-stream", body = String),
        (status = 429, description = "too many live connections or upgrades (`rate_limited`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn events() {}

/// Whether the process runs.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = StatusBody)))]
#[allow(dead_code)]
fn health() {}

/// Whether the store and the bus answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "`{\"status\": \"ready\"}`", body = StatusBody)))]
#[allow(dead_code)]
fn ready() {}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document of the API")))]
#[allow(dead_code)]
fn openapi() {}

/// Makes a group owned by the caller. Members who share a direct
/// conversation with the caller in which both have written are added at
/// once; anyone else is invited (`POST /api/groups/{id}/join` accepts).
#[utoipa::path(post, path = "/api/groups", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    request_body = CreateGroupRequest,
    responses(
        (status = 201, description = "the group", body = GroupBody),
        (status = 404, description = "a member who does not exist (`not_found`)", body = ErrorBody),
        (status = 409, description = "more members than a group may have (`too_many_members`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn create_group() {}

/// The directory: discoverable groups whose title contains `q`, the
/// largest first; anyone may join them.
#[utoipa::path(get, path = "/api/groups", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("q" = Option<String>, Query, description = "a part of the title, case-insensitively (at most 100 characters)", max_length = 100),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50", minimum = 1, maximum = 200),
    ),
    responses((status = 200, description = "the groups", body = GroupsBody)))]
#[allow(dead_code)]
fn group_directory() {}

/// The group with its members (to members and invitees; its title and
/// settings to former members and, for a discoverable group, anyone).
#[utoipa::path(get, path = "/api/groups/{id}", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the group's conversation id", minimum = 1)),
    responses(
        (status = 200, description = "the group", body = GroupBody),
        (status = 404, description = "no group the caller may see, whether or not it exists (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn group() {}

/// Renames the group and sets its slow mode (admins and the owner).
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the group's conversation id", minimum = 1)),
    request_body = RenameGroupRequest,
    responses(
        (status = 200, description = "the group", body = GroupBody),
        (status = 400, description = "a bad title or slow mode, or neither given (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "a member who may not (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member (`not_found`)", body = ErrorBody),
        (status = 409, description = "the group kept changing under the call (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn rename_group() {}

/// Brings someone into the group (admins and the owner): added at once
/// where the consent rule allows, invited otherwise.
#[utoipa::path(post, path = "/api/groups/{id}/members", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the group's conversation id", minimum = 1)),
    request_body = AddMemberRequest,
    responses(
        (status = 200, description = "the group", body = GroupBody),
        (status = 403, description = "a member who may not add (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member, or no such user (`not_found`)", body = ErrorBody),
        (status = 409, description = "the group is full (`too_many_members`), or they are banned from it (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn add_member() {}

/// Gives a member a role (the owner only; `owner` hands the group over),
/// or mutes or unmutes them (admins mute members, the owner admins too).
#[utoipa::path(patch, path = "/api/groups/{id}/members/{username}", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("id" = i64, Path, description = "the group's conversation id", minimum = 1),
        ("username" = String, Path, description = "the member", pattern = "^[A-Za-z0-9_.-]{3,32}$"),
    ),
    request_body = SetRoleRequest,
    responses(
        (status = 200, description = "the group", body = GroupBody),
        (status = 403, description = "not the owner, or for a mute not an admin above them (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member, or no such member (`not_found`)", body = ErrorBody),
        (status = 409, description = "the owner's own role (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn set_role() {}

/// Removes a member or withdraws an invitation (admins remove members, the
/// owner removes admins too); the caller's own name leaves the group.
#[utoipa::path(delete, path = "/api/groups/{id}/members/{username}", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("id" = i64, Path, description = "the group's conversation id", minimum = 1),
        ("username" = String, Path, description = "the member, or the caller to leave", pattern = "^[A-Za-z0-9_.-]{3,32}$"),
    ),
    responses(
        (status = 204, description = "removed, or left"),
        (status = 403, description = "a member who may not remove them (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member, or no such member (`not_found`)", body = ErrorBody),
        (status = 409, description = "the owner cannot be removed (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn remove_member() {}

/// Accepts an invitation, or joins a discoverable group.
#[utoipa::path(post, path = "/api/groups/{id}/join", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the group's conversation id", minimum = 1)),
    responses(
        (status = 200, description = "the group", body = GroupBody),
        (status = 404, description = "not invited, whether or not the group exists (`not_found`)", body = ErrorBody),
        (status = 409, description = "the group is full (`too_many_members`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn join_group() {}

/// A page of the group's messages the caller may read, chronological.
#[utoipa::path(get, path = "/api/groups/{id}/messages", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("id" = i64, Path, description = "the group's conversation id", minimum = 1),
        ("before" = Option<i64>, Query, description = "only messages with a smaller id", minimum = 0),
        ("after" = Option<i64>, Query, description = "only messages with a larger id", minimum = 0),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50", minimum = 1, maximum = 200),
        ("search" = Option<String>, Query, description = "only messages containing this, case-insensitively (at most 100 characters)", max_length = 100),
    ),
    responses(
        (status = 200, description = "a page", body = MessagesBody),
        (status = 404, description = "never a member (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn group_history() {}

/// Sends a message to the group.
#[utoipa::path(post, path = "/api/groups/{id}/messages", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the group's conversation id", minimum = 1)),
    request_body = SendRequest,
    responses(
        (status = 201, description = "stored and sent", body = MessageBody),
        (status = 200, description = "a retry of a known `client_id`: the original, nothing stored", body = MessageBody),
        (status = 403, description = "an announcement-only group, for a member (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn send_to_group() {}

/// Marks the group read up to a message.
#[utoipa::path(post, path = "/api/groups/{id}/read", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "the group's conversation id", minimum = 1)),
    request_body = ReadRequest,
    responses(
        (status = 200, description = "the read mark, clamped to the newest message", body = ReadBody),
        (status = 404, description = "never a member (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn read_group() {}

/// The caller's invitations not answered yet, newest first.
#[utoipa::path(get, path = "/api/invitations", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "the invitations", body = InvitationsBody)))]
#[allow(dead_code)]
fn invitations() {}

/// The caller's mutes in force: conversations of which no offline notice
/// reaches the host for them.
#[utoipa::path(get, path = "/api/mutes", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "the mutes in force", body = MutesBody)))]
#[allow(dead_code)]
fn mutes() {}

/// Mutes a conversation (direct or group) for the caller: no offline
/// notice about it reaches the host for them until `until`, or until they
/// unmute it. Replaces a mute of it they had.
#[utoipa::path(put, path = "/api/mutes/{id}", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "the conversation id", minimum = 1)),
    request_body = MuteRequest,
    responses(
        (status = 200, description = "the mute", body = MuteBody),
        (status = 404, description = "not a member of it now (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn mute() {}

/// Unmutes a conversation for the caller (nothing if it was not muted):
/// the same answer for any id.
#[utoipa::path(delete, path = "/api/mutes/{id}", tag = "conversations",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "the conversation id", minimum = 1)),
    responses(
        (status = 204, description = "unmuted, or it was not muted"),
        (status = 404, description = "an id that is not one (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn unmute() {}

/// Every committed change of the chat after `cursor`, in commit order, for
/// the host application's back end: a key of the server API with the
/// `feed` scope. Each event is shaped like a WebSocket frame (`message`,
/// `read`) with its cursor; keep the answer's `cursor` and read on from it.
#[utoipa::path(get, path = "/api/feed", tag = "server",
    security(("api_key" = [])),
    params(
        ("cursor" = Option<String>, Query, description = "where to read on from (the start when absent)"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
    ),
    responses(
        (status = 200, description = "the next changes", body = FeedBody),
        (status = 401, description = "no key, or not a live one", body = ErrorBody),
        (status = 403, description = "a key without the `feed` scope", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn feed() {}

/// Creates the host's user `external_id` on first sight (with `username`),
/// updates its display name after: idempotent. A key with the `users`
/// scope.
#[utoipa::path(post, path = "/api/server/users", tag = "server",
    security(("api_key" = [])),
    request_body = UpsertUserRequest,
    responses(
        (status = 200, description = "the user, created or updated", body = UserBody),
        (status = 401, description = "no key, or not a live one", body = ErrorBody),
        (status = 403, description = "a key without the `users` scope", body = ErrorBody),
        (status = 409, description = "a new user whose username another account has (`username_taken`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn upsert_user() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_and_names_every_api_route_the_router_serves() {
        let document: serde_json::Value = serde_json::from_str(&document()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        let mut documented = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        documented.sort();
        let mut served: Vec<(String, String)> = crate::router::API_ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        served.sort();
        assert_eq!(documented, served);
        for (method, path) in crate::router::API_ROUTES {
            let concrete = path.replace("{username}", "bob").replace("{id}", "7");
            let route = crate::router::allowed_methods(&concrete)
                .unwrap_or_else(|| panic!("{path} is not routed"));
            assert!(route.contains(method), "{method} {path} is not served");
            let responses = &document["paths"][path][method.to_lowercase()]["responses"];
            for status in ["400", "401", "403", "429", "500", "503"] {
                assert!(
                    responses.get(status).is_some(),
                    "{method} {path}: no {status}"
                );
            }
        }
    }
}

/// Edits one of the caller's own messages, within the edit window after
/// sending (an hour by default). Earlier versions are not kept. Every
/// member who may read it hears of it as an `edited` event.
#[utoipa::path(patch, path = "/api/messages/{id}", tag = "messages",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the message id", minimum = 1)),
    request_body = EditRequest,
    responses(
        (status = 200, description = "the message as edited", body = MessageBody),
        (status = 400, description = "an invalid text (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "someone else's message or a system message, or a member who may not send now (`forbidden`); after the edit window (`edit_window_closed`); refused by the host (`refused`)", body = ErrorBody),
        (status = 404, description = "a message the caller may not read (`not_found`)", body = ErrorBody),
        (status = 409, description = "the message was deleted (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn edit_message() {}

/// Deletes a message for everyone: the caller's own (also after leaving a
/// group), or any in a group the caller manages (admins and the owner).
/// Its text leaves the store and the search; a tombstone keeps its id and
/// place. Deleting it again changes nothing. Every member who may read it
/// hears of it as a `deleted` event.
#[utoipa::path(delete, path = "/api/messages/{id}", tag = "messages",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = i64, Path, description = "the message id", minimum = 1)),
    responses(
        (status = 200, description = "the tombstone", body = MessageBody),
        (status = 403, description = "someone else's message, or a system message (`forbidden`)", body = ErrorBody),
        (status = 404, description = "a message the caller may not read (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn delete_message() {}

/// Adds the caller's reaction to a message: one emoji (one grapheme
/// cluster, percent-encoded in the path), at most one of each per user and
/// message, at most 20 different ones per message. Adding it again changes
/// nothing. Every member who may read the message hears of it as a
/// `reaction` event.
#[utoipa::path(put, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("id" = i64, Path, description = "the message id", minimum = 1),
        ("emoji" = String, Path, description = "the emoji, percent-encoded"),
    ),
    responses(
        (status = 200, description = "the message with its reactions", body = MessageBody),
        (status = 400, description = "not one emoji (`invalid_input`, field `emoji`)", body = ErrorBody),
        (status = 403, description = "a system message, or a member who may not send now (`forbidden`)", body = ErrorBody),
        (status = 404, description = "a message the caller may not read (`not_found`)", body = ErrorBody),
        (status = 409, description = "a deleted message, or 20 different reactions already (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn add_reaction() {}

/// Takes the caller's reaction away (nothing if they had none).
#[utoipa::path(delete, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("id" = i64, Path, description = "the message id", minimum = 1),
        ("emoji" = String, Path, description = "the emoji, percent-encoded"),
    ),
    responses(
        (status = 200, description = "the message with its reactions", body = MessageBody),
        (status = 400, description = "not one emoji (`invalid_input`, field `emoji`)", body = ErrorBody),
        (status = 403, description = "a system message, or a member who may not send now (`forbidden`)", body = ErrorBody),
        (status = 404, description = "a message the caller may not read (`not_found`)", body = ErrorBody),
        (status = 409, description = "a deleted message (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn remove_reaction() {}

/// Whom the caller blocks, oldest first.
#[utoipa::path(get, path = "/api/blocks", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, description = "the blocks", body = BlocksBody)))]
#[allow(dead_code)]
fn blocks() {}

/// Blocks a user: no direct message passes between the two, either way
/// (they are refused with `forbidden`, the caller with `conflict`), their
/// typing is dropped, and they cannot add the caller to a group. In a group
/// both are in, the caller's clients hide their messages. Blocking again
/// changes nothing; nobody is told.
#[utoipa::path(put, path = "/api/blocks/{username}", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("username" = String, Path, description = "whom to block")),
    responses(
        (status = 200, description = "the block", body = BlockBody),
        (status = 400, description = "oneself, or not a username (`invalid_input`)", body = ErrorBody),
        (status = 404, description = "no such user (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn block() {}

/// Unblocks a user (nothing if they were not blocked).
#[utoipa::path(delete, path = "/api/blocks/{username}", tag = "accounts",
    security(("bearer" = []), ("cookie" = [])),
    params(("username" = String, Path, description = "whom to unblock")),
    responses(
        (status = 204, description = "unblocked, or they were not blocked"),
        (status = 400, description = "oneself, or not a username (`invalid_input`)", body = ErrorBody),
        (status = 404, description = "no such user (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn unblock() {}

/// The audit log, newest first: for administrators only (the operator
/// grants the role from the server's command line).
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("before" = Option<i64>, Query, description = "only entries older than this entry's id", minimum = 1),
        ("limit" = Option<u32>, Query, description = "page size, 1 to 200 (default 50)", minimum = 1, maximum = 200),
    ),
    responses(
        (status = 200, description = "a page of the log", body = AuditBody),
        (status = 400, description = "a bad `before` or `limit` (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "not an administrator (`forbidden`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn audit_log() {}

/// Disables an account, as an administrator: its sessions end and its
/// live connections close at once, on every server; it logs in nowhere
/// until enabled. Disabling it again changes nothing.
#[utoipa::path(post, path = "/api/admin/users/{username}/disable", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("username" = String, Path, description = "whose account")),
    request_body = ModerationRequest,
    responses(
        (status = 200, description = "the account now", body = AccountStandingBody),
        (status = 400, description = "a bad username or reason (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "not an administrator (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such user (`not_found`)", body = ErrorBody),
        (status = 409, description = "the caller's own account (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn disable_account() {}

/// Enables a disabled account again, as an administrator.
#[utoipa::path(post, path = "/api/admin/users/{username}/enable", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("username" = String, Path, description = "whose account")),
    request_body = ModerationRequest,
    responses(
        (status = 200, description = "the account now", body = AccountStandingBody),
        (status = 400, description = "a bad username or reason (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "not an administrator (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such user (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn enable_account() {}

/// Deletes anyone's message, as an administrator, in any conversation:
/// a tombstone every member hears of. Deleting it again changes nothing.
#[utoipa::path(delete, path = "/api/admin/messages/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("id" = i64, Path, description = "the message id", minimum = 1),
        ("reason" = Option<String>, Query, description = "why, for the audit log (1 to 500 characters)"),
    ),
    responses(
        (status = 200, description = "the tombstone", body = MessageBody),
        (status = 400, description = "a bad reason (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "not an administrator, or a group's system message (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such message (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn moderate_message() {}

/// Reports a message the caller may read (`message_id`) or a user
/// (`username`), with a reason, into the administrators' queue. Reporting
/// the same again while the report is open answers that report.
#[utoipa::path(post, path = "/api/reports", tag = "moderation",
    security(("bearer" = []), ("cookie" = [])),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "the report", body = ReportBody),
        (status = 400, description = "neither or both targets, one's own message or oneself, a bad reason (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "a group's system message (`forbidden`)", body = ErrorBody),
        (status = 404, description = "a message the caller may not read, or no such user (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn report() {}

/// The reports, newest first, for administrators.
#[utoipa::path(get, path = "/api/admin/reports", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("status" = Option<String>, Query, description = "`open` (the default) or `all`"),
        ("before" = Option<i64>, Query, description = "only reports older than this report's id", minimum = 1),
        ("limit" = Option<u32>, Query, description = "page size, 1 to 200 (default 50)", minimum = 1, maximum = 200),
    ),
    responses(
        (status = 200, description = "a page of the queue", body = ReportsBody),
        (status = 400, description = "a bad `status`, `before` or `limit` (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "not an administrator (`forbidden`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn reports() {}

/// Resolves a report, as an administrator (recorded in the audit log).
/// Resolving it again answers it as first resolved.
#[utoipa::path(post, path = "/api/admin/reports/{id}/resolve", tag = "admin",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "the report's id", minimum = 1)),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "the report, resolved", body = ReportBody),
        (status = 400, description = "a bad note (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "not an administrator (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such report (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn resolve_report() {}

/// Bans someone from the group until `until` (admins: members and
/// non-members; the owner: admins too): removed if a member, and nobody
/// adds or invites them, nor do they join, until the ban ends or is
/// lifted. Banning again replaces the ban's end.
#[utoipa::path(put, path = "/api/groups/{id}/bans/{username}", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("id" = i64, Path, description = "the group's conversation id", minimum = 1),
        ("username" = String, Path, description = "whom to ban"),
    ),
    request_body = BanRequest,
    responses(
        (status = 200, description = "the group, with its bans", body = GroupBody),
        (status = 400, description = "oneself, or `until` not in the future (`invalid_input`)", body = ErrorBody),
        (status = 403, description = "a member who may not ban them (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member, or no such user (`not_found`)", body = ErrorBody),
        (status = 409, description = "the group kept changing under the call (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn ban() {}

/// Lifts a ban (nothing if there is none).
#[utoipa::path(delete, path = "/api/groups/{id}/bans/{username}", tag = "groups",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(
        ("id" = i64, Path, description = "the group's conversation id", minimum = 1),
        ("username" = String, Path, description = "whose ban"),
    ),
    responses(
        (status = 200, description = "the group, with its bans", body = GroupBody),
        (status = 403, description = "a member who is not an admin or the owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "not a member, or no such user (`not_found`)", body = ErrorBody),
        (status = 409, description = "the group kept changing under the call (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn unban() {}

/// A thread: its root (with its summary) and a page of its replies, as
/// for a conversation's history; any message of the thread names it.
#[utoipa::path(get, path = "/api/messages/{id}/thread", tag = "messages",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("id" = i64, Path, description = "the root, or any reply of the thread", minimum = 1),
        ("before" = Option<i64>, Query, description = "only replies with a smaller id"),
        ("after" = Option<i64>, Query, description = "only replies with a larger id"),
        ("limit" = Option<u32>, Query, description = "page size, 1 to 200 (default 50)", minimum = 1, maximum = 200),
    ),
    responses(
        (status = 200, description = "the root and a page of replies", body = ThreadBody),
        (status = 404, description = "a message the caller may not read, or a deleted message without replies (`not_found`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn thread() {}

/// Moves the caller's read mark in a thread forward (never back); the
/// caller takes part in the thread from then on.
#[utoipa::path(post, path = "/api/messages/{id}/thread/read", tag = "messages",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "the root, or any reply of the thread", minimum = 1)),
    request_body = ReadRequest,
    responses(
        (status = 200, description = "the mark now", body = ReadBody),
        (status = 404, description = "a message the caller may not read, or a deleted message without replies (`not_found`)", body = ErrorBody),
        (status = 409, description = "a message, not deleted, with no replies: no thread (`conflict`)", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn read_thread() {}

/// The threads the caller takes part in (sent the root or a reply, or
/// marked it read), the most recently answered first, with the replies
/// from others after their mark.
#[utoipa::path(get, path = "/api/threads", tag = "messages",
    security(("bearer" = []), ("cookie" = [])),
    params(("limit" = Option<u32>, Query, description = "how many, 1 to 200 (default 50)", minimum = 1, maximum = 200)),
    responses((status = 200, description = "the threads", body = ThreadsBody)))]
#[allow(dead_code)]
fn threads() {}
