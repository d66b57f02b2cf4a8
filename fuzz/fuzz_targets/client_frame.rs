//! Any text a client may send as a WebSocket text frame: decoding never
//! panics, what decodes re-encodes to the same frame, and what does not is
//! refused for a reason the protocol names.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        chat_http::fuzzing::check_client_frame(text);
    }
});
