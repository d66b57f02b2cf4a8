//! Entry points for the fuzz targets in `fuzz/`. Not part of the API.

use bytes::Bytes;
use hyper::Request;

use crate::wire::ClientFrame;

/// Decodes `text` as the WebSocket decodes a client frame.
pub fn decode_client_frame(text: &str) {
    if let Ok(frame) = serde_json::from_str::<ClientFrame>(text) {
        // Touch every field, as the connection would.
        let _ = format!("{frame:?}");
    }
}

/// A request from fuzz input: the first line is `METHOD TARGET`, the rest
/// the body; it carries `token` as a bearer and a JSON content type.
pub fn request_from_bytes(data: &[u8], token: &str) -> Option<Request<Bytes>> {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (line, body) = data.split_at(split);
    let line = std::str::from_utf8(line).ok()?;
    let (method, target) = line.split_once(' ')?;
    Request::builder()
        .method(method)
        .uri(target)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::copy_from_slice(body.get(1..).unwrap_or_default()))
        .ok()
}
