//! Building responses: JSON, HTML, the security headers every response
//! carries, and errors.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

use crate::error::HttpError;

/// The body of every response: whole (pages, JSON) or streamed (events).
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed()
}

#[cfg(feature = "ui")]
/// The Content-Security-Policy of every page: no inline script, no plugins,
/// no framing, connections only to this origin.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// A JSON response.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(status, body.into(), "application/json"),
        Err(e) => error(&HttpError::Internal(Box::new(e))),
    }
}

/// An empty response.
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = status;
    response
}

#[cfg(feature = "ui")]
/// An HTML page with the page security headers.
pub(crate) fn html(status: StatusCode, page: String) -> Response<Body> {
    let mut response = with_type(status, page.into(), "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(feature = "ui")]
/// A redirect (303: the next request is a GET).
pub(crate) fn redirect(to: &str) -> Response<Body> {
    let mut response = empty(StatusCode::SEE_OTHER);
    if let Ok(location) = HeaderValue::from_str(to) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub(crate) fn with_type(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The JSON error response of `error`.
pub(crate) fn error(error: &HttpError) -> Response<Body> {
    reported(error.report())
}

/// The JSON error response of an error as [`HttpError::report`] reported it.
pub(crate) fn reported(reported: crate::error::Reported) -> Response<Body> {
    let body = serde_json::to_vec(&reported.body).unwrap_or_default();
    let mut response = with_type(reported.status, body.into(), "application/json");
    let headers = response.headers_mut();
    if let Some(retry_after) = reported.retry_after {
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    }
    if let Some(allow) = reported.allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// Headers every response carries, whatever produced it.
pub(crate) fn finish(mut response: Response<Body>, tls: bool) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
