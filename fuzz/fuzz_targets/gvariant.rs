//! See `rostree::fuzzing::gvariant`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::gvariant(data));
