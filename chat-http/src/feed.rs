//! `GET /api/feed`: every committed change of the chat after a cursor, for
//! the host application's back end (an API key with the `feed` scope).

use chat_core::{ApiKey, Cursor, EventKind};
use hyper::{Request, StatusCode};

use crate::ChatHttp;
use crate::error::HttpError;
use crate::request::Query;
use crate::response::{Body, json};
use crate::wire::{FeedBody, ServerFrame};

impl ChatHttp {
    pub(crate) async fn feed<B>(
        &self,
        key: &ApiKey,
        request: &Request<B>,
    ) -> Result<hyper::Response<Body>, HttpError> {
        let query = Query::of(request);
        let after = query.text("cursor").map(Cursor::parse).transpose()?;
        let page = self.chat().feed(after, query.limit()?).await?;
        tracing::debug!(key = key.id, changes = page.changes.len(), "feed read");
        let kinds: Vec<(EventKind, Cursor)> = page
            .changes
            .into_iter()
            .map(|(change, cursor)| (EventKind::from(change), cursor))
            .collect();
        let body = FeedBody {
            events: kinds
                .iter()
                .filter_map(|(kind, cursor)| ServerFrame::from_event(kind, Some(*cursor)))
                .collect(),
            cursor: page.cursor.to_string(),
            has_more: page.has_more,
        };
        Ok(json(StatusCode::OK, &body))
    }
}
