//! See `rostree::fuzzing::metalink`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::metalink(data));
