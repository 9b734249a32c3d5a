//! See `rostree::fuzzing::dirtree`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::dirtree(data));
