//! Threads: `/api/messages/{id}/thread` (a thread's replies, paged like a
//! conversation; `…/thread/read` moves the caller's mark in it) and
//! `/api/threads` (the threads the caller takes part in, with what is new).

use chat_core::MessageId;
use hyper::{Request, StatusCode};

use crate::ChatHttp;
use crate::api::{Handled, RequestBody, history_query};
use crate::auth::Authenticated;
use crate::request::Query;
use crate::response::json;
use crate::wire::{MessageDto, ReadBody, ReadRequest, ThreadBody, ThreadLineDto, ThreadsBody};

impl ChatHttp {
    /// `GET /api/messages/{id}/thread`: the thread's root and a page of
    /// its replies.
    pub(crate) async fn thread<B>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: MessageId,
    ) -> Handled {
        let query = history_query(&Query::of(&request))?;
        let (root, page) = self.chat().thread(&auth.session, id, &query).await?;
        let body = ThreadBody {
            root: MessageDto::from(&root),
            messages: page.items.iter().map(MessageDto::from).collect(),
            has_more: page.has_more,
        };
        Ok(json(StatusCode::OK, &body))
    }

    /// `POST /api/messages/{id}/thread/read`: `{"up_to"}`.
    pub(crate) async fn read_thread<B: RequestBody>(
        &self,
        auth: Authenticated,
        request: Request<B>,
        id: MessageId,
    ) -> Handled {
        let form: ReadRequest = self.body(request).await?;
        let up_to = self
            .chat()
            .mark_thread_read(&auth.session, id, MessageId::new(form.up_to))
            .await?;
        Ok(json(StatusCode::OK, &ReadBody { up_to: up_to.get() }))
    }

    /// `GET /api/threads?limit=`.
    pub(crate) async fn threads<B>(&self, auth: Authenticated, request: Request<B>) -> Handled {
        let limit = Query::of(&request).limit()?;
        let threads = self.chat().threads(&auth.session, limit).await?;
        let body = ThreadsBody {
            threads: threads
                .iter()
                .map(|t| ThreadLineDto {
                    root: MessageDto::from(&t.root),
                    read_up_to: t.read_up_to.get(),
                    unread: t.unread,
                })
                .collect(),
        };
        Ok(json(StatusCode::OK, &body))
    }
}
