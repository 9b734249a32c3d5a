//! See `rostree::fuzzing::openpgp`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::openpgp(data));
