//! The loopback listener's view of the world: any bytes a local process may send to the
//! redirect port.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_core::fuzzing::callback_request(data);
});
