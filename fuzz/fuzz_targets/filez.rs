//! See `rostree::fuzzing::filez`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::filez(data));
