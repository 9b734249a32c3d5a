//! See `rostree::fuzzing::summary`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::summary(data));
