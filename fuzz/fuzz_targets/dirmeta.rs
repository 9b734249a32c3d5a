//! See `rostree::fuzzing::dirmeta`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::dirmeta(data));
