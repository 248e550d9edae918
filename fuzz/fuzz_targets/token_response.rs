//! Any body a token endpoint may answer with.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_core::fuzzing::token_response(data);
});
