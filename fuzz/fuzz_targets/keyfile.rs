//! See `rostree::fuzzing::keyfile`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::keyfile(data));
