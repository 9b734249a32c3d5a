//! See `rostree::fuzzing::content_header`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::content_header(data));
