//! Any bytes a client may send as a WebSocket text frame: decoding never
//! panics, and what decodes re-encodes.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        chat_http::fuzzing::decode_client_frame(text);
    }
});
