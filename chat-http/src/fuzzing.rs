//! Entry points for the fuzz targets in `fuzz/`. Not part of the API.

use bytes::Bytes;
use hyper::Request;

use crate::ws::Command;

/// Decodes `text` as a WebSocket connection decodes a client frame, and
/// checks the decoder's properties: it never panics; a frame that decodes
/// encodes to JSON that decodes to the same frame; text that does not
/// decode is refused as malformed JSON or as a frame of no known shape (the
/// two reasons an `error` frame gives).
///
/// # Panics
/// When a property fails: that is a finding (panicking is this function's
/// purpose).
#[allow(clippy::expect_used, clippy::panic)]
pub fn check_client_frame(text: &str) {
    match serde_json::from_str::<Command>(text) {
        Ok(frame) => {
            let encoded = serde_json::to_string(&frame).expect("a decoded frame encodes");
            let again: Command = serde_json::from_str(&encoded).expect("an encoded frame decodes");
            assert_eq!(frame, again, "{text:?} encoded as {encoded}");
        }
        Err(error) => assert!(
            error.is_data() || error.is_syntax() || error.is_eof(),
            "{error}"
        ),
    }
}

/// A session's secrets, for a fuzz input to use.
#[derive(Debug)]
pub struct Credentials<'a> {
    /// The bearer token (also the session cookie's value).
    pub token: &'a str,
    /// The session's CSRF token.
    pub csrf: &'a str,
}

/// A request from fuzz input:
///
/// ```text
/// METHOD TARGET
/// Header-Name: value
/// …
///
/// body
/// ```
///
/// In header values, `$TOKEN` and `$CSRF` stand for the session's secrets
/// (so `Authorization: Bearer $TOKEN`, `Cookie: chat_session=$TOKEN` and
/// `X-CSRF-Token: $CSRF` reach what only a session may). `None` when the
/// input is no request at all (a method, target or header the HTTP types
/// refuse, as hyper's parser would).
pub fn request_from_bytes(data: &[u8], session: &Credentials<'_>) -> Option<Request<Bytes>> {
    let text_end = find(data, b"\n\n").unwrap_or(data.len());
    let head = std::str::from_utf8(&data[..text_end]).ok()?;
    let body = data.get(text_end + 2..).unwrap_or_default();
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut request = Request::builder().method(method).uri(target);
    let mut has_host = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        has_host |= name.eq_ignore_ascii_case("host");
        let value = value
            .trim()
            .replace("$TOKEN", session.token)
            .replace("$CSRF", session.csrf);
        request = request.header(name.trim(), value);
    }
    if !has_host {
        request = request.header("host", "localhost");
    }
    request.body(Bytes::copy_from_slice(body)).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
