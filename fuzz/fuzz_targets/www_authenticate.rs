//! Any `WWW-Authenticate` header values a server may send (one per line).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_core::fuzzing::www_authenticate(data);
});
