//! See `rostree::fuzzing::commit`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::commit(data));
