//! See `rostree::fuzzing::delta_ops`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rostree::fuzzing::delta_ops(data));
