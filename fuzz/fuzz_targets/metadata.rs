//! See `rostree::fuzzing::metadata`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::metadata(data));
