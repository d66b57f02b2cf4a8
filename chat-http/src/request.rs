//! Reading requests: bounded JSON bodies and query parameters.

use std::collections::HashMap;

use bytes::Bytes;
use chat_core::{Cursor, MessageId, PageLimit, Resume};
use http_body_util::{BodyExt, Limited};
use hyper::header;
use hyper::{HeaderMap, Request};
use serde::de::DeserializeOwned;

use crate::error::HttpError;

/// Reads a JSON body of at most `limit` bytes, arriving within `timeout`.
/// The size is checked before reading (`Content-Length`) and while reading
/// (chunked bodies).
///
/// # Errors
/// [`HttpError::UnsupportedMediaType`] without `Content-Type:
/// application/json`, [`HttpError::TooLarge`], [`HttpError::BodyTimeout`],
/// [`HttpError::BadJson`].
pub(crate) async fn json_body<T, B>(
    request: Request<B>,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<T, HttpError>
where
    T: DeserializeOwned,
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    require_json(request.headers())?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(HttpError::TooLarge { limit });
    }
    let collected =
        tokio::time::timeout(timeout, Limited::new(request.into_body(), limit).collect())
            .await
            .map_err(|_| HttpError::BodyTimeout { limit: timeout })?;
    let body = collected
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                HttpError::TooLarge { limit }
            } else {
                HttpError::Body(e)
            }
        })?
        .to_bytes();
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        body
    };
    serde_json::from_slice(&body).map_err(|e| HttpError::BadJson(e.to_string()))
}

/// State changes must declare a JSON body: a cross-site HTML form cannot.
///
/// # Errors
/// [`HttpError::UnsupportedMediaType`].
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), HttpError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(HttpError::UnsupportedMediaType)
    }
}

/// The query string's parameters (the last value of each name wins).
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn of<B>(request: &Request<B>) -> Self {
        let pairs = request.uri().query().unwrap_or("");
        Self(
            form_urlencoded::parse(pairs.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// A text parameter; empty counts as absent.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A page size, default [`PageLimit::DEFAULT`].
    pub(crate) fn limit(&self) -> Result<PageLimit, HttpError> {
        match self.text("limit") {
            None => Ok(PageLimit::DEFAULT),
            Some(raw) => {
                let n = raw.parse::<u32>().map_err(|_| HttpError::BadParameter {
                    field: "limit",
                    reason: "must be a whole number",
                })?;
                Ok(PageLimit::new(n)?)
            }
        }
    }

    /// Where a live stream resumes: after `cursor` (given out by this
    /// server), or after the message id `since` (the older form), or now.
    pub(crate) fn resume(&self) -> Result<Resume, HttpError> {
        if let Some(cursor) = self.text("cursor") {
            return Ok(Resume::Cursor(Cursor::parse(cursor)?));
        }
        Ok(self
            .message_id("since")?
            .map_or(Resume::Now, Resume::Message))
    }

    /// A message id parameter.
    pub(crate) fn message_id(&self, name: &'static str) -> Result<Option<MessageId>, HttpError> {
        self.text(name)
            .map(|raw| {
                raw.parse::<i64>()
                    .ok()
                    .filter(|id| *id >= 0)
                    .map(MessageId::new)
                    .ok_or(HttpError::BadParameter {
                        field: name,
                        reason: "must be a message id",
                    })
            })
            .transpose()
    }
}

impl crate::ChatHttp {
    /// The request's JSON body, within the adapter's size and time limits
    /// (see [`json_body`]).
    pub(crate) async fn body<B, T>(&self, request: Request<B>) -> Result<T, HttpError>
    where
        T: DeserializeOwned,
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        json_body(
            request,
            self.config().max_body_bytes,
            self.config().body_timeout,
        )
        .await
    }
}
