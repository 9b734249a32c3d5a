//! See `rostree::fuzzing::gnupg`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::gnupg(data));
